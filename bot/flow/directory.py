"""The directory of companies, sectors and mediators (`flows/directory/*.yaml`), as data.

`load_directory(folder)` reads every YAML file of the folder, checks it and returns a
`Directory`, or None with the problems (`file:line: message`, as `check` prints them). What
is checked: every fact has a known source, a status (checked, secondary, unverified) and the
day it was checked; references to sectors, mediators and companies exist; aliases are unique
across companies; steps have a delay like « 1 month »; no unknown field.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Mapping, cast

from .check.reader import Reader, suggest
from .model import Choice, Recogniser, Text
from .recognise import normalise
from .yamlsrc import Located, LocatedList, Problem, YamlValue, load_located

STATUSES = ("checked", "secondary", "unverified")
DELAY = re.compile(r"^(\d{1,3}) (day|days|week|weeks|month|months|year|years)$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")  # « basic-fit », « sp_f14373 »
FIELDS = {
    "file": {"schema", "sources", "mediators", "sectors", "companies", "problems", "from_flow"},
    "problem": {"label", "keywords", "patterns", "examples", "counts_as", "author_note"},
    "source": {"title", "url", "verified", "author_note"},
    "mediator": {"name", "url", "how", "address", "members", "source", "status", "verified", "author_note"},
    "sector": {"name", "keywords", "mediator", "steps", "no_mediation", "facts", "source", "status", "verified",
               "author_note"},
    "step": {"to", "wait", "direct_after", "address"},
    "company": {"name", "short", "aliases", "sector", "country", "market", "mediator", "address", "phone",
                "activities", "steps", "facts", "flow", "author_note"},
    "alias": {"alias", "short", "capital"},
    "fact": {"id", "lines", "number", "for", "text", "said", "source", "status", "verified", "author_note"},
}


@dataclass(frozen=True)
class Sourced:
    """A claim about a company (its mediator, an address, a phone number) with where it comes
    from: stated when `checked`, with « (non vérifié) » when `secondary`, never when `unverified`."""
    value: object
    source: str
    status: str
    verified: date
    scope: str | None = None  # « le mobile »: what the address is for
    said: tuple[str, ...] = ()  # sector facts: shown when the person's words hold one of these

    @property
    def stated(self) -> bool:
        return self.status != "unverified"


@dataclass(frozen=True)
class Step:
    to: Text                      # whom one writes, with its preposition: « au service clients »
    wait: str | None              # how long the company has at this step: « 1 month » (None: no delay sourced)
    direct_after: str | None = None  # no answer at all in this long: the next step may be skipped
    address: Text | None = None


@dataclass(frozen=True)
class Mediator:
    id: str
    name: str
    url: str | None
    how: Text
    address: tuple[str, ...]
    members: str | None           # members only: who (« les membres de la FEVAD inscrits au dispositif »)
    fact: Sourced


@dataclass(frozen=True)
class Sector:
    id: str
    name: Text
    keywords: tuple[str, ...]
    mediator: str | None
    steps: tuple[Step, ...]
    fact: Sourced
    no_mediation: bool = False
    facts: tuple[Sourced, ...] = ()  # rules that decide an answer there: a Sourced whose value is a Text


@dataclass(frozen=True)
class Company:
    id: str
    name: str
    aliases: tuple[tuple[str, bool], ...]  # (normalised alias, short: whole word only, never fuzzy)
    sector: str
    country: str = "FR"
    mediator: Sourced | None = None
    address: Sourced | None = None
    phone: Sourced | None = None
    activities: dict[str, str] = field(default_factory=dict)  # activity -> a sector or a company id
    flow: str | None = None       # a richer flow of its own (Cstream)
    market: str = "FR"            # where its customers are: outside France, the French route does not apply
    short: str | None = None      # its name in a sentence, with its article: « la SNCF », « le Crédit Agricole »
    steps: tuple[Step, ...] = ()  # its own steps when they differ from its sector's (ENGIE's two levels)
    capitals: frozenset[str] = frozenset()  # aliases that are common words too (« orange »): see Router.company
    facts: tuple[Sourced, ...] = ()  # rules of its own, shown when the words call for them (`said`: a fine)


@dataclass
class Directory:
    companies: dict[str, Company] = field(default_factory=dict)
    sectors: dict[str, Sector] = field(default_factory=dict)
    mediators: dict[str, Mediator] = field(default_factory=dict)
    sources: dict[str, dict[str, YamlValue]] = field(default_factory=dict)  # as the file gives them
    problems: tuple[Choice, ...] = ()   # the kinds of problem, for any company (problems.yaml)
    from_flow: str | None = None        # the flow whose text question lends its examples to the same ids
    counts_as: dict[str, str] = field(default_factory=dict)  # a finer kind -> the kind `classify --route` prints

    def mediator_of(self, company: Company) -> Mediator | None:
        """The mediator a source names for this company, else its sector's (None: the general route)."""
        if company.mediator is not None and company.mediator.stated:
            return self.mediators.get(cast(str, company.mediator.value))  # a mediator's id
        sector = self.sectors.get(company.sector)
        return self.mediators.get(sector.mediator) if sector and sector.mediator else None


def load_directory(folder: str | Path) -> tuple[Directory | None, list[Problem]]:
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        return None, [Problem(str(folder), 0, "no directory file (*.yaml) found")]
    reader, problems = _Reader(), []
    for path in files:
        try:
            data, found = load_located(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(str(path), 0, f"cannot read the file: {exc}"))
            continue
        problems += found
        r = _FileReader(str(path))
        if isinstance(data, Located):
            reader.file(r, data)
        elif data is not None:
            r.err(1, "a directory file is a mapping (schema:, sources:, companies: ...)")
        problems += r.problems
    problems += reader.resolve()
    failed = any(not p.warning for p in problems)
    return (None if failed else reader.directory), sorted(problems, key=lambda p: (p.file, p.line))


class _FileReader(Reader):
    """The flows' checked reader (line numbers, types, « did you mean »), with the directory's
    fields, and its ids: slugs with hyphens (« basic-fit »)."""
    fields, owner = FIELDS, "directory file"

    def ident(self, value: YamlValue, line: int, what: str) -> str | None:
        if isinstance(value, str) and SLUG.match(value):
            return value
        self.err(line, f"{what}: id {value!r} must be lower-case letters, digits, hyphens and _")
        return None


class _Reader:
    """What every file of the folder adds to one directory; references checked at the end."""

    def __init__(self) -> None:
        self.directory = Directory()
        self.refs: list[tuple[_FileReader, int, str, str, str]] = []  # (reader, line, kind, id, what)
        self.alias_owner: dict[str, str] = {}
        self.unlabelled: dict[str, tuple[_FileReader, int]] = {}  # kinds no file gives a label yet

    def file(self, r: _FileReader, data: Located) -> None:
        r.mapping(data, 1, "directory file", "file")
        if data.get("schema") != 1:
            r.err(data.line_of("schema"), "schema must be 1")
        for sid, entry, what in r.entries(data, "sources", "source"):
            title = r.scalar(entry, "title", what, "text")
            r.scalar(entry, "verified", what, "date")
            known = self.directory.sources.get(sid)
            if known is not None and known.get("title") != entry.get("title"):
                r.err(entry.line, f"{what}: another file gives it another title")
            if title:
                self.directory.sources[sid] = dict(entry)
        for mid, entry, what in r.entries(data, "mediators", "mediator"):
            self.directory.mediators[mid] = Mediator(
                mid, r.scalar(entry, "name", what) or "", r.scalar(entry, "url", what, required=False),
                r.scalar(entry, "how", what, "text") or {"fr": ""},
                tuple(line for line, _ in r.items(entry, "address", what)),
                r.scalar(entry, "members", what, required=False), self.sourced(r, entry, what, mid))
        for sid, entry, what in r.entries(data, "sectors", "sector"):
            self.sector(r, sid, entry, what)
        for cid, entry, what in r.entries(data, "companies", "company"):
            self.company(r, cid, entry, what)
        from_flow = r.scalar(data, "from_flow", "directory file", required=False)
        if from_flow:
            self.directory.from_flow = from_flow
        for pid, entry, what in r.entries(data, "problems", "problem"):
            self.problem(r, pid, entry, what)

    def problem(self, r: _FileReader, pid: str, entry: Located, what: str) -> None:
        patterns = tuple(pattern for pattern, _ in r.items(entry, "patterns", what))
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                r.err(entry.line_of("patterns"), f"{what}: pattern {pattern!r}: {exc}")
        recogniser = Recogniser(tuple(k for k, _ in r.items(entry, "keywords", what)), patterns,
                                tuple(e for e, _ in r.items(entry, "examples", what)))
        if recogniser.empty:
            r.err(entry.line, f"{what}: needs keywords or examples")
        label = r.scalar(entry, "label", what, "text", required=False)
        if label:
            self.unlabelled.pop(pid, None)
        known = next((c for c in self.directory.problems if c.id == pid), None)
        if known is None and not label:
            self.unlabelled[pid] = (r, entry.line)
        if known is not None:  # a kind another file names too (examples.yaml): its words are added
            mine = known.recogniser
            merged = Choice(pid, label or known.label, (), recogniser=Recogniser(
                mine.keywords + recogniser.keywords, mine.patterns + recogniser.patterns, mine.examples + recogniser.examples))
            self.directory.problems = tuple(merged if c is known else c for c in self.directory.problems)
        else:
            self.directory.problems += (Choice(pid, label or {"fr": pid}, (), recogniser=recogniser),)
        counts_as = r.scalar(entry, "counts_as", what, required=False)
        if counts_as:
            self.directory.counts_as[pid] = counts_as
            self.refs.append((r, entry.line_of("counts_as"), "problem", counts_as, f"{what}: counts_as"))

    def sourced(self, r: _FileReader, entry: Located, what: str, value: object) -> Sourced:
        status = r.scalar(entry, "status", what)
        if status is not None and status not in STATUSES:
            r.err(entry.line_of("status"), f"{what}: status must be one of {', '.join(STATUSES)}")
        verified = r.scalar(entry, "verified", what, "date")
        source = r.scalar(entry, "source", what)
        if source:
            self.refs.append((r, entry.line_of("source"), "source", source, what))
        return Sourced(value, source or "", status if status in STATUSES else "unverified", verified or date.min,
                       r.scalar(entry, "for", what, required=False),
                       tuple(k for k, _ in r.items(entry, "said", what)))

    def delay(self, r: _FileReader, entry: Located, key: str, what: str) -> str | None:
        value = r.scalar(entry, key, what, required=False)
        if value is not None and not DELAY.match(value):
            r.err(entry.line_of(key), f"{what}: a delay is like \"1 month\" or \"2 months\", not {value!r}")
        return value

    def sector(self, r: _FileReader, sid: str, entry: Located, what: str) -> None:
        keywords = tuple(k for k, _ in r.items(entry, "keywords", what))
        if not keywords:
            r.err(entry.line, f"{what}: needs keywords (how people name it)")
        steps = self.steps(r, entry, what)
        if not steps:
            r.err(entry.line, f"{what}: needs steps (the written complaint first)")
        mediator = r.scalar(entry, "mediator", what, required=False)
        if mediator:
            self.refs.append((r, entry.line_of("mediator"), "mediator", mediator, what))
        self.directory.sectors[sid] = Sector(
            sid, r.scalar(entry, "name", what, "text") or {"fr": sid}, keywords, mediator, steps,
            self.sourced(r, entry, what, sid), entry.get("no_mediation") is True, self.facts(r, entry, what))

    def facts(self, r: _FileReader, entry: Located, what: str) -> tuple[Sourced, ...]:
        """A sector's or a company's facts: text, maybe `said` keywords, source, status, date."""
        return tuple(self.sourced(r, fact, f"{what}: fact {i + 1}",
                                  r.scalar(fact, "text", f"{what}: fact {i + 1}", "text") or {"fr": ""})
                     for i, (fact, _) in enumerate(r.items(entry, "facts", what, "fact")))

    def steps(self, r: _FileReader, entry: Located, what: str) -> tuple[Step, ...]:
        return tuple(Step(r.scalar(step, "to", f"{what}: step {i + 1}", "text") or {"fr": ""},
                          self.delay(r, step, "wait", what), self.delay(r, step, "direct_after", what),
                          r.scalar(step, "address", f"{what}: step {i + 1}", "text", required=False))
                     for i, (step, _) in enumerate(r.items(entry, "steps", what, "step")))

    def company(self, r: _FileReader, cid: str, entry: Located, what: str) -> None:
        aliases, capitals = [], set()
        raw_aliases = entry.get("aliases")
        if not isinstance(raw_aliases, LocatedList):
            r.err(entry.line_of("aliases"), f"{what}: aliases must be a list (the names people type)")
            raw_aliases = LocatedList()
        for i, item in enumerate(raw_aliases):
            line = raw_aliases.line_of(i)
            if isinstance(item, Located):
                r.mapping(item, line, f"{what}: alias", "alias")
                raw, short, capital = item.get("alias"), item.get("short") is True, item.get("capital") is True
            else:
                raw, short, capital = item, False, False
            if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not normalise(str(raw)):
                r.err(line, f"{what}: an alias is a name in quotes, not {raw!r}")
                continue
            alias = normalise(str(raw))
            owner = self.alias_owner.setdefault(alias, cid)
            if owner != cid:
                r.err(line, f"{what}: alias {alias!r} is also {owner}'s")
            aliases.append((alias, short))
            if capital:
                capitals.add(alias)
        if raw_aliases == [] and isinstance(entry.get("aliases"), LocatedList):
            r.err(entry.line, f"{what}: needs aliases (the names people type)")
        country, market = (r.scalar(entry, key, what, required=False) or "FR" for key in ("country", "market"))
        for key, code in (("country", country), ("market", market)):
            if not COUNTRY.match(code):
                r.err(entry.line_of(key), f"{what}: {key} is a two-letter code (BE, CH, CA...)")
        sector = r.scalar(entry, "sector", what) or ""
        self.refs.append((r, entry.line_of("sector"), "sector", sector, what))
        facts = {}
        said: tuple[str, ...] | str | None  # address lines, or the mediator's id or phone number
        for key, shown in (("mediator", "id"), ("address", "lines"), ("phone", "number")):
            if key not in entry:
                continue
            value = r.mapping(entry[key], entry.line_of(key), f"{what}: {key}", "fact")
            if value is None:
                continue
            if key == "address":
                said = tuple(line for line, _ in r.items(value, "lines", f"{what}: address")) or None
            else:
                said = r.scalar(value, shown, f"{what}: {key}")
            if not said:
                r.err(value.line, f"{what}: {key} needs its {shown}")
            if key == "mediator" and isinstance(said, str) and said:
                self.refs.append((r, value.line_of("id"), "mediator", said, what))
            facts[key] = self.sourced(r, value, f"{what}: {key}", said)
        activities = r.mapping(entry["activities"], entry.line_of("activities"), f"{what}: activities") \
            if "activities" in entry else None
        for activity, target in (activities or {}).items():
            assert activities is not None  # the loop runs over its items
            self.refs.append((r, activities.line_of(activity), "activity", str(target), f"{what}: {activity}"))
        self.directory.companies[cid] = Company(
            cid, r.scalar(entry, "name", what) or cid, tuple(aliases), sector, country, facts.get("mediator"),
            facts.get("address"), facts.get("phone"), dict(activities or {}),
            r.scalar(entry, "flow", what, required=False), market, r.scalar(entry, "short", what, required=False),
            self.steps(r, entry, what), frozenset(capitals), self.facts(r, entry, what))

    def resolve(self) -> list[Problem]:
        """The references to sources, mediators, sectors and companies that no file defines."""
        d = self.directory
        known: dict[str, Mapping[str, object]] = {"source": d.sources, "mediator": d.mediators, "sector": d.sectors,
                                                  "activity": {**d.sectors, **d.companies},
                                                  "problem": {c.id: c for c in d.problems if c.id not in d.counts_as}}
        return [Problem(r.file, line, f"{what}: no {'sector or company' if kind == 'activity' else kind} "
                                      f"{ref!r}{suggest(ref, known[kind])}")
                for r, line, kind, ref, what in self.refs if ref not in known[kind]] + \
            [Problem(r.file, line, f"problem {pid}: no label in any file (a new kind of problem needs one)"
                                   f"{suggest(pid, [k for k in known['problem'] if k != pid])}")
             for pid, (r, line) in self.unlabelled.items()]
