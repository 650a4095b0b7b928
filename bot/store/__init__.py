"""Where progress lives between messages and restarts (see base.py for the interface).

The stores keep what they are given (bot/stores.py builds them for the engine's Progress);
`copy_rows` copies one store into another (`python -m bot store copy`).
"""
from __future__ import annotations

from .base import (Administration, Conflict, ConversationKey, ConversationStore, EventLog, ProgressStore, Record,
                   ReminderQueue, Row, StoreUnavailable, SyncAccess)


async def copy_rows(source: Administration, target: Administration, batch: int = 500) -> tuple[int, int]:
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


__all__ = ["Administration", "Conflict", "ConversationKey", "ConversationStore", "EventLog", "ProgressStore", "Record",
           "ReminderQueue", "Row", "StoreUnavailable", "SyncAccess", "copy_rows"]
