"""Where one conversation stands: plain data, stored as JSON by the progress store.

`path` is the list of answers given, in order: `[node, choice]` or `[node, choice, text]`
when the answer was typed. The current node and the answers are derived from it, so going
back is exact: drop the last entry, return to its node.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import cached_property

SCHEMA = 1
MAX_TEXT = 500  # typed answers are kept (for the letter) but never longer than this


@dataclass(frozen=True)
class Progress:
    flow: str
    version: str
    node: str
    path: tuple[tuple, ...] = ()
    pending: tuple[str, ...] | None = None  # candidates a typed answer is being confirmed against
    draft: str | None = None                # the typed answer under confirmation
    lang: str = "fr"
    started: float = 0.0
    updated: float = 0.0
    last_update: int | None = None  # the front end's last handled update id (duplicates)
    rev: int = 0                    # bumped by the store on each save (compare-and-set)
    schema: int = SCHEMA

    @cached_property
    def answers(self) -> dict[str, str]:
        return {entry[0]: entry[1] for entry in self.path}

    @cached_property
    def texts(self) -> dict[str, str]:
        return {entry[0]: entry[2] for entry in self.path if len(entry) > 2}

    def with_(self, **changes) -> "Progress":
        """A copy with some fields changed (dataclasses.replace, without its per-call checks:
        this runs several times per update)."""
        if not changes.keys() <= _FIELD_SET:
            raise TypeError(f"unknown Progress fields: {sorted(changes.keys() - _FIELD_SET)}")
        new = object.__new__(Progress)
        data = {name: self.__dict__[name] for name in _FIELDS}  # not the cached answers
        data.update(changes)
        new.__dict__.update(data)
        return new

    def to_json(self) -> str:
        data = {name: getattr(self, name) for name in _FIELDS}  # not asdict(): no deep copy
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Progress":
        data = json.loads(text)
        if data.get("schema", 1) != SCHEMA:
            raise ValueError(f"unknown progress schema {data.get('schema')!r}")
        known = {f for f in cls.__dataclass_fields__}
        data = {k: v for k, v in data.items() if k in known}
        data["path"] = tuple(tuple(e) for e in data.get("path", ()))
        if data.get("pending") is not None:
            data["pending"] = tuple(data["pending"])
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(Progress))
_FIELD_SET = frozenset(_FIELDS)
