"""Where progress lives between messages and restarts (see base.py for the interface).

`open_store(settings)` is the one place that builds a concrete store from the settings.
"""
from __future__ import annotations

from .base import Conflict, ConversationKey, ProgressStore, Record, StoreUnavailable


def open_store(settings) -> ProgressStore:
    """The store the settings name: SQLite in the data folder (the default)."""
    from .sqlite import SQLiteStore
    return SQLiteStore(settings.db_path, synchronous=settings.sqlite_synchronous)


__all__ = ["Conflict", "ConversationKey", "ProgressStore", "Record", "StoreUnavailable", "open_store"]
