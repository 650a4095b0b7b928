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

UNITS = ("days", "months", "years")


def add_delay(day: date, amount: int, unit: str) -> date:
    """`day` plus `amount` days, months or years of the calendar (clamped to the month's end)."""
    if unit == "days":
        return day + timedelta(days=amount)
    months = amount * (12 if unit == "years" else 1)
    if unit not in ("months", "years"):
        raise ValueError(f"unknown unit {unit!r}: use {', '.join(UNITS)}")
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(timeline: dict[str, Delay], today: date) -> dict[str, date]:
    """Each named delay's date: `today` (or the date of the entry it follows) plus its delay."""
    out: dict[str, date] = {}

    def of(name: str, seen: tuple = ()) -> date:
        if name not in out:
            delay = timeline[name]
            if delay.after in seen:
                raise ValueError(f"timeline: {name} follows itself")
            start = of(delay.after, seen + (name,)) if delay.after else today
            out[name] = add_delay(start, delay.amount, delay.unit)
        return out[name]

    for name in timeline:
        of(name)
    return out


def written_date(day: date, lang: str) -> str:
    """'lundi 28 décembre 2026', 'mardi 1er décembre 2026', 'Monday 28 December 2026'."""
    number = t(lang, "day_first") if day.day == 1 else str(day.day)
    return t(lang, "date_long", weekday=words(lang, "weekdays")[day.weekday()], day=number,
             month=words(lang, "months")[day.month - 1], year=day.year)


def written_delay(delay: Delay, lang: str) -> str:
    """'30 jours', '2 mois', '1 an' (the catalogue's words for the unit, singular or plural)."""
    return t(lang, f"{delay.unit}_{'one' if delay.amount == 1 else 'many'}", n=delay.amount)
