"""PostgreSQL progress store: one row per conversation, shared by several bot processes.

Same table, same semantics as the SQLite store (sqlite.py), without its group commit: other
processes write the same rows, so every read goes to the database. A handled step costs three
round trips, each one statement: the load, the save, and emptying the outbox once shown.

- The save is one statement, hence one transaction: the compare-and-set write of the row with
  its outbox (INSERT ... ON CONFLICT DO NOTHING for a new conversation, UPDATE ... WHERE rev =
  the revision read otherwise; no row touched: Conflict), and, in the same statement, the
  step's events and kept descriptions, inserted only if the row was written (`_STEPS`).
- The load sends the progress JSON (and `seen`) only when the row is not at the revision and
  save time this process last read or wrote (a bounded LRU of parsed progress, `CACHE_SIZE`):
  the database compares, so a step another process made, an erasure or a purge is always
  seen; a process that handles a conversation's steps in a row parses nothing at each load.
- A connection goes back to the pool as it is (no reset query, see `_keep_session`), and a
  statement's connection is waited for under asyncio.timeout: one round trip per call, not two.
  asyncpg prepares each statement once per connection and keeps it.

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
from typing import Any, Awaitable, Callable, Coroutine
from urllib.parse import urlsplit, urlunsplit

from .. import jsonio
from ..errors import StoreError, Unreadable
from ..lru import LRU
from .base import (EVENTS_PAGE, FACTS, FIELDS, UNRECOGNISED_DAYS, Claimed, Conflict, ConversationKey, Decode, Event,
                   EventRow, Kept, KeptText, Outbox, Record, Row, Schedule, StoreUnavailable, event_rows, kept_texts,
                   record_of)

log = logging.getLogger(__name__)


class _FloorRetries(logging.Filter):
    """asyncpg's pool says « Failed to restore the pool connection floor; retrying », with a
    traceback, every second or two while the server is away: this store logs the cause once
    per episode, and « works again » after, instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to restore the pool connection floor")


logging.getLogger("asyncpg.pool").addFilter(_FloorRetries())

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
    # 6 (SQLite's 8): the message showing the conversation's last question (Record.question),
    #    and the /oublier prompts answered in the last day (answered once, whichever process).
    #    An unreadable record's owner is told once they start again (`told`), whichever process.
    """ALTER TABLE progress ADD COLUMN IF NOT EXISTS question bigint;
       ALTER TABLE unreadable ADD COLUMN IF NOT EXISTS told boolean NOT NULL DEFAULT true;
       CREATE INDEX IF NOT EXISTS unreadable_key ON unreadable(key);
       CREATE TABLE IF NOT EXISTS answered (
           chat_id    bigint NOT NULL,
           message_id bigint NOT NULL,
           user_id    bigint NOT NULL,
           update_id  bigint,
           at         double precision NOT NULL,
           PRIMARY KEY (chat_id, message_id, user_id));""",
]
SCHEMA_VERSION = len(MIGRATIONS)
MIGRATION_LOCK = 0x70726F67  # pg_advisory_xact_lock key ("prog"): one migrating process at a time

_COLUMNS = "key, data, rev, seen, outbox, question"
# A reminder's row changes only if the conversation is still at the revision it was decided on.
_AT_REV = "COALESCE((SELECT rev FROM progress WHERE key = $1), 0) = $4"
# `store copy`: rows as they are (a batch in one statement), unless already there at the same
# or a later revision; RETURNING lists the rows inserted or updated.
_PUT = ("INSERT INTO progress(key, user_id, chat_id, rev, updated, data, seen, outbox) "
        "SELECT k, u, c, r, t, d, s::jsonb, o::jsonb FROM unnest($1::text[], $2::bigint[], $3::bigint[], "
        "$4::bigint[], $5::float8[], $6::text[], $7::text[], $8::text[]) AS x(k, u, c, r, t, d, s, o) "
        "ON CONFLICT (key) DO UPDATE SET user_id = excluded.user_id, chat_id = excluded.chat_id, "
        "rev = excluded.rev, updated = excluded.updated, data = excluded.data, seen = excluded.seen, "
        "outbox = excluded.outbox WHERE progress.rev < excluded.rev RETURNING key")

# A step in one statement, so one round trip (a statement is its own transaction): the
# compare-and-set write of the progress row and its outbox (`step`: a row, or none on a
# conflict), then the step's events, kept descriptions and reminders, written only if `step`
# wrote its row (they read its RETURNING). Parameters: $1 key, $2 user, $3 chat, $4 the
# revision read (0: new), $5 now, $6 data, $7 seen, $8 outbox; then, when there are some, the
# events as one array per column (FIELDS order), the kept descriptions as arrays of day, flow,
# node and text, and the reminders as arrays of ids and due times (they replace the
# conversation's: those not in the list are deleted, those in it written anew, unclaimed).
_TYPES = {"understood": "smallint", "seconds": "integer"}
_STEP_UPDATE = ("UPDATE progress SET rev = $4 + 1, updated = $5, data = $6, seen = $7::jsonb, outbox = $8::jsonb, "
                "user_id = $2, chat_id = $3 WHERE key = $1 AND rev = $4 RETURNING rev")
_STEP_INSERT = ("INSERT INTO progress(key, user_id, chat_id, rev, updated, data, seen, outbox) "
                "SELECT $1, $2, $3, 1, $5, $6, $7::jsonb, $8::jsonb WHERE $4::bigint = 0 "
                "ON CONFLICT (key) DO NOTHING RETURNING rev")


def _step_statement(new: bool, events: bool, kept: bool, reminders: bool) -> str:
    parts, n = [f"step AS ({_STEP_INSERT if new else _STEP_UPDATE})"], 9
    if new:  # a record set aside as unreadable: its owner is told now (the reply says so)
        parts.append("told AS (UPDATE unreadable SET told = true WHERE key = $1 AND NOT told "
                     "AND EXISTS (SELECT FROM step))")
    if events:
        arrays = ", ".join(f"${n + i}::{_TYPES.get(f, 'text')}[]" for i, f in enumerate(FIELDS))
        parts.append(f"written AS (INSERT INTO events({', '.join(FIELDS)}) SELECT {', '.join(FIELDS)} "
                     f"FROM unnest({arrays}) WITH ORDINALITY AS e({', '.join(FIELDS)}, n) "
                     "WHERE EXISTS (SELECT FROM step) ORDER BY n)")
        n += len(FIELDS)
    if kept:
        parts.append("kept AS (INSERT INTO unrecognised(key, user_id, added, day, flow, node, text) "
                     f"SELECT $1, $2, $5, d, f, n, t FROM unnest(${n}::text[], ${n + 1}::text[], ${n + 2}::text[], "
                     f"${n + 3}::text[]) AS k(d, f, n, t) WHERE EXISTS (SELECT FROM step))")
        n += 4
    if reminders:  # two statements that touch different rows (the ones of a WITH see the same snapshot)
        parts.append(f"gone AS (DELETE FROM reminders WHERE key = $1 AND reminder <> ALL(${n}::text[]) "
                     "AND EXISTS (SELECT FROM step))")
        parts.append("planned AS (INSERT INTO reminders(key, user_id, reminder, due) "
                     f"SELECT $1, $2, r, d FROM unnest(${n}::text[], ${n + 1}::float8[]) AS p(r, d) "
                     "WHERE EXISTS (SELECT FROM step) ON CONFLICT (key, reminder) DO UPDATE SET "
                     "user_id = excluded.user_id, due = excluded.due, claimed_until = 0, claimed_by = NULL)")
    return f"WITH {', '.join(parts)} SELECT count(*) FROM step"


# The few variants, built once (asyncpg prepares each once per connection and keeps it).
_STEPS = {(new, events, kept, reminders): _step_statement(new, events, kept, reminders)
          for new in (False, True) for events in (False, True) for kept in (False, True)
          for reminders in (False, True) if events or not kept}
# A load sends the progress JSON only when it differs from the copy this process holds for
# the same (rev, updated) (see PostgresStore.load), and `seen` with it.
_LOAD = ("SELECT rev, updated, outbox, CASE WHEN rev = $2 AND updated = $3 THEN NULL ELSE data END, "
         "CASE WHEN rev = $2 AND updated = $3 THEN NULL ELSE seen END, question FROM progress WHERE key = $1")
ANSWERED_SECONDS = 86400  # how long an answered /oublier prompt is remembered
CACHE_SIZE = 10_000  # conversations whose last progress read or written is kept (an LRU)
_PLAN = "INSERT INTO reminders(key, user_id, reminder, due) VALUES ($1, $2, $3, $4)"


class BadURL(StoreError):
    """BOT_DATABASE_URL cannot be connected to as written (a port out of range...)."""


class NewerSchema(StoreError):
    """The database was migrated by a newer bot than this one."""


async def _keep_session(conn: Any) -> None:
    """A connection going back to the pool keeps its session as it is: asyncpg's default reset
    (advisory locks, cursors, LISTEN, settings: a round trip at every release) has nothing to
    undo here, since the store takes no session lock (only transaction ones), declares no
    cursor, listens to nothing and SETs nothing. An open transaction is still rolled back
    (asyncpg does that before calling this)."""


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


async def migrate(conn: Any) -> int:
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
    def __init__(self, url: str, decode: Decode, pool_min: int = 1, pool_max: int = 10, timeout: float = 10.0,
                 server_settings: dict[str, str] | None = None):
        """`decode`: a record's JSON text back into what was saved (bot/stores.py: Progress.from_json).
        `timeout`: seconds to connect, to wait for a free connection, and per statement.
        `server_settings`: e.g. {"search_path": "a_schema"} (the tests use one per test)."""
        self.url = url
        self.decode = decode
        self.pool_min, self.pool_max = min(pool_min, pool_max), pool_max
        self.timeout = timeout
        self.server_settings = server_settings
        self._pools: dict[asyncio.AbstractEventLoop, asyncio.Task[Any]] = {}  # loop -> task opening its pool
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None   # the private loop of the *_sync methods
        self._thread_lock = threading.Lock()
        self._trouble: bool | None = None  # None: fine; else whether a write failed
        self._errors: tuple[type[BaseException], ...] = ()
        # key -> (rev, updated, progress) last read or written here: a load whose row is still at
        # that rev and updated gets neither the JSON nor its parsing (checked by the database at
        # every load, so another process's step, an erasure or a purge is always seen).
        self._cache: LRU[str, tuple[int, float, Kept, tuple[int, ...]]] = LRU(CACHE_SIZE)
        # key -> the question read at its last load (a save leaves that column as it was)
        self._questions: LRU[str, int] = LRU(CACHE_SIZE)

    # -- the pool of the running loop --------------------------------------------------------
    async def _create_pool(self) -> Any:
        import asyncpg
        try:
            pool = await asyncpg.create_pool(self.url, min_size=self.pool_min, max_size=self.pool_max,
                                             timeout=self.timeout, command_timeout=self.timeout,
                                             server_settings=self.server_settings, reset=_keep_session)
        except (ValueError, OverflowError) as exc:  # « port must be 0-65535 », a malformed URL
            raise BadURL(f"{type(exc).__name__}: {exc}") from exc
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            pool.terminate()
            raise
        return pool

    async def _pool(self) -> Any:
        loop = asyncio.get_running_loop()
        task = self._pools.get(loop)
        if task is not None and task.done() and not task.cancelled() and task.exception() is None:
            return task.result()  # open already (every call but the first ones)
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

    async def _run(self, fn: Callable[[Any], Awaitable[Any]], write: bool = False) -> Any:
        """`await fn(conn)` on a pooled connection; trouble becomes StoreUnavailable, its cause
        logged once per episode (only a write ends an episode a write started, as in SQLite)."""
        if not self._errors:
            import asyncpg
            self._errors = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError,
                            asyncio.TimeoutError, NewerSchema, BadURL)
        try:
            pool = await self._pool()
            # One deadline for waiting for a connection and the statements (each also has its own,
            # command_timeout): asyncio.timeout is a timer, where acquire(timeout=...) would run
            # the wait in a task of its own at every call.
            async with asyncio.timeout(self.timeout):
                async with pool.acquire() as conn:
                    result = await fn(conn)
        except self._errors as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())
            if self._trouble is None:
                log.error("progress store %s unavailable: %s", redact(self.url), reason)
                self._trouble = write
            raise StoreUnavailable(reason, lasting=_lasting(exc)) from exc
        if self._trouble is not None and (write or not self._trouble):
            log.warning("progress store %s works again", redact(self.url))
            self._trouble = None
        return result

    def _record(self, row: Any) -> Record | None:
        """A row (key, data, rev, seen, outbox, question) as a Record, or None when it cannot be read."""
        return record_of(self.decode, row[1], row[2], row[3], row[4], row[5])

    # -- what this process last read or wrote --------------------------------------------------

    def _cached(self, name: str) -> tuple[int, float, Kept, tuple[int, ...]] | None:
        return self._cache.get(name)

    def _remember(self, name: str, rev: int, updated: float, progress: Kept, seen: tuple[int, ...]) -> None:
        self._cache.put(name, (rev, updated, progress, seen))

    def _forget(self, name: str) -> None:
        self._cache.pop(name)

    # -- asynchronous API (the bot) ------------------------------------------------------------
    async def load(self, key: ConversationKey) -> Record | None:
        name = str(key)
        cached = self._cached(name)
        rev, updated = (cached[0], cached[1]) if cached else (-1, -1.0)
        row = await self._run(lambda c: c.fetchrow(_LOAD, name, rev, updated))
        if row is None:
            self._forget(name)
            if await self._run(lambda c: c.fetchval(
                    "SELECT 1 FROM unreadable WHERE key = $1 AND NOT told LIMIT 1", name)) is not None:
                raise Unreadable(name)  # set aside, its owner not told yet: until they start again
            return None
        rev, updated, outbox, data, seen, question = row
        if question is not None:
            self._questions.put(name, question)
        else:
            self._questions.pop(name)
        if data is None:  # unchanged since this process last read or wrote it: only the outbox may differ
            assert cached is not None  # the query returns no data only for the revision cached
            return Record(cached[2], rev, cached[3], () if outbox == "[]" else tuple(jsonio.loads(outbox)), question)
        record = record_of(self.decode, data, rev, seen, outbox, question)
        if record is not None:
            self._remember(name, rev, updated, record.progress, record.seen)
        else:
            self._forget(name)
            await self._run(lambda c: c.execute(
                "WITH gone AS (DELETE FROM progress WHERE key = $1 RETURNING key, rev, data) "
                "INSERT INTO unreadable(key, rev, data, set_aside, told) SELECT key, rev, data, $2, false FROM gone",
                str(key), time.time()), write=True)
            raise Unreadable(str(key))
        return record

    async def save(self, key: ConversationKey, progress: Kept, rev: int,
                   seen: tuple[int, ...] = (), outbox: Outbox = (), events: tuple[Event, ...] = (),
                   reminders: Schedule | None = None) -> Record:
        name, now = str(key), time.time()
        args: list[Any] = [name, key.user, key.chat, rev, now, progress.to_json(), jsonio.dumps(seen), jsonio.dumps(outbox)]
        rows = event_rows(events)
        kept = kept_texts(events) if rows else []
        if rows:  # one array per column
            args += [list(column) for column in zip(*rows)]
        if kept:
            args += [list(column) for column in zip(*kept)]
        if reminders is not None:
            args += [[rid for rid, _ in reminders], [float(due) for _, due in reminders]]
        statement = _STEPS[rev == 0, bool(rows), bool(kept), reminders is not None]
        try:
            written = await self._run(lambda c: c.fetchval(statement, *args), write=True)
        except StoreUnavailable:
            self._forget(name)
            raise
        if written != 1:
            self._forget(name)
            raise Conflict(name)
        seen = tuple(seen)
        self._remember(name, rev + 1, now, progress, seen)
        return Record(progress, rev + 1, seen, tuple(outbox), self._questions.get(name))

    async def delivered(self, key: ConversationKey, rev: int, question: int | None = None) -> bool:
        status = await self._run(lambda c: c.execute(
            "UPDATE progress SET outbox = '[]', question = $3 WHERE key = $1 AND rev = $2", str(key), rev, question),
            write=True)
        return _rows(status) == 1

    async def undelivered(self, limit: int = 100, older_than: float = 0.0) -> list[tuple[ConversationKey, Record]]:
        rows = await self._run(lambda c: c.fetch(
            f"SELECT {_COLUMNS} FROM progress WHERE outbox <> '[]'::jsonb AND updated <= $1 ORDER BY updated "
            "LIMIT $2", time.time() - older_than, limit))
        found = [(ConversationKey.parse(row[0]), self._record(row)) for row in rows]
        return [(key, record) for key, record in found if record is not None]

    async def count_undelivered(self) -> int:
        return await self._run(lambda c: c.fetchval("SELECT count(*) FROM progress WHERE outbox <> '[]'::jsonb"))

    async def delete(self, key: ConversationKey) -> int:
        return await self._erase("key", str(key))

    async def delete_user(self, user_id: int) -> int:
        """Erase every record of a person: their private chat and their group conversations,
        and the descriptions kept from them."""
        return await self._erase("user_id", user_id)

    async def _erase(self, column: str, value: int | str) -> int:
        async def erase(conn: Any) -> int:
            async with conn.transaction():
                await conn.execute(f"DELETE FROM unrecognised WHERE {column} = $1", value)
                await conn.execute(f"DELETE FROM reminders WHERE {column} = $1", value)
                return _rows(await conn.execute(f"DELETE FROM progress WHERE {column} = $1", value))
        return await self._run(erase, write=True)

    async def purge(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        await self._run(lambda c: c.execute("DELETE FROM unrecognised WHERE added < $1",
                                            time.time() - UNRECOGNISED_DAYS * 86400), write=True)
        await self._run(lambda c: c.execute("DELETE FROM answered WHERE at < $1", time.time() - ANSWERED_SECONDS),
                        write=True)
        return _rows(await self._run(lambda c: c.execute(
            "DELETE FROM progress WHERE updated < $1 AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.key = progress.key)",
            cutoff), write=True))

    async def events(self, since_day: str = "", flow: str | None = None, after: int = 0,
                     limit: int = EVENTS_PAGE) -> list[EventRow]:
        return await self._events(f"id, {', '.join(FIELDS)}", since_day, flow, after, limit)

    async def event_facts(self, since_day: str = "", flow: str | None = None, after: int = 0,
                          limit: int = EVENTS_PAGE) -> list[EventRow]:
        return await self._events(f"id, seconds, token, json_build_array({', '.join(FACTS)})::text",
                                  since_day, flow, after, limit)

    async def _events(self, columns: str, since_day: str, flow: str | None, after: int, limit: int) -> list[EventRow]:
        rows = await self._run(lambda c: c.fetch(
            f"SELECT {columns} FROM events WHERE id > $1 AND day >= $2 "
            "AND ($3::text IS NULL OR flow = $3) ORDER BY id LIMIT $4", after, since_day, flow, limit))
        return [tuple(row) for row in rows]

    async def unrecognised(self, since_day: str = "", flow: str | None = None) -> list[KeptText]:
        rows = await self._run(lambda c: c.fetch(
            "SELECT day, flow, node, text FROM unrecognised WHERE day >= $1 AND ($2::text IS NULL OR flow = $2) "
            "ORDER BY added", since_day, flow))
        return [tuple(row) for row in rows]

    async def move_chat(self, old_chat: int, new_chat: int) -> int:
        async def move(conn: Any) -> int:
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
    async def claim_reminders(self, now: float, owner: str, lease: float, limit: int = 50) -> list[Claimed]:
        """Claim due reminders nobody holds: the rows are locked while claimed (SKIP LOCKED: a
        second process takes others, never the same), then held for `lease` seconds."""
        rows = await self._run(lambda c: c.fetch(
            "UPDATE reminders SET claimed_until = $1, claimed_by = $2 WHERE (key, reminder) IN ("
            "SELECT key, reminder FROM reminders WHERE due <= $3 AND claimed_until < $3 ORDER BY due LIMIT $4 "
            "FOR UPDATE SKIP LOCKED) RETURNING key, reminder, due", now + lease, owner, now, limit), write=True)
        return [(ConversationKey.parse(row[0]), row[1], row[2]) for row in rows]

    async def finish_reminder(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        status = await self._run(lambda c: c.execute(
            f"DELETE FROM reminders WHERE key = $1 AND reminder = $2 AND due = $3 AND {_AT_REV}",
            str(key), reminder, due, rev), write=True)
        return _rows(status) == 1

    async def postpone_reminder(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        status = await self._run(lambda c: c.execute(
            "UPDATE reminders SET due = $3, claimed_until = 0, claimed_by = NULL WHERE key = $1 AND reminder = $2 "
            f"AND {_AT_REV}", str(key), reminder, due, rev), write=True)
        return _rows(status) == 1

    async def reminders_of(self, key: ConversationKey) -> list[tuple[str, float]]:
        rows = await self._run(lambda c: c.fetch("SELECT reminder, due FROM reminders WHERE key = $1 ORDER BY due",
                                                 str(key)))
        return [tuple(row) for row in rows]

    async def answer_once(self, chat_id: int, message_id: int, user_id: int, update_id: int | None = None) -> bool:
        """True the first time a person answers a prompt message, and when that same update
        comes again (its first handling failed after this); False for another press (kept a day)."""
        status = await self._run(lambda c: c.execute(
            "INSERT INTO answered(chat_id, message_id, user_id, update_id, at) VALUES ($1, $2, $3, $4, $5) "
            "ON CONFLICT (chat_id, message_id, user_id) DO UPDATE SET at = answered.at "
            "WHERE answered.update_id = excluded.update_id",
            chat_id, message_id, user_id, update_id, time.time()), write=True)
        return _rows(status) == 1

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

        async def put(conn: Any) -> int:
            async with conn.transaction():
                written = [row[0] for row in await conn.fetch(_PUT, *columns)]
                await conn.execute("DELETE FROM reminders WHERE key = ANY($1::text[])", written)
                await conn.executemany(_PLAN, [p for p in planned if p[0] in set(written)])  # theirs come with them
                return len(written)
        return await self._run(put, write=True)

    # -- synchronous API (terminal, tools): the same coroutines on the private loop -----------------
    def _sync(self, method: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> Any:
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

    def save_sync(self, key: ConversationKey, progress: Kept, rev: int,
                  seen: tuple[int, ...] = (), outbox: Outbox = (), events: tuple[Event, ...] = (),
                  reminders: Schedule | None = None) -> Record:
        return self._sync(self.save, key, progress, rev, seen, outbox, events, reminders)

    def claim_reminders_sync(self, now: float, owner: str, lease: float, limit: int = 50) -> list[Claimed]:
        return self._sync(self.claim_reminders, now, owner, lease, limit)

    def reminders_of_sync(self, key: ConversationKey) -> list[tuple[str, float]]:
        return self._sync(self.reminders_of, key)

    def events_sync(self, since_day: str = "", flow: str | None = None, after: int = 0,
                    limit: int = EVENTS_PAGE) -> list[EventRow]:
        return self._sync(self.events, since_day, flow, after, limit)

    def event_facts_sync(self, since_day: str = "", flow: str | None = None, after: int = 0,
                         limit: int = EVENTS_PAGE) -> list[EventRow]:
        return self._sync(self.event_facts, since_day, flow, after, limit)

    def unrecognised_sync(self, since_day: str = "", flow: str | None = None) -> list[KeptText]:
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
            private, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if private is not None:
            opening = pools.get(private)
            if opening is not None:
                asyncio.run_coroutine_threadsafe(self._close_task(opening), private).result(timeout=self.timeout + 5)
            private.call_soon_threadsafe(private.stop)
            if thread is not None:
                thread.join(timeout=10)
            private.close()

    @staticmethod
    async def _close_task(task: asyncio.Task[Any]) -> None:
        try:
            pool = await task
        except Exception:
            return  # it never opened
        await pool.close()


def _lasting(exc: BaseException) -> bool:
    """A cause in the set-up (a role, a password, a database that does not exist, a newer
    schema), not a server restarting or a network moment: trying again will not help."""
    import asyncpg
    return isinstance(exc, (asyncpg.InvalidAuthorizationSpecificationError, asyncpg.InvalidPasswordError,
                            asyncpg.InvalidCatalogNameError, NewerSchema, BadURL))
