"""The flow as plain, immutable data: what `flows/*.yaml` says once it has been checked."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from .directory import Directory

# The fixed values of some fields, as `check` accepts them (its tuples of allowed values are these).
NodeKind = Literal["choice", "text", "free", "info", "date", "company", "outcome"]
ChannelKind = Literal["phone", "chat", "social", "postal", "web", "email", "accessibility"]
Status = Literal["checked", "unchecked", "correction"]  # of a fact or a channel
Grammar = Literal["m", "f", "mpl", "fpl"]               # the agreement of a name in French
Detail = Literal["letter", "channels", "next", "sources"]  # the detail of an outcome a part is shown in
DelayUnit = Literal["days", "weeks", "months", "years", "minutes", "seconds"]
Basis = Literal["law", "practice", "letter"]
DelayKind = Literal["deadline", "start", "company"]

# A text in several languages; "fr" is always present.
COMPANY: Final = "company"  # the node kind that asks which company, and its one trigger (flows on the directory)
DATE = "date"  # the answer id of a date question answered with a date (its text holds it, ISO)
TYPED: Final = "typed"  # the answer id of a `free` question: any words typed (its text holds them)
DATE_STATES = ("unknown", "passed", "nearer", "open")  # of a timeline entry counted from a date
Text = dict[str, str]

LANGS = ("fr", "en")


def tr(text: Text | None, lang: str = "fr") -> str:
    """The text in `lang`, falling back to French."""
    if not text:
        return ""
    return text.get(lang) or text["fr"]


@dataclass(frozen=True)
class Condition:
    """True when every `when` node's answer is one of its ids and no `unless` one matches.

    An answer is the chosen choice id of a node already passed, e.g.
    `when: {problem: [billing, cancellation]}`.
    """
    when: tuple[tuple[str, frozenset[str]], ...] = ()
    unless: tuple[tuple[str, frozenset[str]], ...] = ()

    def holds(self, answers: dict[str, str]) -> bool:
        return (all(answers.get(node) in ids for node, ids in self.when)
                and not any(answers.get(node) in ids for node, ids in self.unless))

    @property
    def always(self) -> bool:
        return not self.when and not self.unless

    def nodes(self) -> set[str]:
        return {node for node, _ in self.when + self.unless}


ALWAYS = Condition()


@dataclass(frozen=True)
class Route:
    """One possible destination; the first route whose condition holds is taken."""
    target: str
    condition: Condition = ALWAYS
    line: int = 0


@dataclass(frozen=True)
class Recogniser:
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()  # how people describe this choice, in their own words

    @property
    def empty(self) -> bool:
        return not self.keywords and not self.patterns and not self.examples


@dataclass(frozen=True)
class Choice:
    id: str
    label: Text
    routes: tuple[Route, ...]
    condition: Condition = ALWAYS
    recogniser: Recogniser = Recogniser()
    line: int = 0
    says: Text | None = None  # how the answer reads inside a sentence ({node} placeholders)


@dataclass(frozen=True)
class Section:
    """A paragraph of an outcome or document, shown only when its condition holds."""
    text: Text
    condition: Condition = ALWAYS
    title: Text | None = None
    detail: Detail = "next"   # outcomes: the detail it is shown in (letter, channels, next, sources)
    said: tuple[str, ...] = ()    # shown only when the person's own words hold one of these keywords
    unsaid: tuple[str, ...] = ()  # shown only when they hold none of these


@dataclass(frozen=True)
class Ref:
    """A channel or fact shown by an outcome, maybe only under a condition."""
    id: str
    condition: Condition = ALWAYS
    detail: Detail | None = None  # the detail it is shown in; None: channels for channels, sources for facts


@dataclass(frozen=True)
class Node:
    id: str
    kind: NodeKind
    text: Text
    choices: tuple[Choice, ...] = ()
    routes: tuple[Route, ...] = ()          # info nodes: where "Continuer" goes; date nodes: where a date leads
    sections: tuple[Section, ...] = ()      # outcomes
    channels: tuple[Ref, ...] = ()         # outcomes
    facts: tuple[Ref, ...] = ()            # outcomes
    document: str | None = None             # outcomes
    line: int = 0
    parts: tuple[Section, ...] = ()         # outcomes whose text is a list of conditional parts
    label: Text | None = None               # a few words: what an outcome recommends (graph, report), what a
                                            # question asks (/recap)

    def options(self) -> list[tuple[str, tuple[Route, ...]]]:
        """Every answer this node takes, with its routes: `continue` on an information step,
        the choices, and `date` (a date typed) on a date question."""
        if self.kind == "info":
            return [("continue", self.routes)]
        if self.kind == COMPANY:  # any company's name leads to `next` (its id is the answer kept)
            return [(COMPANY, self.routes)]
        if self.kind == "free":  # any words lead to `next`, kept as typed
            return [(TYPED, self.routes)]
        found = [(c.id, c.routes) for c in self.choices]
        return found + [(DATE, self.routes)] if self.kind == "date" else found

    @property
    def is_outcome(self) -> bool:
        return self.kind == "outcome"

    def choice(self, choice_id: str) -> Choice | None:
        return next((c for c in self.choices if c.id == choice_id), None)

    def name(self, lang: str = "fr") -> str:
        """What it is called in short: its `label`, else its text's first line (a question's
        first sentence asking), placeholders shown as « … »."""
        return tr(self.label, lang) if self.label is not None else self.first_line(lang)

    def first_line(self, lang: str = "fr") -> str:
        """Its text's first line, placeholders shown as « … »; for a question, up to its first
        question mark (« Quel service Cstream est concerné ? »)."""
        line = re.sub(r"\{[\w.]+\}", "…", tr(self.text, lang).strip().split("\n")[0])
        asked = re.match(r".*?\?", line) if not self.is_outcome else None
        return asked.group(0) if asked else line


@dataclass(frozen=True)
class Source:
    id: str
    title: Text
    url: str | None
    verified: date
    grammar: Grammar = "m"  # agreement of its title in French: « Document … vérifié », « FAQ … vérifiée »


@dataclass(frozen=True)
class Fact:
    id: str
    text: Text
    source: str
    verified: date
    status: Status


@dataclass(frozen=True)
class Hours:
    """Weekly opening hours in minutes since midnight; holidays override the weekday."""
    week: tuple[tuple[tuple[int, int], ...], ...]  # 7 entries, Monday first
    holidays: tuple[tuple[int, int], ...] | None    # None: holidays follow the weekday
    label: Text


@dataclass(frozen=True)
class Channel:
    id: str
    kind: ChannelKind
    name: Text
    how: Text
    source: str
    verified: date
    status: Status
    hours: Hours | None = None
    details: tuple[str, ...] = ()   # address lines, phone number...
    url: str | None = None
    email: str | None = None
    note: Text | None = None
    short: Text | None = None       # its name inside a sentence, with its article (« les réseaux sociaux »)
    grammar: Grammar = "m"          # agreement of `short`: m, f, mpl, fpl
    hours_unknown: bool = False     # `hours: unknown`: it has hours, nobody knows them


@dataclass(frozen=True)
class Delay:
    """A named delay of the flow's timeline: `amount` days, months or years after today (or
    after the date of the entry named by `after`); `basis` says where it comes from: law,
    practice (usual, not law) or letter (what our letter asks for)."""
    id: str
    amount: int
    unit: DelayUnit      # "minutes", "seconds": test flows
    basis: Basis
    after: str | None = None
    start: str | None = None        # `from:` a date question: counted from the date given there
    nearer_than: str | None = None  # its state is `nearer` when it falls on or before that entry
    kind: DelayKind = "company"  # whose date it is: deadline (the person must act by it), start (from it on), company
    step: int | None = None  # a flow on the directory: the wait of the company's route step N (1: the first
                             # written complaint), when its sector gives one; `amount unit` otherwise
    steps: bool = False      # `step: all`: every step's wait added up (when the mediator may be asked)


@dataclass(frozen=True)
class Reminder:
    """A follow-up reminder: asked `before` (amount, unit) ahead of the date of timeline entry
    `at`, counted from the day the letter was sent; `ask` is the choice question it puts."""
    id: str
    at: str
    ask: str
    before: tuple[int, DelayUnit] | None = None
    label: Text | None = None  # what falls due that day (« la réponse de Cdiscount est attendue »)
    condition: Condition = ALWAYS  # on the answers that led to the case (`when` / `unless`)


@dataclass(frozen=True)
class Followup:
    """`followup:` which outcomes offer to follow the case, the name of the day the letter was
    sent (timeline entries say `from:` it; {name} writes it), the reminders, and the nodes
    whose reaching closes the case."""
    date: str
    opens: tuple[str, ...]
    reminders: tuple[Reminder, ...]
    closes: tuple[str, ...] = ()
    opens_sent: tuple[str, ...] = ()  # outcomes about a letter already sent: only « Je l'ai envoyée le… »
    late: str | None = None  # the outcome for a letter whose last reminder's date is over when given

    def reminder(self, rid: str) -> Reminder | None:
        return next((r for r in self.reminders if r.id == rid), None)

    @property
    def asks(self) -> frozenset[str]:
        return frozenset(r.ask for r in self.reminders)


@dataclass(frozen=True)
class Inference:
    """A fact read from anything the person types: when a keyword is met, `node` is answered
    `choice` and that question is not asked (e.g. « je suis sourde » answers `hearing: yes`)."""
    node: str
    choice: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Document:
    id: str
    title: Text
    filename: str
    parts: tuple[Section, ...]


@dataclass(frozen=True)
class Flow:
    id: str
    title: Text
    version: str          # content hash: progress records carry it
    schema: int
    start: str
    max_taps: int
    timezone: str
    holiday_country: str
    welcome: Text
    nodes: dict[str, Node]
    channels: dict[str, Channel]
    sources: dict[str, Source]
    facts: dict[str, Fact]
    documents: dict[str, Document]
    path: str = ""
    classify_node: str | None = None  # the free-text question `classify` uses
    timeline: dict[str, Delay] = field(default_factory=dict)
    infer: tuple[Inference, ...] = ()
    langs: tuple[str, ...] = field(default=("fr",))
    tap_limits: tuple[tuple[Condition, int], ...] = ()  # `tap_limits:` a higher limit on some paths
    followup: Followup | None = None
    uses_directory: bool = False
    directory: Directory | None = None  # `directory: true`: the companies, sectors and mediators
                                        # (flow/directory.py), attached by files.load_flow_file; texts may
                                        # then say {route.x}

    @cached_property
    def routes_on_dates(self) -> bool:
        """Whether a `next` tests a delay counted from a date given (`when: {withdrawal_until:
        passed}`): moving on then needs the states of those delays, not only the answers."""
        dated = {name for name, delay in self.timeline.items() if delay.start}
        return any(name in dated for node in self.nodes.values() for _, routes in node.options()
                   for route in routes for name, _ in route.condition.when + route.condition.unless)

    def taps_allowed(self, answers: dict[str, str]) -> int:
        """The tap limit for a path with these answers: the first `tap_limits` entry that holds."""
        return next((n for cond, n in self.tap_limits if cond.holds(answers)), self.max_taps)
