"""Where progress lives between messages and restarts (see base.py for the interface).

`open_store(settings)` is the one place that builds a concrete store from the settings;
`store_from_url` builds one from a URL (`sqlite:///path`, `postgresql://...`), and
`copy_rows` copies one store into another (`python -m bot store copy`).
"""
from __future__ import annotations

from pathlib import Path

from .base import Conflict, ConversationKey, ProgressStore, Record, Row, StoreUnavailable


def store_from_url(url: str, pool: int = 10, sqlite_synchronous: str = "NORMAL") -> ProgressStore:
    """`sqlite:///data/p.sqlite3` (relative to the current folder), `sqlite:////abs/p.sqlite3`,
    or `postgresql://user:password@host:port/database` (also `postgres://`), with `pool`
    connections at most per process."""
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        from .sqlite import SQLiteStore
        return SQLiteStore(Path(url[len("sqlite:///"):]), synchronous=sqlite_synchronous)
    if scheme in ("postgresql", "postgres") and url.startswith(scheme + "://"):
        from .postgres import PostgresStore
        return PostgresStore(url, pool_max=pool)
    raise ValueError(f"unknown progress store URL {scheme + ':...' if scheme else repr(url)}: "
                     "use sqlite:///path/to/file.sqlite3 or postgresql://user@host:5432/database")


def open_store(settings) -> ProgressStore:
    """The store the settings name: BOT_DATABASE_URL, else SQLite in the data folder."""
    return store_from_url(settings.store_url, pool=settings.database_pool,
                          sqlite_synchronous=settings.sqlite_synchronous)


async def copy_rows(source: ProgressStore, target: ProgressStore, batch: int = 500) -> tuple[int, int]:
    """Copy every conversation of `source` into `target`, `batch` rows per transaction, in key
    order; return (copied, skipped). Rows already in `target` at the same or a later revision
    are skipped, so running it again copies nothing twice and finishes an interrupted copy."""
    copied = skipped = 0
    after = ""
    while rows := await source.rows_after(after, batch):
        written = await target.put_rows(rows)
        copied, skipped = copied + written, skipped + len(rows) - written
        after = rows[-1].key
    return copied, skipped


__all__ = ["Conflict", "ConversationKey", "ProgressStore", "Record", "Row", "StoreUnavailable", "copy_rows",
           "open_store", "store_from_url"]
