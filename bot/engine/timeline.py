"""The complaint timeline: dates computed from a day by calendar (pure, no clock of its own).

A flow names its delays once (`timeline:` in the YAML, e.g. `answer_due: 30 days`); outcomes
say `{date.answer_due}` and `{delay.answer_due}`. Months and years are added by the calendar
and clamped to the month's end (31 January + 1 month = 28 or 29 February). Reused by the
follow-up (reminders) to know when each step falls due.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from ..flow.model import Delay
from ..locales import t, words

UNITS = ("days", "weeks", "months", "years", "minutes", "seconds")
SUB_DAY = {"minutes": 60, "seconds": 1}  # for test flows: a reminder a few seconds after the case opens


def add_delay(day: date, amount: int, unit: str) -> date:
    """`day` plus `amount` days, months or years of the calendar (clamped to the month's end)."""
    if unit in SUB_DAY:
        return day  # within the day: the reminder's time carries it (followup.py)
    if unit in ("days", "weeks"):
        return day + timedelta(days=amount * (7 if unit == "weeks" else 1))
    months = amount * (12 if unit == "years" else 1)
    if unit not in ("months", "years"):
        raise ValueError(f"unknown unit {unit!r}: use {', '.join(UNITS)}")
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(timeline: dict[str, Delay], today: date, given: dict[str, date] | None = None) -> dict[str, date]:
    """Each named delay's date: `today` (or the date of the entry it follows, or the date given
    at the question named by its `from`) plus its delay. An entry counted from a date nobody
    gave (or following one) has no date: it is left out."""
    out: dict[str, date | None] = {}
    given = given or {}

    def of(name: str, seen: tuple = ()) -> date | None:
        if name not in out:
            delay = timeline[name]
            if delay.after in seen:
                raise ValueError(f"timeline: {name} follows itself")
            start = (of(delay.after, seen + (name,)) if delay.after
                     else given.get(delay.start) if delay.start else today)
            out[name] = add_delay(start, delay.amount, delay.unit) if start else None
        return out[name]

    for name in timeline:
        of(name)
    return {name: day for name, day in out.items() if day is not None}


def date_states(timeline: dict[str, Delay], today: date, given: dict[str, date]) -> dict[str, str]:
    """For each entry counted from a date question, what conditions may test: `unknown` (no
    date given), `passed` (its last day is before today), `nearer` (not passed, and on or before
    the date of its `nearer_than` entry), else `open`."""
    dates = due_dates(timeline, today, given)
    states = {}
    for name, delay in timeline.items():
        if not delay.start:
            continue
        day = dates.get(name)
        if day is None:
            states[name] = "unknown"
        elif day < today:
            states[name] = "passed"
        elif delay.nearer_than and delay.nearer_than in dates and day <= dates[delay.nearer_than]:
            states[name] = "nearer"
        else:
            states[name] = "open"
    return states


def written_date(day: date, lang: str) -> str:
    """'lundi 28 décembre 2026', 'mardi 1er décembre 2026', 'Monday 28 December 2026'."""
    number = t(lang, "day_first") if day.day == 1 else str(day.day)
    return t(lang, "date_long", weekday=words(lang, "weekdays")[day.weekday()], day=number,
             month=words(lang, "months")[day.month - 1], year=day.year)


def written_delay(delay: Delay, lang: str) -> str:
    """'30 jours', '2 mois', '1 an' (the catalogue's words for the unit, singular or plural)."""
    return t(lang, f"{delay.unit}_{'one' if delay.amount == 1 else 'many'}", n=delay.amount)
