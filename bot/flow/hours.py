"""Opening hours: parsing the YAML form, and "open now / next opening" at a given instant.

YAML form (French time unless the flow says otherwise):

    hours:
      mon-fri: "08:30-21:00"
      sat-sun: "09:00-18:00"
      holidays: "09:00-18:00"      # public holidays, whatever the weekday
      # also: "mon,wed: 09:00-12:00, 14:00-17:00" and "closed"

Days not listed are closed. Without a `holidays` key, a channel's hours on a public holiday are
unknown: it is never declared open that day (`OpenStatus.holiday_unknown`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ..locales import languages, t, words
from .model import Hours
from .yamlsrc import YamlValue
from ..errors import BotError

if TYPE_CHECKING:
    from holidays import HolidayBase

Spans = tuple[tuple[int, int], ...]  # opening spans of a day, in minutes since midnight

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class HoursError(BotError, ValueError):
    """Opening hours written in a way they cannot be read (a ValueError too, for callers that parse)."""


def _days(key: str) -> list[int]:
    """'mon-fri' -> [0..4]; 'sat,sun' -> [5, 6]; 'wed' -> [2]."""
    result: list[int] = []
    for part in str(key).lower().replace(" ", "").split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise HoursError(f"unknown day range {part!r}: use mon, tue, wed, thu, fri, sat, sun")
            a, b = DAYS.index(first), DAYS.index(last)
            if b < a:
                raise HoursError(f"day range {part!r} runs backwards")
            result.extend(range(a, b + 1))
        elif part in DAYS:
            result.append(DAYS.index(part))
        else:
            raise HoursError(f"unknown day {part!r}: use mon, tue, wed, thu, fri, sat, sun, or holidays")
    return result


def _ranges(value: object) -> Spans:
    if isinstance(value, str) and value.strip().lower() in ("closed", "ferme", "fermé"):
        return ()
    if not isinstance(value, str):
        raise HoursError(f"hours must be written like \"09:00-18:00\", not {value!r}")
    spans = []
    for part in value.split(","):
        match = _RANGE.match(part)
        if not match:
            raise HoursError(f"malformed hours {part.strip()!r}: write them like \"09:00-18:00\"")
        h1, m1, h2, m2 = map(int, match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise HoursError(f"impossible time in {part.strip()!r}")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise HoursError(f"hours {part.strip()!r} end before they start")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            raise HoursError(f"overlapping hours in {value!r}")
    return tuple(spans)


def parse_hours(spec: object) -> Hours:
    """Build Hours from the YAML mapping; raise HoursError with a readable reason."""
    if not isinstance(spec, dict) or not spec:
        raise HoursError("hours must be a mapping like  mon-fri: \"09:00-18:00\"")
    week: list[Spans | None] = [None] * 7
    holiday_spans = None
    for key, value in spec.items():
        spans = _ranges(value)
        if str(key).lower() in ("holidays", "feries", "fériés"):
            holiday_spans = spans
            continue
        for day in _days(key):
            if week[day] is not None:
                raise HoursError(f"{DAYS[day]} is given twice")
            week[day] = spans
    week_t = tuple(w or () for w in week)
    label = {lang: _describe(spec, lang) for lang in languages()}
    return Hours(week=week_t, holidays=holiday_spans, label=label)


def clock_time(minutes: int, lang: str) -> str:
    """'8h30' / '8:30' for minutes since midnight."""
    h, m = divmod(minutes, 60)
    return t(lang, "time_hm" if m else "time_h", h=h, m=m)


def _describe(spec: dict[YamlValue, YamlValue], lang: str) -> str:
    short = words(lang, "weekdays_short")
    parts = []
    for key, value in spec.items():
        spans = _ranges(value)
        text = ", ".join(t(lang, "hours_span", start=clock_time(a, lang), end=clock_time(b, lang))
                         for a, b in spans) or t(lang, "hours_closed")
        if str(key).lower() in ("holidays", "feries", "fériés"):
            who = t(lang, "hours_holidays")
        else:
            who = ", ".join(
                t(lang, "hours_days", first=short[DAYS.index(p.split("-")[0])], last=short[DAYS.index(p.split("-")[1])])
                if "-" in p else short[DAYS.index(p)]
                for p in str(key).lower().replace(" ", "").split(","))
        parts.append(f"{who} {text}")
    return t(lang, "hours_join").join(parts)


def _easter(year: int) -> date:
    """Easter Sunday (Gregorian calendar; the anonymous algorithm, as in dateutil)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


class FrenchHolidays:
    """France's eleven national public holidays (as the `holidays` package has them from
    2008 on; tests/test_hours.py compares both), without that package: it imports every
    country's rules, about 15 MB of the bot's idle memory for one country's dozen dates."""

    FIXED = ((1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25))

    def __init__(self) -> None:
        self._years: dict[int, frozenset[date]] = {}

    def dates(self, year: int) -> frozenset[date]:
        found = self._years.get(year)
        if found is None:
            easter = _easter(year)
            found = frozenset([date(year, m, d) for m, d in self.FIXED]
                              + [easter + timedelta(days=n) for n in (1, 39, 50)])  # Monday, Ascension, Whit Monday
            self._years[year] = found
        return found

    def __contains__(self, day: date) -> bool:
        if day.year < 2008:  # Whit Monday was not a holiday in 2005-2007: the package knows the past
            return day in _package_calendar("FR")
        return day in self.dates(day.year)


@lru_cache(maxsize=8)
def _package_calendar(country: str) -> HolidayBase:
    # Imported on first use: the package loads every country's rules (~15 MB, ~0.1 s), which
    # `check`, `graph` and the bot's start-up need not wait for (see Engine.warm_up).
    import holidays
    return holidays.country_holidays(country)


@lru_cache(maxsize=8)
def _calendar(country: str) -> FrenchHolidays | HolidayBase:
    return FrenchHolidays() if country.upper() == "FR" else _package_calendar(country)


@dataclass(frozen=True)
class OpenStatus:
    open: bool
    until: datetime | None      # when open: closing time
    next_open: datetime | None  # when closed: next opening (within two weeks)
    holiday_unknown: bool = False  # today is a public holiday and its hours that day are not known


def is_holiday(day: date, country: str = "FR") -> bool:
    return day in _calendar(country)


def _spans_on(hours: Hours, day: date, country: str) -> Spans:
    """The day's opening spans; none on a public holiday whose hours are not known."""
    if day in _calendar(country):
        return hours.holidays or ()
    return hours.week[day.weekday()]


def open_status(hours: Hours, now: datetime, tz: str = "Europe/Paris", country: str = "FR") -> OpenStatus:
    """Whether a channel is open at `now` (an aware datetime), in the flow's time zone."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    minute = local.hour * 60 + local.minute
    today = local.date()
    unknown = hours.holidays is None and is_holiday(today, country)
    for start, end in _spans_on(hours, today, country):
        if start <= minute < end:
            return OpenStatus(True, _at(today, end, zone), None)
    for offset in range(0, 15):
        day = today + timedelta(days=offset)
        for start, _ in _spans_on(hours, day, country):
            if offset or start > minute:
                return OpenStatus(False, None, _at(day, start, zone), unknown)
    return OpenStatus(False, None, None, unknown)


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= 24 * 60:
        return datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=1)
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone)


def describe_moment(moment: datetime, now: datetime, lang: str = "fr") -> str:
    """'à 21h', 'demain à 8h30', 'lundi à 9h', 'le 3/01 à 9h', relative to now (both local)."""
    delta = (moment.date() - now.astimezone(moment.tzinfo).date()).days
    time = clock_time(moment.hour * 60 + moment.minute, lang)
    if delta <= 0:
        return t(lang, "at_today", time=time)
    if delta == 1:
        return t(lang, "at_tomorrow", time=time)
    if delta < 7:
        return t(lang, "at_weekday", weekday=words(lang, "weekdays")[moment.weekday()], time=time)
    return t(lang, "at_date", day=moment.day, month=moment.month, time=time)
