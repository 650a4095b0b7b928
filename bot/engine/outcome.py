"""Assembling an outcome: contact cards with open-now, the one channel to use now, facts,
sources and the letter, with the person's answers filled into the flow's texts."""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from ..flow.check import PLACEHOLDER
from ..flow.hours import OpenStatus, clock_time, describe_moment, open_status
from ..flow.model import Channel, Flow, Node, tr
from ..locales import t, words
from .progress import Progress
from .reply import Attachment, Button, ContactCard, Reply

CACHE_BYTES = 8 << 20  # outcomes kept, at most, in characters of text (they may quote what people typed)


def label_of(node: Node, choice_id: str, lang: str) -> str:
    """How an answer reads on its button."""
    if choice_id == "continue":
        return t(lang, "continue")
    choice = node.choice(choice_id)
    return tr(choice.label, lang) if choice else choice_id


def long_date(day, lang: str) -> str:
    return t(lang, "date", day=day.day, month=words(lang, "months")[day.month - 1], year=day.year)


def fill(text: str, flow: Flow, progress: Progress, now: datetime) -> str:
    """Replace {node} with the answer (its `says` form, else its label), {node.text} with what
    was typed there, {date} with today's date."""
    lang, answers, texts = progress.lang, progress.answers, progress.texts

    def value(match: re.Match) -> str:
        name, typed = match.group(1), match.group(2)
        if name == "date":
            return long_date(now.astimezone(ZoneInfo(flow.timezone)), lang)
        if typed and name in texts:
            return texts[name]
        if name in answers and name in flow.nodes:
            choice = flow.nodes[name].choice(answers[name])
            if choice and choice.says:
                return tr(choice.says, lang)
            return label_of(flow.nodes[name], answers[name], lang)
        return "[…]"

    return PLACEHOLDER.sub(value, text)


class Outcomes:
    """Builds outcome replies, keeping each for the minute it was computed in: open-now
    changes by the minute, and many people share the same answers."""

    def __init__(self):
        self._cache: dict[tuple, tuple[Reply, int]] = {}
        self._bytes = 0
        self._typed: dict[tuple, bool] = {}

    def reply(self, flow: Flow, node: Node, progress: Progress, now: datetime, buttons: list[Button],
              token: str) -> Reply:
        key = (flow.id, flow.version, node.id, len(progress.path), progress.lang,
               tuple(sorted(progress.answers.items())), int(now.timestamp() // 60),
               tuple(sorted(progress.texts.items())) if self._shows_typed(flow, node) else ())
        found = self._cache.get(key)
        if found is None:
            reply = self._build(flow, node, progress, now, buttons, token)
            found = self._cache[key] = (reply, _size(reply) + sum(len(t) for _, t in key[-1]))
            self._bytes += found[1]
            while self._bytes > CACHE_BYTES:  # the oldest go first
                self._bytes -= self._cache.pop(next(iter(self._cache)))[1]
        return replace(found[0], notices=list(found[0].notices))  # callers add notices: never share them

    def _shows_typed(self, flow: Flow, node: Node) -> bool:
        """Whether this outcome quotes typed text (then the text is part of the cache key)."""
        key = (flow.id, flow.version, node.id)
        if key not in self._typed:
            texts = [node.text] + [s.text for s in node.sections]
            if node.document:
                texts += [p.text for p in flow.documents[node.document].parts]
            self._typed[key] = any(typed for text in texts for value in text.values()
                                   for _, typed in PLACEHOLDER.findall(value))
        return self._typed[key]

    def _build(self, flow: Flow, node: Node, progress: Progress, now: datetime, buttons: list[Button],
               token: str) -> Reply:
        lang, answers = progress.lang, progress.answers
        sections = [(tr(s.title, lang) or None, fill(tr(s.text, lang), flow, progress, now))
                    for s in node.sections if s.condition.holds(answers)]
        channels = [flow.channels[ref.id] for ref in node.channels if ref.condition.holds(answers)]
        states = {c.id: open_status(c.hours, now, flow.timezone, flow.holiday_country)
                  for c in channels if c.hours}
        facts = [flow.facts[ref.id] for ref in node.facts if ref.condition.holds(answers)]
        fact_lines = [tr(f.text, lang) + (f" ({t(lang, 'unchecked')})" if f.status == "unchecked" else "")
                      for f in facts]
        sources = []
        for sid in dict.fromkeys([c.source for c in channels] + [f.source for f in facts]):
            source = flow.sources[sid]
            line = f"{source.title}, {t(lang, 'verified', date=source.verified.strftime('%d/%m/%Y'))}"
            sources.append(line + (f" : {source.url}" if source.url else ""))
        document = None
        if node.document:
            doc = flow.documents[node.document]
            body = "\n\n".join(fill(tr(p.text, lang), flow, progress, now)
                               for p in doc.parts if p.condition.holds(answers))
            document = Attachment(tr(doc.title, lang), doc.filename, body + "\n")
        return Reply("outcome", fill(tr(node.text, lang), flow, progress, now), sections=sections,
                     now=_now_line(channels, states, now, lang),
                     cards=[_card(c, states.get(c.id), now, lang) for c in channels],
                     facts=fact_lines, sources=sources, document=document,
                     footer=t(lang, "come_back"), buttons=buttons, token=token, node=node.id)


def _size(reply: Reply) -> int:
    """About how many characters a reply holds."""
    return (len(reply.text) + sum(len(t) for _, t in reply.sections) + sum(len(f) for f in reply.facts)
            + (len(reply.document.content) if reply.document else 0) + 200 * len(reply.cards) + 200)


def _card(channel: Channel, state: OpenStatus | None, now: datetime, lang: str) -> ContactCard:
    status = None
    if state is not None:
        if state.open:
            status = t(lang, "open_until", time=_clock(state.until, lang))
        elif state.next_open:
            status = t(lang, "closed_until", when=describe_moment(state.next_open, now, lang))
        else:
            status = t(lang, "closed")
    return ContactCard(
        name=tr(channel.name, lang), kind=channel.kind, how=tr(channel.how, lang),
        details=channel.details, url=channel.url, email=channel.email,
        hours=tr(channel.hours.label, lang) if channel.hours else None,
        status=status, note=tr(channel.note, lang) or None,
        unchecked=channel.status == "unchecked")


def _clock(moment: datetime, lang: str) -> str:
    minutes = moment.hour * 60 + moment.minute
    return clock_time(minutes or 24 * 60, lang)  # a channel open until midnight closes "at 24h"


def _now_line(channels: list[Channel], states: dict, now: datetime, lang: str) -> str | None:
    """The first listed channel open right now; else the one that opens first."""
    soonest = None
    for channel in channels:
        state = states.get(channel.id)
        if state is None:
            continue
        if state.open:
            return t(lang, "now_open", name=tr(channel.name, lang), time=_clock(state.until, lang))
        if state.next_open and (soonest is None or state.next_open < soonest[1]):
            soonest = (channel, state.next_open)
    if soonest is None:
        return None
    return t(lang, "now_closed", name=tr(soonest[0].name, lang), when=describe_moment(soonest[1], now, lang))
