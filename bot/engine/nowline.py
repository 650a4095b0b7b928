"""Open-now: each channel's status on its card, and the one line saying what can be reached
now, in whole catalogue sentences that agree with the channel's short name (« la plateforme
… est ouverte », « les réseaux sociaux ouvrent à 9h »), flagging unconfirmed hours."""
from __future__ import annotations

from datetime import datetime

from ..flow.hours import OpenStatus, clock_time, describe_moment, open_status
from ..flow.model import Channel, Flow, tr
from ..locales import t


def states(flow: Flow, channels: list[Channel], now: datetime) -> dict[str, OpenStatus]:
    return {c.id: open_status(c.hours, now, flow.timezone, flow.holiday_country) for c in channels if c.hours}


def card_status(state: OpenStatus | None, now: datetime, lang: str) -> str | None:
    if state is None:
        return None
    if state.open:
        assert state.until is not None  # open_status gives an open channel its closing time
        return t(lang, "open_until", time=_clock(state.until, lang))
    if state.holiday_unknown:
        return t(lang, "holiday_unknown")
    if state.next_open:
        return t(lang, "closed_until", when=describe_moment(state.next_open, now, lang))
    return t(lang, "closed")


def now_line(channels: list[Channel], found: dict[str, OpenStatus], now: datetime, lang: str) -> str | None:
    """The first listed channel open now (said after the listed channels before it whose
    holiday hours are unknown); else what is known: channels of unknown hours (to try), of
    unknown holiday hours, and the one that opens first. A web form listed first is open at
    any time. « No advisor can be
    reached » only when no listed channel might be open."""
    unknown: list[Channel] = []
    holiday: list[Channel] = []
    soonest: tuple[Channel, datetime] | None = None
    if channels and channels[0].hours is None and not channels[0].hours_unknown and channels[0].url:
        return t(lang, "now_online", name=_name(channels[0], lang), url=channels[0].url)  # a form: any time
    for channel in channels:
        state = found.get(channel.id)
        if channel.hours_unknown:
            unknown.append(channel)
        elif state is None:
            continue
        elif state.open:  # after what is unknown today of the channels listed before it
            assert state.until is not None  # open_status gives an open channel its closing time
            return " ".join([t(lang, "now_holiday", name=_name(c, lang)) for c in holiday] + [
                t(lang, f"now_open_{channel.grammar}", name=_name(channel, lang),
                  time=_clock(state.until, lang), note=_note(channel, lang))])
        elif state.holiday_unknown:
            holiday.append(channel)
        if state is not None and not state.open and state.next_open and \
                (soonest is None or state.next_open < soonest[1]):
            soonest = (channel, state.next_open)
    said = [] if unknown or holiday else [t(lang, "now_none")] if soonest else []
    said += [t(lang, "now_unknown", name=_name(c, lang)) for c in unknown]
    said += [t(lang, "now_holiday", name=_name(c, lang)) for c in holiday if not soonest or c is not soonest[0]]
    if soonest:
        channel, moment = soonest
        number = "pl" if channel.grammar.endswith("pl") else "sg"
        key = f"now_holiday_opens_{number}" if channel in holiday else f"now_opens_{number}"  # one sentence for both
        said.append(t(lang, key, name=_name(channel, lang), when=describe_moment(moment, now, lang),
                      note=_note(channel, lang)))
    return " ".join(said) or None


def _name(channel: Channel, lang: str) -> str:
    name = tr(channel.short, lang) or tr(channel.name, lang)
    return name[:1].upper() + name[1:]


def _note(channel: Channel, lang: str) -> str:
    return t(lang, "hours_unconfirmed") if channel.status != "checked" else ""


def _clock(moment: datetime, lang: str) -> str:
    minutes = moment.hour * 60 + moment.minute
    return clock_time(minutes or 24 * 60, lang)  # a channel open until midnight closes "at 24h"
