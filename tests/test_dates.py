"""Dates typed loosely, read the way a person means them; vague ones err early."""
from datetime import date

import pytest

from bot.engine.dates import read_date

TODAY = date(2026, 11, 26)  # a Thursday


@pytest.mark.parametrize("typed, expected", [
    ("aujourd'hui", date(2026, 11, 26)), ("hier", date(2026, 11, 25)), ("avant-hier", date(2026, 11, 24)),
    ("Hier soir", date(2026, 11, 25)), ("yesterday", date(2026, 11, 25)),
    ("le 3", date(2026, 11, 3)), ("le 28", date(2026, 10, 28)),  # the 28th has not come yet this month
    ("03/11", date(2026, 11, 3)), ("3/11/2026", date(2026, 11, 3)), ("03.11.26", date(2026, 11, 3)),
    ("3 novembre", date(2026, 11, 3)), ("le 1er octobre", date(2026, 10, 1)), ("3 décembre", date(2025, 12, 3)),
    ("12 mars 2026", date(2026, 3, 12)), ("2026-11-03", date(2026, 11, 3)),
    ("lundi", date(2026, 11, 23)), ("jeudi dernier", date(2026, 11, 19)), ("last Monday", date(2026, 11, 23)),
    ("il y a 3 jours", date(2026, 11, 23)), ("il y a deux semaines", date(2026, 11, 12)),
    ("il y a un mois", date(2026, 10, 26)), ("2 weeks ago", date(2026, 11, 12)),
    # phrasings a stranger typed
    ("2026/11/03", date(2026, 11, 3)), ("aujourdhui", date(2026, 11, 26)), ("y a 10 jours", date(2026, 11, 16)),
    ("il y a 10j", date(2026, 11, 16)), ("envoyé le 3", date(2026, 11, 3)), ("je l'ai postée le 20", date(2026, 11, 20)),
    ("il y a 1 an", date(2025, 11, 26)),
])
def test_a_date_typed_loosely_reads_as_meant(typed, expected):
    assert read_date(typed, TODAY).day == expected


@pytest.mark.parametrize("typed, expected", [("en novembre", date(2026, 11, 1)), ("début octobre", date(2026, 10, 1)),
                                             ("septembre 2025", date(2025, 9, 1)),
                                             ("la semaine dernière", date(2026, 11, 16)),  # its Monday
                                             ("le mois dernier", date(2026, 10, 1))])
def test_a_vague_date_is_its_earliest_day(typed, expected):
    reading = read_date(typed, TODAY)
    assert reading.day == expected and reading.vague


@pytest.mark.parametrize("typed, problem", [("demain", "future"), ("le 30/12/2026", "future"),
                                            ("3 mars 2023", "too_old"), ("je ne sais plus", "unknown"),
                                            ("25/11/2024", "too_old"), ("il y a 3 ans", "too_old"),
                                            ("31/02", "unknown"), ("", "unknown")])
def test_a_date_that_cannot_be_used_says_why(typed, problem):
    reading = read_date(typed, TODAY)
    assert reading.day is None and reading.problem == problem


def test_exactly_two_years_back_is_still_taken():
    assert read_date("26/11/2024", TODAY).day == date(2024, 11, 26)
