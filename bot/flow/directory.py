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

from .check.reader import suggest
from .model import Choice, Recogniser, Text
from .recognise import normalise
from .yamlsrc import Located, Problem, load_located

STATUSES = ("checked", "secondary", "unverified")
DELAY = re.compile(r"^(\d{1,3}) (day|days|week|weeks|month|months|year|years)$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
FIELDS = {
    "file": {"schema", "sources", "mediators", "sectors", "companies", "problems", "from_flow"},
    "problem": {"label", "keywords", "patterns", "examples", "author_note"},
    "source": {"title", "url", "verified", "author_note"},
    "mediator": {"name", "url", "how", "address", "members", "source", "status", "verified", "author_note"},
    "sector": {"name", "keywords", "mediator", "steps", "mediator_within", "no_mediation", "facts", "source",
               "status", "verified", "author_note"},
    "sector_fact": {"text", "said", "source", "status", "verified", "author_note"},
    "step": {"to", "wait", "direct_after", "address"},
    "company": {"name", "short", "aliases", "sector", "country", "market", "mediator", "address", "phone",
                "activities", "steps", "facts", "flow", "author_note"},
    "alias": {"alias", "short", "capital"},
    "fact": {"id", "lines", "number", "for", "source", "status", "verified"},
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
    mediator_within: str | None = None
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
    activities: dict = field(default_factory=dict)  # activity -> a sector or a company id
    flow: str | None = None       # a richer flow of its own (Cstream)
    market: str = "FR"            # where its customers are: outside France, the French route does not apply
    short: str | None = None      # its name in a sentence, with its article: « la SNCF », « le Crédit Agricole »
    steps: tuple = ()             # its own steps when they differ from its sector's (ENGIE's two levels)
    capitals: frozenset = frozenset()  # aliases that are common words too (« orange »): see Router.company
    facts: tuple = ()             # rules of its own, shown when the words call for them (`said`: a fine)


@dataclass
class Directory:
    companies: dict[str, Company] = field(default_factory=dict)
    sectors: dict[str, Sector] = field(default_factory=dict)
    mediators: dict[str, Mediator] = field(default_factory=dict)
    sources: dict[str, dict] = field(default_factory=dict)
    problems: tuple[Choice, ...] = ()   # the kinds of problem, for any company (problems.yaml)
    from_flow: str | None = None        # the flow whose text question lends its examples to the same ids

    def mediator_of(self, company: Company) -> Mediator | None:
        """The mediator a source names for this company, else its sector's (None: the general route)."""
        if company.mediator is not None and company.mediator.stated:
            return self.mediators.get(company.mediator.value)
        sector = self.sectors.get(company.sector)
        return self.mediators.get(sector.mediator) if sector and sector.mediator else None


def load_directory(folder: str | Path) -> tuple[Directory | None, list[Problem]]:
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        return None, [Problem(str(folder), 0, "no directory file (*.yaml) found")]
    reader = _Reader()
    for path in files:
        try:
            data, found = load_located(path.read_text(encoding="utf-8"), str(path))
        except (OSError, UnicodeDecodeError) as exc:
            reader.problems.append(Problem(str(path), 0, f"cannot read the file: {exc}"))
            continue
        reader.problems += found
        if isinstance(data, Located):
            reader.file(str(path), data)
    reader.resolve()
    failed = any(not p.warning for p in reader.problems)
    return (None if failed else reader.directory), sorted(reader.problems, key=lambda p: (p.file, p.line))


class _Reader:
    def __init__(self):
        self.directory, self.problems = Directory(), []
        self.refs: list[tuple[str, int, str, str, str]] = []  # (file, line, kind, id, what)
        self.alias_owner: dict[str, str] = {}

    def err(self, file: str, line: int, message: str) -> None:
        self.problems.append(Problem(file, line, message))

    def fields(self, file: str, data: Located, kind: str, what: str) -> bool:
        if not isinstance(data, Located):
            self.err(file, getattr(data, "line", 0), f"{what} must be a mapping (key: value lines)")
            return False
        for key in data:
            if key not in FIELDS[kind]:
                self.err(file, data.line_of(key), f"{what}: unknown field {key!r}{suggest(key, FIELDS[kind])}")
        return True

    def file(self, file: str, data: Located) -> None:
        self.fields(file, data, "file", "directory file")
        if data.get("schema") != 1:
            self.err(file, data.line_of("schema"), "schema must be 1")
        for sid, entry in (data.get("sources") or {}).items():
            if self.fields(file, entry, "source", f"source {sid}"):
                if not entry.get("title") or not isinstance(entry.get("verified"), date):
                    self.err(file, entry.line, f"source {sid}: needs a title and verified: YYYY-MM-DD")
                known = self.directory.sources.get(sid)
                if known is not None and known.get("title") != entry.get("title"):
                    self.err(file, entry.line, f"source {sid}: another file gives it another title")
                self.directory.sources[sid] = dict(entry)
        for mid, entry in (data.get("mediators") or {}).items():
            if self.fields(file, entry, "mediator", f"mediator {mid}"):
                self.directory.mediators[mid] = Mediator(
                    mid, str(entry.get("name") or self._missing(file, entry, f"mediator {mid}", "name")),
                    entry.get("url"), _text(entry.get("how")), tuple(entry.get("address") or ()),
                    entry.get("members"), self.sourced(file, entry, f"mediator {mid}", mid))
        for sid, entry in (data.get("sectors") or {}).items():
            if self.fields(file, entry, "sector", f"sector {sid}"):
                self.sector(file, sid, entry)
        for cid, entry in (data.get("companies") or {}).items():
            if self.fields(file, entry, "company", f"company {cid}"):
                self.company(file, cid, entry)
        if data.get("from_flow"):
            self.directory.from_flow = str(data["from_flow"])
        for pid, entry in (data.get("problems") or {}).items():
            if self.fields(file, entry, "problem", f"problem {pid}"):
                self.problem(file, pid, entry)

    def problem(self, file: str, pid: str, entry: Located) -> None:
        patterns = tuple(str(x) for x in entry.get("patterns") or ())
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.err(file, entry.line_of("patterns"), f"problem {pid}: pattern {pattern!r}: {exc}")
        recogniser = Recogniser(tuple(str(x) for x in entry.get("keywords") or ()), patterns,
                                tuple(str(x) for x in entry.get("examples") or ()))
        if recogniser.empty:
            self.err(file, entry.line, f"problem {pid}: needs keywords or examples")
        self.directory.problems += (Choice(pid, _text(entry.get("label") or pid), (), recogniser=recogniser),)

    def _missing(self, file: str, entry: Located, what: str, key: str) -> str:
        self.err(file, entry.line, f"{what}: missing {key!r}")
        return ""

    def sourced(self, file: str, entry: Located, what: str, value) -> Sourced:
        status, verified, source = entry.get("status"), entry.get("verified"), entry.get("source")
        if status not in STATUSES:
            self.err(file, entry.line_of("status"), f"{what}: status must be one of {', '.join(STATUSES)}")
        if not isinstance(verified, date):
            self.err(file, entry.line_of("verified"), f"{what}: verified must be the day it was checked (YYYY-MM-DD)")
        if not source:
            self.err(file, entry.line, f"{what}: missing 'source'")
        else:
            self.refs.append((file, entry.line_of("source"), "source", str(source), what))
        return Sourced(value, str(source or ""), str(status or "unverified"),
                       verified if isinstance(verified, date) else date.min, entry.get("for"))

    def delay(self, file: str, line: int, value, what: str) -> str | None:
        if value is None:
            return None
        if not DELAY.match(str(value)):
            self.err(file, line, f"{what}: a delay is like \"1 month\" or \"2 months\", not {value!r}")
        return str(value)

    def sector(self, file: str, sid: str, entry: Located) -> None:
        what = f"sector {sid}"
        keywords = tuple(str(k) for k in entry.get("keywords") or ())
        if not keywords:
            self.err(file, entry.line, f"{what}: needs keywords (how people name it)")
        steps = self.steps(file, entry, what)
        if not steps:
            self.err(file, entry.line, f"{what}: needs steps (the written complaint first)")
        if entry.get("mediator"):
            self.refs.append((file, entry.line_of("mediator"), "mediator", str(entry["mediator"]), what))
        facts = self.facts(file, entry, what)
        self.directory.sectors[sid] = Sector(
            sid, _text(entry.get("name")) if entry.get("name") else {"fr": self._missing(file, entry, what, "name")},
            keywords, entry.get("mediator"), tuple(steps), self.sourced(file, entry, what, sid),
            self.delay(file, entry.line_of("mediator_within"), entry.get("mediator_within"), what),
            bool(entry.get("no_mediation")), facts)

    def facts(self, file: str, entry: Located, what: str) -> tuple[Sourced, ...]:
        """A sector's or a company's facts: text, maybe `said` keywords, source, status, date."""
        facts = []
        for i, fact in enumerate(entry.get("facts") or ()):
            if self.fields(file, fact, "sector_fact", f"{what}: fact {i + 1}"):
                if not fact.get("text"):
                    self.err(file, fact.line, f"{what}: fact {i + 1} needs its text")
                found = self.sourced(file, fact, f"{what}: fact {i + 1}", _text(fact.get("text")))
                facts.append(Sourced(found.value, found.source, found.status, found.verified,
                                     said=tuple(str(k) for k in fact.get("said") or ())))
        return tuple(facts)

    def steps(self, file: str, entry: Located, what: str) -> tuple[Step, ...]:
        steps = []
        for i, step in enumerate(entry.get("steps") or ()):
            if self.fields(file, step, "step", f"{what}: step {i + 1}"):
                line = step.line
                if not step.get("to"):
                    self.err(file, line, f"{what}: step {i + 1} needs 'to' (whom one writes to)")
                steps.append(Step(_text(step.get("to")), self.delay(file, line, step.get("wait"), what),
                                  self.delay(file, line, step.get("direct_after"), what),
                                  _text(step["address"]) if step.get("address") else None))
        return tuple(steps)

    def company(self, file: str, cid: str, entry: Located) -> None:
        what = f"company {cid}"
        aliases, capitals = [], set()
        for item in entry.get("aliases") or ():
            raw, short = (item.get("alias"), bool(item.get("short"))) if isinstance(item, dict) else (item, False)
            if isinstance(item, dict) and item.get("capital"):
                capitals.add(normalise(str(raw or "")))
            if isinstance(item, Located):
                self.fields(file, item, "alias", f"{what}: alias")
            alias = normalise(str(raw or ""))
            if not alias:
                self.err(file, entry.line_of("aliases"), f"{what}: an empty alias")
                continue
            owner = self.alias_owner.setdefault(alias, cid)
            if owner != cid:
                self.err(file, entry.line_of("aliases"), f"{what}: alias {alias!r} is also {owner}'s")
            aliases.append((alias, short))
        if not aliases:
            self.err(file, entry.line, f"{what}: needs aliases (the names people type)")
        country = str(entry.get("country") or "FR")
        if not COUNTRY.match(country):
            self.err(file, entry.line_of("country"), f"{what}: country is a two-letter code (BE, CH, CA...)")
        sector = str(entry.get("sector") or self._missing(file, entry, what, "sector"))
        self.refs.append((file, entry.line_of("sector"), "sector", sector, what))
        facts = {}
        for key in ("mediator", "address", "phone"):
            value = entry.get(key)
            if value is None:
                continue
            if self.fields(file, value, "fact", f"{what}: {key}"):
                shown = value.get({"mediator": "id", "address": "lines", "phone": "number"}[key])
                if shown is None:
                    self.err(file, value.line, f"{what}: {key} needs its "
                                               f"{ {'mediator': 'id', 'address': 'lines', 'phone': 'number'}[key]}")
                if key == "mediator":
                    self.refs.append((file, value.line_of("id"), "mediator", str(shown), what))
                facts[key] = self.sourced(file, value, f"{what}: {key}",
                                          tuple(shown) if isinstance(shown, list) else shown)
        activities = dict(entry.get("activities") or {})
        for activity, target in activities.items():
            self.refs.append((file, entry.line_of("activities"), "activity", str(target), f"{what}: {activity}"))
        market = str(entry.get("market") or "FR")
        if not COUNTRY.match(market):
            self.err(file, entry.line_of("market"), f"{what}: market is a two-letter code (BE, CH, CA...)")
        self.directory.companies[cid] = Company(cid, str(entry.get("name") or cid), tuple(aliases), sector, country,
                                                facts.get("mediator"), facts.get("address"), facts.get("phone"),
                                                activities, entry.get("flow"), market, entry.get("short"),
                                                self.steps(file, entry, what), frozenset(capitals),
                                                self.facts(file, entry, what))

    def resolve(self) -> None:
        d = self.directory
        known = {"source": d.sources, "mediator": d.mediators, "sector": d.sectors}
        for file, line, kind, ref, what in self.refs:
            pool = {**d.sectors, **d.companies} if kind == "activity" else known[kind]
            if ref not in pool:
                self.err(file, line, f"{what}: no {kind if kind != 'activity' else 'sector or company'} "
                                     f"{ref!r}{suggest(ref, pool)}")


def _text(value) -> Text:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {"fr": str(value or "")}
