"""Where progress lives between messages and restarts: one record per conversation key.

A conversation key is `private:<chat>` in a private chat, `group:<chat>:<user>` in a group,
`console:<name>` in the terminal. Saving is compare-and-set on `Progress.rev`: a save based
on an out-of-date record raises `Conflict` instead of overwriting someone else's step.
"""
from __future__ import annotations

from ..progress import Progress


class Conflict(Exception):
    """The record changed since it was loaded (another process handled an update)."""


class StoreUnavailable(Exception):
    """The database cannot be read or written right now (locked, read-only, full...)."""


def private_key(chat_id: int) -> str:
    return f"private:{chat_id}"


def group_key(chat_id: int, user_id: int) -> str:
    return f"group:{chat_id}:{user_id}"


__all__ = ["Conflict", "StoreUnavailable", "Progress", "private_key", "group_key"]
