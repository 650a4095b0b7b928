"""Reading a date typed loosely (« hier », « le 3 », « 03/11 », « 3 novembre », « en novembre »,
"last Monday"), relative to today, in the flow's time zone. Pure: today is a parameter.

A vague date is taken as its earliest day (« en novembre » is 1 November), so that deadlines
counted from it err early. A date in the future, or more than two years back, is refused
with the reason, for the person to be told in one sentence. A day and month without a year
that is still to come this year (« le 10 décembre » on 7 December) can only be last year's:
it is read so, and `last_year` says it must be confirmed before it is used. A bare number is
a day of this month, or of the last one if that day is still to come (« 3 », « le 2 de ce
mois », « le 2 du mois dernier »).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

MAX_AGE_YEARS = 2  # a date further back than the same day two years ago is refused

_MONTHS = {name: n for n, names in enumerate((
    ("janvier", "janv", "jan", "january"), ("fevrier", "fevr", "fev", "feb", "february"),
    ("mars", "mar", "march"), ("avril", "avr", "apr", "april"), ("mai", "may"), ("juin", "jun", "june"),
    ("juillet", "juil", "jul", "july"), ("aout", "aug", "august"), ("septembre", "sept", "sep", "september"),
    ("octobre", "oct", "october"), ("novembre", "nov", "november"), ("decembre", "dec", "december"),
), start=1) for name in names}
_WEEKDAYS = {name: n for n, names in enumerate((
    ("lundi", "monday"), ("mardi", "tuesday"), ("mercredi", "wednesday"), ("jeudi", "thursday"),
    ("vendredi", "friday"), ("samedi", "saturday"), ("dimanche", "sunday"),
)) for name in names}
_WORD_NUMBERS = {"un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
                 "huit": 8, "neuf": 9, "dix": 10, "quinze": 15, "a": 1, "one": 1, "two": 2, "three": 3,
                 "four": 4, "five": 5, "ten": 10}
_RELATIVE = {"aujourd hui": 0, "aujourdhui": 0, "ce jour": 0, "today": 0, "ce matin": 0, "hier": 1, "yesterday": 1,
             "avant hier": 2, "avant avant hier": 3, "demain": -1, "tomorrow": -1}
_UNITS = {"jour": 1, "jours": 1, "day": 1, "days": 1, "semaine": 7, "semaines": 7, "week": 7, "weeks": 7}
_MONTH_UNITS = ("mois", "month", "months")
_YEAR_UNITS = ("an", "ans", "annee", "annees", "year", "years")


@dataclass(frozen=True)
class DateReading:
    """`day` when the text reads as a date that may be used; otherwise `problem`: 'unknown'
    (not a date), 'future' or 'too_old' (the bot says so in one sentence)."""
    day: date | None
    problem: str | None = None
    vague: str = ""  # "week", "month" or "year" given rather than a day: its earliest day was taken
    last_year: bool = False  # no year given, and this year's date is still to come: confirm it


def _words(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"(\d)(er|eme|e|st|nd|rd|th)\b", r"\1", text)  # 1er, 3e, 2nd
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # avant-hier
    text = re.sub(r"\b(\d+)\s*j\b", r"\1 jours", text)  # 10j
    return re.sub(r"[^a-z0-9/.\-]+", " ", text).strip()


def read_date(text: str, today: date) -> DateReading:
    """The day a person means, relative to `today` (see the module docstring)."""
    words = _words(text)
    day, vague = _read(words, today)
    if day is None:
        return DateReading(None, "unknown")
    if day > today:
        return DateReading(None, "future")
    if day < _years_back(today, MAX_AGE_YEARS):
        return DateReading(None, "too_old")
    named_month = any(w in _MONTHS for w in words.split()) or re.search(r"\b\d{1,2}[/.\-]\d{1,2}\b", words)
    said_year = not named_month or re.search(
        r"\b\d{4}\b|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}\b|\b(an|ans|annee|year|years|dernier|derniere"
        r"|passe|passee|last|ago)\b", words)
    guessed = day.year < today.year and not said_year and _this_year(day, today) is not None
    return DateReading(day, None, vague, guessed)


def _this_year(day: date, today: date) -> date | None:
    """The same day and month this year, when it is still to come (then `day` was a guess)."""
    same = _make(today.year, day.month, day.day)
    return same if same is not None and same > today else None


def _read(words: str, today: date) -> tuple[date | None, str]:
    for phrase, back in sorted(_RELATIVE.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{phrase}\b", words):
            return today - timedelta(days=back), ""
    of_last_month = re.search(r"\b(\d{1,2}) (?:du|de l|de le|of) (?:mois )?(?:dernier|passe|last month)\b", words)
    if of_last_month:  # « le 2 du mois dernier »
        previous = _months_back(today.replace(day=1), 1)
        return _make(previous.year, previous.month, int(of_last_month.group(1))), ""
    if re.search(r"\b(semaine (derniere|passee)|last week)\b", words):  # its Monday: errs early
        return today - timedelta(days=today.weekday() + 7), "week"
    if re.search(r"\b(mois (dernier|passe)|last month)\b", words):
        return _months_back(today.replace(day=1), 1), "month"
    ago = re.search(r"\b(?:il y a|y a|ca fait|cela fait|depuis)\s+(\d+|\w+)\s+(\w+)|\b(\d+|\w+)\s+(\w+)\s+ago\b", words)
    if ago:
        amount, unit = (ago.group(1), ago.group(2)) if ago.group(1) else (ago.group(3), ago.group(4))
        n = int(amount) if amount.isdigit() else _WORD_NUMBERS.get(amount)
        if n is not None and unit in _UNITS:
            return today - timedelta(days=n * _UNITS[unit]), "" if unit in ("jour", "jours", "day", "days") else "week"
        if n is not None and unit in _MONTH_UNITS:
            return _months_back(today, n), "month"
        if n is not None and unit in _YEAR_UNITS:
            return _years_back(today, n), "year"
    iso = re.search(r"\b(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})\b", words)
    if iso:
        return _make(int(iso.group(1)), int(iso.group(2)), int(iso.group(3))), ""
    numeric = re.search(r"\b(\d{1,2})[/.\-](\d{1,2})(?:[/.\-](\d{2,4}))?\b", words)
    if numeric:
        d, m, y = int(numeric.group(1)), int(numeric.group(2)), numeric.group(3)
        return (_make(_year(y), m, d) if y else _latest(today, m, d)), ""
    named = re.search(r"\b(\d{1,2})\s+([a-z]+)(?:\s+(\d{4}))?\b", words)
    if named and named.group(2) in _MONTHS:
        d, m, y = int(named.group(1)), _MONTHS[named.group(2)], named.group(3)
        return (_make(int(y), m, d) if y else _latest(today, m, d)), ""
    month = re.search(r"\b([a-z]+)(?:\s+(\d{4}))?\b", " ".join(w for w in words.split() if w in _MONTHS
                                                                  or w.isdigit() and len(w) == 4))
    if month and month.group(1) in _MONTHS:
        m, y = _MONTHS[month.group(1)], month.group(2)
        first = _part_of_month(words)  # « fin septembre » is the 20th, « mi-octobre » the 10th: errs early, not a month
        return (_make(int(y), m, first) if y else _latest(today, m, first)), "month"
    weekday = next((w for w in words.split() if w in _WEEKDAYS), None)
    if weekday is not None:
        back = (today.weekday() - _WEEKDAYS[weekday]) % 7 or 7  # the last such day before today
        return today - timedelta(days=back), ""
    day_only = re.search(r"(?:^|\ble\s+|\bthe\s+)(\d{1,2})(?:\s+(de ce mois(?: ci)?|du mois(?: en cours)?|ce mois(?: ci)?"
                         r"|this month|of this month|du mois (?:dernier|passe)|de (?:l|le) mois (?:dernier|passe)"
                         r"|last month|of last month))?$", words)  # « 3 », « envoyée le 3 », « le 2 de ce mois »
    if day_only:
        d, which = int(day_only.group(1)), day_only.group(2) or ""
        if re.search(r"dernier|passe|last", which):
            previous = _months_back(today.replace(day=1), 1)
            return _make(previous.year, previous.month, d), ""
        candidate = _make(today.year, today.month, d)
        if which:  # « de ce mois »: this month's, even if still to come (then refused as future)
            return candidate, ""
        back = 1
        while (candidate is None or candidate > today) and back <= 3 and 1 <= d <= 31:  # « le 31 » on 10 December:
            previous = _months_back(today.replace(day=1), back)                    # 31 October, the last one
            candidate, back = _make(previous.year, previous.month, d), back + 1
        return candidate, ""
    return None, ""


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def _latest(today: date, month: int, day: int) -> date | None:
    """The most recent such day not after today (« 3 novembre » in January is last year's;
    « 29 février » the last one there was)."""
    for year in range(today.year, today.year - 5, -1):
        candidate = _make(year, month, day)
        if candidate is not None and candidate <= today:
            return candidate
    return None


_PARTS = ((r"\b(fin|fin de|late|end of)\b", 20), (r"\b(mi|milieu|mid|middle of)\b", 10))


def _part_of_month(words: str) -> int:
    """The first day a vague part of a month can mean: « fin » the 20th, « mi » the 10th, else the 1st."""
    return next((day for pattern, day in _PARTS if re.search(pattern, words)), 1)


def _years_back(day: date, n: int) -> date:
    return _make(day.year - n, day.month, day.day) or date(day.year - n, day.month, 28)


def _months_back(day: date, n: int) -> date:
    month = day.month - n
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return _make(year, month, min(day.day, 28)) or day
