"""Where progress lives between messages and restarts: one record per conversation key.

A conversation key is `private:<chat>` in a private chat, `group:<chat>:<user>` in a group,
`console:<name>` in the terminal. Saving is compare-and-set on `Progress.rev`: a save based
on an out-of-date record raises `Conflict` instead of overwriting someone else's step.
"""
from __future__ import annotations

from typing import Protocol

from ..progress import Progress


class Conflict(Exception):
    """The record changed since it was loaded (another process handled an update)."""


class StoreUnavailable(Exception):
    """The database cannot be read or written right now (locked, read-only, full...)."""


class ProgressStore(Protocol):
    """What the Telegram front end needs from a store (SQLite now; PostgreSQL next, for several
    bot processes sharing one database)."""

    async def load(self, key: str) -> Progress | None: ...

    async def save(self, key: str, progress: Progress, user_id: int | None = None,
                   chat_id: int | None = None) -> Progress:
        """Store `progress` if the stored record is still at `progress.rev`, and return it
        with `rev + 1`; raise Conflict otherwise, StoreUnavailable on database trouble."""

    async def delete(self, key: str) -> int: ...

    async def delete_user(self, user_id: int) -> int:
        """Erase every record of that user (private and group conversations)."""

    async def purge(self, older_than_seconds: float) -> int: ...

    async def move_chat(self, old_chat: int, new_chat: int) -> int: ...

    async def count(self) -> int: ...

    def close(self) -> None: ...


def private_key(chat_id: int) -> str:
    return f"private:{chat_id}"


def group_key(chat_id: int, user_id: int) -> str:
    return f"group:{chat_id}:{user_id}"


__all__ = ["Conflict", "StoreUnavailable", "Progress", "ProgressStore", "private_key", "group_key"]
