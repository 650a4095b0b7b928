"""What the bot says about its facts: caveats where a claim is unchecked, labels that say what
they hold, sources that agree with their titles, English without French typography."""
import re

import pytest

from conftest import NOW
from test_content import all_outcomes

CAVEAT = re.compile(r"non vérifié|not checked|pas pu confirmer|could not confirm", re.I)


@pytest.fixture(scope="module")
def walked(engine):
    return {lang: all_outcomes(engine, NOW, lang) for lang in ("fr", "en")}


def _replies(walked, lang):
    for node, found in walked[lang].items():
        for progress, short, details in found:
            for reply in [short] + details:
                yield node, progress, reply


def _lines(reply):
    """Every line a person reads, but the letter (always French) and the source list."""
    yield from (reply.text.split("\n") + [reply.now or ""] + [text for _, text in reply.sections] + reply.facts)
    for card in reply.cards:  # the caveat in words: « information non confirmée » is about the card's details
        yield " ".join([card.name, card.how, card.note or ""])


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_line_naming_the_fevad_mediator_says_cdiscount_is_not_confirmed_there(walked, lang):
    seen, missing = set(), set()
    for _node, progress, reply in _replies(walked, lang):
        for line in _lines(reply):
            if "FEVAD" in line:
                seen.add(progress.answers.get("problem"))
                if not CAVEAT.search(line):
                    missing.add(line[:120])
    assert {"billing", "cancellation", "requests"} <= seen  # the billing and cancellation paths too
    assert missing == set()


def test_the_accessible_at_any_time_line_carries_the_caveat(walked):
    lines = {reply.now for _, _, reply in _replies(walked, "fr") if reply.now and "à toute heure" in reply.now}
    assert lines and all("FEVAD" not in line or "non vérifié" in line for line in lines)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_mediators_contacts_are_not_called_customer_service(walked, lang):
    for _, _, reply in _replies(walked, lang):
        if any("FEVAD" in card.name for card in reply.cards):
            assert "service client" not in reply.text and "customer service" not in reply.text.lower()


def test_the_mediator_is_asked_not_seizing_itself(walked):
    said = "\n".join(line for _, _, reply in _replies(walked, "fr") for line in _lines(reply))
    assert "se saisit" not in said and "peut être saisi" in said


def test_sources_agree_with_their_titles(walked, flow):
    ending = {"m": "", "f": "e", "mpl": "s", "fpl": "es"}
    checked = set()
    for _, _, reply in _replies(walked, "fr"):
        for line in reply.sources:
            source = next(s for s in flow.sources.values() if line.startswith(s.title["fr"] + ","))
            word = re.search(r", (non )?(vérifi\w+)", line[len(source.title["fr"]):]).group(2)
            assert word == "vérifié" + ending[source.grammar], line
            checked.add(source.grammar)
    assert {"m", "f"} <= checked


def test_english_has_english_typography_translated_titles_and_says_acknowledgement_of_receipt(walked):
    for _, _progress, reply in _replies(walked, "en"):
        for line in list(_lines(reply)) + reply.sources + [b.label for b in reply.buttons]:
            assert not re.search(r"\w [:;?!](\s|$)|« | »", line), line
        for line in reply.sources:
            assert "(in French)" in line or not re.search(r"\b(Code de|Article|Document|Page tierce)\b", line), line
    french = {(p.token, r.node, r.kind): r for _, p, r in _replies(walked, "fr")}
    pairs = 0
    for _, _progress, reply in _replies(walked, "en"):
        for fr_reply in [r for (token, node, kind), r in french.items() if node == reply.node and kind == reply.kind]:
            if "avec AR" in fr_reply.text:
                pairs += 1
                assert "acknowledgement of receipt" in reply.text
                break
    assert pairs > 0


@pytest.mark.parametrize("service,name", [("music", "Cstream Music"), ("books", "Cstream Books")])
def test_what_to_say_names_the_service_concerned(walked, service, name):
    told = [line for _, progress, reply in _replies(walked, "fr") if progress.answers.get("service") == service
            for line in _lines(reply) if "parlez de votre abonnement" in line or "« Réclamation - abonnement" in line]
    assert told and all(name in line for line in told)
