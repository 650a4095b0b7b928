"""Shared test helpers: the flows, the clock, one offline bot (tests/tg.py), and the stores."""
import asyncio
import os
import uuid
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.engine import Engine
from bot.flow.check import load_flow
from bot.flow.files import FlowSet
from bot.settings import Settings
from bot.store import ConversationKey
from bot.stores import SQLiteStore
from bot.telegram.app import build_application
from tg import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "flows"
DEMO = Path(__file__).resolve().parent / "data" / "demo.yaml"  # the authoring guide's example
PARIS = ZoneInfo("Europe/Paris")
ADMIN = 42


def paris(*args) -> datetime:
    return datetime(*args, tzinfo=PARIS)


NOW = paris(2026, 11, 26, 12, 0)  # a Thursday, noon: every customer-service channel is open


@pytest.fixture(scope="session")
def flow():
    flow, problems = load_flow(FLOWS / "cstream.yaml")
    assert not problems, problems
    return flow


@pytest.fixture(scope="session")
def demo():
    flow, problems = load_flow(DEMO)
    assert not problems, problems
    return flow


@pytest.fixture(scope="session")
def engine(flow):
    return Engine(FlowSet([flow]))


async def make_bot(tmp_path, flows, store=None, rate_limiter=False, clock=lambda: NOW):
    """The real Application on a recording Bot API; returns (FakeTelegram, app, store)."""
    tg = FakeTelegram()
    store = store or SQLiteStore(tmp_path / "progress.sqlite3", lock_timeout=0.2)
    settings = Settings(token="123:SECRET-TOKEN", data_dir=tmp_path, admin_ids=frozenset({ADMIN}))
    app = build_application(settings, flows, store=store, request=tg, clock=clock, rate_limiter=rate_limiter)
    await app.initialize()
    return tg, app, store


@pytest.fixture
async def bot(tmp_path, flow):
    tg, app, store = await make_bot(tmp_path, FlowSet([flow]))
    yield tg, app, store
    await app.shutdown()
    store.close()


@pytest.fixture
async def tiny_bot(tmp_path):
    """The bot on the tiny flow of tests/tiny.py alone (the tests of mechanics): (FakeTelegram, app, store)."""
    from tiny import tiny_flows
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"))
    yield tg, app, store
    await app.shutdown()
    store.close()


def stored(store, key: str):
    """The progress stored under a key written as text ('private:1001'), or None."""
    record = store.load_sync(ConversationKey.parse(key))
    return record.progress if record else None


@pytest.fixture
def cli(monkeypatch, capsys, tmp_path):
    """`python -m bot ARGS` in this process: returns (exit code, stdout, stderr). The data
    folder is a fresh temporary one and no Telegram token is set, unless `env` says so."""
    import io

    from bot.cli import main

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def run(*args, stdin: str = "", env: dict | None = None, tty: bool = False):
        """`tty`: stdin is an interactive terminal (else a pipe, as under a service manager)."""
        monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
        for name, value in {"BOT_DATA_DIR": str(tmp_path / "data"), **(env or {})}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr("sys.stdin", (Terminal if tty else io.StringIO)(stdin))
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


# PostgreSQL for the tests: a fresh schema per test on this database. When it does not answer,
# the PostgreSQL tests skip, unless BOT_REQUIRE_POSTGRES=1 (CI), where they fail.
PG_URL = os.environ.get("BOT_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"


@asynccontextmanager
async def postgres_schema():
    """A new, empty schema on PG_URL for one test (dropped afterwards): its name."""
    import asyncpg
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncio.TimeoutError, asyncpg.PostgresError) as exc:
        reason = f"PostgreSQL at {PG_URL} does not answer: {' '.join(str(exc).split())}"
        if os.environ.get("BOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (and BOT_REQUIRE_POSTGRES=1)", pytrace=False)
        pytest.skip(reason)
    name = f"test_{uuid.uuid4().hex[:12]}"
    await conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        await conn.execute(f'DROP SCHEMA "{name}" CASCADE')
        await conn.close()


@pytest.fixture
async def pg_schema():
    async with postgres_schema() as name:
        yield name


@pytest.fixture(params=["sqlite", "postgres"])
async def any_store(request, tmp_path):
    """Each progress store, empty (the contract tests in test_store_contract.py run on all)."""
    if request.param == "sqlite":
        store = SQLiteStore(tmp_path / "contract.sqlite3")
        yield store
        store.close()
        return
    from bot.stores import PostgresStore
    async with postgres_schema() as schema:
        store = PostgresStore(PG_URL, server_settings={"search_path": schema})
        yield store
        await store.aclose()
