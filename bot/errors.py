"""The project's exceptions: one root, so a caller can catch everything the bot raises on purpose."""


class BotError(Exception):
    """Root of every exception the project raises on purpose."""


class StoreError(BotError):
    """Root of the progress store's errors."""


class Conflict(StoreError):
    """The record changed since it was loaded (another process handled an update)."""


class StoreUnavailable(StoreError):
    """The database cannot be read or written right now (locked, read-only, full...).
    `lasting`: the cause is the set-up (a folder that cannot be created, a read-only file, a
    role or database that does not exist), not a moment's trouble: trying again will not help."""

    def __init__(self, reason: str = "", lasting: bool = False):
        super().__init__(reason)
        self.lasting = lasting


class GraphError(BotError):
    """A flow cannot be drawn (unknown picture format, graphviz missing)."""


class Unreadable(StoreError):
    """A stored record could not be read (unknown schema, corrupt data): the store set it
    aside for the operator, and the conversation starts again."""
