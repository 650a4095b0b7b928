"""What every progress store offers: the conversation key, the stored record, the interface.

A record per conversation. Saving is compare-and-set on `Record.rev`: a save based on an
out-of-date record raises `Conflict` instead of overwriting someone else's step.

A store keeps what it is given and imports nothing above it: a conversation's state is
anything with a `to_json()` (`Kept`), read back by the `decode` the store was built with
(bot/stores.py gives the engine's `Progress.from_json`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Literal, Protocol

from .. import jsonio
from ..errors import Conflict, StoreUnavailable

log = logging.getLogger(__name__)
SEEN_WINDOW = 32  # update ids remembered per conversation, to drop updates delivered twice
# The stored columns of an event, in order (the `events` table, the report's rows; bot/ops/events.py).
FIELDS = ("day", "flow", "version", "kind", "node", "choice", "understood", "next", "outcome", "followup",
          "seconds", "token")
UNRECOGNISED_DAYS = 30  # days a description the recogniser could not route is kept (opt-in)


class Kept(Protocol):
    """What a store keeps of a conversation (the engine's Progress): its JSON text."""
    def to_json(self) -> str: ...


Decode = Callable[[str], Any]  # the JSON text back into what was kept (Progress.from_json)
Outbox = tuple[Any, ...]        # JSON-ready items, the front end's business (bot/telegram/send.py's Calls' data)
Event = dict[str, Any]          # a step's event: FIELDS, and `text` when a description is kept (bot/ops/events.py)
Schedule = list[tuple[str, float]]  # a conversation's reminders to come: (reminder id, epoch seconds due)
EventRow = tuple[Any, ...]      # (id, *FIELDS), or (id, seconds, token, FACTS as JSON text)
KeptText = tuple[str, str, str, str]  # a description kept (opt-in): (day, flow, node, text)


@dataclass(frozen=True)
class ConversationKey:
    """Whose conversation: the chat in a private chat (`private:<chat>`), the chat and the
    member in a group (`group:<chat>:<user>`), a name in the terminal (`console:<name>`)."""
    kind: Literal["private", "group", "console"]
    chat: int | None = None
    user: int | None = None
    name: str | None = None

    @classmethod
    def private(cls, chat_id: int) -> "ConversationKey":
        return cls("private", chat_id, chat_id)  # in a private chat, the chat id is the user's

    @classmethod
    def group(cls, chat_id: int, user_id: int) -> "ConversationKey":
        return cls("group", chat_id, user_id)

    @classmethod
    def console(cls, name: str) -> "ConversationKey":
        return cls("console", name=name)

    @classmethod
    def parse(cls, text: str) -> "ConversationKey":
        kind, _, rest = text.partition(":")
        if kind == "private":
            return cls.private(int(rest))
        if kind == "group":
            chat, _, user = rest.partition(":")
            return cls.group(int(chat), int(user))
        if kind == "console" and rest:
            return cls.console(rest)
        raise ValueError(f"not a conversation key: {text!r}")

    def in_chat(self, chat_id: int) -> "ConversationKey":
        """The same member's key once their group has a new id (it became a supergroup)."""
        return ConversationKey.group(chat_id, self.user) if self.kind == "group" and self.user is not None else self

    def __str__(self) -> str:
        if self.kind == "console":
            return f"console:{self.name}"
        if self.kind == "private":
            return f"private:{self.chat}"
        return f"group:{self.chat}:{self.user}"


Claimed = tuple[ConversationKey, str, float]  # a reminder claimed: (conversation, reminder id, due)


@dataclass(frozen=True)
class Record:
    """A stored conversation: the progress, the revision compare-and-set checks, the update
    ids a front end already handled for it (the newest last), and its outbox: what the
    person must still be shown, saved with the step that produced it, emptied once Telegram
    confirmed it (a list of JSON-ready items whose form is the front end's business); and the
    id of the message showing its last question, set when an outbox is delivered, so that
    any process can retire that question's buttons and tell it from another message."""
    progress: Any  # what was kept (a Progress), as the store's `decode` reads it back
    rev: int = 0
    seen: tuple[int, ...] = ()
    outbox: Outbox = ()
    question: int | None = None

    def handled(self, update_id: int) -> bool:
        return update_id in self.seen

    def seeing(self, update_id: int | None) -> tuple[int, ...]:
        """`seen` with this update id added (the window keeps the newest SEEN_WINDOW)."""
        if update_id is None or update_id in self.seen:
            return self.seen
        return (self.seen + (update_id,))[-SEEN_WINDOW:]


@dataclass(frozen=True)
class Row:
    """A record exactly as stored, for copying it to another store (`python -m bot store
    copy`): the progress, seen and outbox stay JSON text, unread, and `updated` (epoch
    seconds) travels with them so that retention and the delivery sweep see the same age."""
    key: str
    rev: int
    updated: float
    data: str
    seen: str
    outbox: str
    reminders: str = "[]"  # the conversation's reminders to come: [[reminder id, due], ...]


def record_of(decode: Decode, data: str, rev: int, seen: str, outbox: str, question: int | None = None) -> Record | None:
    """A stored row as a Record; None, logged, when it cannot be read (the store then sets it
    aside in its `unreadable` table and raises Unreadable)."""
    try:
        return Record(decode(data), rev, tuple(jsonio.loads(seen)), tuple(jsonio.loads(outbox)), question)
    except (ValueError, TypeError, KeyError, AttributeError):
        log.error("an unreadable progress record was set aside (table `unreadable`); its conversation starts again")
        return None


EVENTS_PAGE = 20_000  # events read per page (the report streams a million in pages)
# An event's columns that take few values, in the order of the JSON array `event_facts` gives
# (FIELDS but the seconds and the token, which the report reads apart).
FACTS = ("day", "flow", "version", "kind", "node", "choice", "understood", "next", "outcome", "followup")


def event_rows(events: Iterable[Event]) -> list[EventRow]:
    """The step's events as rows of the `events` table's columns (FIELDS order)."""
    return [tuple(None if e[f] is None else int(e[f]) if f == "understood" else e[f] for f in FIELDS)
            for e in events]


def kept_texts(events: Iterable[Event]) -> list[KeptText]:
    """(day, flow, node, text) of the events carrying an unrecognised description."""
    return [(e["day"], e["flow"], e["node"], e["text"]) for e in events if e.get("text")]


def event_pages(fetch: Callable[[str, str | None, int], list[EventRow]], since_day: str = "",
                flow: str | None = None) -> Iterator[list[EventRow]]:
    """Every event from `since_day`, page by page: `fetch` is a store's `events_sync`."""
    after = 0
    while page := fetch(since_day, flow, after):
        yield page
        after = page[-1][0]


class ConversationStore(Protocol):
    """The conversations: each one's record, saved compare-and-set with its outbox, events and
    reminders in one transaction; its outbox marked shown; erasure."""

    async def load(self, key: ConversationKey) -> Record | None:
        """The stored record, or None (never met, erased, or unreadable: see the log)."""

    async def save(self, key: ConversationKey, progress: Kept, rev: int,
                   seen: tuple[int, ...] = (), outbox: Outbox = (), events: tuple[Event, ...] = (),
                   reminders: Schedule | None = None) -> Record:
        """Store `progress`, its `outbox` and the step's `events` (dicts of bot/ops/events.py
        FIELDS) in one transaction if the stored record is still at `rev` (0: none stored
        yet), and return the record at `rev + 1`; raise Conflict otherwise (nothing written,
        events included), StoreUnavailable on trouble. An event carrying a `text` also keeps
        that text in `unrecognised` under `key` (never in `events`). `reminders`, a list of
        (reminder id, epoch seconds), replaces this conversation's reminders in the same
        transaction (None leaves them as they are)."""

    async def delivered(self, key: ConversationKey, rev: int, question: int | None = None) -> bool:
        """Empty the outbox of the record still at `rev` (its replies were shown, or refused
        for good) and note the message now showing its question (`Record.question`); False
        when the record moved on meanwhile (its new outbox stays)."""

    async def undelivered(self, limit: int = 100, older_than: float = 0.0) -> list[tuple[ConversationKey, Record]]:
        """Records whose outbox is not empty, saved at least `older_than` seconds ago, oldest
        step first (for the delivery sweep)."""

    async def count_undelivered(self) -> int: ...

    async def answer_once(self, chat_id: int, message_id: int, user_id: int, update_id: int | None = None) -> bool:
        """True the first time a person answers a prompt message (/oublier's), and when the same
        update (`update_id`) comes again after its handling failed; False for another press:
        pressed twice, in one process or two, it is applied once (remembered a day)."""

    async def delete(self, key: ConversationKey) -> int: ...

    async def delete_user(self, user_id: int) -> int:
        """Erase every record of that person (private and group conversations), and the
        descriptions kept from them."""


class ReminderQueue(Protocol):
    """The follow-up's reminders to come: claimed by one process at a time, then dropped or moved
    against the revision they were decided on (a reminder sent is a `save` with its new schedule)."""

    async def claim_reminders(self, now: float, owner: str, lease: float, limit: int = 50) -> list[Claimed]:
        """Reminders due by `now` that no live claim holds, claimed for `lease` seconds by
        `owner`: (key, reminder id, due) each. Two processes never get the same row while a
        claim lasts; once it has run out (its process died), another takes it over."""

    async def finish_reminder(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        """Drop a claimed reminder that needs nothing sent (only the row still at `due`), if
        the conversation is still at `rev` (0: no record), the revision the decision was made
        on; False otherwise (nothing dropped: decide again on the newer record)."""

    async def postpone_reminder(self, key: ConversationKey, reminder: str, due: float, rev: int) -> bool:
        """Move a reminder to `due`, unclaimed (out of the quiet hours), on the same condition."""

    async def reminders_of(self, key: ConversationKey) -> list[tuple[str, float]]:
        """This conversation's reminders to come: (reminder id, due), soonest first."""


class EventLog(Protocol):
    """The anonymous step events and the descriptions kept (opt-in), for the report."""

    async def events(self, since_day: str = "", flow: str | None = None, after: int = 0,
                     limit: int = EVENTS_PAGE) -> list[EventRow]:
        """Up to `limit` events from day `since_day` (ISO date; "" for all), of `flow` (None:
        every flow), whose id is above `after`, in id order: (id, *FIELDS). Page with the
        last id of each page (`event_pages`)."""

    async def event_facts(self, since_day: str = "", flow: str | None = None, after: int = 0,
                          limit: int = EVENTS_PAGE) -> list[EventRow]:
        """The same events as `events`, as (id, seconds, token, facts): facts is the JSON text of
        the array of the FACTS columns, equal for two events whose FACTS are equal (the report
        reads a million events this way: far fewer Python objects to make per row)."""

    async def unrecognised(self, since_day: str = "", flow: str | None = None) -> list[KeptText]:
        """The descriptions kept (BOT_KEEP_UNRECOGNISED=1): (day, flow, node, text), oldest first."""


class Administration(Protocol):
    """Retention, a group's migration, the entry posts, counting and copying a whole store, closing."""

    async def purge(self, older_than_seconds: float) -> int:
        """Erase the conversations untouched for that long, unless they have reminders to come
        (and the unrecognised descriptions older than UNRECOGNISED_DAYS); events stay: they
        name no one."""

    async def move_chat(self, old_chat: int, new_chat: int) -> int:
        """A group became a supergroup: its members' records follow the new chat id."""

    async def count(self) -> int: ...

    async def entry_post(self, chat_id: int) -> int | None:
        """The message id of the bot's entry post in that chat (/publier), if it made one."""

    async def set_entry_post(self, chat_id: int, message_id: int) -> None: ...

    async def rows_after(self, after: str = "", limit: int = 500) -> list[Row]:
        """Up to `limit` stored rows whose key sorts after `after` (byte order), in key order:
        page through a whole store with the last key of each page."""

    async def put_rows(self, rows: list[Row]) -> int:
        """Write rows as they are, in one transaction, unless the key is already stored at the
        same or a later revision; return how many were written (the rest were skipped)."""

    def close(self) -> None: ...


class SyncAccess(Protocol):
    """The same, from synchronous code (the terminal, the tools, the report): SQLite's core is
    synchronous (its async methods run it on its threads), PostgreSQL's is asynchronous (these
    run its coroutines on a private loop); each store bridges one way only."""

    def load_sync(self, key: ConversationKey) -> Record | None: ...

    def save_sync(self, key: ConversationKey, progress: Kept, rev: int,
                  seen: tuple[int, ...] = (), outbox: Outbox = (), events: tuple[Event, ...] = ()) -> Record: ...

    def events_sync(self, since_day: str = "", flow: str | None = None, after: int = 0,
                    limit: int = EVENTS_PAGE) -> list[EventRow]: ...

    def event_facts_sync(self, since_day: str = "", flow: str | None = None, after: int = 0,
                         limit: int = EVENTS_PAGE) -> list[EventRow]: ...

    def unrecognised_sync(self, since_day: str = "", flow: str | None = None) -> list[KeptText]: ...

    def delete_sync(self, key: ConversationKey) -> int: ...

    def delete_user_sync(self, user_id: int) -> int: ...

    def count_sync(self) -> int: ...


class ProgressStore(ConversationStore, ReminderQueue, EventLog, Administration, SyncAccess, Protocol):
    """A whole store, every role: SQLite (`sqlite.py`) for one process, PostgreSQL
    (`postgres.py`) for several processes on one database. A part of the bot is given the
    roles it uses."""


__all__ = ["Administration", "Conflict", "ConversationKey", "ConversationStore", "EVENTS_PAGE", "EventLog", "FACTS",
           "ProgressStore", "ReminderQueue", "SyncAccess", "Record", "Row", "StoreUnavailable",
           "event_pages", "event_rows", "kept_texts"]
