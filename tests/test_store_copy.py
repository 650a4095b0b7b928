"""Choosing the store from the settings, and `python -m bot store copy` between stores."""
import asyncio
import json
from pathlib import Path

import pytest

from bot.engine.progress import Progress
from bot.errors import StoreUnavailable
from bot.settings import Settings
from bot.store import ConversationKey
from bot.stores import open_store, store_from_url
from bot.stores import SQLiteStore
from conftest import PG_URL

P0 = Progress("cstream", "v1", "problem", started=1.0, updated=1.0)
P1 = P0.with_(node="service")
KEYS = [ConversationKey.private(9000 + n) for n in range(5)] + [ConversationKey.group(-1001234567890, 9001),
                                                                ConversationKey.console("camille")]


def test_the_settings_name_the_store(monkeypatch, tmp_path):
    for name in ("BOT_DATABASE_URL", "BOT_DATABASE_POOL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "d"))
    settings = Settings.from_env(env_file=None)
    assert settings.store_url == f"sqlite:///{tmp_path}/d/progress.sqlite3" and settings.database_pool == 10
    store = open_store(settings)
    assert isinstance(store, SQLiteStore) and store.path == tmp_path / "d" / "progress.sqlite3"
    store.close()
    monkeypatch.setenv("BOT_DATABASE_URL", "postgres://bot:pw@db.example:5433/bot")
    monkeypatch.setenv("BOT_DATABASE_POOL", "3")
    store = open_store(Settings.from_env(env_file=None))  # opens nothing until first used
    assert type(store).__name__ == "PostgresStore" and store.pool_max == 3
    store.close()


def test_a_relative_sqlite_url_is_against_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    store = store_from_url("sqlite:///data/p.sqlite3")
    assert store.path == Path("data/p.sqlite3")
    store.count_sync()
    assert (tmp_path / "data" / "p.sqlite3").exists()
    store.close()


@pytest.mark.parametrize("url", ["mysql://u:secret@h/db", "sqlite://relative.db", "progress.sqlite3", ""])
def test_an_unknown_store_url_is_refused_clearly(url):
    with pytest.raises(ValueError, match="unknown progress store URL") as caught:
        store_from_url(url)
    assert "secret" not in str(caught.value)


def fill(path: Path) -> SQLiteStore:
    """A SQLite store with KEYS: seen ids, an outbox for some, one at revision 2."""
    store = SQLiteStore(path)
    for n, key in enumerate(KEYS):
        store.save_sync(key, P0, 0, seen=(n, n + 100), outbox=({"say": f"m{n}", "n": n},) if n % 2 else ())
    store.save_sync(KEYS[0], P1, 1)
    return store


def contents(url: str) -> list[tuple]:
    """Every row of a store, the JSON columns read (their spacing may differ between stores)."""
    async def read():
        store = store_from_url(url)
        rows = await store.rows_after("", 1000)
        if hasattr(store, "aclose"):
            await store.aclose()
        else:
            store.close()
        return [(r.key, r.rev, r.updated, r.data, json.loads(r.seen), json.loads(r.outbox)) for r in rows]
    return asyncio.run(read())


def test_copy_between_sqlite_files_is_complete_and_idempotent(cli, tmp_path):
    fill(tmp_path / "a.sqlite3").close()
    source, target = f"sqlite:///{tmp_path}/a.sqlite3", f"sqlite:///{tmp_path}/b.sqlite3"
    assert cli("store", "copy", source, target, "--batch", "3")[:2] == (0, "copied 7 conversations, "
                                                                          "skipped 0 already there\n")
    assert contents(target) == contents(source) and len(contents(source)) == len(KEYS)
    assert cli("store", "copy", source, target)[1] == "copied 0 conversations, skipped 7 already there\n"
    assert contents(target) == contents(source)


def test_an_interrupted_copy_completes_when_run_again(cli, tmp_path, monkeypatch):
    fill(tmp_path / "a.sqlite3").close()
    source, target = f"sqlite:///{tmp_path}/a.sqlite3", f"sqlite:///{tmp_path}/b.sqlite3"
    put = SQLiteStore.put_rows
    calls = []

    async def fails_second_time(self, rows):
        calls.append(len(rows))
        if len(calls) == 2:
            raise StoreUnavailable("disk full")
        return await put(self, rows)
    monkeypatch.setattr(SQLiteStore, "put_rows", fails_second_time)
    code, _, err = cli("store", "copy", source, target, "--batch", "2")
    assert code == 1 and "disk full" in err
    monkeypatch.setattr(SQLiteStore, "put_rows", put)
    assert cli("store", "copy", source, target, "--batch", "2")[1] == ("copied 5 conversations, "
                                                                        "skipped 2 already there\n")
    assert contents(target) == contents(source)


def test_a_second_copy_brings_what_moved_on_and_never_overwrites_newer(cli, tmp_path):
    fill(tmp_path / "a.sqlite3").close()
    source, target = f"sqlite:///{tmp_path}/a.sqlite3", f"sqlite:///{tmp_path}/b.sqlite3"
    cli("store", "copy", source, target)
    moved, newer = SQLiteStore(tmp_path / "a.sqlite3"), SQLiteStore(tmp_path / "b.sqlite3")
    moved.save_sync(KEYS[1], P1, 1)  # the bot still ran on the source meanwhile
    newer.save_sync(KEYS[2], P1, 1)  # ... and already on the target for another person
    moved.save_sync(KEYS[2], P1.with_(node="contacted"), 1)
    moved.close(), newer.close()
    assert cli("store", "copy", source, target)[1] == "copied 1 conversations, skipped 6 already there\n"
    copied = SQLiteStore(tmp_path / "b.sqlite3")
    assert copied.load_sync(KEYS[1]).progress == P1 and copied.load_sync(KEYS[2]).progress == P1
    copied.close()


def test_copy_refuses_a_missing_source_or_an_unknown_url(cli, tmp_path):
    code, _, err = cli("store", "copy", f"sqlite:///{tmp_path}/typo.sqlite3", f"sqlite:///{tmp_path}/b.sqlite3")
    assert code == 1 and "no such file" in err and not (tmp_path / "typo.sqlite3").exists()
    fill(tmp_path / "a.sqlite3").close()
    code, _, err = cli("store", "copy", f"sqlite:///{tmp_path}/a.sqlite3", "redis://localhost")
    assert code == 1 and "unknown progress store URL" in err


def test_copy_from_sqlite_to_postgresql_and_back(cli, tmp_path, pg_schema):
    fill(tmp_path / "a.sqlite3").close()
    source = f"sqlite:///{tmp_path}/a.sqlite3"
    postgres = f"{PG_URL}?search_path={pg_schema}"  # asyncpg passes unknown parameters as settings
    assert cli("store", "copy", source, postgres, "--batch", "3")[1].startswith("copied 7 conversations")
    assert contents(postgres) == contents(source)
    assert cli("store", "copy", source, postgres)[1] == "copied 0 conversations, skipped 7 already there\n"
    back = f"sqlite:///{tmp_path}/back.sqlite3"
    assert cli("store", "copy", postgres, back)[1].startswith("copied 7 conversations")
    assert contents(back) == contents(source)
    store = SQLiteStore(tmp_path / "back.sqlite3")
    assert store.load_sync(KEYS[0]).rev == 2 and store.load_sync(KEYS[1]).outbox == ({"say": "m1", "n": 1},)
    assert [key for key, _ in store.undelivered_sync()] == [k for n, k in enumerate(KEYS) if n % 2]
    store.close()
