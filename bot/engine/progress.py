"""Where one conversation stands in its flow: plain data, stored as JSON by the store.

`path` is the list of answers given, in order. The current node and the answers by node are
derived from it, so going back is exact: drop the last answer, return to its node. Transport
details (the store's revision, the update ids a front end has handled) are not here: they
belong to the store's `Record`.
"""
from __future__ import annotations

import secrets
import zlib
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Literal, NamedTuple

from .. import jsonio

SCHEMA = 4
MAX_TEXT = 500  # typed answers are kept (for the letter) but never longer than this


# An answer read from typed words (`Progress.inferred`): (node, choice, number of answers given when it was
# typed), with a mark last when it was the company or sector the words named; older records: (node, choice)
Inferred = tuple[str, str] | tuple[str, str, int] | tuple[str, str, int, str]


class Answer(NamedTuple):
    node: str
    choice: str
    text: str | None = None  # what the person typed, when they answered in words


@dataclass(frozen=True)
class Progress:
    flow: str
    version: str
    node: str
    path: tuple[Answer, ...] = ()
    pending: tuple[str, ...] | None = None  # candidates a typed answer is being confirmed against
    draft: str | None = None                # the typed answer under confirmation
    lang: str = "fr"
    started: float = 0.0
    updated: float = 0.0
    token: str = ""  # random, drawn when the conversation starts: links its events (bot/ops/events.py), nothing else
    # answers read from what was typed (the flow's `infer:`): (node, choice, number of answers
    # given when it was typed); going back before that step forgets them
    inferred: tuple[Inferred, ...] = ()
    case: "Case | None" = None   # the complaint followed over time (followup.py), once opened
    asking: str | None = None    # a follow-up question outside the flow: "case_date" or "case_number"
    # the other language offered to someone who wrote it, once: "en:<answers given>:<node>", the
    # point where it was offered (its button shows there only); "" while never offered
    lang_offer: str = ""

    @cached_property
    def answers(self) -> dict[str, str]:
        """The choice id given at each node passed, and those read from typed text."""
        return {**{answer.node: answer.choice for answer in self.path},
                **{entry[0]: entry[1] for entry in self.inferred}}

    @cached_property
    def texts(self) -> dict[str, str]:
        """What was typed at each node answered in words."""
        return {answer.node: answer.text for answer in self.path if answer.text}

    def with_(self, **changes: object) -> "Progress":
        """A copy with some fields changed (dataclasses.replace without its per-call field
        checks, which cost more than the copy; unknown names still raise)."""
        if not changes.keys() <= _FIELD_SET:
            raise TypeError(f"unknown Progress fields: {sorted(changes.keys() - _FIELD_SET)}")
        new = object.__new__(Progress)
        data = {name: self.__dict__[name] for name in _FIELDS}  # not the cached properties
        data.update(changes)
        new.__dict__.update(data)
        return new

    def to_json(self) -> str:
        data = {name: getattr(self, name) for name in _FIELDS}
        data["path"] = [list(answer) if answer.text else [answer.node, answer.choice] for answer in self.path]
        data["schema"] = SCHEMA
        if self.case is not None:
            data["case"] = self.case.to_data()
        return jsonio.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> "Progress":
        """Read a stored record, upgrading older schemas; ValueError if it cannot be read."""
        data = jsonio.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a progress record must be a JSON object")
        schema = data.pop("schema", 1)
        if schema not in range(1, SCHEMA + 1):
            raise ValueError(f"unknown progress schema {schema!r}")
        for upgrade in MIGRATIONS[schema - 1:]:
            data = upgrade(data)
        data = {k: v for k, v in data.items() if k in _FIELD_SET}
        data["path"] = tuple(Answer(*entry) for entry in data.get("path", ()))
        if data.get("pending") is not None:
            data["pending"] = tuple(data["pending"])
        data["inferred"] = tuple(tuple(pair) for pair in data.get("inferred", ()))
        if data.get("case") is not None:
            data["case"] = Case.from_data(data["case"])
        return cls(**data)


def _schema_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 kept the store's revision and the last update id in the record: both moved
    to the store's columns (see store/sqlite.py, migration 2)."""
    data.pop("rev", None)
    data.pop("last_update", None)
    return data


def _schema_2_to_3(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 3 adds the conversation's random token (the events' link, see bot/ops/events.py):
    an older record gets a fresh one, kept from its next save on."""
    data.setdefault("token", new_token())
    return data


def new_token() -> str:
    """A conversation's random token: it names no one, and nothing but the progress record
    links it to a person (once that record is erased, its events are anonymous)."""
    return secrets.token_hex(8)


def _schema_3_to_4(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 4 adds the followed case and the follow-up question being asked: none yet."""
    return data


CaseState = Literal["open", "closed", "stopped", "declined"]  # declined: the offer to follow it refused


class LogEntry(NamedTuple):
    """One line of a case's log: the ISO day, what happened (sent, reminder, answer, dropped,
    closed, stopped, blocked), and what it was about (a reminder's id, the node answered and
    the choice), empty when nothing."""
    day: str
    what: str
    subject: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Case:
    """A complaint followed over time: which outcome opened it, the problem (the answer at the
    flow's start), the day the letter was sent and its registered-letter number, where it
    stands (open, closed, stopped), the reminders already sent or cancelled, a dated log for
    the mediator's summary, and the answers that led to it (a reminder resumes from them).
    No name, no address: the number and the dates only; /oublier erases it with the rest."""
    id: str
    outcome: str
    reason: str
    sent: str                       # ISO date
    opened: float                   # epoch seconds: the reminders' time of day
    number: str | None = None
    state: CaseState = "open"
    done: tuple[str, ...] = ()      # reminder ids sent or cancelled
    log: tuple[LogEntry, ...] = ()  # oldest first
    answers: tuple[Answer, ...] = ()
    inferred: tuple[Inferred, ...] = ()  # the answers read from what was typed (Progress.inferred)

    @property
    def open(self) -> bool:
        return self.state == "open"

    @property
    def choices(self) -> dict[str, str]:
        """The answers that led to the case by node, the inferred ones included."""
        return {**{a.node: a.choice for a in self.answers}, **{e[0]: e[1] for e in self.inferred}}

    def to_data(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in _CASE_FIELDS}
        data["answers"] = [list(a) if a.text else [a.node, a.choice] for a in self.answers]
        data["log"] = [list(entry) for entry in self.log]
        data["inferred"] = [list(entry) for entry in self.inferred]
        return data

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Case":
        data = {k: v for k, v in data.items() if k in _CASE_FIELDS}
        data["answers"] = tuple(Answer(*a) for a in data.get("answers", ()))
        data["log"] = tuple(LogEntry(*entry) for entry in data.get("log", ()))
        data["done"] = tuple(data.get("done", ()))
        data["inferred"] = tuple(tuple(entry) for entry in data.get("inferred", ()))
        return cls(**data)


_CASE_FIELDS = tuple(f.name for f in fields(Case))
MIGRATIONS = [_schema_1_to_2, _schema_2_to_3, _schema_3_to_4]  # MIGRATIONS[n - 1] upgrades schema n to n + 1
_FIELDS = tuple(f.name for f in fields(Progress))
_FIELD_SET = frozenset(_FIELDS)


def question_token(progress: Progress) -> str:
    """Identifies the question on screen: a press carrying another token is stale."""
    key = f"{progress.flow}:{progress.node}:{len(progress.path)}:{progress.pending}"
    return format(zlib.crc32(key.encode()) & 0xFFFFFF, "x")
