"""Reading located YAML values for `check`: one reader for scalars, one for lists, every
problem recorded as `file:line: message`, and the references to resolve at the end."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Iterator, Literal, TypedDict, overload

from ..model import ALWAYS, LANGS, Condition, Text
from ..yamlsrc import Located, LocatedList, Problem, YamlValue

ID = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
CHOICE_ID = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # choices may be the directory's sectors (« gym-club »)

FIELDS = {
    "flow": {"schema", "id", "title", "start", "max_taps", "timezone", "holidays", "welcome",
             "sources", "facts", "channels", "documents", "nodes", "classify", "timeline", "infer",
             "tap_limits", "followup", "directory"},
    "followup": {"date", "opens", "opens_sent", "late", "reminders", "closes", "author_note"},
    "reminder": {"id", "at", "before", "ask", "label", "when", "unless", "author_note"},
    "tap_limit": {"when", "unless", "max_taps", "author_note"},
    "date": {"type", "label", "text", "choices", "next", "author_note"},
    "choice": {"type", "label", "text", "choices", "author_note"},
    "text": {"type", "label", "text", "choices", "author_note"},
    "info": {"type", "label", "text", "next", "author_note"},
    "company": {"type", "label", "text", "next", "author_note"},
    "free": {"type", "label", "text", "next", "author_note"},
    "outcome": {"type", "label", "text", "sections", "channels", "facts", "document", "author_note"},
    "option": {"id", "label", "says", "next", "when", "unless", "keywords", "patterns", "examples", "author_note"},
    "route": {"next", "when", "unless"},
    "section": {"title", "text", "when", "unless", "detail", "said", "unsaid"},
    "ref": {"id", "when", "unless", "detail"},
    "source": {"title", "grammar", "url", "verified", "author_note"},
    "fact": {"text", "source", "verified", "status", "author_note"},
    "channel": {"kind", "name", "short", "grammar", "how", "details", "url", "email", "hours", "note",
                "source", "verified", "status", "author_note"},
    "delay": {"delay", "basis", "kind", "after", "from", "nearer_than", "step", "author_note"},
    "inference": {"set", "keywords", "author_note"},
    "document": {"title", "filename", "parts"},
}


def suggest(name: object, known: Iterable[object]) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


Use = tuple[str, int, str]  # (id, line, where)


@dataclass
class Uses:
    """References met while reading, checked once everything is read: (id, line, where)."""
    targets: list[Use] = field(default_factory=list)
    channels: list[Use] = field(default_factory=list)
    facts: list[Use] = field(default_factory=list)
    sources: list[Use] = field(default_factory=list)
    documents: list[Use] = field(default_factory=list)
    conditions: list[tuple[str, list[str], int, str]] = field(default_factory=list)  # (node id, [choice ids], line, where)
    texts: list[tuple[Text, int, str]] = field(default_factory=list)  # (Text, line, where): for placeholders
    date_starts: list[Use] = field(default_factory=list)  # (date question, line, where): timeline `from:`


class FollowupLines(TypedDict, total=False):
    """Where the `followup:` section and each of its reminders (by id) are."""
    entry: Located
    reminders: dict[str, int]


class Reader:
    fields = FIELDS  # the fields each kind of mapping may hold (the directory's reader has its own)
    owner = "flow"   # what a problem about a whole section is said of

    def __init__(self, filename: str):
        self.file = filename
        self.problems: list[Problem] = []
        self.uses = Uses()
        self.followup_lines: FollowupLines = {}

    def err(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message, warning=True))

    @property
    def failed(self) -> bool:
        return any(not p.warning for p in self.problems)

    # -- mappings ------------------------------------------------------------------------
    def mapping(self, value: YamlValue, line: int, what: str, kind: str | None = None) -> Located | None:
        """`value` if it is a mapping (its fields checked against FIELDS[kind]), else None."""
        if not isinstance(value, Located):
            self.err(line, f"{what} must be a mapping (key: value lines)")
            return None
        if kind:
            for key in value:
                if key not in self.fields[kind]:
                    self.err(value.line_of(key), f"{what}: unknown field {key!r}{suggest(key, self.fields[kind])}")
        return value

    def named(self, data: Located, key: str, required: bool = False) -> list[tuple[str, YamlValue, int]]:
        """The entries of a `key: {id: ..., id: ...}` section, as (id, value, line)."""
        value = data.get(key)
        if value is None:
            if required:
                self.err(data.line, f"{self.owner}: missing {key!r}")
            return []
        if not isinstance(value, Located):
            self.err(data.line_of(key), f"{self.owner}: {key} must be a mapping of id: ...")
            return []
        return [(name, raw, value.line_of(name)) for name, raw in value.items()
                if self.ident(name, value.line_of(name), key)]

    def entries(self, data: Located, section: str, kind: str) -> Iterator[tuple[str, Located, str]]:
        """The checked mappings of a named section (`sources:`, `facts:`...), as (id, entry, what)."""
        for name, raw, line in self.named(data, section):
            what = f"{kind} {name}"
            entry = self.mapping(raw, line, what, kind)
            if entry is not None:
                yield name, entry, what

    # -- scalars -------------------------------------------------------------------------
    @overload
    def scalar(self, data: Located, key: str, what: str, kind: Literal["word", "id"] = "word",
               required: bool = True) -> str | None: ...
    @overload
    def scalar(self, data: Located, key: str, what: str, kind: Literal["text"], required: bool = True) -> Text | None: ...
    @overload
    def scalar(self, data: Located, key: str, what: str, kind: Literal["date"], required: bool = True) -> date | None: ...

    def scalar(self, data: Located, key: str, what: str, kind: str = "word",
               required: bool = True) -> str | Text | date | None:
        """One value: kind 'word' (text on one line), 'text' (text, or a mapping fr:/en:),
        'id' (a lower-case identifier) or 'date' (2026-11-27). None, with a problem, if wrong."""
        value, line = data.get(key), data.line_of(key)
        if value is None:
            if required:
                hint = {"text": " (the French text)", "date": " (the date it was last checked, like 2026-11-27)"}
                self.err(data.line, f"{what}: missing {key!r}{hint.get(kind, '')}")
            return None
        if kind == "date":
            return self._date(value, line, key, what)
        if kind == "id":
            return self.ident(value, line, what)
        if isinstance(value, bool):
            example = f", e.g. {key}: \"{'oui' if value else 'non'}\"" if kind == "word" else ""
            self.err(line, f"{what}: {key} was read as the YAML boolean {str(value).lower()}; "
                           f"put the {'word' if kind == 'word' else 'text'} in quotes{example}")
            return None
        if isinstance(value, (str, int, float)):
            return str(value) if kind == "word" else {"fr": str(value).strip()}
        if kind == "text" and isinstance(value, Located):
            return self._languages(value, key, what)
        self.err(line, f"{what}: {key} must be " + ("a single word or sentence" if kind == "word"
                                                    else "text, or a mapping with fr: and en:"))
        return None

    def ident(self, value: YamlValue, line: int, what: str) -> str | None:
        if isinstance(value, bool):
            self.err(line, f"{what}: id was read as the YAML boolean {str(value).lower()}; "
                           "put it in quotes, e.g. id: \"no\"")
            return None
        if not isinstance(value, str) or not CHOICE_ID.match(value):
            self.err(line, f"{what}: id {value!r} must be lower-case letters, digits, _ and - "
                           "(starting with a letter, 32 characters at most)")
            return None
        return value

    def _languages(self, value: Located, key: str, what: str) -> Text | None:
        out: Text = {}
        for lang, text in value.items():
            if lang not in LANGS:
                self.err(value.line_of(lang), f"{what}: unknown language {lang!r} (use {' or '.join(LANGS)})")
            elif isinstance(text, bool) or not isinstance(text, (str, int, float)):
                self.err(value.line_of(lang), f"{what}: {key}.{lang} must be text in quotes")
            else:
                out[lang] = str(text).strip()
        if not out.get("fr"):
            self.err(value.line, f"{what}: missing French text ({key}.fr)")
            return None
        return out

    def _date(self, value: YamlValue, line: int, key: str, what: str) -> date | None:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.err(line, f"{what}: {key} must be a date like 2026-11-27, not {value!r}")
            return None

    # -- lists ---------------------------------------------------------------------------
    @overload
    def items(self, data: Located, key: str, what: str, kind: None = None) -> list[tuple[str, int]]: ...
    @overload
    def items(self, data: Located, key: str, what: str, kind: str) -> list[tuple[Located, int]]: ...

    def items(self, data: Located, key: str, what: str,
              kind: str | None = None) -> list[tuple[str, int]] | list[tuple[Located, int]]:
        """The entries of a list, as (value, line). With `kind`, entries must be mappings
        with those fields (FIELDS[kind]); without, text or numbers (YAML booleans refused)."""
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, LocatedList):
            self.err(data.line_of(key), f"{what}: {key} must be a list")
            return []
        out: list[tuple[Any, int]] = []  # text, or with `kind` mappings (the overloads say which)
        for i, item in enumerate(value):
            line = value.line_of(i)
            if kind is not None:
                entry = self.mapping(item, line, what, kind)
                if entry is not None:
                    out.append((entry, line))
            elif isinstance(item, bool) or not isinstance(item, (str, int)):
                self.err(line, f"{what}: {key} entries must be text in quotes")
            else:
                out.append((str(item), line))
        return out

    # -- conditions ----------------------------------------------------------------------
    def condition(self, data: Located, what: str) -> Condition:
        """`when` (every listed answer must hold) and `unless` (none may)."""
        parts = {}
        for key in ("when", "unless"):
            value = data.get(key)
            items = []
            cond = self.mapping(value, data.line_of(key), f"{what}: {key}") if value is not None else None
            for node_id, ids in (cond or {}).items():
                assert cond is not None  # the loop runs over its items
                line = cond.line_of(node_id)
                idents = [self.ident(v, line, f"{what}: {key}.{node_id}")
                          for v in (ids if isinstance(ids, list) else [ids])]
                checked = [c for c in idents if c]
                items.append((str(node_id), frozenset(checked)))
                self.uses.conditions.append((str(node_id), checked, line, what))
            parts[key] = tuple(items)
        return Condition(parts["when"], parts["unless"]) if (parts["when"] or parts["unless"]) else ALWAYS
