"""The calendar's arithmetic for a flow's timeline: a day plus a delay, and each named delay's
date. Pure, and free of the engine, so that `check` can use it too."""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from .model import Delay

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

    def of(name: str, seen: tuple[str, ...] = ()) -> date | None:
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
