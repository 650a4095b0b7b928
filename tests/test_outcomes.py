"""Outcomes are short, dated from today, and their details each fit one Telegram message;
open-now never promises what is not known; nothing written for flow authors reaches people."""
import re
from datetime import date


import pytest
import yaml

from bot.engine.reply import DETAIL
from bot.engine.timeline import add_delay, due_dates, written_date
from bot.flow.check import load_flow_text
from bot.telegram.render import render
from conftest import FLOWS, NOW, paris
from test_content import _detail, _walk, all_outcomes, followup_questions, said

TIMES = {"weekday noon": NOW, "evening": paris(2026, 11, 26, 21, 30),
         "sunday": paris(2026, 11, 29, 19, 0), "christmas": paris(2026, 12, 25, 10, 0)}


@pytest.fixture(scope="module", params=[(lang, when) for lang in ("fr", "en") for when in TIMES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def walked(request, engine):
    lang, when = request.param
    return lang, TIMES[when], all_outcomes(engine, TIMES[when], lang)


def test_every_outcome_says_the_essentials_in_700_characters(walked, flow):
    lang, _, found = walked
    assert set(found) == {n.id for n in flow.nodes.values() if n.is_outcome}
    for node, replies in found.items():
        for _progress, reply, _ in replies:
            messages = render(reply, lang, 1)  # what to do and its dates; then what is open now, with the buttons
            assert len(messages) <= 2
            shown = "\n\n".join(re.sub(r"<[^>]+>", "", m.html) for m in messages)
            assert len(shown) <= 700, (node, lang, len(shown), shown)
            assert "{" not in shown and "[…]" not in shown


def test_every_detail_is_one_telegram_message(walked, flow):
    lang, _, found = walked
    for node, replies in found.items():
        for _, reply, details in replies:
            if flow.nodes[node].channels or flow.nodes[node].facts:  # what it states, it sources
                assert {b.id for b in reply.buttons if b.id.startswith(DETAIL)} >= {DETAIL + "sources"}
            for detail in details:
                messages = render(detail, lang, 1)
                assert len(messages) == 1 and len(messages[0].html) <= 4096, (node, detail.text)
                assert [b.id for b in detail.buttons] == [b.id for b in reply.buttons]  # open another, or go back


def test_no_channel_is_declared_open_on_a_holiday_without_known_holiday_hours(engine):
    progress, reply = _walk(engine, "access", "video", "no", "yes", now=TIMES["christmas"])
    assert progress.node == "first_contact"
    assert reply.now == ("La plateforme accessibilité : jour férié, horaires inconnus aujourd'hui. "
                         "👉 Les réseaux sociaux sont ouverts maintenant, jusqu'à 18h (horaires non confirmés).")
    cards = _detail(engine, progress, reply, "channels", TIMES["christmas"]).cards
    assert cards[0].kind == "accessibility" and cards[0].status == "🟠 Jour férié : horaires inconnus aujourd'hui"


def test_sunday_evening_line_reads_right_and_names_unconfirmed_hours(engine):
    sunday_night = paris(2026, 11, 29, 22, 0)
    progress, reply = _walk(engine, "technical", "video", "no", "no", now=sunday_night)
    assert "Les réseaux sociaux ouvrent demain à 9h (horaires non confirmés)." not in reply.now  # 3979 first
    assert "Le 3979 ouvre demain à 8h30." in reply.now and "horaires non publiés" in reply.now
    assert "Aucun conseiller" not in reply.now  # the chat, of unknown hours, is listed
    progress, reply = _walk(engine, "technical", "video", "no", "no", now=paris(2026, 11, 29, 12, 0))
    assert reply.now == "👉 Le 3979 est ouvert maintenant, jusqu'à 18h."


def test_a_deaf_persons_reachable_now_line_names_only_channels_they_can_use(engine):
    _, reply = _walk(engine, "billing", "video", "no", "yes", "card")
    assert reply.now == "👉 La plateforme accessibilité est ouverte maintenant, jusqu'à 17h (horaires non confirmés)."
    _, reply = _walk(engine, "billing", "video", "no", "yes", "card", now=paris(2026, 11, 27, 21, 0))  # Friday night
    assert "3979" not in reply.now and "Les réseaux sociaux ouvrent demain à 9h (horaires non confirmés)." in reply.now


def test_one_timeline_everywhere(engine):
    """The letter, the short message and the details give the same dates, counted from today."""
    progress, reply = _walk(engine, "billing", "video", "no", "no", "card")
    assert "au plus tard le samedi 26 décembre 2026" in reply.text
    assert "jusqu'au vendredi 26 novembre 2027 inclus" in reply.text
    progress_other, other = _walk(engine, "unreachable", "video", "phone")  # not about money: the full timeline
    assert "dès le dimanche 27 décembre 2026" in other.text
    assert "jusqu'au vendredi 26 novembre 2027 inclus (la loi)" in other.text
    assert "à partir du mardi 26 janvier 2027" in said(_detail(engine, progress_other, other, "next"))
    letter = _detail(engine, progress, reply, "letter").document.content
    assert "dans un délai de 30 jours, soit au plus tard le samedi 26 décembre 2026" in letter
    assert "15 jours" not in letter and "deux mois" not in said(reply)
    progress, reply = _walk(engine, "billing", "video", "written", "waiting", "no", "card")
    notice = _detail(engine, progress, reply, "letter").document.content
    assert "MISE EN DEMEURE" in notice and "dans un délai de 15 jours, soit au plus tard le vendredi 11 décembre 2026" in notice


def test_the_timeline_is_read_from_the_flow(flow):
    """An author changes a delay in the YAML; every date follows."""
    text = (FLOWS / "cstream.yaml").read_text(encoding="utf-8").replace("delay: 30 days", "delay: 20 days")
    edited, problems = load_flow_text(text)
    assert not [p for p in problems if not p.warning]
    sent = date(2026, 11, 26)  # the day the letter is sent (`from: letter_sent`)
    assert due_dates(edited.timeline, sent, {"letter_sent": sent})["answer_due"] == date(2026, 12, 16)
    assert edited.timeline["mediator_from"].basis == "practice" and edited.timeline["mediator_until"].basis == "law"


@pytest.mark.parametrize("start,amount,unit,expected", [
    (date(2026, 11, 26), 30, "days", date(2026, 12, 26)),
    (date(2026, 1, 31), 1, "months", date(2026, 2, 28)),     # clamped to the month's end
    (date(2028, 1, 31), 1, "months", date(2028, 2, 29)),     # a leap year
    (date(2026, 11, 30), 3, "months", date(2027, 2, 28)),
    (date(2028, 2, 29), 1, "years", date(2029, 2, 28)),
])
def test_calendar_arithmetic(start, amount, unit, expected):
    assert add_delay(start, amount, unit) == expected


def test_dates_are_written_out():
    assert written_date(date(2026, 12, 28), "fr") == "lundi 28 décembre 2026"
    assert written_date(date(2026, 12, 1), "fr") == "mardi 1er décembre 2026"
    assert written_date(date(2026, 12, 28), "en") == "Monday 28 December 2026"


def _author_notes(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "author_note":
                yield inner
            else:
                yield from _author_notes(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _author_notes(inner)


def test_notes_for_authors_never_reach_people(engine):
    notes = list(_author_notes(yaml.safe_load((FLOWS / "cstream.yaml").read_text(encoding="utf-8"))))
    assert len(notes) >= 5
    everything = "\n".join(said(r) for lang in ("fr", "en") for found in all_outcomes(engine, NOW, lang).values()
                           for _, short, details in found for r in [short] + details)
    for note in notes:
        assert note not in everything
    for remark in ("prestataire inconnu", "provider unknown", "L'article d'origine parlait",
                   "original article said", "l'article d'origine"):
        assert remark.lower() not in everything.lower()


def test_sources_say_checked_only_when_checked(engine, flow):
    progress, reply = _walk(engine, "requests", "books", "written", "no_answer", "under_year")
    sources = _detail(engine, progress, reply, "sources").sources
    seed = next(line for line in sources if line.startswith(flow.sources["seed"].title["fr"]))
    assert seed.endswith("non vérifié") and "vérifié le" not in seed  # « Article … non vérifié »
    law = next(line for line in sources if line.startswith(flow.sources["mediation_law"].title["fr"]))
    assert "vérifié le 27/11/2026" in law  # « Code … vérifié »
    faq = next(line for line in sources if line.startswith("Page tierce"))
    assert faq.endswith("non vérifiée")  # « Page … non vérifiée »
    facts = _detail(engine, progress, reply, "next").facts
    assert any(f.startswith("Correction : la médiation dure au plus 90 jours") for f in facts)


def test_mediator_card_says_fevad_coverage_is_unchecked_and_unconfirmed_contacts_come_after(engine):
    progress, reply = _walk(engine, "requests", "books", "written", "no_answer", "under_year")
    cards = _detail(engine, progress, reply, "channels").cards
    form = next(i for i, c in enumerate(cards) if c.url == "https://www.mediateurfevad.fr")
    assert "Non vérifié : que Cdiscount relève aujourd'hui de ce médiateur" in cards[form].note
    for i, card in enumerate(cards):
        if card.email or any("BP 20015" in d for d in card.details):
            assert card.unchecked and i > form


def test_the_letter_is_in_french_for_an_english_interface(engine):
    progress, reply = engine.start(lang="en", now=NOW)
    progress, reply = engine.text(progress, "I was charged twice for my subscription this month", NOW)
    for answer in ("video", "no", "no", "card"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    assert reply.text.startswith("Send your written complaint today")
    letter = _detail(engine, progress, reply, "letter")
    assert "The letter is in French: it relies on French consumer law" in letter.sections[0][1]
    content = letter.document.content
    assert "Objet : Réclamation - abonnement Cstream Vidéo" in content and "samedi 26 décembre 2026" in content
    for english in ("Saturday", "December", "a billing error", "Several", "Dear"):
        assert english not in content


def test_quoted_words_are_trimmed_at_a_word(engine):
    long = "on m'a prélevé deux fois " + "vraiment " * 60 + "FIN"
    progress, reply = engine.start(now=NOW)
    progress, reply = engine.text(progress, long, NOW)
    for answer in ("video", "no", "no", "unknown"):  # « prélevé »: how is not asked; the day is not known
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    content = _detail(engine, progress, reply, "letter").document.content
    quoted = re.search(r"« (.*) »", content).group(1)
    assert len(quoted) <= 302 and quoted.endswith("vraiment …") and "FIN" not in quoted


def test_corrections_are_one_plain_sentence(flow):
    corrections = [f for f in flow.facts.values() if f.status == "correction"]
    assert len(corrections) >= 2
    for fact in corrections:
        for text in fact.text.values():
            assert text.endswith(".") and not re.search(r"(?<!art)[.!?] [A-Z«“]", text[:-1]), text
            assert "article d'origine" not in text and "original article" not in text


def test_a_deaf_person_gets_the_platform_first_on_every_outcome_and_never_the_phone_first(engine, flow):
    start, reply = engine.start(now=NOW)
    stack, reached, seen = [(start.with_(inferred=(("hearing", "yes"),)), reply)], set(), set()
    while stack:
        progress, reply = stack.pop()
        if reply.kind == "outcome":
            reached.add(progress.node)
            stack += followup_questions(engine, progress, reply, NOW, seen)
            if not flow.nodes[progress.node].channels:
                continue  # the case closed: nobody to contact
            assert "3979" not in reply.text and "3979" not in (reply.now or ""), progress.node
            assert "téléphone" not in reply.text.lower()
            if "channels" not in engine.outcomes.details(flow, flow.nodes[progress.node], progress, NOW):
                continue  # only the bank to ask (bank_now)
            contacts = _detail(engine, progress, reply, "channels")
            assert contacts.cards[0].kind == "accessibility", progress.node
            assert all(card.kind != "phone" for card in contacts.cards), progress.node
            continue
        assert progress.node != "hearing"  # never asked again
        for button in reply.buttons:
            if not button.id.startswith("_"):
                stack.append(engine.choose(progress, button.id, reply.token, NOW))
        if reply.kind == "date":
            stack.append(engine.text(progress, "hier", NOW))
    assert reached == {n.id for n in flow.nodes.values() if n.is_outcome}


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_billing_outcomes_with_a_date_stay_under_700_characters(engine, lang):
    """The paths a button walk cannot take: a date typed at « Quel jour ? », for each way the
    money was taken, each contact, deaf or not, with the bank's deadline nearer, later or passed."""
    from bot.engine.reply import BACK, RESTART
    for now in TIMES.values():
        for typed in ("il y a trois jours", "il y a cinq semaines", "le 1er septembre", "1 septembre 2025"):
            for start in (["billing", "video", "no", "yes"], ["billing", "video", "no", "no"],
                          ["cancellation", "several", "signalconso"], ["billing", "books", "phone", "promised"],
                          ["billing", "video", "written", "waiting", "no"], ["billing", "video", "written", "waiting", "yes"],
                          ["billing", "music", "written", "no_answer", "under_year"],
                          ["cancellation", "books", "written", "bad_answer", "over_year"],
                          ["billing", "video", "written", "mediator_done"]):
                for paid in ("debit", "unknown", "not_agreed"):
                    progress, reply = engine.start(lang=lang, now=now)
                    if start[2] == "signalconso":  # the hearing question, asked after a report
                        start = start[:3] + ["no"]
                    for answer in start + [paid]:
                        progress, reply = engine.choose(progress, answer, reply.token, now)
                    assert progress.node == "debit_when"
                    progress, reply = engine.text(progress, typed, now)
                    assert reply.kind == "outcome", (start, paid, typed, reply.notices)
                    shown = "\n\n".join(re.sub(r"<[^>]+>", "", m.html) for m in render(reply, lang, 1))
                    assert len(shown) <= 700, (start, paid, typed, len(shown), shown)
                    assert "{" not in shown and "[…]" not in shown
                    if lang == "fr" and typed == "il y a trois jours":  # a bank route applies: it is shown
                        assert "(8 semaines, non vérifié)" in shown, (start, paid, shown)  # refund without a reason
                        if paid == "not_agreed":  # and the contestation beside it
                            assert "contestez-le (13 mois, non vérifié)" in shown, (start, paid, shown)
                    if lang == "fr" and "inclus (8 semaines, non vérifié)" in shown and paid != "not_agreed":
                        assert "« le remboursement du prélèvement SEPA »" in shown, (start, paid, shown)
                    if lang == "fr" and "(8 semaines" in shown and paid != "not_agreed":  # what to keep: « Votre banque »
                        assert "la référence) du mandat" in said(_detail(engine, progress, reply, "next", now)), shown
                    if lang == "fr" and "inclus (13 mois, non vérifié)" in shown:
                        assert "comme « opération non autorisée »" in shown, (start, paid, shown)
                        assert "gardez le relevé qui le montre" in shown, (start, paid, shown)
                    for button in reply.buttons:
                        if button.id not in (BACK, RESTART):
                            detail = engine.choose(progress, button.id, reply.token, now)[1]
                            assert "[…]" not in "\n".join(t for _, t in detail.sections) + "\n".join(detail.facts)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_a_deaf_person_who_already_wrote_or_reported_gets_the_bank_route_in_700_characters(engine, lang):
    """Said deaf in the description (never asked), then the paths the hearing question does not
    cover: a report to SignalConso, a written complaint. The accessible platform's open-now line
    is the longest, and the bank route is added. (On a public holiday that line is longer still:
    not covered here.)"""
    for now in (TIMES["weekday noon"], TIMES["evening"], TIMES["sunday"], paris(2026, 11, 27, 21, 0)):
        for typed in ("il y a trois jours", "il y a cinq semaines", "le 1er septembre", "1 septembre 2025"):
            for start in (["cancellation", "several", "signalconso"], ["billing", "video", "written", "waiting"],
                          ["billing", "music", "written", "no_answer", "under_year"],
                          ["cancellation", "books", "written", "bad_answer", "over_year"],
                          ["billing", "video", "written", "mediator_done"]):
                for paid in ("debit", "unknown", "not_agreed"):
                    progress, reply = engine.start(lang=lang, now=now)
                    progress = progress.with_(inferred=(("hearing", "yes", 0),))
                    for answer in start + [paid]:
                        progress, reply = engine.choose(progress, answer, reply.token, now)
                    progress, reply = engine.text(progress, typed, now)
                    assert reply.kind == "outcome", (start, paid, typed)
                    shown = "\n\n".join(re.sub(r"<[^>]+>", "", m.html) for m in render(reply, lang, 1))
                    assert len(shown) <= 700, (start, paid, typed, len(shown), shown)
                    assert "3979" not in shown
