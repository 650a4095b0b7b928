"""SQLite progress store: a single file, WAL mode, one row per conversation.

Rows are read when their conversation is next seen, never all at start.

- Reads use their own connection and run inline: in WAL mode a read never waits for a
  writer, and one indexed row costs tens of microseconds.
- Saves from the bot are gathered while the previous commit runs (at least one turn of the
  event loop) and committed together in one transaction (group commit): a burst of updates
  costs one commit, not one each. An outbox emptied once Telegram showed it is so at once in
  this process (its cache, which the sweep reads too) and goes in the next group commit, a step
  saved within MARK_WAIT seconds, or a commit of its own after them: one at a time, the next
  update's save carries the last one's mark. A crash in between shows that reply once more
  (the next process's sweep), never loses it. The commit runs on the event loop only when SQLite's write
  lock is free (it then takes well under a millisecond), on a connection of its own that
  never waits for the lock; when anything holds it (a purge chunk, a chat move, a checkpoint,
  another process), the store's writer thread commits and waits instead: only those steps
  wait, never the loop and everyone on it. In WAL mode with
  `synchronous=NORMAL` a commit appends to the log without waiting for the disk; a step the
  person was answered for survives a crash of the process. The slow part, copying the log
  into the database and syncing it to disk (the checkpoint), runs on a background thread.
- Long work (the purge, a chat move) runs on a thread of its own, in chunks of a bounded
  duration (CHUNK_SECONDS: the chunk's row count adapts), releasing the write lock between
  chunks, and empties the write-ahead log when it passes WAL_LIMIT: the bot's own writes wait
  at most about one chunk, and the log stays bounded.
- The last conversations seen are kept in memory (a bounded LRU), so most updates read
  nothing. Another process may have moved a conversation on meanwhile: the save's
  compare-and-set then fails with `Conflict`, the entry is dropped, and the front end
  handles the update again from the stored record (nothing was sent before the save).
- The file carries its schema version (`PRAGMA user_version`); `MIGRATIONS` brings an older
  file up to date when the store opens it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import jsonio
from ..errors import Unreadable
from ..lru import LRU
from .base import (EVENTS_PAGE, FACTS, FIELDS, UNRECOGNISED_DAYS, Claimed, Conflict, ConversationKey, Decode, Event,
                   EventRow, Kept, KeptText, Outbox, Record, Row, Schedule, StoreUnavailable, event_rows, kept_texts,
                   record_of)

log = logging.getLogger(__name__)

# MIGRATIONS[n - 1] takes a database from schema version n - 1 to n, in one transaction.
MIGRATIONS = [
    # 1: the first landing's table (a file it wrote has version 0 and this table already).
    """CREATE TABLE IF NOT EXISTS progress (
           key      TEXT PRIMARY KEY,
           user_id  INTEGER,
           chat_id  INTEGER,
           rev      INTEGER NOT NULL,
           updated  REAL NOT NULL,
           data     TEXT NOT NULL);
       CREATE INDEX IF NOT EXISTS progress_user ON progress(user_id);
       CREATE INDEX IF NOT EXISTS progress_updated ON progress(updated);""",
    # 2: the update ids already handled move out of the progress JSON into their own column
    #    (the JSON's own schema is upgraded when a record is read: engine/progress.py).
    """ALTER TABLE progress ADD COLUMN seen TEXT NOT NULL DEFAULT '[]';
       UPDATE progress SET seen = json_array(json_extract(data, '$.last_update'))
        WHERE json_extract(data, '$.last_update') IS NOT NULL;
       CREATE INDEX IF NOT EXISTS progress_chat ON progress(chat_id);""",
    # 3: the outbox, what a step must still show, saved in the step's transaction.
    """ALTER TABLE progress ADD COLUMN outbox TEXT NOT NULL DEFAULT '[]';
       CREATE INDEX IF NOT EXISTS progress_undelivered ON progress(updated) WHERE outbox != '[]';""",
    # 4: records that could not be read are set aside here for the operator, not lost.
    """CREATE TABLE IF NOT EXISTS unreadable (
           key       TEXT NOT NULL,
           rev       INTEGER,
           data      TEXT,
           set_aside REAL NOT NULL);""",
    # 5: the anonymous step events (bot/ops/events.py), written in the step's transaction, and
    #    the unrecognised descriptions kept on request (BOT_KEEP_UNRECOGNISED), by conversation.
    """CREATE TABLE IF NOT EXISTS events (
           id         INTEGER PRIMARY KEY,
           day        TEXT NOT NULL,
           flow       TEXT NOT NULL,
           version    TEXT NOT NULL,
           kind       TEXT NOT NULL,
           node       TEXT,
           choice     TEXT,
           understood INTEGER,
           next       TEXT,
           outcome    TEXT,
           followup   TEXT,
           seconds    INTEGER NOT NULL,
           token      TEXT NOT NULL);
       CREATE INDEX IF NOT EXISTS events_day ON events(day);
       CREATE TABLE IF NOT EXISTS unrecognised (
           key     TEXT NOT NULL,
           user_id INTEGER,
           added   REAL NOT NULL,
           day     TEXT NOT NULL,
           flow    TEXT NOT NULL,
           node    TEXT,
           text    TEXT NOT NULL);
       CREATE INDEX IF NOT EXISTS unrecognised_key ON unrecognised(key);
       CREATE INDEX IF NOT EXISTS unrecognised_user ON unrecognised(user_id);""",
    # 6: the bot's entry post in each channel or group it was published to (/publier).
    """CREATE TABLE IF NOT EXISTS entry_posts (
           chat_id    INTEGER PRIMARY KEY,
           message_id INTEGER NOT NULL);""",
    # 7: the follow-up's reminders still to come, one row each (engine/followup.py), written
    #    with the step that planned them; a process claims a due one (claimed_until) first.
    """CREATE TABLE IF NOT EXISTS reminders (
           key           TEXT NOT NULL,
           user_id       INTEGER,
           reminder      TEXT NOT NULL,
           due           REAL NOT NULL,
           claimed_until REAL NOT NULL DEFAULT 0,
           claimed_by    TEXT,
           PRIMARY KEY (key, reminder));
       CREATE INDEX IF NOT EXISTS reminders_due ON reminders(due);
       CREATE INDEX IF NOT EXISTS reminders_user ON reminders(user_id);""",
    # 8: the message showing the conversation's last question (Record.question), and the
    #    /oublier prompts answered in the last day (answered once, whichever process).
    #    An unreadable record's owner is told once they start again (`told`), whichever process.
    """ALTER TABLE progress ADD COLUMN question INTEGER;
       ALTER TABLE unreadable ADD COLUMN told INTEGER NOT NULL DEFAULT 1;
       CREATE INDEX IF NOT EXISTS unreadable_key ON unreadable(key);
       CREATE TABLE IF NOT EXISTS answered (
           chat_id    INTEGER NOT NULL,
           message_id INTEGER NOT NULL,
           user_id    INTEGER NOT NULL,
           update_id  INTEGER,
           at         REAL NOT NULL,
           PRIMARY KEY (chat_id, message_id, user_id));""",
]
SCHEMA_VERSION = len(MIGRATIONS)

_INSERT = ("INSERT INTO progress(key, user_id, chat_id, rev, updated, data, seen, outbox) VALUES (?,?,?,?,?,?,?,?) "
           "ON CONFLICT(key) DO NOTHING")
# (user_id and chat_id follow from the key: set when the row is inserted, never rewritten, so
# that their indexes are not touched at each step: about 10 µs of a save)
_UPDATE = "UPDATE progress SET rev = ?, updated = ?, data = ?, seen = ?, outbox = ? WHERE key = ? AND rev = ?"
_EMPTIED = "UPDATE progress SET outbox = '[]', question = ? WHERE key = ? AND rev = ?"
_COLUMNS = "key, data, rev, seen, outbox, question"
# What a cached record is checked against at each load: another process may have written it.
_CHECK = "SELECT rev, outbox = '[]', question FROM progress WHERE key = ?"
# A record set aside as unreadable whose owner has not started again yet (then told).
_UNTOLD = "SELECT 1 FROM unreadable WHERE key = ? AND told = 0 LIMIT 1"
_TOLD = "UPDATE unreadable SET told = 1 WHERE key = ? AND told = 0"
# A reminder's row changes only if the conversation is still at the revision it was decided on.
_AT_REV = "COALESCE((SELECT rev FROM progress WHERE key = ?), 0) = ?"
# `store copy`: a row as it is, unless the key is already there at the same or a later revision.
_PUT = ("INSERT INTO progress(key, user_id, chat_id, rev, updated, data, seen, outbox) VALUES (?,?,?,?,?,?,?,?) "
        "ON CONFLICT(key) DO UPDATE SET user_id = excluded.user_id, chat_id = excluded.chat_id, rev = excluded.rev, "
        "updated = excluded.updated, data = excluded.data, seen = excluded.seen, outbox = excluded.outbox "
        "WHERE progress.rev < excluded.rev")
_EVENT = f"INSERT INTO events({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})"
_KEEP = "INSERT INTO unrecognised(key, user_id, added, day, flow, node, text) VALUES (?,?,?,?,?,?,?)"
_PLAN = "INSERT INTO reminders(key, user_id, reminder, due) VALUES (?,?,?,?)"
ANSWERED_SECONDS = 86400  # how long an answered /oublier prompt is remembered
CHECKPOINT_EVERY = 1.0  # seconds between background checkpoints
CHUNK = 500             # rows a purge or a chat move changes in its first transaction
CHUNK_SECONDS = 0.005   # then as many as fit in this (20 rows at least, 5,000 at most)
WAL_LIMIT = 32 << 20    # bytes: past this, the checkpointer empties the write-ahead log
MARK_WAIT = 0.02        # seconds an outbox marked shown waits for a save to carry it to the file


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; return the version it had."""
    found = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(f"the database has schema version {found}, newer than this bot's "
                                    f"{SCHEMA_VERSION}: upgrade the bot")
    for version in range(found + 1, SCHEMA_VERSION + 1):
        conn.executescript(f"BEGIN IMMEDIATE; {MIGRATIONS[version - 1]}; PRAGMA user_version = {version}; COMMIT;")
        if found:
            log.info("progress store upgraded to schema version %d", version)
    return found


@dataclass
class _Save:
    """A step waiting for the next group commit: written if the row is still at `record.rev - 1`."""
    key: ConversationKey
    record: Record
    data: str
    seen: str
    outbox: str
    events: tuple[dict[str, Any], ...]
    reminders: list[tuple[str, float]] | None
    future: asyncio.Future[Any]


@dataclass
class _Emptied:
    """An outbox shown, waiting for the next group commit: emptied if the row is still at `rev`."""
    key: ConversationKey
    rev: int
    question: int | None
    future: asyncio.Future[Any] | None  # None: nobody waits for it (`delivered`)


def _others_ready(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether other callbacks are ready to run in this loop turn (they may save too, and join a
    group commit). asyncio keeps them in `_ready`; a loop without it is taken as busy."""
    return bool(getattr(loop, "_ready", True))


class SQLiteStore:
    def __init__(self, path: str | Path, decode: Decode, lock_timeout: float = 5.0, synchronous: str = "NORMAL",
                 cache_size: int = 10_000):
        """`decode`: a record's JSON text back into what was saved (bot/stores.py: Progress.from_json)."""
        self.path = Path(path)
        self.decode = decode
        self.cache_size = cache_size
        self._cache: LRU[str, Record] = LRU(cache_size)  # checked against the file at each load
        self.lock_timeout = lock_timeout
        self.synchronous = synchronous
        self._conns: dict[bool, sqlite3.Connection] = {}
        # The loop's own commits go through a write connection of their own that never waits for
        # the lock (busy_timeout 0: when another holds it, the writer thread commits instead);
        # the writer thread's waits up to lock_timeout. Both are used under the same lock.
        self._inline: sqlite3.Connection | None = None
        self._locks = {True: threading.Lock(), False: threading.Lock()}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")   # short writes
        self._slow = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-slow")  # purges, chat moves, event pages
        self._pending: list[_Save | _Emptied] = []  # waiting for the next commit
        self._waiting = 0             # how many of them wait for it (the others: marks, see `delivered`)
        self._marks: dict[str, int] = {}  # key -> the revision whose outbox is shown, not yet in the file
        self._mark_timer: asyncio.TimerHandle | None = None
        self._committing = False      # a commit is running on the writer thread
        self._checkpointer: threading.Thread | None = None
        self._closing = threading.Event()
        self._trouble: bool | None = None  # None: fine; else whether a write failed
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file we opened
        self._lost = False  # the file vanished while we ran: the folder is not made again

    def _record(self, row: Any) -> Record | None:
        """A row (key, data, rev, seen, outbox, question) as a Record, or None when it cannot be read."""
        return record_of(self.decode, row[1], row[2], row[3], row[4], row[5])

    # -- connections ---------------------------------------------------------------------
    def _open(self, write: bool) -> sqlite3.Connection:
        conn = self._conns.get(write)
        if conn is None:
            if not write and True not in self._conns:
                with self._locks[True]:
                    self._open(True)  # the writer creates the file and migrates it first
            if str(self.path) != ":memory:":
                if not self._lost:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                elif not self.path.parent.is_dir():  # vanished under us: wait for it to come back
                    raise sqlite3.OperationalError(f"the data folder {self.path.parent} is missing")
            # Reads give up sooner: they run on the event loop.
            timeout = self.lock_timeout if write else min(self.lock_timeout, 0.5)
            conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False, isolation_level=None)
            if write:
                if self.synchronous not in ("NORMAL", "FULL"):
                    raise sqlite3.OperationalError(f"synchronous must be NORMAL or FULL, not {self.synchronous!r}")
                conn.execute("PRAGMA journal_mode=WAL")
                self._as_writer(conn)
                migrate(conn)
                self._identity = self._file_identity()
            self._conns[write] = conn
        return conn

    def _as_writer(self, conn: sqlite3.Connection) -> None:
        """What every writing connection is set to (they are per connection)."""
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA secure_delete=ON")  # erased text is overwritten, not left on disk
        conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")  # the log is cut back to this
        if self._checkpointer is not None:
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it

    def _file_identity(self) -> tuple[int, int] | None:
        if str(self.path) == ":memory:":
            return None
        info = os.stat(self.path)
        return info.st_dev, info.st_ino

    def _check_file(self) -> None:
        """The file we write must still be the one we opened: deleted or replaced under a
        running bot, every later write would go to a file nobody will ever read again."""
        if self._identity is None or str(self.path) == ":memory:":
            return
        try:
            same = self._file_identity() == self._identity
        except FileNotFoundError:
            same = False
        if not same:
            self._reset()
            self._lost = True
            raise sqlite3.OperationalError("the database file was deleted or replaced while the bot was running")

    def _reset(self) -> None:
        """Close every connection (the next call opens the file anew)."""
        if self._checkpointer is not None:
            self._closing.set()
            self._checkpointer.join(timeout=10)
            self._checkpointer = None
            self._closing = threading.Event()
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        self._close_inline()
        self._identity = None
        self._forget()

    def _open_inline(self) -> sqlite3.Connection | None:
        """The loop's write connection (the caller holds the write lock); None for a database in
        memory, which a second connection would not see."""
        if self._inline is None and str(self.path) != ":memory:":
            conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False, isolation_level=None)
            self._as_writer(conn)
            self._inline = conn
        return self._inline

    def _close_inline(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None

    def _connection(self) -> sqlite3.Connection:
        """The writing connection (tests use it to put the database in trouble)."""
        with self._locks[True]:
            return self._open(True)

    def _run(self, fn: Callable[..., Any], *args: Any, write: bool = False) -> Any:
        """Run fn(conn, *args) on the read or write connection; database trouble becomes
        StoreUnavailable. The cause is logged once per episode: reads may still work while
        writes fail (a locked or read-only database), so only a write ends a write episode."""
        with self._locks[write]:
            try:
                self._check_file()
                conn = self._open(write)
                result = fn(conn, *args)
            except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if self._trouble is None:
                    log.error("progress store %s unavailable: %s", self.path, reason)
                    self._trouble = write
                held = self._conns.get(write)
                if held is not None and held.in_transaction:
                    held.rollback()
                if held is not None and "locked" not in str(exc) and "busy" not in str(exc):
                    # Read-only, full, I/O error: the next call opens the file anew (a connection
                    # opened while the file was read-only stays read-only), so the store works
                    # again once the operator fixed the cause.
                    held.close()
                    del self._conns[write]
                # Locked or busy passes; a folder, a file or a schema that will not do does not.
                passing = isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))
                raise StoreUnavailable(reason, lasting=not passing) from exc
            if self._trouble is not None and (write or not self._trouble):
                log.warning("progress store %s works again", self.path)
                self._trouble = None
            return result

    # -- the cache -----------------------------------------------------------------------
    def _remember(self, key: str, record: Record | None) -> None:
        if record is None:
            self._cache.pop(key)
        else:
            self._cache.put(key, record)

    def _forget(self, match: Callable[[str], bool] | None = None) -> None:
        """Drop cached entries whose key string `match(key)` accepts, or all of them."""
        self._cache.drop(match)

    # -- synchronous API (terminal, tools, and the async API's worker) ---------------------
    def load_sync(self, key: ConversationKey) -> Record | None:
        """The record; a cached one only once checked against the file (its revision, whether
        its outbox is empty, its question): another process may share the file."""
        name = str(key)
        cached = self._cache.get(name)
        if cached is not None:
            found = self._run(lambda c: c.execute(_CHECK, (name,)).fetchone())
            if found is not None and (found == (cached.rev, not cached.outbox, cached.question)
                                      or (found[0] == cached.rev and self._marks.get(name) == cached.rev)):
                return cached  # (a mark not in the file yet: the cache is ahead of it)
        record = self._read(name)
        self._remember(name, record)
        return record

    def _read(self, key: str) -> Record | None:
        row = self._run(lambda c: c.execute(f"SELECT {_COLUMNS} FROM progress WHERE key = ?", (key,)).fetchone())
        if row is None:
            if self._run(lambda c: c.execute(_UNTOLD, (key,)).fetchone()) is not None:
                raise Unreadable(key)  # set aside, its owner not told yet: until they start again
            return None
        record = self._record(row)
        if record is None:
            self._run(self._set_aside, key, write=True)
            raise Unreadable(key)
        return record

    @staticmethod
    def _set_aside(conn: sqlite3.Connection, key: str) -> None:
        """Move an unreadable record to the `unreadable` table: its owner starts again, and
        the operator can still look at what it held."""
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO unreadable(key, rev, data, set_aside, told) SELECT key, rev, data, ?, 0 FROM progress "
                     "WHERE key = ?", (time.time(), key))
        conn.execute("DELETE FROM progress WHERE key = ?", (key,))
        conn.execute("COMMIT")

    @staticmethod
    def _write_one(conn: sqlite3.Connection, key: ConversationKey, rev: int, data: str, seen: str, outbox: str,
                   now: float, events: tuple[Event, ...] = (), reminders: Schedule | None = None) -> bool:
        """Compare-and-set: insert when `rev` is 0, else update the row still at `rev`; then,
        only if it took, the step's events and its reminders (a list replaces the rows of
        this conversation; None leaves them) (the caller holds the transaction)."""
        if rev == 0:
            cur = conn.execute(_INSERT, (str(key), key.user, key.chat, 1, now, data, seen, outbox))
        else:
            cur = conn.execute(_UPDATE, (rev + 1, now, data, seen, outbox, str(key), rev))
        if cur.rowcount != 1:
            return False
        if rev == 0:
            conn.execute(_TOLD, (str(key),))
        if events:
            conn.executemany(_EVENT, event_rows(events))
            kept = [(str(key), key.user, now, *text) for text in kept_texts(events)]
            if kept:  # (rare: a description not understood; an empty executemany still costs a statement)
                conn.executemany(_KEEP, kept)
        if reminders is not None:
            conn.execute("DELETE FROM reminders WHERE key = ?", (str(key),))
            conn.executemany(_PLAN, [(str(key), key.user, rid, due) for rid, due in reminders])
        return True

    def _write_step(self, conn: sqlite3.Connection, *args: Any) -> bool:
        conn.execute("BEGIN IMMEDIATE")
        ok = self._write_one(conn, *args)
        conn.execute("COMMIT")
        return ok

    def save_sync(self, key: ConversationKey, progress: Kept, rev: int, seen: tuple[int, ...] = (),
                  outbox: Outbox = (), events: tuple[Event, ...] = (), reminders: Schedule | None = None) -> Record:
        try:
            ok = self._run(self._write_step, key, rev, progress.to_json(), jsonio.dumps(seen), jsonio.dumps(outbox),
                           time.time(), tuple(events), reminders, write=True)
        except StoreUnavailable:
            self._forget(str(key).__eq__)
            raise
        if not ok:
            self._forget(str(key).__eq__)
            raise Conflict(str(key))
        record = Record(progress, rev + 1, seen, tuple(outbox), self._question_of(key))
        self._remember(str(key), record)
        return record

    def _question_of(self, key: ConversationKey) -> int | None:
        """The question a save leaves as it was (saves do not write that column)."""
        cached = self._cache.get(str(key))
        return cached.question if cached is not None else None

    def delivered_sync(self, key: ConversationKey, rev: int, question: int | None = None) -> bool:
        done = self._run(lambda c: c.execute(_EMPTIED, (question, str(key), rev)).rowcount, write=True) == 1
        self._emptied(key, rev, done, question)
        return done

    def _emptied(self, key: ConversationKey, rev: int, done: bool, question: int | None) -> None:
        cached = self._cache.get(str(key))
        if cached is not None and done and cached.rev == rev:
            self._cache.put(str(key), Record(cached.progress, cached.rev, cached.seen, (), question))
        elif cached is not None and not done:
            self._cache.pop(str(key))

    def undelivered_sync(self, limit: int = 100, older_than: float = 0.0) -> list[tuple[ConversationKey, Record]]:
        rows = self._run(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM progress WHERE outbox != '[]' AND updated <= ? ORDER BY updated LIMIT ?",
            (time.time() - older_than, limit)).fetchall())
        found = [(ConversationKey.parse(row[0]), self._record(row)) for row in rows]
        return [(key, record) for key, record in found if record is not None]  # (one shown here, its mark on its
        # way: its fresh load (`load_sync`) has an empty outbox, and nothing is shown twice)

    def count_undelivered_sync(self) -> int:
        """The outboxes not shown yet (those this process showed and will mark are not counted)."""
        def count(c: sqlite3.Connection) -> int:
            shown = sum(c.execute("SELECT COUNT(*) FROM progress WHERE key = ? AND rev = ? AND outbox != '[]'",
                                  mark).fetchone()[0] for mark in list(self._marks.items()))
            return int(c.execute("SELECT COUNT(*) FROM progress WHERE outbox != '[]'").fetchone()[0]) - shown
        return self._run(count)

    def delete_sync(self, key: ConversationKey) -> int:
        self._forget(str(key).__eq__)

        def erase(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM unrecognised WHERE key = ?", (str(key),))
            conn.execute("DELETE FROM reminders WHERE key = ?", (str(key),))
            return conn.execute("DELETE FROM progress WHERE key = ?", (str(key),)).rowcount
        return self._run(erase, write=True)

    def delete_user_sync(self, user_id: int) -> int:
        """Erase every record of a person: their private chat and their group conversations.
        With secure_delete on, the erased rows are overwritten in the database file; the
        write-ahead log, which still holds copies of them, is then emptied."""
        self._forget(lambda k: ConversationKey.parse(k).user == user_id)

        def erase(conn: sqlite3.Connection) -> int:
            erased = conn.execute("DELETE FROM progress WHERE user_id = ?", (user_id,)).rowcount
            conn.execute("DELETE FROM unrecognised WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM reminders WHERE user_id = ?", (user_id,))
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return erased
        return self._run(erase, write=True)

    def purge_sync(self, older_than_seconds: float) -> int:
        """Erase the conversations untouched for that long, a chunk per transaction: the write
        lock is released between chunks, so the bot's own saves never wait long behind it.
        A conversation with reminders to come is kept: the person asked to be followed."""
        cutoff = time.time() - older_than_seconds
        self._forget()
        self._run(lambda c: c.execute("DELETE FROM unrecognised WHERE added < ?",
                                      (time.time() - UNRECOGNISED_DAYS * 86400,)), write=True)
        self._run(lambda c: c.execute("DELETE FROM answered WHERE at < ?", (time.time() - ANSWERED_SECONDS,)),
                  write=True)
        return self._in_chunks("DELETE FROM progress WHERE key IN "
                               "(SELECT key FROM progress WHERE updated < ? AND key NOT IN (SELECT key FROM reminders) "
                               "LIMIT ?)", (cutoff,))

    def events_sync(self, since_day: str = "", flow: str | None = None, after: int = 0,
                    limit: int = EVENTS_PAGE) -> list[EventRow]:
        """A page of events, read on a connection of its own: a report reading a million
        events never holds the lock the bot's reads take."""
        return self._events(f"id, {', '.join(FIELDS)}", since_day, flow, after, limit)

    def event_facts_sync(self, since_day: str = "", flow: str | None = None, after: int = 0,
                         limit: int = EVENTS_PAGE) -> list[EventRow]:
        """The same page as (id, seconds, token, FACTS as one JSON array): 4 values a row to
        make into Python objects instead of 13, a third of the time of reading them."""
        return self._events(f"id, seconds, token, json_array({', '.join(FACTS)})", since_day, flow, after, limit)

    def _events(self, columns: str, since_day: str, flow: str | None, after: int, limit: int) -> list[EventRow]:
        if not self.path.exists():
            return []
        query, args = f"SELECT {columns} FROM events WHERE id > ?", list[int | str]([after])
        if since_day:  # every day is >= "": not compared row by row (a tenth of the time of a read)
            query, args = query + " AND day >= ?", args + [since_day]
        if flow:
            query, args = query + " AND flow = ?", args + [flow]
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=self.lock_timeout)
        try:
            return conn.execute(query + " ORDER BY id LIMIT ?", [*args, limit]).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []  # a file from before the events: none yet
            raise StoreUnavailable(str(exc)) from exc
        finally:
            conn.close()

    def unrecognised_sync(self, since_day: str = "", flow: str | None = None) -> list[KeptText]:
        return self._run(lambda c: c.execute(
            "SELECT day, flow, node, text FROM unrecognised WHERE day >= ? AND (? IS NULL OR flow = ?) "
            "ORDER BY added", (since_day, flow, flow)).fetchall())

    def move_chat_sync(self, old_chat: int, new_chat: int) -> int:
        """A group became a supergroup: its members' records follow the new chat id (a chunk
        per transaction, found through the chat_id index)."""
        self._forget(lambda k: ConversationKey.parse(k).chat == old_chat)

        def move(conn: sqlite3.Connection, limit: int) -> int:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute("SELECT key FROM progress WHERE chat_id = ? LIMIT ?", (old_chat, limit)).fetchall()
            for (key,) in rows:
                new_key = ConversationKey.parse(key).in_chat(new_chat)
                conn.execute("UPDATE OR REPLACE progress SET key = ?, chat_id = ? WHERE key = ?",
                             (str(new_key), new_chat, key))
                conn.execute("UPDATE OR REPLACE reminders SET key = ? WHERE key = ?", (str(new_key), key))
            conn.execute("COMMIT")
            return len(rows)
        return self._repeat(move)

    def _in_chunks(self, statement: str, args: tuple[Any, ...]) -> int:
        """Run a DELETE ... LIMIT ? until it removes nothing more; return how many it removed."""
        return self._repeat(lambda conn, limit: conn.execute(statement, (*args, limit)).rowcount)

    def _repeat(self, chunk: Callable[[sqlite3.Connection, int], int]) -> int:
        """chunk(conn, limit) changes at most `limit` rows in one transaction; repeat it until it
        changes fewer. Each chunk holds the write lock about CHUNK_SECONDS (its size adapts);
        the lock is released between two, and the log emptied once it passes WAL_LIMIT."""
        total, limit = 0, CHUNK
        wal = Path(f"{self.path}-wal")
        checkpoints = None  # a connection of its own: checkpointing never holds the bot's writer
        try:
            while True:
                started = time.perf_counter()
                done = self._run(chunk, limit, write=True)
                took = time.perf_counter() - started
                total += done
                if done < limit:
                    return total
                if took > CHUNK_SECONDS:
                    limit = max(20, int(limit * CHUNK_SECONDS / took))
                elif took < CHUNK_SECONDS / 2:
                    limit = min(5000, limit * 2)
                try:
                    if str(self.path) != ":memory:" and wal.stat().st_size > WAL_LIMIT // 8:
                        # Copy the log into the database as it grows, without waiting for (or
                        # blocking) the bot's writes: the log then starts over at the next write.
                        checkpoints = checkpoints or sqlite3.connect(self.path, timeout=0.5, isolation_level=None)
                        checkpoints.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        if wal.stat().st_size > WAL_LIMIT:
                            checkpoints.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except (OSError, sqlite3.Error) as exc:
                    log.debug("checkpoint during long work skipped: %s", exc)
                time.sleep(0.001)  # the bot's writer thread takes the lock between two chunks
        finally:
            if checkpoints is not None:
                checkpoints.close()

    # -- the follow-up's reminders ----------------------------------------------------------
    def claim_reminders_sync(self, now: float, owner: str, lease: float, limit: int = 50) -> list[Claimed]:
        """Claim up to `limit` reminders due by `now` that nobody holds (or whose holder's claim
        ran out: it died): (key, reminder id, due) each, held by `owner` for `lease` seconds.
        One transaction under SQLite's write lock: two processes never claim the same row."""
        def claim(conn: sqlite3.Connection) -> list[tuple[str, str, float]]:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(
                "UPDATE reminders SET claimed_until = ?, claimed_by = ? WHERE rowid IN (SELECT rowid FROM reminders "
                "WHERE due <= ? AND claimed_until < ? ORDER BY due LIMIT ?) RETURNING key, reminder, due",
                (now + lease, owner, now, now, limit)).fetchall()
            conn.execute("COMMIT")
            return rows
        return [(ConversationKey.parse(k), rid, due) for k, rid, due in self._run(claim, write=True)]

    def finish_reminder_sync(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        """Drop a claimed reminder that needs nothing sent (the step that answered it replaced
        the rows already; a row planned anew since, at another time, stays), only if the
        conversation is still at `rev`: a decision made on an old copy changes nothing."""
        return self._run(lambda c: c.execute(
            f"DELETE FROM reminders WHERE key = ? AND reminder = ? AND due = ? AND {_AT_REV}",
            (str(key), reminder, due, str(key), rev)).rowcount, write=True) == 1

    def postpone_reminder_sync(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        """Move a reminder to a later time (out of the quiet hours), unclaimed, on the same condition."""
        return self._run(lambda c: c.execute(
            f"UPDATE reminders SET due = ?, claimed_until = 0, claimed_by = NULL WHERE key = ? AND reminder = ? "
            f"AND {_AT_REV}", (due, str(key), reminder, str(key), rev)).rowcount, write=True) == 1

    def reminders_of_sync(self, key: ConversationKey) -> list[tuple[str, float]]:
        return [tuple(row) for row in self._run(lambda c: c.execute(
            "SELECT reminder, due FROM reminders WHERE key = ? ORDER BY due", (str(key),)).fetchall())]

    def answer_once_sync(self, chat_id: int, message_id: int, user_id: int, update_id: int | None = None) -> bool:
        """True the first time a person answers a prompt message, and when that same update
        comes again (its first handling failed after this); False for another press (kept a day)."""
        return self._run(lambda c: c.execute(
            "INSERT INTO answered(chat_id, message_id, user_id, update_id, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(chat_id, message_id, user_id) DO UPDATE SET at = answered.at "
            "WHERE answered.update_id = excluded.update_id",
            (chat_id, message_id, user_id, update_id, time.time())).rowcount, write=True) == 1

    def entry_post_sync(self, chat_id: int) -> int | None:
        row = self._run(lambda c: c.execute("SELECT message_id FROM entry_posts WHERE chat_id = ?", (chat_id,)).fetchone())
        return row[0] if row else None

    def set_entry_post_sync(self, chat_id: int, message_id: int) -> None:
        self._run(lambda c: c.execute("INSERT INTO entry_posts(chat_id, message_id) VALUES (?, ?) ON CONFLICT(chat_id) "
                                      "DO UPDATE SET message_id = excluded.message_id", (chat_id, message_id)),
                  write=True)

    def count_sync(self) -> int:
        return self._run(lambda c: c.execute("SELECT COUNT(*) FROM progress").fetchone()[0])

    def rows_after_sync(self, after: str = "", limit: int = 500) -> list[Row]:
        rows = self._run(lambda c: c.execute(
            "SELECT key, rev, updated, data, seen, outbox, (SELECT json_group_array(json_array(reminder, due)) "
            "FROM reminders r WHERE r.key = progress.key) FROM progress WHERE key > ? ORDER BY key LIMIT ?",
            (after, limit)).fetchall())
        return [Row(*row) for row in rows]

    def put_rows_sync(self, rows: list[Row]) -> int:
        def put(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            written = 0
            for row in rows:
                key = ConversationKey.parse(row.key)
                took = conn.execute(_PUT, (row.key, key.user, key.chat, row.rev, row.updated, row.data,
                                           row.seen, row.outbox)).rowcount
                if took:  # its reminders come with it
                    conn.execute("DELETE FROM reminders WHERE key = ?", (row.key,))
                    conn.executemany(_PLAN, [(row.key, key.user, rid, due) for rid, due in json.loads(row.reminders)])
                written += took
            conn.execute("COMMIT")
            return written
        keys = {row.key for row in rows}
        self._forget(keys.__contains__)
        return self._run(put, write=True)

    def close(self) -> None:
        if self._mark_timer is not None:
            self._mark_timer.cancel()
            self._mark_timer = None
        marks = [item for item in self._pending if isinstance(item, _Emptied) and item.future is None]
        if marks and not self._committing:  # the outboxes shown, into the file before it closes
            self._pending = [item for item in self._pending if not (isinstance(item, _Emptied) and item.future is None)]
            try:
                self._run(self._write_batch, marks, write=True)
            except StoreUnavailable:
                pass  # shown once more by the next process, never lost
            self._marks.clear()
        if self._checkpointer is not None:
            self._closing.set()
            self._checkpointer.join(timeout=10)
            self._checkpointer = None
        for write, lock in self._locks.items():
            with lock:
                conn = self._conns.pop(write, None)
                if conn is not None:
                    conn.close()
                if write:
                    self._close_inline()
        self._pool.shutdown(wait=False)
        self._slow.shutdown(wait=False)

    # -- group commit on the writer thread, checkpoints on a thread --------------------------
    def _write_batch(self, conn: sqlite3.Connection, batch: list[_Save | _Emptied]) -> list[bool]:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        results = [self._apply(conn, item, now) for item in batch]
        conn.execute("COMMIT")
        return results

    def _apply(self, conn: sqlite3.Connection, item: _Save | _Emptied, now: float) -> bool:
        """One item of a group commit: a step saved (compare-and-set), or an outbox emptied
        once Telegram showed it (only if the row is still at that revision)."""
        if isinstance(item, _Emptied):
            return conn.execute(_EMPTIED, (item.question, str(item.key), item.rev)).rowcount == 1
        return self._write_one(conn, item.key, item.record.rev - 1, item.data, item.seen, item.outbox, now, item.events,
                               item.reminders)

    def _commit_batch(self, batch: list[_Save | _Emptied]) -> list[bool | StoreUnavailable]:
        """On the writer thread: one transaction for the batch; each save's outcome."""
        try:
            return self._run(self._write_batch, batch, write=True)
        except StoreUnavailable as exc:
            return [exc] * len(batch)

    def _commit_inline(self, batch: list[_Save | _Emptied]) -> list[bool] | None:
        """The batch committed right here, on the loop, when nothing holds the write lock (the
        usual case: no thread hop, no wait); None, having changed nothing, when anything does
        (a purge chunk, a chat move, a checkpoint) or anything is amiss: the writer thread then
        commits it, waiting for the lock, and the loop goes on serving."""
        lock = self._locks[True]
        if not lock.acquire(blocking=False):
            return None
        try:
            write = self._conns.get(True)
            if write is None or self._trouble is not None:
                return None
            conn = write
            try:
                if self._identity is not None and self._file_identity() != self._identity:
                    return None  # deleted or replaced: the writer thread's _run reports it
                conn = self._open_inline() or write
                if conn is write:  # (in memory: the one connection, not waiting this once)
                    conn.execute("PRAGMA busy_timeout = 0")
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                    finally:
                        conn.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout * 1000)}")
                else:
                    conn.execute("BEGIN IMMEDIATE")
                now = time.time()
                results = [self._apply(conn, item, now) for item in batch]
                conn.execute("COMMIT")
                return results
            except (sqlite3.Error, OSError) as exc:
                try:
                    if conn.in_transaction:
                        conn.rollback()
                except sqlite3.Error:
                    pass
                if conn is self._inline and not ("locked" in str(exc) or "busy" in str(exc)):
                    self._close_inline()  # opened anew next time (a file read-only then, say)
                return None
        finally:
            lock.release()

    def _commit_pending(self) -> None:
        """On the loop: commit the saves gathered so far, as one transaction: inline when the
        write lock is free, else on the writer thread."""
        if self._committing or not self._pending:
            return
        batch, self._pending, self._waiting = self._pending, [], 0
        try:
            outcomes = self._commit_inline(batch)
        except Exception:  # never leave the savers waiting: the writer thread tries, and reports
            log.debug("inline commit failed; the writer thread commits", exc_info=True)
            outcomes = None
        if outcomes is not None:
            self._settle(batch, outcomes)
            return
        self._committing = True
        loop = asyncio.get_running_loop()
        try:
            running = loop.run_in_executor(self._pool, self._commit_batch, batch)
        except RuntimeError as exc:  # the store was closed
            self._committing = False
            self._settle(batch, [StoreUnavailable(str(exc))] * len(batch))
            return
        running.add_done_callback(lambda done: self._committed(batch, done))

    def _committed(self, batch: list[_Save | _Emptied], done: asyncio.Future[Any]) -> None:
        self._committing = False
        outcomes = done.result() if not done.cancelled() and done.exception() is None else \
            [StoreUnavailable("the commit did not run")] * len(batch)
        self._settle(batch, outcomes)
        if self._pending:
            self._commit_pending()  # what came meanwhile: the next group

    def _settle(self, batch: list[_Save | _Emptied], outcomes: list[Any]) -> None:
        for item, ok in zip(batch, outcomes):
            key, future = item.key, item.future
            if isinstance(item, _Emptied):  # True, or False when the row moved on meanwhile
                result = ok
                if self._marks.get(str(key)) == item.rev:
                    del self._marks[str(key)]
                if not isinstance(ok, Exception):
                    self._emptied(key, item.rev, ok, item.question)
                elif future is None:  # not in the file: the reply may be shown again, never lost
                    self._forget(str(key).__eq__)
            else:
                result = ok if isinstance(ok, Exception) else item.record if ok else Conflict(str(key))
                self._remember(str(key), None if isinstance(result, Exception) else result)
            if future is None or future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    def _checkpoint_loop(self) -> None:
        """Copy the write-ahead log into the database (and sync it) away from the event loop."""
        try:
            # It may wait for the write lock up to 0.5 s: only the writer thread waits then, never
            # the event loop (commits run on the writer thread).
            conn = sqlite3.connect(self.path, timeout=0.5, isolation_level=None)
        except sqlite3.Error:
            return
        wal = Path(f"{self.path}-wal")
        try:
            while not self._closing.wait(CHECKPOINT_EVERY):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    if wal.exists() and wal.stat().st_size > WAL_LIMIT:
                        # Under steady load the log may never be idle enough to start over: empty it now.
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error as exc:
                    log.debug("checkpoint skipped: %s", exc)
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            log.debug("last checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def _start_checkpointer(self) -> None:
        with self._locks[True]:
            self._open(True).execute("PRAGMA wal_autocheckpoint=0")  # the thread does it instead
            if self._inline is not None:
                self._inline.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="sqlite-checkpoint",
                                              daemon=True)
        self._checkpointer.start()

    # -- asynchronous API (the bot) ------------------------------------------------------
    async def _async(self, fn: Callable[..., Any], *args: Any, slow: bool = False) -> Any:
        """The one way the async API runs the synchronous core: on the store's threads (`slow`:
        the thread of long work, purges, chat moves and event pages, so that it never holds up
        a step's save or load)."""
        return await asyncio.get_running_loop().run_in_executor(self._slow if slow else self._pool, fn, *args)

    async def load(self, key: ConversationKey) -> Record | None:
        return self.load_sync(key)  # inline: see the module docstring

    async def save(self, key: ConversationKey, progress: Kept, rev: int,
                   seen: tuple[int, ...] = (), outbox: Outbox = (), events: tuple[Event, ...] = (),
                   reminders: Schedule | None = None) -> Record:
        if self._checkpointer is None:
            try:
                self._start_checkpointer()
            except (sqlite3.Error, OSError) as exc:
                log.debug("no background checkpoints yet: %s", exc)  # the commit reports the trouble
        record = Record(progress, rev + 1, seen, tuple(outbox), self._question_of(key))
        return await self._queue(lambda future: _Save(key, record, progress.to_json(), jsonio.dumps(seen), jsonio.dumps(outbox),
                                                      tuple(events), reminders, future))

    async def delivered(self, key: ConversationKey, rev: int, question: int | None = None) -> bool:
        """The outbox emptied: in this process at once, in the file with the next group commit
        (a save within MARK_WAIT seconds, else a commit of its own); nothing waits for it."""
        name = str(key)
        cached = self._cache.get(name)
        if cached is None or cached.rev != rev:  # not the step this process knows: marked in the file first
            return await self._queue(lambda future: _Emptied(key, rev, question, future))
        self._marks[name] = rev
        self._emptied(key, rev, True, question)
        self._pending.append(_Emptied(key, rev, question, None))
        if self._mark_timer is None:
            self._mark_timer = asyncio.get_running_loop().call_later(MARK_WAIT, self._marks_due)
        return True

    def _marks_due(self) -> None:
        self._mark_timer = None
        if not self._waiting:  # (else the commit under way takes them)
            self._commit_pending()

    async def _queue(self, item: Callable[[asyncio.Future[Any]], _Save | _Emptied]) -> Any:
        """Put an item (made with the future of its outcome) in the next group commit and wait for that outcome."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        alone = not self._waiting and not self._committing  # (marks alone in `_pending` wait for nobody)
        self._pending.append(item(future))
        self._waiting += 1
        if alone and not _others_ready(loop):
            self._commit_pending()  # nothing else can join this group: committed now, no loop turn
        elif alone:
            loop.call_soon(self._commit_pending)  # what the other ready tasks save joins this group
        return await future

    async def undelivered(self, limit: int = 100, older_than: float = 0.0) -> list[tuple[ConversationKey, Record]]:
        return await self._async(self.undelivered_sync, limit, older_than)

    async def count_undelivered(self) -> int:
        return await self._async(self.count_undelivered_sync)

    async def delete(self, key: ConversationKey) -> int:
        return await self._async(self.delete_sync, key)

    async def delete_user(self, user_id: int) -> int:
        return await self._async(self.delete_user_sync, user_id)

    async def purge(self, older_than_seconds: float) -> int:
        return await self._async(self.purge_sync, older_than_seconds, slow=True)

    async def count(self) -> int:
        return await self._async(self.count_sync)

    async def entry_post(self, chat_id: int) -> int | None:
        return await self._async(self.entry_post_sync, chat_id)

    async def answer_once(self, chat_id: int, message_id: int, user_id: int, update_id: int | None = None) -> bool:
        return await self._async(self.answer_once_sync, chat_id, message_id, user_id, update_id)

    async def set_entry_post(self, chat_id: int, message_id: int) -> None:
        await self._async(self.set_entry_post_sync, chat_id, message_id)

    async def move_chat(self, old_chat: int, new_chat: int) -> int:
        return await self._async(self.move_chat_sync, old_chat, new_chat, slow=True)

    async def rows_after(self, after: str = "", limit: int = 500) -> list[Row]:
        return await self._async(self.rows_after_sync, after, limit)

    async def put_rows(self, rows: list[Row]) -> int:
        return await self._async(self.put_rows_sync, rows)

    async def events(self, since_day: str = "", flow: str | None = None, after: int = 0,
                     limit: int = EVENTS_PAGE) -> list[EventRow]:
        return await self._async(self.events_sync, since_day, flow, after, limit, slow=True)

    async def event_facts(self, since_day: str = "", flow: str | None = None, after: int = 0,
                          limit: int = EVENTS_PAGE) -> list[EventRow]:
        return await self._async(self.event_facts_sync, since_day, flow, after, limit, slow=True)

    async def unrecognised(self, since_day: str = "", flow: str | None = None) -> list[KeptText]:
        return await self._async(self.unrecognised_sync, since_day, flow)

    async def claim_reminders(self, now: float, owner: str, lease: float, limit: int = 50) -> list[Claimed]:
        return await self._async(self.claim_reminders_sync, now, owner, lease, limit)

    async def finish_reminder(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        return await self._async(self.finish_reminder_sync, key, reminder, due, rev)

    async def postpone_reminder(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        return await self._async(self.postpone_reminder_sync, key, reminder, due, rev)

    async def reminders_of(self, key: ConversationKey) -> list[tuple[str, float]]:
        return await self._async(self.reminders_of_sync, key)
