"""The progress store: keys, records, migrations of a database written by an older bot."""
import shutil
import sqlite3

import pytest

from bot.flow.files import FlowSet
from bot.store import ConversationKey
from bot.store.sqlite import SCHEMA_VERSION
from bot.stores import SQLiteStore
from conftest import make_bot, stored
from tg import Person

V1 = __import__("conftest").ROOT / "tests" / "data" / "progress-v1.sqlite3"


@pytest.mark.parametrize("key", [ConversationKey.private(5), ConversationKey.group(-1001, 7),
                                 ConversationKey.console("camille")])
def test_conversation_keys_read_back_as_written(key):
    assert ConversationKey.parse(str(key)) == key


@pytest.mark.parametrize("text", ["private:", "group:-1", "group:a:b", "console:", "other:1", ""])
def test_malformed_keys_are_refused(text):
    with pytest.raises(ValueError):
        ConversationKey.parse(text)


@pytest.fixture
def v1_copy(tmp_path):
    """A database written by the first landing's code (tests/data, made at commit 8f34933)."""
    path = tmp_path / "progress.sqlite3"
    shutil.copy(V1, path)
    return path


def test_a_database_from_the_first_landing_opens_and_keeps_everyone(v1_copy):
    store = SQLiteStore(v1_copy)
    assert store.count_sync() == 6
    assert sqlite3.connect(v1_copy).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    mid_way = stored(store, "private:501")
    assert (mid_way.node, mid_way.answers) == ("contacted", {"problem": "billing", "service": "video"})
    typed = stored(store, "private:502")
    assert typed.node == "write_now" and typed.texts == {"problem": "on m'a prélevé deux fois"}
    pending = stored(store, "private:503")
    assert pending.pending == ("billing",) and pending.draft == "on me prend de l'argent"
    assert stored(store, "group:-100777:504").answers == {"problem": "unreachable"}
    assert stored(store, "private:505").lang == "en"
    assert stored(store, "console:camille").node == "problem"
    record = store.load_sync(ConversationKey.private(501))
    assert record.rev == 3 and record.handled(1004)  # the last update id it had seen
    store.close()
    SQLiteStore(v1_copy).close()  # opening it again migrates nothing more


async def test_after_the_upgrade_every_conversation_continues_where_it_was(tmp_path, v1_copy, flow):
    tg, app, store = await make_bot(tmp_path, FlowSet([flow]), store=SQLiteStore(v1_copy))
    buttons, typed, unsure = Person(tg, app, 501), Person(tg, app, 502), Person(tg, app, 503)
    member = Person(tg, app, 504, chat_id=-100777)
    await buttons.send("2")  # "contacted": yes, by phone
    assert stored(store, "private:501").answers["contacted"] == "phone"
    await unsure.send("1")   # confirms "billing"
    assert stored(store, "private:503").answers == {"problem": "billing"}
    await typed.send("/recap")
    assert "on m'a prélevé deux fois" in typed.last_text
    await member.send("/retour")
    assert stored(store, "group:-100777:504").node == "problem"
    await app.shutdown()
    store.close()


def test_a_database_from_a_newer_bot_is_refused_clearly(tmp_path):
    path = tmp_path / "newer.sqlite3"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store = SQLiteStore(path)
    with pytest.raises(Exception, match="newer than this bot"):
        store.count_sync()
    store.close()


async def test_duplicates_are_found_by_the_ids_seen_not_by_their_order(bot):
    """Telegram may restart its update ids lower: a new, lower id is still a new update."""
    tg, app, store = bot
    camille = Person(tg, app, 5101)
    await camille.feed({"message": camille.message("/start")}, update_id=900_000)
    await camille.feed({"message": camille.message("double prélèvement")}, update_id=17)
    assert stored(store, "private:5101").answers == {"problem": "billing", "paid_how": "unknown"}
    sent = len(camille.seen)
    await camille.feed({"message": camille.message("double prélèvement")}, update_id=17)  # delivered twice
    assert len(camille.seen) == sent


def test_a_copy_cached_by_one_process_is_checked_against_the_file(tmp_path):
    """Two stores on one file, as two processes: what one writes, the other reads at once,
    however recently it cached the record (a step, an outbox emptied, an erasure)."""
    from bot.engine.progress import Answer, Progress
    from bot.store import ConversationKey
    key = ConversationKey.private(4242)
    p0 = Progress("cstream", "v1", "problem", started=1.0, updated=1.0)
    p1 = p0.with_(node="service", path=(Answer("problem", "billing", "deux fois"),))
    a, b = SQLiteStore(tmp_path / "shared.sqlite3"), SQLiteStore(tmp_path / "shared.sqlite3")
    try:
        a.save_sync(key, p0, 0, outbox=({"say": "q"},))
        assert b.load_sync(key).progress == p0  # b caches it
        a.save_sync(key, p1, 1, outbox=({"say": "q2"},))
        assert b.load_sync(key).progress == p1 and b.load_sync(key).rev == 2
        assert a.delivered_sync(key, 2, question=9)
        assert b.load_sync(key).outbox == () and b.load_sync(key).question == 9
        a.delete_sync(key)
        assert b.load_sync(key) is None
    finally:
        a.close()
        b.close()


async def test_the_event_loop_never_waits_for_the_write_lock(tmp_path, engine):
    """Another process holding the write lock: a save is committed by the writer thread once
    the lock is free, while the loop goes on serving (it never sits in SQLite's busy wait)."""
    import asyncio
    import time

    store = SQLiteStore(tmp_path / "progress.sqlite3", lock_timeout=3.0)
    key = ConversationKey.private(4401)
    progress, _ = engine.start()
    first = await store.save(key, progress, 0)
    blocker = sqlite3.connect(store.path, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        saving = asyncio.ensure_future(store.save(key, progress, first.rev))
        started, turns = time.monotonic(), 0
        while time.monotonic() - started < 0.4:
            await asyncio.sleep(0.01)
            turns += 1
        assert not saving.done() and turns >= 20  # the loop kept turning; the save waits for the lock
    finally:
        blocker.rollback()
        blocker.close()
    assert (await asyncio.wait_for(saving, 3)).rev == first.rev + 1
    store.close()
