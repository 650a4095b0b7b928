"""The complaint timeline: dates computed from a day by calendar (pure, no clock of its own).

A flow names its delays once (`timeline:` in the YAML, e.g. `answer_due: 30 days`); outcomes
say `{date.answer_due}` and `{delay.answer_due}`. Months and years are added by the calendar
and clamped to the month's end (31 January + 1 month = 28 or 29 February). Reused by the
follow-up (reminders) to know when each step falls due.
"""
from __future__ import annotations

from datetime import date

from ..flow.calendar import SUB_DAY, UNITS, add_delay, due_dates
from ..flow.model import Delay
from ..locales import t, words

__all__ = ["SUB_DAY", "UNITS", "add_delay", "date_states", "due_dates", "written_date", "written_delay"]


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
