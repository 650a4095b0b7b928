"""SQLite progress store: a single file, WAL mode, one row per conversation key.

Rows are read when their conversation is next seen, never all at start. The blocking
sqlite3 calls run on one worker thread that owns the connection, so the event loop never
waits on the disk; the terminal front end calls the same methods synchronously.
"""
from __future__ import annotations

import asyncio
import logging
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


class SQLiteStore:
    def __init__(self, path: str | Path, lock_timeout: float = 5.0):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._trouble: bool | None = None  # None: fine; else whether a write failed

    # -- connection ----------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.lock_timeout, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            self._conn = conn
        return self._conn

    def _run(self, fn, *args, write: bool = False):
        """Run fn(conn, *args) under the lock; turn database trouble into StoreUnavailable.

        The cause is logged once per episode: reads may still work while writes fail
        (a locked or read-only database), so only a write ends an episode a write started.
        """
        with self._lock:
            try:
                result = fn(self._connection(), *args)
            except (sqlite3.OperationalError, sqlite3.DatabaseError, OSError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                if self._trouble is None:
                    log.error("progress store %s unavailable: %s", self.path, reason)
                    self._trouble = write
                if self._conn is not None and self._conn.in_transaction:
                    self._conn.rollback()
                raise StoreUnavailable(reason) from exc
            if self._trouble is not None and (write or not self._trouble):
                log.warning("progress store %s works again", self.path)
                self._trouble = None
            return result

    # -- synchronous API (terminal, tests) -----------------------------------------------
    def load_sync(self, key: str) -> Progress | None:
        row = self._run(lambda c: c.execute("SELECT data, rev FROM progress WHERE key = ?", (key,)).fetchone())
        if row is None:
            return None
        try:
            return Progress.from_json(row[0]).with_(rev=row[1])
        except (ValueError, TypeError, KeyError):
            log.error("unreadable progress record for a conversation; starting it afresh")
            return None

    def save_sync(self, key: str, progress: Progress, user_id: int | None = None,
                  chat_id: int | None = None) -> Progress:
        """Store progress if the stored rev is still progress.rev; return it with rev + 1."""
        saved = progress.with_(rev=progress.rev + 1)
        data, now = saved.to_json(), time.time()

        def write(conn: sqlite3.Connection) -> bool:
            if progress.rev == 0:
                cur = conn.execute(
                    "INSERT INTO progress(key, user_id, chat_id, rev, updated, data) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT(key) DO NOTHING", (key, user_id, chat_id, saved.rev, now, data))
            else:
                cur = conn.execute(
                    "UPDATE progress SET rev = ?, updated = ?, data = ?, user_id = ?, chat_id = ? "
                    "WHERE key = ? AND rev = ?", (saved.rev, now, data, user_id, chat_id, key, progress.rev))
            return cur.rowcount == 1

        if not self._run(write, write=True):
            raise Conflict(key)
        return saved

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
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        self._pool.shutdown(wait=False)

    # -- asynchronous API (the bot) ------------------------------------------------------
    async def _async(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def load(self, key: str) -> Progress | None:
        return await self._async(self.load_sync, key)

    async def save(self, key: str, progress: Progress, user_id: int | None = None,
                   chat_id: int | None = None) -> Progress:
        return await self._async(self.save_sync, key, progress, user_id, chat_id)

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
