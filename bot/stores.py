"""The conversation stores as the bot uses them: bot/store's SQLite and PostgreSQL stores,
reading what they keep back as the engine's `Progress`. bot/store keeps what it is given and
imports nothing above it; this module is where the two meet, and the one place a store is
built from the settings (`open_store`) or a URL (`store_from_url`).

    store = store_from_url("sqlite:///data/progress.sqlite3")
    record = store.load_sync(ConversationKey.private(42))   # record.progress: a Progress
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .engine.progress import Progress
from .store import ProgressStore
from .store import postgres, sqlite


class SQLiteStore(sqlite.SQLiteStore):
    def __init__(self, path: str | Path, **options: Any):
        super().__init__(path, Progress.from_json, **options)


class PostgresStore(postgres.PostgresStore):
    def __init__(self, url: str, **options: Any):
        super().__init__(url, Progress.from_json, **options)


def store_from_url(url: str, pool: int = 10, sqlite_synchronous: str = "NORMAL") -> ProgressStore:
    """`sqlite:///data/p.sqlite3` (relative to the current folder), `sqlite:////abs/p.sqlite3`,
    or `postgresql://user:password@host:port/database` (also `postgres://`), with `pool`
    connections at most per process."""
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SQLiteStore(Path(url[len("sqlite:///"):]), synchronous=sqlite_synchronous)
    if scheme in ("postgresql", "postgres") and url.startswith(scheme + "://"):
        return PostgresStore(url, pool_max=pool)
    raise ValueError(f"unknown progress store URL {scheme + ':...' if scheme else repr(url)}: "
                     "use sqlite:///path/to/file.sqlite3 or postgresql://user@host:5432/database")


def open_store(settings: Any) -> ProgressStore:
    """The store the settings name: BOT_DATABASE_URL, else SQLite in the data folder."""
    return store_from_url(settings.store_url, pool=settings.database_pool,
                          sqlite_synchronous=settings.sqlite_synchronous)
