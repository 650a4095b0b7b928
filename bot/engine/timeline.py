"""The complaint timeline: dates computed from a day by calendar (pure, no clock of its own).

A flow names its delays once (`timeline:` in the YAML, e.g. `answer_due: 30 days`); outcomes
say `{date.answer_due}` and `{delay.answer_due}`. Months and years are added by the calendar
and clamped to the month's end (31 January + 1 month = 28 or 29 February). Reused by the
follow-up (reminders) to know when each step falls due.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from ..flow.calendar import SUB_DAY, UNITS, add_delay, due_dates
from ..flow.hours import is_holiday
from ..flow.model import Delay
from ..locales import t, words

__all__ = ["SUB_DAY", "UNITS", "add_delay", "closed_advice", "date_states", "due_dates", "posting_day",
           "send_day_words", "working_day_before", "written_date", "written_delay"]

POST_CLOSES = {0: 18, 1: 18, 2: 18, 3: 18, 4: 18, 5: 12}  # weekday: the hour after which a registered
# letter is no longer posted that day (most post offices: 18:00 on weekdays, Saturday morning only)


def closed(day: date, country: str) -> str | None:
    """Why `day` is no working day: 'holiday', 'saturday' or 'sunday' (None: a working day,
    Monday to Friday and not a national public holiday)."""
    if is_holiday(day, country):
        return "holiday"
    return ("saturday", "sunday")[day.weekday() - 5] if day.weekday() >= 5 else None


def working_day_before(day: date, country: str) -> date:
    """The last working day before `day`."""
    day -= timedelta(days=1)
    while closed(day, country):
        day -= timedelta(days=1)
    return day


def closed_advice(day: date, country: str, lang: str) -> str | None:
    """For a deadline the person must meet: when it falls on a closed day, one sentence saying
    to act by the working day before (« Le 25 décembre est férié : agissez au plus tard le
    vendredi 24. »); the deadline itself stays as computed."""
    why = closed(day, country)
    if why is None:
        return None
    before = working_day_before(day, country)
    number = t(lang, "day_first") if before.day == 1 else str(before.day)
    said = t(lang, "weekday_day", weekday=words(lang, "weekdays")[before.weekday()], day=number)
    if before.month != day.month:
        said = t(lang, "date_long", weekday=words(lang, "weekdays")[before.weekday()], day=number,
                 month=words(lang, "months")[before.month - 1], year=before.year)
    return t(lang, "deadline_closed", day=t(lang, "day_month", day=t(lang, "day_first") if day.day == 1 else day.day,
                                            month=words(lang, "months")[day.month - 1]),
             why=t(lang, f"closed_{why}"), before=said)


def posting_day(local: datetime, country: str) -> date:
    """The day a registered letter can be posted: today before the post's usual closing hour
    (18:00 on weekdays, noon on Saturday, never on a public holiday), else the next day it opens."""
    day = local.date()
    if not is_holiday(day, country) and local.hour < POST_CLOSES.get(day.weekday(), 0):
        return day
    day += timedelta(days=1)
    while day.weekday() == 6 or is_holiday(day, country):
        day += timedelta(days=1)
    return day


def send_day_words(day: date, today: date, lang: str) -> str:
    """« aujourd'hui », « dès demain matin », « dès lundi matin »: when to post the letter."""
    if day == today:
        return t(lang, "send_today")
    if day == today + timedelta(days=1):
        return t(lang, "send_tomorrow")
    return t(lang, "send_on", weekday=words(lang, "weekdays")[day.weekday()])


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


def written_month(day: date, lang: str) -> str:
    """'octobre 2026', 'October 2026': the month a vague date was given for."""
    return f"{words(lang, 'months')[day.month - 1]} {day.year}"


def written_delay(delay: Delay, lang: str) -> str:
    """'30 jours', '2 mois', '1 an' (the catalogue's words for the unit, singular or plural)."""
    return t(lang, f"{delay.unit}_{'one' if delay.amount == 1 else 'many'}", n=delay.amount)
