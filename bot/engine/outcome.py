"""Assembling an outcome: a short first message (what to do now, the dates that matter), and
the details behind its buttons (the letter, other channels, what to do if that fails,
sources), with the person's answers and the flow's timeline filled into the flow's texts."""
from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..flow.check import PLACEHOLDER, ROUTE, TIMED
from ..flow.hours import OpenStatus
from ..flow.model import COMPANY, DATE, Channel, Fact, Flow, Node, Section, tr
from ..locales import t, words
from ..lru import LRU
from .general import derived, route_parts, route_sources, timeline_of
from .infer import said_in
from .language import in_french
from .nowline import card_status, now_line, states
from .progress import Progress
from .reply import Attachment, Button, ContactCard, Reply
from .timeline import (closed_advice, date_states, due_dates, posting_day, send_day_words, written_date,
                       written_delay)

CACHE_BYTES = 8 << 20  # outcomes kept, at most, in characters of text (they may quote what people typed)
DETAILS = ("letter", "channels", "next", "sources")
QUOTE = 300  # the person's own words are quoted up to this many characters


def label_of(node: Node, choice_id: str, lang: str, typed: str | None = None) -> str:
    """How an answer reads on its button (a date given: the date written out; a company: what
    was typed, or « Je ne sais pas »)."""
    if choice_id == "continue":
        return t(lang, "continue")
    if node.kind == COMPANY:  # what was typed; « Je ne sais pas » pressed
        return typed or t(lang, "company_unknown" if choice_id == "unknown" else "route_the_company")
    if node.kind == "date" and choice_id == DATE:
        return written_date(date.fromisoformat(typed), lang) if typed else "[…]"
    if node.kind == "free":  # the words typed
        return typed or "[…]"
    choice = node.choice(choice_id)
    return tr(choice.label, lang) if choice else choice_id


def long_date(day: date, lang: str) -> str:
    return t(lang, "date", day=day.day, month=words(lang, "months")[day.month - 1], year=day.year)


def trimmed(text: str, limit: int = QUOTE) -> str:
    """At most `limit` characters, cut at a word boundary, with « … » when cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:.")
    return cut + " …"


# Greetings and pleasantries around a description: never quoted as what happened.
_GREETING = re.compile(r"^(?:(?:bonjour|bonsoir|salut|coucou|hello|hi|hey|good (?:morning|evening))"
                       r"(?: (?:[aà] tous|[aà] toutes|tout le monde|madame|monsieur|everyone|all))?|madame,? monsieur|"
                       r"dear sir or madam)\b[\s,.!:;-]*", re.I)
_PLEASANTRY = re.compile(r"[\s,.!;-]*\b(?:merci(?: d'avance| par avance| beaucoup| bien| pour votre aide)?|"
                         r"cordialement|bien cordialement|bonne (?:journee|journée|soiree|soirée)|svp|"
                         r"s'il vous pla[iî]t|thanks?(?: you)?(?: in advance)?|regards|best regards)[\s.!]*$", re.I)


def quotable(text: str) -> str:
    """What a person typed, without the greetings and pleasantries around it: « Bonjour, on m'a
    prélevé deux fois, merci » quotes « on m'a prélevé deux fois »; « bonjour » alone, nothing."""
    text = " ".join(text.split())
    while True:
        shorter = _PLEASANTRY.sub("", _GREETING.sub("", text)).strip()
        if shorter == text:
            break
        text = shorter
    return text if len(re.findall(r"\w+", text)) >= 2 else ""


def shown(text: str, progress: Progress, french: bool = False) -> bool:
    """A text quoting what was typed at a node ({node.text}) is shown only when something worth
    quoting was (more than a greeting), and, in a letter, only when it was written in French."""
    for name, typed, _ in PLACEHOLDER.findall(text):
        if typed:
            said = quotable(progress.texts.get(name, ""))
            if not said or (french and not in_french(said)):
                return False
    return True


def holds(part: Section, answers: dict[str, str], progress: Progress) -> bool:
    """Whether a paragraph shows: its answers' condition, and the words it asks for (`said`)
    or against (`unsaid`) in what the person typed."""
    if not part.condition.holds(answers):
        return False
    typed = progress.texts.values()
    return (not part.said or said_in(typed, part.said)) and not (part.unsaid and said_in(typed, part.unsaid))


_AMOUNT = re.compile(r"(?<![\d.,])(\d{1,5}(?:[.,]\d{1,2})?) ?(?:€|euros?\b|eur\b)|€ ?(\d{1,5}(?:[.,]\d{1,2})?)", re.I)


def amount_said(progress: Progress) -> str | None:
    """The first sum of money the person typed, written the French way: « 12,99 »."""
    for text in progress.texts.values():
        found = _AMOUNT.search(text)
        if found:
            return (found.group(1) or found.group(2)).replace(".", ",")
    return None


def given_dates(flow: Flow, progress: Progress, posted: date | None = None) -> dict[str, date]:
    """The dates given at the flow's date questions, and the day the followed letter was sent
    (the follow-up's date: `posted`, the day it can be posted, until the person says they
    sent it)."""
    found = {a.node: date.fromisoformat(a.text) for a in progress.path
             if a.choice == DATE and a.text and a.node in flow.nodes and flow.nodes[a.node].kind == "date"}
    if flow.followup is not None:
        sent = case_sent(flow, progress) or posted
        if sent:
            found[flow.followup.date] = sent
    return found


def case_sent(flow: Flow, progress: Progress) -> date | None:
    """The day the followed letter was sent: in its follow-up (a reminder's question asked or
    answered) and at the outcome that opened the case, reached by the same answers, whenever the
    person comes back to it. Elsewhere (another problem, no case) the letter is still to send."""
    case, follow = progress.case, flow.followup
    if case is None or not case.sent or case.state == "declined" or follow is None:
        return None
    if progress.node in follow.asks or any(a.node in follow.asks for a in progress.path) or _opened_here(progress):
        return date.fromisoformat(case.sent)
    return None


def _opened_here(progress: Progress) -> bool:
    """Whether the person is at the outcome that opened their case, by the same answers."""
    case = progress.case
    return case is not None and progress.node == case.outcome and tuple(progress.path) == tuple(case.answers)


def _local(flow: Flow, now: datetime | None) -> datetime:
    return (now or datetime.now(ZoneInfo("UTC"))).astimezone(ZoneInfo(flow.timezone))


def _today(flow: Flow, now: datetime | None) -> date:
    return _local(flow, now).date()


def send_day(flow: Flow, now: datetime | None) -> date:
    """The day a letter written now can be posted (today, or the post's next open day)."""
    return posting_day(_local(flow, now), flow.holiday_country)


def letter_day(flow: Flow, progress: Progress, now: datetime | None) -> date:
    """The date a letter bears: at the outcome that opened the case, the day that letter was
    sent; any other letter (the mise en demeure a reminder leads to) is a new one, dated the
    day it can go."""
    return (_opened_here(progress) and case_sent(flow, progress)) or send_day(flow, now)


def answers_of(flow: Flow, progress: Progress, now: datetime | None) -> dict[str, str]:
    """The answers conditions test in an outcome: the person's, and the state of each timeline
    entry counted from a date they gave (unknown, passed, nearer, open)."""
    answers = derived(flow, progress.answers)  # on the directory: `levels` too
    if not any(d.start for d in flow.timeline.values()):
        return answers
    today = _today(flow, now)
    states = date_states(timeline_of(flow, progress.answers), today, given_dates(flow, progress, send_day(flow, now)))
    if flow.followup is not None and case_sent(flow, progress):
        states[flow.followup.date] = DATE  # `when: {letter_sent: date}`: the case says when it was sent
    return {**answers, **states}


def outcome_text(flow: Flow, node: Node, progress: Progress, now: datetime | None, lang: str) -> str:
    """An outcome's first message before filling: its text, or its parts that hold, joined."""
    if not node.parts:
        return tr(node.text, lang)
    answers = answers_of(flow, progress, now)
    return " ".join(tr(p.text, lang) for p in node.parts if holds(p, answers, progress) and shown(tr(p.text, lang), progress))


def fill(text: str, flow: Flow, progress: Progress, now: datetime, lang: str | None = None,
         advise: bool = False) -> str:
    """Replace {node} with the answer (its `says` form, else its label), {node.text} with what
    was typed there (trimmed), {date} with the letter's date (`letter_day`), {send_day} with
    when to post it (« aujourd'hui », « dès demain matin »), {date.x} with the timeline's date x
    written out (« lundi 28 décembre 2026 ») and {delay.x} with its delay (« 30 jours »).

    Dates counted from today count from the day a letter written now can be posted. With
    `advise`, a deadline of the person's (`kind: deadline`) that falls on a Saturday, Sunday or
    public holiday gets one more sentence: act by the working day before."""
    if "{" not in text:  # (most questions: nothing to work out)
        return text
    lang = lang or progress.lang
    answers, texts = progress.answers, progress.texts
    today, posted = _today(flow, now), send_day(flow, now)
    due: dict[str, date] = {}  # the timeline's dates, computed at the first {date.x} only
    advice: list[str] = []
    timeline = timeline_of(flow, answers)
    route = route_parts(flow, answers, texts, lang) if flow.directory is not None and "{route." in text else {}

    def timed(match: re.Match[str]) -> str:
        kind, name = match.groups()
        if kind == "delay":
            return written_delay(timeline[name], lang)
        if not due:
            due.update(due_dates(timeline, posted, given_dates(flow, progress, posted)) or {"": posted})
        day = due.get(name)
        if day and advise and timeline[name].kind == "deadline" and day >= today:
            said = closed_advice(day, flow.holiday_country, lang)
            if said and said not in advice:
                advice.append(said)
        return written_date(day, lang) if day else "[…]"

    def value(match: re.Match[str]) -> str:
        name, typed, unknown = match.group(1), match.group(2), match.group(3)
        said = _value(flow, progress, name, typed, lang, now, posted, today)
        return said or f"[{unknown or '…'}]"  # {x|date}: « [date] » when nobody said

    if route:  # a part that says nothing here (no later step, no address known) leaves no gap
        text = re.sub(r"[ \t]{2,}", " ", ROUTE.sub(lambda m: route.get(m.group(1), ""), text)).strip()
    filled = PLACEHOLDER.sub(value, TIMED.sub(timed, text))
    return " ".join([filled, *advice]) if advice else filled


def _value(flow: Flow, progress: Progress, name: str, typed: str | None, lang: str, now: datetime,
           posted: date, today: date) -> str | None:
    """What {name} (or {name.text}: `typed`) says in `fill`; None when nobody said."""
    answers, texts = progress.answers, progress.texts
    if name == "date":
        return long_date(letter_day(flow, progress, now), lang)
    if name == "send_day":
        return send_day_words(posted, today, lang)
    if name == "amount":
        return amount_said(progress)
    if name == "letter_number":
        return progress.case.number if case_sent(flow, progress) and progress.case else None
    if flow.followup is not None and name == flow.followup.date:
        sent = case_sent(flow, progress)
        return written_date(sent, lang) if sent else None
    if name in flow.nodes and flow.nodes[name].kind == "free":  # the words typed, as they are (« 12345 »)
        return trimmed(" ".join(texts[name].split())) if texts.get(name, "").strip() else None
    if typed:
        return trimmed(quotable(texts[name])) if quotable(texts.get(name, "")) else None
    if name in flow.nodes and flow.nodes[name].kind == COMPANY:
        return route_parts(flow, answers, texts, lang)["company"] if flow.directory is not None else None
    if name in flow.nodes and flow.nodes[name].kind == "date" and answers.get(name) != DATE:
        return None  # « Je ne sais plus » is no date to write
    if name in answers and name in flow.nodes and answers[name] == DATE:
        return label_of(flow.nodes[name], DATE, lang, texts.get(name))
    if name in answers and name in flow.nodes:
        choice = flow.nodes[name].choice(answers[name])
        if choice and choice.says:
            return tr(choice.says, lang)
        return label_of(flow.nodes[name], answers[name], lang)
    return None


class Outcomes:
    """Builds outcome and detail replies, keeping each for the minute it was computed in:
    open-now changes by the minute, and many people share the same answers."""

    def __init__(self) -> None:
        self._cache: LRU[tuple[Hashable, ...], tuple[Reply, int]] = LRU(CACHE_BYTES, weigh=lambda found: found[1])

    def reply(self, flow: Flow, node: Node, progress: Progress, now: datetime, buttons: list[Button],
              token: str, which: str | None = None) -> Reply:
        """The outcome's short message (`which` None), or one of its details."""
        key = (flow.id, flow.version, node.id, which, len(progress.path), progress.lang,
               tuple(sorted(progress.answers.items())), int(now.timestamp() // 60),
               tuple(b.id for b in buttons),
               progress.case and (progress.case.sent, progress.case.state, progress.case.number),
               tuple(sorted(progress.texts.items())))
        found = self._cache.get(key)
        if found is None:
            build = self._short if which is None else self._detail
            reply = build(flow, node, progress, now, buttons, token, which)
            found = self._cache.put(key, (reply, _size(reply) + sum(len(t) for _, t in key[-1])))
        return replace(found[0], notices=list(found[0].notices))  # callers add notices: never share them

    @staticmethod
    def details(flow: Flow, node: Node, progress: Progress, now: datetime | None) -> list[str]:
        """The details this outcome has something to show in, in order."""
        answers, found = answers_of(flow, progress, now), set()
        found |= {s.detail for s in node.sections if holds(s, answers, progress) and shown(tr(s.text), progress)
                  and _says_something(flow, s, progress, now)}
        found |= {r.detail or "channels" for r in node.channels if r.condition.holds(answers)}
        found |= {r.detail or "sources" for r in node.facts if r.condition.holds(answers)}
        if node.channels or node.facts:
            found.add("sources")
        if node.document:
            found.add("letter")
        return [d for d in DETAILS if d in found]

    def _short(self, flow: Flow, node: Node, progress: Progress, now: datetime, buttons: list[Button], token: str,
               _which: str | None) -> Reply:
        lang, answers = progress.lang, answers_of(flow, progress, now)
        channels = [flow.channels[r.id] for r in node.channels
                    if r.condition.holds(answers) and (r.detail or "channels") == "channels"]
        return Reply("outcome", fill(outcome_text(flow, node, progress, now, lang), flow, progress, now, advise=True),
                     now=now_line(channels, states(flow, channels, now), now, lang),
                     footer=t(lang, "come_back"), buttons=buttons, token=token, node=node.id)

    def _detail(self, flow: Flow, node: Node, progress: Progress, now: datetime, buttons: list[Button], token: str,
                which: str | None) -> Reply:
        lang, answers = progress.lang, answers_of(flow, progress, now)
        sections = [(tr(s.title, lang) or None, fill(tr(s.text, lang), flow, progress, now, advise=True))
                    for s in node.sections if holds(s, answers, progress) and s.detail == which
                    and shown(tr(s.text, lang), progress)]
        sections = [(title, text) for title, text in sections if text.strip()]  # {route.contact}: none known
        listed = [(flow.channels[r.id], r.detail or "channels") for r in node.channels if r.condition.holds(answers)]
        facts = [(flow.facts[r.id], r.detail or "sources") for r in node.facts if r.condition.holds(answers)]
        channels = [c for c, where in listed if where == which]
        found = states(flow, channels, now)
        reply = Reply("detail", t(lang, f"detail_{which}_title"), sections=sections,
                      cards=[_card(c, found.get(c.id), now, lang, lambda text: fill(text, flow, progress, now))
                             for c in channels],
                      facts=[fill(_fact_line(f, lang), flow, progress, now) for f, where in facts if where == which],
                      buttons=buttons, token=token, node=node.id)
        if which == "sources":
            reply.sources = _sources(flow, [c for c, _ in listed] + [f for f, _ in facts], lang)
            if flow.directory is not None and _says_route(node):  # and those of what the directory said
                titles = {line.split(",")[0] for line in reply.sources}
                reply.sources += [line for line in route_sources(flow, answers, lang)
                                  if line.split(",")[0] not in titles]
        if which == "letter" and node.document:
            reply.sections.insert(0, (None, t(lang, "letter_intro")))
            reply.document = letter(flow, node, progress, now)
        return reply


def _says_route(node: Node) -> bool:
    """Whether an outcome says anything the directory gave ({route.x})."""
    return any("{route." in text for part in node.parts + node.sections for text in part.text.values()) or \
        any("{route." in text for text in node.text.values())


def _says_something(flow: Flow, section: Section, progress: Progress, now: datetime | None) -> bool:
    """Whether a section has text once filled: one made only of {route.x} may say nothing (no
    address known, a company in France)."""
    text = tr(section.text)
    if flow.directory is None or ROUTE.sub("", text).strip():
        return True
    return bool(fill(text, flow, progress, now or datetime.now(ZoneInfo("UTC"))).strip())


def letter(flow: Flow, node: Node, progress: Progress, now: datetime) -> Attachment:
    """The outcome's letter, always in French: it relies on French consumer law."""
    assert node.document is not None  # called for an outcome with a letter
    doc = flow.documents[node.document]
    answers = answers_of(flow, progress, now)
    parts = [fill(tr(p.text, "fr"), flow, progress, now, "fr") for p in doc.parts
             if holds(p, answers, progress) and shown(tr(p.text, "fr"), progress, french=True)]
    return Attachment(tr(doc.title, progress.lang), doc.filename, "\n\n".join(parts) + "\n")


def _fact_line(fact: Fact, lang: str) -> str:
    text = tr(fact.text, lang)
    if fact.status == "correction":  # « Correction : la médiation… »: no capital after a French colon
        lowered = text[:1].lower() + text[1:] if lang == "fr" and text[1:2].islower() else text
        return t(lang, "correction", text=lowered)
    return text + (f" ({t(lang, 'unchecked')})" if fact.status == "unchecked" else "")


def _sources(flow: Flow, items: list[Channel | Fact], lang: str) -> list[str]:
    """One line per source: « vérifiée le … » only when everything shown from it is checked."""
    by_source: dict[str, bool] = {}
    for item in items:
        by_source[item.source] = by_source.get(item.source, True) and item.status != "unchecked"
    lines = []
    for sid, checked in by_source.items():
        source = flow.sources[sid]
        title = tr(source.title, lang) + ("" if lang in source.title else t(lang, "in_french"))
        line = (t(lang, f"source_checked_{source.grammar}", title=title,
                  date=source.verified.strftime(t(lang, "short_date_format")))
                if checked else t(lang, f"source_unchecked_{source.grammar}", title=title))
        lines.append(line + (f"{t(lang, 'colon')} {source.url}" if source.url else ""))
    return lines


def _size(reply: Reply) -> int:
    """About how many characters a reply holds."""
    return (len(reply.text) + sum(len(t) for _, t in reply.sections) + sum(len(f) for f in reply.facts)
            + (len(reply.document.content) if reply.document else 0) + 200 * len(reply.cards) + 200)


def _card(channel: Channel, state: OpenStatus | None, now: datetime, lang: str,
          filled: Callable[[str], str] = lambda text: text) -> ContactCard:
    """`filled` puts the person's answers in what to say (« parlez de votre abonnement {service} »)."""
    return ContactCard(
        name=tr(channel.name, lang), kind=channel.kind, how=filled(tr(channel.how, lang)),
        details=channel.details, url=channel.url, email=channel.email,
        hours=tr(channel.hours.label, lang) if channel.hours else None,
        status=card_status(state, now, lang), note=tr(channel.note, lang) or None,
        unchecked=channel.status == "unchecked")
