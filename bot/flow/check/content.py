"""`check` for the flow's reference sections: sources, facts, channels (with their hours)
and documents. Each entry is read once and referred to by id from the nodes."""
from __future__ import annotations

from datetime import date
from typing import cast, get_args

from ..hours import HoursError, parse_hours
from ..model import Channel, ChannelKind, Document, Fact, Grammar, Source, Status
from ..yamlsrc import Located
from .nodes import sections
from .reader import Reader

# A value outside these is reported as an error (the flow is then not used): hence the casts below.
CHANNEL_KINDS: tuple[ChannelKind, ...] = get_args(ChannelKind)
STATUSES: tuple[Status, ...] = get_args(Status)


def _status(r: Reader, data: Located, what: str) -> Status:
    status = r.scalar(data, "status", what) or "unchecked"
    if status not in STATUSES:
        r.err(data.line_of("status"), f"{what}: status must be one of {', '.join(STATUSES)}")
    return cast(Status, status)


def _source_ref(r: Reader, data: Located, what: str) -> str:
    source = r.scalar(data, "source", what) or ""
    if source:
        r.uses.sources.append((source, data.line_of("source"), what))
    return source


def sources(r: Reader, data: Located) -> dict[str, Source]:
    return {sid: Source(sid, r.scalar(entry, "title", what, "text") or {"fr": sid},
                        r.scalar(entry, "url", what, required=False),
                        r.scalar(entry, "verified", what, "date") or date.min, _grammar(r, entry, what, "title"))
            for sid, entry, what in r.entries(data, "sources", "source")}


def facts(r: Reader, data: Located) -> dict[str, Fact]:
    out = {}
    for fid, entry, what in r.entries(data, "facts", "fact"):
        text = r.scalar(entry, "text", what, "text") or {"fr": ""}
        r.uses.texts.append((text, entry.line_of("text"), what))
        out[fid] = Fact(fid, text, _source_ref(r, entry, what),
                        r.scalar(entry, "verified", what, "date") or date.min, _status(r, entry, what))
    return out


def channels(r: Reader, data: Located) -> dict[str, Channel]:
    out = {}
    for cid, entry, what in r.entries(data, "channels", "channel"):
        kind = r.scalar(entry, "kind", what) or "web"
        if kind not in CHANNEL_KINDS:
            r.err(entry.line_of("kind"), f"{what}: kind must be one of {', '.join(CHANNEL_KINDS)}")
        hours, unknown = None, entry.get("hours") == "unknown"
        if "hours" in entry and not unknown:
            try:
                hours = parse_hours(entry["hours"])
            except HoursError as exc:
                r.err(entry.line_of("hours"), f"{what}: {exc}")
        out[cid] = Channel(
            cid, cast(ChannelKind, kind), r.scalar(entry, "name", what, "text") or {"fr": cid},
            r.scalar(entry, "how", what, "text") or {"fr": ""}, _source_ref(r, entry, what),
            r.scalar(entry, "verified", what, "date") or date.min, _status(r, entry, what), hours,
            tuple(value for value, _ in r.items(entry, "details", what)),
            r.scalar(entry, "url", what, required=False), r.scalar(entry, "email", what, required=False),
            r.scalar(entry, "note", what, "text", required=False),
            r.scalar(entry, "short", what, "text", required=False), _grammar(r, entry, what), unknown)
    return out


GRAMMAR: tuple[Grammar, ...] = get_args(Grammar)


def _grammar(r: Reader, entry: Located, what: str, of: str = "short name") -> Grammar:
    value = r.scalar(entry, "grammar", what, required=False) or "m"
    if value not in GRAMMAR:
        example = ("« le chat » m, « la plateforme » f" if of == "short name"
                   else "« Document … » m, « FAQ … » f, « Pages … » fpl")
        r.err(entry.line_of("grammar"), f"{what}: grammar must be one of {', '.join(GRAMMAR)} "
                                        f"(the agreement of its {of}: {example}...)")
    return cast(Grammar, value)


def documents(r: Reader, data: Located) -> dict[str, Document]:
    out = {}
    for did, entry, what in r.entries(data, "documents", "document"):
        parts = sections(r, entry, "parts", what)
        if not parts:
            r.err(entry.line, f"{what}: needs parts (a list of  - text: ...)")
        out[did] = Document(did, r.scalar(entry, "title", what, "text") or {"fr": did},
                            r.scalar(entry, "filename", what) or f"{did}.txt", parts)
    return out
