"""What only the PostgreSQL store has to get right: migrations, several processes, outages.

Each test gets a fresh schema (`pg_schema` in conftest); they skip when PostgreSQL does not
answer, and fail instead when BOT_REQUIRE_POSTGRES=1 (CI)."""
import asyncio
import logging
from urllib.parse import urlsplit

import asyncpg
import pytest

from bot.engine.progress import Progress
from bot.errors import Conflict, StoreUnavailable
from bot.store import ConversationKey
from bot.flow.files import FlowSet
from bot.store.postgres import SCHEMA_VERSION, redact
from bot.stores import PostgresStore
from conftest import PG_URL, make_bot
from tg import Person

ALICE = ConversationKey.private(8001)
P0 = Progress("cstream", "v1", "problem", started=1.0, updated=1.0)
P1 = P0.with_(node="service")
INDEXES = {"progress_pkey", "progress_user", "progress_chat", "progress_updated", "progress_undelivered"}


def store_in(schema: str, url: str = PG_URL, **kwargs) -> PostgresStore:
    """A store on that schema, as one bot process would open it."""
    return PostgresStore(url, server_settings={"search_path": schema, "application_name": schema}, **kwargs)


async def query(schema: str, sql: str, *args):
    conn = await asyncpg.connect(PG_URL, server_settings={"search_path": schema})
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def versions(schema: str) -> list[int]:
    return [row[0] for row in await query(schema, "SELECT version FROM schema_version ORDER BY version")]


async def test_an_empty_database_is_migrated_and_a_restart_migrates_nothing_again(pg_schema):
    store = store_in(pg_schema)
    await store.save(ALICE, P0, 0)
    await store.aclose()
    assert await versions(pg_schema) == list(range(1, SCHEMA_VERSION + 1))
    indexes = await query(pg_schema, "SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2",
                         pg_schema, "progress")
    assert {row[0] for row in indexes} == INDEXES
    restarted = store_in(pg_schema)
    assert (await restarted.load(ALICE)).progress == P0
    await restarted.aclose()
    assert await versions(pg_schema) == list(range(1, SCHEMA_VERSION + 1))


async def test_processes_starting_together_migrate_once(pg_schema):
    stores = [store_in(pg_schema) for _ in range(6)]
    await asyncio.gather(*(store.open() for store in stores))
    assert await versions(pg_schema) == list(range(1, SCHEMA_VERSION + 1))
    for store in stores:
        await store.aclose()


async def test_a_database_from_a_newer_bot_is_refused_clearly(pg_schema):
    store = store_in(pg_schema)
    await store.open()
    await store.aclose()
    await query(pg_schema, "INSERT INTO schema_version VALUES ($1, 0)", SCHEMA_VERSION + 1)
    newer = store_in(pg_schema)
    with pytest.raises(StoreUnavailable, match="newer than this bot"):
        await newer.count()
    await newer.aclose()


async def test_two_processes_racing_on_one_key_one_save_wins_each_revision(pg_schema):
    first, second = store_in(pg_schema), store_in(pg_schema)
    await asyncio.gather(first.open(), second.open())
    for rev in range(20):
        outcomes = await asyncio.gather(first.save(ALICE, P0, rev, seen=(rev,)),
                                        second.save(ALICE, P1, rev, seen=(rev,)), return_exceptions=True)
        assert sorted(type(outcome).__name__ for outcome in outcomes) == ["Conflict", "Record"]
    assert (await first.load(ALICE)).rev == 20
    await first.aclose()
    await second.aclose()


async def test_no_step_is_lost_when_many_processes_move_one_conversation_on(pg_schema):
    """Each worker loads, adds one update id, saves, and starts again on Conflict."""
    stores = [store_in(pg_schema, pool_max=2) for _ in range(4)]
    await stores[0].save(ALICE, P0, 0)

    async def worker(store, ids):
        for update_id in ids:
            while True:
                record = await store.load(ALICE)
                try:
                    await store.save(ALICE, record.progress, record.rev, seen=record.seen + (update_id,))
                    break
                except Conflict:
                    pass
    await asyncio.gather(*(worker(store, range(n * 100, n * 100 + 8)) for n, store in enumerate(stores)))
    record = await stores[0].load(ALICE)
    assert record.rev == 1 + 4 * 8 and len(record.seen) == 4 * 8
    for store in stores:
        await store.aclose()


def test_the_terminal_and_the_bot_share_one_store_object(pg_schema):
    """The *_sync methods run on the store's own loop; called from a running loop they refuse."""
    store = store_in(pg_schema)
    store.save_sync(ALICE, P0, 0)

    async def bot_side():
        assert (await store.load(ALICE)).rev == 1
        with pytest.raises(RuntimeError, match="running event loop"):
            store.load_sync(ALICE)
        await store.aclose()
    asyncio.run(bot_side())
    store.close()


async def test_closing_on_the_running_loop_drops_the_connections(pg_schema):
    """PTB's post_shutdown calls the synchronous close() on the bot's loop."""
    store = store_in(pg_schema, pool_min=3)
    await store.count()
    activity = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
    assert (await query(pg_schema, activity, pg_schema))[0][0] == 3
    store.close()
    for _ in range(50):
        if (await query(pg_schema, activity, pg_schema))[0][0] == 0:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("connections left open")


async def test_an_unreachable_server_is_store_unavailable_logged_once(pg_schema, caplog):
    store = store_in(pg_schema, url="postgresql://postgres:secret@127.0.0.1:1/test", timeout=2)
    for _ in range(3):
        with pytest.raises(StoreUnavailable):
            await store.load(ALICE)
    with pytest.raises(StoreUnavailable):
        await store.save(ALICE, P0, 0)
    errors = [r for r in caplog.records if r.name == "bot.store.postgres" and r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "secret" not in errors[0].getMessage()
    await store.aclose()


class Relay:
    """A TCP relay to the test PostgreSQL that a test can cut and restore: an outage."""

    def __init__(self):
        target = urlsplit(PG_URL)
        self.target = (target.hostname or "127.0.0.1", target.port or 5432)
        self.port, self.server, self.writers = 0, None, []
        user = f"{target.username}@" if target.username else ""
        self.url = lambda: f"postgresql://{user}127.0.0.1:{self.port}{target.path}"

    async def start(self):
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self):
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers = []

    async def _relay(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, up_writer]

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_an_outage_is_store_unavailable_and_the_store_recovers(pg_schema, caplog):
    relay = Relay()
    await relay.start()
    store = store_in(pg_schema, url=relay.url(), timeout=2)
    await store.save(ALICE, P0, 0)
    await relay.cut()
    with pytest.raises(StoreUnavailable):
        await store.save(ALICE, P1, 1)
    with pytest.raises(StoreUnavailable):
        await store.load(ALICE)
    log = [r for r in caplog.records if r.name == "bot.store.postgres"]
    assert [r.levelname for r in log] == ["ERROR"]
    await relay.start()  # the server is back, on the same address
    assert (await store.save(ALICE, P1, 1)).rev == 2
    assert (await store.load(ALICE)).progress == P1
    log = [r for r in caplog.records if r.name == "bot.store.postgres"]
    assert [r.levelname for r in log] == ["ERROR", "WARNING"] and "works again" in log[1].getMessage()
    await store.aclose()
    await relay.cut()


async def test_the_telegram_front_end_runs_on_postgresql(tmp_path, flow, pg_schema):
    tg, app, store = await make_bot(tmp_path, FlowSet([flow]), store=store_in(pg_schema))
    camille = Person(tg, app, 5101)
    await camille.send("/start")
    await camille.send("double prélèvement")
    assert (await store.load(ConversationKey.private(5101))).progress.answers == {"problem": "billing", "paid_how": "unknown"}
    await app.shutdown()
    store.close()  # as PTB's post_shutdown does, on the bot's loop
    again = store_in(pg_schema)  # the next start of the bot
    assert (await again.load(ConversationKey.private(5101))).progress.answers == {"problem": "billing", "paid_how": "unknown"}
    await again.aclose()


def test_passwords_stay_out_of_messages():
    assert redact("postgresql://bot:s3cret@db:5432/bot") == "postgresql://bot:***@db:5432/bot"
    assert redact("postgresql://bot@db/bot") == "postgresql://bot@db/bot"
