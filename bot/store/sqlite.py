"""SQLite progress store: a single file, WAL mode, one row per conversation key.

Rows are read when their conversation is next seen, never all at start.

- Reads use their own connection and run inline: in WAL mode a read never waits for a
  writer, and one indexed row costs tens of microseconds.
- Saves from the bot go to one writer thread that commits whatever is waiting in a single
  transaction (group commit), then wakes each waiting update. The event loop never waits on
  the disk, and a burst of updates costs one commit, not one each. `synchronous=FULL`: a
  step the user was answered for survives a crash of the process or of the machine.
- The terminal front end calls the same operations synchronously.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..progress import Progress
from . import Conflict, StoreUnavailable

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS progress (
    key      TEXT PRIMARY KEY,
    user_id  INTEGER,
    chat_id  INTEGER,
    rev      INTEGER NOT NULL,
    updated  REAL NOT NULL,
    data     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS progress_user ON progress(user_id);
CREATE INDEX IF NOT EXISTS progress_updated ON progress(updated);
"""
_INSERT = ("INSERT INTO progress(key, user_id, chat_id, rev, updated, data) VALUES (?,?,?,?,?,?) "
           "ON CONFLICT(key) DO NOTHING")
_UPDATE = ("UPDATE progress SET rev = ?, updated = ?, data = ?, user_id = ?, chat_id = ? "
           "WHERE key = ? AND rev = ?")
_STOP = object()


class SQLiteStore:
    def __init__(self, path: str | Path, lock_timeout: float = 5.0, synchronous: str = "FULL"):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.synchronous = synchronous
        self._conns: dict[bool, sqlite3.Connection] = {}
        self._locks = {True: threading.Lock(), False: threading.Lock()}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._trouble: bool | None = None  # None: fine; else whether a write failed

    # -- connections ---------------------------------------------------------------------
    def _open(self, write: bool) -> sqlite3.Connection:
        conn = self._conns.get(write)
        if conn is None:
            if not write and True not in self._conns:
                with self._locks[True]:
                    self._open(True)  # the writer creates the file and the table first
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Reads give up sooner: they run on the event loop.
            timeout = self.lock_timeout if write else min(self.lock_timeout, 0.5)
            conn = sqlite3.connect(self.path, timeout=timeout, check_same_thread=False, isolation_level=None)
            if write:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
                conn.executescript(SCHEMA)
            self._conns[write] = conn
        return conn

    def _connection(self) -> sqlite3.Connection:
        """The writing connection (tests use it to put the database in trouble)."""
        with self._locks[True]:
            return self._open(True)

    def _run(self, fn, *args, write: bool = False):
        """Run fn(conn, *args) on the read or write connection; database trouble becomes
        StoreUnavailable. The cause is logged once per episode: reads may still work while
        writes fail (a locked or read-only database), so only a write ends a write episode."""
        with self._locks[write]:
            try:
                conn = self._open(write)
                result = fn(conn, *args)
            except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if self._trouble is None:
                    log.error("progress store %s unavailable: %s", self.path, reason)
                    self._trouble = write
                conn = self._conns.get(write)
                if conn is not None and conn.in_transaction:
                    conn.rollback()
                raise StoreUnavailable(reason) from exc
            if self._trouble is not None and (write or not self._trouble):
                log.warning("progress store %s works again", self.path)
                self._trouble = None
            return result

    # -- synchronous API (terminal, tests, the writer thread) ----------------------------
    def load_sync(self, key: str) -> Progress | None:
        row = self._run(lambda c: c.execute("SELECT data, rev FROM progress WHERE key = ?", (key,)).fetchone())
        if row is None:
            return None
        try:
            return Progress.from_json(row[0]).with_(rev=row[1])
        except (ValueError, TypeError, KeyError):
            log.error("unreadable progress record for a conversation; starting it afresh")
            return None

    @staticmethod
    def _write_one(conn: sqlite3.Connection, key: str, progress: Progress, user_id, chat_id, now: float) -> bool:
        data = progress.with_(rev=progress.rev + 1).to_json()
        if progress.rev == 0:
            cur = conn.execute(_INSERT, (key, user_id, chat_id, progress.rev + 1, now, data))
        else:
            cur = conn.execute(_UPDATE, (progress.rev + 1, now, data, user_id, chat_id, key, progress.rev))
        return cur.rowcount == 1

    def save_sync(self, key: str, progress: Progress, user_id: int | None = None,
                  chat_id: int | None = None) -> Progress:
        """Store progress if the stored rev is still progress.rev; return it with rev + 1."""
        if not self._run(self._write_one, key, progress, user_id, chat_id, time.time(), write=True):
            raise Conflict(key)
        return progress.with_(rev=progress.rev + 1)

    def delete_sync(self, key: str) -> int:
        return self._run(lambda c: c.execute("DELETE FROM progress WHERE key = ?", (key,)).rowcount, write=True)

    def delete_user_sync(self, user_id: int) -> int:
        """Erase every record of a user: their private chat and their group conversations."""
        return self._run(lambda c: c.execute(
            "DELETE FROM progress WHERE user_id = ? OR key = ?", (user_id, f"private:{user_id}")).rowcount,
            write=True)

    def purge_sync(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        return self._run(lambda c: c.execute("DELETE FROM progress WHERE updated < ?", (cutoff,)).rowcount,
                         write=True)

    def move_chat_sync(self, old_chat: int, new_chat: int) -> int:
        """A group became a supergroup: its members' records follow the new chat id."""
        def move(conn):
            rows = conn.execute("SELECT key FROM progress WHERE chat_id = ?", (old_chat,)).fetchall()
            for (key,) in rows:
                new_key = key.replace(f":{old_chat}:", f":{new_chat}:", 1)
                conn.execute("UPDATE OR REPLACE progress SET key = ?, chat_id = ? WHERE key = ?",
                             (new_key, new_chat, key))
            return len(rows)
        return self._run(move, write=True)

    def count_sync(self) -> int:
        return self._run(lambda c: c.execute("SELECT COUNT(*) FROM progress").fetchone()[0])

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout=10)
            self._writer = None
        for write, lock in self._locks.items():
            with lock:
                conn = self._conns.pop(write, None)
                if conn is not None:
                    conn.close()
        self._pool.shutdown(wait=False)

    # -- the writer thread: group commit -------------------------------------------------
    def _write_batch(self, conn: sqlite3.Connection, batch: list) -> list[bool]:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        results = [self._write_one(conn, key, progress, user_id, chat_id, now)
                   for key, progress, user_id, chat_id, _, _ in batch]
        conn.execute("COMMIT")
        return results

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(item is _STOP for item in batch)
            batch = [item for item in batch if item is not _STOP]
            if batch:
                try:
                    outcomes = self._run(self._write_batch, batch, write=True)
                except StoreUnavailable as exc:
                    outcomes = [exc] * len(batch)
                for (key, progress, *_, loop, future), ok in zip(batch, outcomes):
                    if isinstance(ok, Exception):
                        result = ok
                    else:
                        result = progress.with_(rev=progress.rev + 1) if ok else Conflict(key)
                    loop.call_soon_threadsafe(_settle, future, result)
            if stop:
                return

    # -- asynchronous API (the bot) ------------------------------------------------------
    async def _async(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def load(self, key: str) -> Progress | None:
        return self.load_sync(key)  # inline: see the module docstring

    async def save(self, key: str, progress: Progress, user_id: int | None = None,
                   chat_id: int | None = None) -> Progress:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
            self._writer.start()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((key, progress, user_id, chat_id, loop, future))
        return await future

    async def delete(self, key: str) -> int:
        return await self._async(self.delete_sync, key)

    async def delete_user(self, user_id: int) -> int:
        return await self._async(self.delete_user_sync, user_id)

    async def purge(self, older_than_seconds: float) -> int:
        return await self._async(self.purge_sync, older_than_seconds)

    async def count(self) -> int:
        return await self._async(self.count_sync)

    async def move_chat(self, old_chat: int, new_chat: int) -> int:
        return await self._async(self.move_chat_sync, old_chat, new_chat)


def _settle(future: asyncio.Future, result) -> None:
    if future.done():
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)
