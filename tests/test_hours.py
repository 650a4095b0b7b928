"""Opening hours at fixed instants, French time, public holidays included."""
from datetime import date, timezone

import pytest

from bot.flow.hours import HoursError, open_status, parse_hours
from conftest import paris

PHONE = parse_hours({"mon-fri": "08:30-21:00", "sat-sun": "09:00-18:00", "holidays": "09:00-18:00"})
SOCIAL = parse_hours({"mon-fri": "09:00-20:00", "sat-sun": "09:00-18:00", "holidays": "09:00-18:00"})
ACCESSIBLE = parse_hours({"mon-thu": "09:00-17:00", "fri": "09:00-16:00"})


def test_weekday_evening_edge():
    before = open_status(SOCIAL, paris(2026, 11, 26, 19, 59))
    after = open_status(SOCIAL, paris(2026, 11, 26, 20, 1))
    assert before.open and before.until == paris(2026, 11, 26, 20, 0)
    assert not after.open and after.next_open == paris(2026, 11, 27, 9, 0)


def test_sunday_uses_weekend_hours():
    assert open_status(PHONE, paris(2026, 11, 29, 17, 30)).open
    closed = open_status(PHONE, paris(2026, 11, 29, 18, 30))
    assert not closed.open and closed.next_open == paris(2026, 11, 30, 8, 30)


def test_first_of_may_is_a_holiday():
    # 1 May 2026 is a Friday: holiday hours (9h-18h) apply, not the weekday's 8h30-21h.
    assert not open_status(PHONE, paris(2026, 5, 1, 8, 45)).open
    assert open_status(PHONE, paris(2026, 5, 1, 9, 15)).open
    assert not open_status(PHONE, paris(2026, 5, 1, 19, 0)).open
    # A channel without holiday hours is never declared open on a holiday: its hours are unknown.
    state = open_status(ACCESSIBLE, paris(2026, 5, 1, 10, 0))
    assert not state.open and state.holiday_unknown
    assert state.next_open == paris(2026, 5, 4, 9, 0)  # the next working day, Monday
    assert not open_status(ACCESSIBLE, paris(2026, 5, 4, 10, 0)).holiday_unknown


def test_dst_change_day_is_in_paris_time():
    # 29 March 2026: clocks go forward at 2h. 9h30 Paris is 7h30 UTC that day.
    from datetime import datetime
    utc = datetime(2026, 3, 29, 7, 30, tzinfo=timezone.utc)
    assert open_status(PHONE, utc).open
    assert not open_status(PHONE, datetime(2026, 3, 29, 6, 30, tzinfo=timezone.utc)).open  # 8h30 Paris


def test_next_opening_skips_closed_weekend():
    state = open_status(ACCESSIBLE, paris(2026, 11, 27, 16, 30))  # Friday after 16h
    assert not state.open and state.next_open == paris(2026, 11, 30, 9, 0)


def test_label_reads_in_french():
    assert PHONE.label["fr"] == "lun.-ven. 8h30-21h ; sam.-dim. 9h-18h ; jours fériés 9h-18h"


@pytest.mark.parametrize("spec, reason", [
    ({"mon-fri": "8h-20h"}, "malformed hours"),
    ({"mon-fri": "09:00-25:00"}, "impossible time"),
    ({"mon-fri": "18:00-09:00"}, "end before they start"),
    ({"lun-ven": "09:00-18:00"}, "unknown day"),
    ({"mon-fri": "09:00-12:00, 11:00-14:00"}, "overlapping"),
    ({"mon-fri": "09:00-18:00", "fri": "09:00-12:00"}, "given twice"),
])
def test_malformed_hours_are_refused(spec, reason):
    with pytest.raises(HoursError, match=reason):
        parse_hours(spec)


def test_french_holidays_match_the_holidays_package():
    """bot/flow/hours.py computes France's public holidays itself (the package costs ~15 MB
    of idle memory): the same dates as the package's, year after year."""
    from holidays.countries.france import France
    from bot.flow.hours import FrenchHolidays
    ours = FrenchHolidays()
    for year in range(2008, 2061):
        assert ours.dates(year) == frozenset(France(years=year)), year
    assert date(2006, 6, 5) not in ours and date(2006, 4, 17) in ours  # before 2008: the package's answer
