"""PostgreSQL progress store: one row per conversation, shared by several bot processes.

Same table, same semantics as the SQLite store (sqlite.py), without its group commit and its
cache: other processes write the same rows, so every read goes to the database, and every
save is a single compare-and-set statement (INSERT ... ON CONFLICT DO NOTHING for a new
conversation, UPDATE ... WHERE rev = the revision read otherwise; no row touched: Conflict).

- asyncpg, imported only here and only when a PostgreSQL URL is used. The connection pool is
  opened on first use (or by `await store.open()`), one per event loop: the bot's loop for
  the async methods, and a private loop on a background thread for the `*_sync` methods the
  terminal and the tools call. A `*_sync` method called from a running loop raises instead
  of blocking it.
- The schema is created and migrated when a pool opens: `MIGRATIONS` numbered as in SQLite,
  the versions applied recorded in `schema_version`, all under an advisory lock so that
  processes starting together migrate once.
- Any database trouble (refused connection, lost connection, timeout, server error) becomes
  `StoreUnavailable`, logged once per episode; the first success after it logs the recovery.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from ..engine.progress import Progress
from ..errors import Unreadable
from ..ops.events import FIELDS, UNRECOGNISED_DAYS
from .base import (EVENTS_PAGE, Conflict, ConversationKey, Record, Row, StoreUnavailable, event_rows, kept_texts,
                   record_of)

log = logging.getLogger(__name__)

# MIGRATIONS[n - 1] takes the schema from version n - 1 to n, in one transaction.
MIGRATIONS = [
    # 1: SQLite's table at its schema version 3. Keys sort bytewise (COLLATE "C") as in
    #    SQLite, so that `store copy` pages through both stores in the same order.
    """CREATE TABLE progress (
           key      text COLLATE "C" PRIMARY KEY,
           user_id  bigint,
           chat_id  bigint,
           rev      bigint NOT NULL,
           updated  double precision NOT NULL,
           data     text NOT NULL,
           seen     jsonb NOT NULL DEFAULT '[]',
           outbox   jsonb NOT NULL DEFAULT '[]');
       CREATE INDEX progress_user ON progress(user_id);
       CREATE INDEX progress_chat ON progress(chat_id);
       CREATE INDEX progress_updated ON progress(updated);
       CREATE INDEX progress_undelivered ON progress(updated) WHERE outbox <> '[]'::jsonb;""",
    # 2: records that could not be read are set aside here for the operator, not lost.
    """CREATE TABLE IF NOT EXISTS unreadable (
           key       text NOT NULL,
           rev       bigint,
           data      text,
           set_aside double precision NOT NULL);""",
    # 3: the anonymous step events (bot/ops/events.py), written in the step's transaction, and
    #    the unrecognised descriptions kept on request (BOT_KEEP_UNRECOGNISED), by conversation.
    """CREATE TABLE events (
           id         bigserial PRIMARY KEY,
           day        text NOT NULL,
           flow       text NOT NULL,
           version    text NOT NULL,
           kind       text NOT NULL,
           node       text,
           choice     text,
           understood smallint,
           next       text,
           outcome    text,
           followup   text,
           seconds    integer NOT NULL,
           token      text NOT NULL);
       CREATE INDEX events_day ON events(day);
       CREATE TABLE unrecognised (
           key     text COLLATE "C" NOT NULL,
           user_id bigint,
           added   double precision NOT NULL,
           day     text NOT NULL,
           flow    text NOT NULL,
           node    text,
           text    text NOT NULL);
       CREATE INDEX unrecognised_key ON unrecognised(key);
       CREATE INDEX unrecognised_user ON unrecognised(user_id);""",
    # 4: the bot's entry post in each channel or group it was published to (/publier).
    """CREATE TABLE IF NOT EXISTS entry_posts (
           chat_id    bigint PRIMARY KEY,
           message_id bigint NOT NULL);""",
    # 5 (SQLite's 7): the follow-up's reminders still to come, written with the step that planned
    #    them; a process claims a due one (FOR UPDATE SKIP LOCKED, then claimed_until) first.
    """CREATE TABLE IF NOT EXISTS reminders (
           key           text COLLATE "C" NOT NULL,
           user_id       bigint,
           reminder      text NOT NULL,
           due           double precision NOT NULL,
           claimed_until double precision NOT NULL DEFAULT 0,
           claimed_by    text,
           PRIMARY KEY (key, reminder));
       CREATE INDEX IF NOT EXISTS reminders_due ON reminders(due);
       CREATE INDEX IF NOT EXISTS reminders_user ON reminders(user_id);""",
]
SCHEMA_VERSION = len(MIGRATIONS)
MIGRATION_LOCK = 0x70726F67  # pg_advisory_xact_lock key ("prog"): one migrating process at a time

_COLUMNS = "key, data, rev, seen, outbox"
_INSERT = ("INSERT INTO progress(key, user_id, chat_id, rev, updated, data, seen, outbox) "
           "VALUES ($1, $2, $3, 1, $4, $5, $6::jsonb, $7::jsonb) ON CONFLICT (key) DO NOTHING")
_UPDATE = ("UPDATE progress SET rev = $1, updated = $2, data = $3, seen = $4::jsonb, outbox = $5::jsonb, "
           "user_id = $6, chat_id = $7 WHERE key = $8 AND rev = $9")
# `store copy`: rows as they are (a batch in one statement), unless already there at the same
# or a later revision; RETURNING lists the rows inserted or updated.
_PUT = ("INSERT INTO progress(key, user_id, chat_id, rev, updated, data, seen, outbox) "
        "SELECT k, u, c, r, t, d, s::jsonb, o::jsonb FROM unnest($1::text[], $2::bigint[], $3::bigint[], "
        "$4::bigint[], $5::float8[], $6::text[], $7::text[], $8::text[]) AS x(k, u, c, r, t, d, s, o) "
        "ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id, chat_id = excluded.chat_id, "
        "rev = excluded.rev, updated = excluded.updated, data = excluded.data, seen = excluded.seen, "
        "outbox = excluded.outbox WHERE progress.rev < excluded.rev RETURNING key")

_EVENT = (f"INSERT INTO events({', '.join(FIELDS)}) "
          f"VALUES ({', '.join(f'${i}' for i in range(1, len(FIELDS) + 1))})")
_KEEP = "INSERT INTO unrecognised(key, user_id, added, day, flow, node, text) VALUES ($1, $2, $3, $4, $5, $6, $7)"
_PLAN = "INSERT INTO reminders(key, user_id, reminder, due) VALUES ($1, $2, $3, $4)"


class NewerSchema(Exception):
    """The database was migrated by a newer bot than this one."""


def _record(row) -> Record | None:
    """A row (key, data, rev, seen, outbox) as a Record, or None when it cannot be read."""
    return record_of(row[1], row[2], row[3], row[4])


def _rows(status: str) -> int:
    """The row count of a command status such as 'UPDATE 1' or 'INSERT 0 1'."""
    return int(status.rsplit(" ", 1)[-1])


def redact(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc}"))


async def migrate(conn) -> int:
    """Bring the schema to SCHEMA_VERSION; return the version it had."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version "
                           "(version integer PRIMARY KEY, applied double precision NOT NULL)")
        found = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        if found > SCHEMA_VERSION:
            raise NewerSchema(f"the database has schema version {found}, newer than this bot's "
                              f"{SCHEMA_VERSION}: upgrade the bot")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            await conn.execute(MIGRATIONS[version - 1])
            await conn.execute("INSERT INTO schema_version VALUES ($1, $2)", version, time.time())
            if found:
                log.info("progress store upgraded to schema version %d", version)
    return found


class PostgresStore:
    def __init__(self, url: str, pool_min: int = 1, pool_max: int = 10, timeout: float = 10.0,
                 server_settings: dict | None = None):
        """`timeout`: seconds to connect, to wait for a free connection, and per statement.
        `server_settings`: e.g. {"search_path": "a_schema"} (the tests use one per test)."""
        self.url = url
        self.pool_min, self.pool_max = min(pool_min, pool_max), pool_max
        self.timeout = timeout
        self.server_settings = server_settings
        self._pools: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}  # loop -> task opening its pool
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None   # the private loop of the *_sync methods
        self._thread_lock = threading.Lock()
        self._trouble: bool | None = None  # None: fine; else whether a write failed
        self._errors: tuple = ()

    # -- the pool of the running loop --------------------------------------------------------
    async def _create_pool(self):
        import asyncpg
        pool = await asyncpg.create_pool(self.url, min_size=self.pool_min, max_size=self.pool_max,
                                         timeout=self.timeout, command_timeout=self.timeout,
                                         server_settings=self.server_settings)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            pool.terminate()
            raise
        return pool

    async def _pool(self):
        loop = asyncio.get_running_loop()
        task = self._pools.get(loop)
        if task is None:  # the first caller opens it; the others on this loop wait for the same task
            task = self._pools[loop] = loop.create_task(self._create_pool())
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and self._pools.get(loop) is task:
                del self._pools[loop]  # failed to open: the next call tries again
            raise

    async def open(self) -> None:
        """Open the pool and migrate now rather than on first use (optional)."""
        await self._run(lambda conn: conn.fetchval("SELECT 1"))

    async def _run(self, fn, write: bool = False):
        """`await fn(conn)` on a pooled connection; trouble becomes StoreUnavailable, its cause
        logged once per episode (only a write ends an episode a write started, as in SQLite)."""
        if not self._errors:
            import asyncpg
            self._errors = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, asyncio.TimeoutError,
                            NewerSchema)
        try:
            pool = await self._pool()
            async with pool.acquire(timeout=self.timeout) as conn:
                result = await fn(conn)
        except self._errors as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            if self._trouble is None:
                log.error("progress store %s unavailable: %s", redact(self.url), reason)
                self._trouble = write
            raise StoreUnavailable(reason) from exc
        if self._trouble is not None and (write or not self._trouble):
            log.warning("progress store %s works again", redact(self.url))
            self._trouble = None
        return result

    # -- asynchronous API (the bot) ------------------------------------------------------------
    async def load(self, key: ConversationKey) -> Record | None:
        row = await self._run(lambda c: c.fetchrow(f"SELECT {_COLUMNS} FROM progress WHERE key = $1", str(key)))
        if row is None:
            return None
        record = _record(row)
        if record is None:
            await self._run(lambda c: c.execute(
                "WITH gone AS (DELETE FROM progress WHERE key = $1 RETURNING key, rev, data) "
                "INSERT INTO unreadable(key, rev, data, set_aside) SELECT key, rev, data, $2 FROM gone",
                str(key), time.time()), write=True)
            raise Unreadable(str(key))
        return record

    async def save(self, key: ConversationKey, progress: Progress, rev: int,
                   seen: tuple[int, ...] = (), outbox: tuple = (), events: tuple = (),
                   reminders: list | None = None) -> Record:
        data, seen_json, outbox_json, now = progress.to_json(), json.dumps(seen), json.dumps(outbox), time.time()
        rows, kept = event_rows(events), [(str(key), key.user, now, *k) for k in kept_texts(events)]

        async def write(conn) -> bool:
            if rev == 0:
                args = (_INSERT, str(key), key.user, key.chat, now, data, seen_json, outbox_json)
            else:
                args = (_UPDATE, rev + 1, now, data, seen_json, outbox_json, key.user, key.chat, str(key), rev)
            if not rows and reminders is None:
                return _rows(await conn.execute(*args)) == 1
            async with conn.transaction():  # the step, its events and its reminders, or none
                if _rows(await conn.execute(*args)) != 1:
                    return False
                if rows:
                    await conn.executemany(_EVENT, rows)
                if kept:
                    await conn.executemany(_KEEP, kept)
                if reminders is not None:
                    await conn.execute("DELETE FROM reminders WHERE key = $1", str(key))
                    if reminders:
                        await conn.executemany(_PLAN, [(str(key), key.user, rid, due) for rid, due in reminders])
            return True
        if not await self._run(write, write=True):
            raise Conflict(str(key))
        return Record(progress, rev + 1, tuple(seen), tuple(outbox))

    async def delivered(self, key: ConversationKey, rev: int) -> bool:
        status = await self._run(lambda c: c.execute(
            "UPDATE progress SET outbox = '[]' WHERE key = $1 AND rev = $2", str(key), rev), write=True)
        return _rows(status) == 1

    async def undelivered(self, limit: int = 100, older_than: float = 0.0) -> list[tuple[ConversationKey, Record]]:
        rows = await self._run(lambda c: c.fetch(
            f"SELECT {_COLUMNS} FROM progress WHERE outbox <> '[]'::jsonb AND updated <= $1 ORDER BY updated "
            "LIMIT $2", time.time() - older_than, limit))
        found = [(ConversationKey.parse(row[0]), _record(row)) for row in rows]
        return [(key, record) for key, record in found if record is not None]

    async def count_undelivered(self) -> int:
        return await self._run(lambda c: c.fetchval("SELECT count(*) FROM progress WHERE outbox <> '[]'::jsonb"))

    async def delete(self, key: ConversationKey) -> int:
        return await self._erase("key", str(key))

    async def delete_user(self, user_id: int) -> int:
        """Erase every record of a person: their private chat and their group conversations,
        and the descriptions kept from them."""
        return await self._erase("user_id", user_id)

    async def _erase(self, column: str, value) -> int:
        async def erase(conn) -> int:
            async with conn.transaction():
                await conn.execute(f"DELETE FROM unrecognised WHERE {column} = $1", value)
                await conn.execute(f"DELETE FROM reminders WHERE {column} = $1", value)
                return _rows(await conn.execute(f"DELETE FROM progress WHERE {column} = $1", value))
        return await self._run(erase, write=True)

    async def purge(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        await self._run(lambda c: c.execute("DELETE FROM unrecognised WHERE added < $1",
                                            time.time() - UNRECOGNISED_DAYS * 86400), write=True)
        return _rows(await self._run(lambda c: c.execute(
            "DELETE FROM progress WHERE updated < $1 AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.key = progress.key)",
            cutoff), write=True))

    async def events(self, since_day: str = "", flow: str | None = None, after: int = 0,
                     limit: int = EVENTS_PAGE) -> list[tuple]:
        rows = await self._run(lambda c: c.fetch(
            f"SELECT id, {', '.join(FIELDS)} FROM events WHERE id > $1 AND day >= $2 "
            "AND ($3::text IS NULL OR flow = $3) ORDER BY id LIMIT $4", after, since_day, flow, limit))
        return [tuple(row) for row in rows]

    async def unrecognised(self, since_day: str = "", flow: str | None = None) -> list[tuple]:
        rows = await self._run(lambda c: c.fetch(
            "SELECT day, flow, node, text FROM unrecognised WHERE day >= $1 AND ($2::text IS NULL OR flow = $2) "
            "ORDER BY added", since_day, flow))
        return [tuple(row) for row in rows]

    async def move_chat(self, old_chat: int, new_chat: int) -> int:
        async def move(conn):
            async with conn.transaction():
                keys = await conn.fetch("SELECT key FROM progress WHERE chat_id = $1 FOR UPDATE", old_chat)
                for (key,) in keys:
                    new_key = str(ConversationKey.parse(key).in_chat(new_chat))
                    if new_key != key:  # a record already under the new key is replaced, as in SQLite
                        await conn.execute("DELETE FROM progress WHERE key = $1", new_key)
                    await conn.execute("UPDATE progress SET key = $1, chat_id = $2 WHERE key = $3",
                                       new_key, new_chat, key)
                    if new_key != key:
                        await conn.execute("DELETE FROM reminders WHERE key = $1", new_key)
                        await conn.execute("UPDATE reminders SET key = $1 WHERE key = $2", new_key, key)
                return len(keys)
        return await self._run(move, write=True)

    async def count(self) -> int:
        return await self._run(lambda c: c.fetchval("SELECT count(*) FROM progress"))

    # -- the follow-up's reminders (same meaning as in sqlite.py) ---------------------------
    async def claim_reminders(self, now: float, owner: str, lease: float, limit: int = 50) -> list[tuple]:
        """Claim due reminders nobody holds: the rows are locked while claimed (SKIP LOCKED: a
        second process takes others, never the same), then held for `lease` seconds."""
        rows = await self._run(lambda c: c.fetch(
            "UPDATE reminders SET claimed_until = $1, claimed_by = $2 WHERE (key, reminder) IN ("
            "SELECT key, reminder FROM reminders WHERE due <= $3 AND claimed_until < $3 ORDER BY due LIMIT $4 "
            "FOR UPDATE SKIP LOCKED) RETURNING key, reminder, due", now + lease, owner, now, limit), write=True)
        return [(ConversationKey.parse(row[0]), row[1], row[2]) for row in rows]

    async def finish_reminder(self, key: ConversationKey, reminder: str, due: float) -> None:
        await self._run(lambda c: c.execute("DELETE FROM reminders WHERE key = $1 AND reminder = $2 AND due = $3",
                                            str(key), reminder, due), write=True)

    async def postpone_reminder(self, key: ConversationKey, reminder: str, due: float) -> None:
        await self._run(lambda c: c.execute("UPDATE reminders SET due = $1, claimed_until = 0, claimed_by = NULL "
                                            "WHERE key = $2 AND reminder = $3", due, str(key), reminder), write=True)

    async def reminders_of(self, key: ConversationKey) -> list[tuple[str, float]]:
        rows = await self._run(lambda c: c.fetch("SELECT reminder, due FROM reminders WHERE key = $1 ORDER BY due",
                                                 str(key)))
        return [tuple(row) for row in rows]

    async def entry_post(self, chat_id: int) -> int | None:
        return await self._run(lambda c: c.fetchval("SELECT message_id FROM entry_posts WHERE chat_id = $1", chat_id))

    async def set_entry_post(self, chat_id: int, message_id: int) -> None:
        await self._run(lambda c: c.execute(
            "INSERT INTO entry_posts(chat_id, message_id) VALUES ($1, $2) ON CONFLICT (chat_id) "
            "DO UPDATE SET message_id = excluded.message_id", chat_id, message_id), write=True)

    async def rows_after(self, after: str = "", limit: int = 500) -> list[Row]:
        rows = await self._run(lambda c: c.fetch(
            "SELECT key, rev, updated, data, seen::text, outbox::text, COALESCE((SELECT json_agg(json_build_array("
            "reminder, due))::text FROM reminders r WHERE r.key = progress.key), '[]') FROM progress "
            "WHERE key > $1 ORDER BY key LIMIT $2", after, limit))
        return [Row(*row) for row in rows]

    async def put_rows(self, rows: list[Row]) -> int:
        if not rows:
            return 0
        keys = [ConversationKey.parse(row.key) for row in rows]
        columns = ([r.key for r in rows], [k.user for k in keys], [k.chat for k in keys], [r.rev for r in rows],
                   [r.updated for r in rows], [r.data for r in rows], [r.seen for r in rows],
                   [r.outbox for r in rows])
        planned = [(r.key, k.user, rid, due) for r, k in zip(rows, keys) for rid, due in json.loads(r.reminders)]

        async def put(conn) -> int:
            async with conn.transaction():
                written = [row[0] for row in await conn.fetch(_PUT, *columns)]
                await conn.execute("DELETE FROM reminders WHERE key = ANY($1::text[])", written)
                await conn.executemany(_PLAN, [p for p in planned if p[0] in set(written)])  # theirs come with them
                return len(written)
        return await self._run(put, write=True)

    # -- synchronous API (terminal, tools): the same coroutines on the private loop -----------------
    def _sync(self, method, *args):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(f"PostgresStore.{method.__name__}_sync called from a running event loop: "
                               f"await PostgresStore.{method.__name__} instead")
        with self._thread_lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="postgres-store", daemon=True)
                self._thread.start()
        return asyncio.run_coroutine_threadsafe(method(*args), self._loop).result()

    def load_sync(self, key: ConversationKey) -> Record | None:
        return self._sync(self.load, key)

    def save_sync(self, key: ConversationKey, progress: Progress, rev: int,
                  seen: tuple[int, ...] = (), outbox: tuple = (), events: tuple = (),
                  reminders: list | None = None) -> Record:
        return self._sync(self.save, key, progress, rev, seen, outbox, events, reminders)

    def claim_reminders_sync(self, now: float, owner: str, lease: float, limit: int = 50) -> list[tuple]:
        return self._sync(self.claim_reminders, now, owner, lease, limit)

    def reminders_of_sync(self, key: ConversationKey) -> list[tuple[str, float]]:
        return self._sync(self.reminders_of, key)

    def events_sync(self, since_day: str = "", flow: str | None = None, after: int = 0,
                    limit: int = EVENTS_PAGE) -> list[tuple]:
        return self._sync(self.events, since_day, flow, after, limit)

    def unrecognised_sync(self, since_day: str = "", flow: str | None = None) -> list[tuple]:
        return self._sync(self.unrecognised, since_day, flow)

    def delete_sync(self, key: ConversationKey) -> int:
        return self._sync(self.delete, key)

    def delete_user_sync(self, user_id: int) -> int:
        return self._sync(self.delete_user, user_id)

    def count_sync(self) -> int:
        return self._sync(self.count)

    # -- closing ---------------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the pools gracefully from async code (the pool of this loop, and the private one)."""
        task = self._pools.pop(asyncio.get_running_loop(), None)
        if task is not None and task.done() and not task.cancelled() and task.exception() is None:
            await task.result().close()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Close every pool. A pool whose loop is running here (PTB's post_shutdown calls this
        on the bot's loop) cannot be awaited: its connections are dropped (nothing is in flight
        at shutdown). The private loop's pool closes gracefully, then its thread ends."""
        pools, self._pools = self._pools, {}
        for loop, task in pools.items():
            if loop is self._loop or not task.done() or task.cancelled() or task.exception() is not None:
                continue
            pool = task.result()
            try:
                if loop.is_running() or loop.is_closed():
                    pool.terminate()
                else:
                    loop.run_until_complete(pool.close())
            except RuntimeError:  # its loop is closed: the sockets go with it
                pass
        with self._thread_lock:
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None:
            task = pools.get(loop)
            if task is not None:
                asyncio.run_coroutine_threadsafe(self._close_task(task), loop).result(timeout=self.timeout + 5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    @staticmethod
    async def _close_task(task) -> None:
        try:
            pool = await task
        except Exception:
            return  # it never opened
        await pool.close()
