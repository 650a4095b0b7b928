"""Answers that stay right over time: negations and partial answers read as such, every date of
a followed case counted from its letter, reminders never a day early, deadlines that fall on
a closed day, letters not advised « aujourd'hui » when the post is closed, dates that can only
be last year's confirmed. Each test was seen failing on the code before the fix."""
from datetime import timedelta

import pytest

from bot.engine import Engine
from bot.engine.reply import DETAIL, SHOW_LIST
from bot.flow.check import load_flow_text
from bot.flow.files import FlowSet
from bot.flow.model import DATE
from conftest import FLOWS, paris

THURSDAY = paris(2026, 11, 26, 12, 0)


@pytest.fixture(scope="module")
def bot(flow):
    return Engine(FlowSet([flow]))


def walk(engine, *answers, now=THURSDAY, lang="fr"):
    """Button ids in order; a string with a space is typed."""
    progress, reply = engine.start(now=now, lang=lang)
    for answer in answers:
        if " " in answer or answer.isdigit():
            progress, reply = engine.text(progress, answer, now)
        else:
            progress, reply = engine.choose(progress, answer, reply.token, now)
    return progress, reply


def followed(engine, sent=None, now=THURSDAY, path=("billing", "video", "no", "no", "card")):
    """A billing case, the letter sent today (or on the day typed), no registered number."""
    progress, reply = walk(engine, *path, now=now)
    if sent is None:
        progress, reply = engine.choose(progress, "_case:today", reply.token, now)
    else:
        progress, reply = engine.choose(progress, "_case:date", reply.token, now)
        progress, reply = engine.text(progress, sent, now)
    return engine.choose(progress, "_case:skip", "case", now)


# -- negation and partial answers ------------------------------------------------------------

@pytest.mark.parametrize("typed", [
    "ce n'est pas réglé", "c'est toujours pas réglé", "rien n'est réglé", "non, pas réglé du tout",
    "pas encore réglé malheureusement", "ce n'est pas bon", "it is not settled",
])
def test_a_negative_answer_at_the_reminder_never_closes_the_case(bot, typed):
    progress, _ = followed(bot)
    later = THURSDAY + timedelta(days=31, minutes=1)
    progress, _ = bot.remind(progress, later)
    after, reply = bot.text(progress, typed, later)
    assert after.case.open and "Le dossier est clos" not in reply.text, (typed, reply.text)
    # read as « no answer » or « does not suit », or those two offered to confirm: never « réglé »
    assert after.node in ("notice_now", "mediator") or \
        (after.node == "followup_answer" and set(after.pending) == {"unsatisfied", "nothing"}), (typed, reply.text)


@pytest.mark.parametrize("typed", [
    "remboursé la moitié seulement", "ils ne m'ont remboursé que la moitié", "remboursés en partie",
    "ils m'ont rendu une partie seulement",
])
def test_a_partial_result_does_not_suit(bot, typed):
    progress, _ = followed(bot)
    later = THURSDAY + timedelta(days=31, minutes=1)
    progress, _ = bot.remind(progress, later)
    after, reply = bot.text(progress, typed, later)
    assert after.node == "mediator" and after.case.open, (typed, reply.text)


def test_closing_a_case_is_confirmed_before_it_happens(bot):
    progress, _ = followed(bot)
    later = THURSDAY + timedelta(days=31, minutes=1)
    progress, reply = bot.remind(progress, later)
    asked, reply = bot.text(progress, "oui c'est réglé", later)
    assert asked.case.open and "Je clos alors le dossier" in reply.text
    assert [b.label for b in reply.buttons][:2] == ["Oui, c'est réglé", "Non, revoir les réponses"]
    back, reply = bot.choose(asked, SHOW_LIST, reply.token, later)
    assert back.case.open and back.node == "followup_answer"
    closed, reply = bot.text(asked, "oui", later)
    assert closed.case.state == "closed" and "Le dossier est clos" in reply.text


@pytest.mark.parametrize("typed, hearing", [("je ne suis pas sourd", "no"), ("non je suis pas malentendante", "no"),
                                             ("oui, je suis sourde", "yes"), ("I'm not deaf", "no")])
def test_a_negation_typed_at_a_yes_no_question(bot, typed, hearing):
    progress, _ = walk(bot, "billing", "video", "no", typed)
    assert progress.answers.get("hearing") == hearing, typed


def test_a_negated_fact_in_a_description_says_nothing(bot):
    progress, reply = walk(bot, "je ne suis pas sourd mais on m'a facturé deux fois", "video", "no")
    assert progress.node == "hearing"  # asked: « pas sourd » did not answer it
    progress, reply = walk(bot, "on m'a débité deux fois alors que je n'ai jamais donné mon accord ni donné ma carte")
    assert progress.answers.get("paid_how") != "card"


# -- every date from the letter once a case is open ------------------------------------------

def test_a_case_resumed_a_month_later_counts_from_its_letter(bot):
    """The reviewer's path: « Je l'envoie aujourd'hui » on 25 November 2026, back on 25 December."""
    sent_day = paris(2026, 11, 25, 12, 0)
    progress, _ = followed(bot, now=sent_day)
    back = paris(2026, 12, 25, 12, 0)
    progress, outcome = bot.current(progress, back)
    assert "vendredi 25 décembre 2026" in outcome.text  # the answer asked for: sent + 30 days
    assert "jeudi 25 novembre 2027" in outcome.text      # the mediator: sent + 1 year
    assert "24 janvier 2027" not in outcome.text and "25 décembre 2027" not in outcome.text
    assert "envoyez" not in outcome.text.lower()         # not « envoyez aujourd'hui » of a letter sent
    letter = bot.choose(progress, DETAIL + "letter", outcome.token, back)[1].document.content
    assert "le 25 novembre 2026" in letter and "25 décembre 2026" in letter and "24 janvier 2027" not in letter
    _, case = bot.case_view(progress, back)
    assert ("jeudi 25 novembre 2027", "dernier jour pour saisir le médiateur (la loi)") in case.sections


def test_the_answer_due_reminder_comes_the_day_after_and_advises_no_day_early(bot):
    progress, _ = followed(bot)  # sent Thursday 26 November: answer asked by Saturday 26 December
    assert bot.remind(progress, paris(2026, 12, 26, 20, 0)) is None  # not on the due day
    progress, reply = bot.remind(progress, paris(2026, 12, 27, 12, 1))
    assert "au plus tard le samedi 26 décembre 2026" in reply.text
    progress, reply = bot.text(progress, "toujours rien", paris(2026, 12, 27, 12, 1))
    assert progress.node == "notice_now" and "aujourd'hui" not in reply.text  # a Sunday: « dès demain matin »


def test_a_letter_sent_over_a_year_ago_says_the_mediator_is_closed_and_gives_the_route(bot):
    progress, reply = walk(bot, "billing", "video", "no", "no", "card")
    progress, reply = bot.choose(progress, "_case:date", reply.token, THURSDAY)
    progress, reply = bot.text(progress, "le 3 novembre 2025", THURSDAY)
    assert progress.node == "too_late" and progress.case is None
    assert "le médiateur refusera ce dossier" in reply.text and "mise en demeure" in reply.text
    assert "mardi 3 novembre 2026, c'est passé" in " ".join(reply.notices)


# -- the bank's deadlines ----------------------------------------------------------------------

@pytest.mark.parametrize("description", ["on me débite sans mon accord alors que j'ai résilié",
                                         "ils continuent à me prélever sans mon autorisation après ma résiliation"])
def test_a_debit_never_agreed_to_gets_the_refund_and_the_contestation(bot, description):
    progress, reply = bot.start(now=THURSDAY)
    progress, reply = bot.text(progress, description, THURSDAY)
    while progress.node != "debit_when" and reply.kind != "outcome":
        first = next(b for b in reply.buttons if not b.id.startswith("_"))
        progress, reply = bot.choose(progress, "no" if any(b.id == "no" for b in reply.buttons) else first.id,
                                     reply.token, THURSDAY)
    assert progress.node == "debit_when", progress.node
    progress, reply = bot.text(progress, "il y a deux semaines", THURSDAY)
    assert "sans motif" in reply.text and "(8 semaines, non vérifié)" in reply.text  # the refund of a debit
    assert "contestez-le (13 mois, non vérifié)" in reply.text                       # and the contestation


def test_the_bank_deadline_is_reminded_a_week_before_it_ends(bot):
    progress, _ = followed(bot, path=("billing", "video", "no", "no", "debit", "il y a trois semaines"))
    # debited Thursday 5 November: the bank's 8 weeks end Thursday 31 December; a week before
    assert bot.remind(progress, paris(2026, 12, 23, 12, 0)) is None
    progress, reply = bot.remind(progress, paris(2026, 12, 24, 12, 1))
    assert progress.node == "followup_bank" and "jeudi 31 décembre 2026" in reply.text
    progress, reply = bot.text(progress, "pas encore", paris(2026, 12, 24, 12, 1))
    assert progress.node == "bank_now" and progress.case.open and "sans motif" in reply.text


# -- a phone channel is never advised before the hearing question -----------------------------

def test_after_a_chat_the_hearing_question_comes_before_an_outcome_that_leads_with_the_phone(bot):
    progress, reply = walk(bot, "access", "video", "chat", "no_answer")
    assert progress.node == "hearing"
    progress, reply = bot.choose(progress, "yes", reply.token, THURSDAY)
    assert progress.node == "write_now" and "3979" not in (reply.now or "")


# -- dates typed ---------------------------------------------------------------------------------

def test_a_date_that_can_only_be_last_year_is_confirmed(bot):
    seventh = paris(2026, 12, 7, 12, 0)
    progress, reply = walk(bot, "billing", "video", "no", "no", "debit", now=seventh)
    asked, confirm = bot.text(progress, "le 10 décembre", seventh)
    assert asked.node == "debit_when" and "mercredi 10 décembre 2025" in confirm.text
    assert "debit_when" not in asked.answers  # nothing counted from it yet
    done, reply = bot.choose(asked, DATE, confirm.token, seventh)
    assert done.texts["debit_when"] == "2025-12-10" and reply.kind == "outcome"
    other, reply = bot.choose(asked, SHOW_LIST, confirm.token, seventh)
    assert other.node == "debit_when" and "avec l'année" in " ".join(reply.notices)


@pytest.mark.parametrize("typed, day", [("le 2 de ce mois", "2026-12-02"), ("le 2", "2026-12-02"),
                                        ("le 2/12", "2026-12-02"), ("2", "2026-12-02"),
                                        ("le 20 du mois dernier", "2026-11-20")])
def test_a_day_of_the_month_is_a_date_and_a_bare_number_is_never_a_button(bot, typed, day):
    seventh = paris(2026, 12, 7, 12, 0)
    progress, reply = walk(bot, "billing", "video", "no", "no", "debit", now=seventh)
    assert "nombre seul" in reply.text  # the question says how a number is read
    progress, reply = bot.text(progress, typed, seventh)
    assert progress.texts.get("debit_when") == day, (typed, reply.text)


def test_the_follow_up_date_prompt_confirms_last_years_date_too(bot):
    seventh = paris(2026, 12, 7, 12, 0)
    progress, reply = walk(bot, "billing", "video", "no", "no", "card", now=seventh)
    progress, reply = bot.choose(progress, "_case:date", reply.token, seventh)
    progress, reply = bot.text(progress, "le 10 décembre", seventh)
    assert progress.case is None and "mercredi 10 décembre 2025" in reply.text
    progress, reply = bot.text(progress, "oui", seventh)
    assert progress.case.sent == "2025-12-10"


# -- the calendar ---------------------------------------------------------------------------------

def test_a_deadline_on_a_closed_day_gets_the_working_day_before(bot):
    # sent Friday 25 December 2026 (posted the next open day, Saturday 26): the mediator's year ends
    # Sunday 26 December 2027
    progress, reply = walk(bot, "billing", "video", "no", "no", "card", now=paris(2026, 12, 25, 10, 0))
    assert "dimanche 26 décembre 2027" in reply.text
    assert "Le 26 décembre est un dimanche : agissez au plus tard le vendredi 24." in reply.text
    progress, reply = walk(bot, "billing", "video", "no", "no", "card", now=paris(2026, 12, 24, 10, 0))
    assert "vendredi 24 décembre 2027" in reply.text and "agissez au plus tard" not in reply.text  # a working day


def test_check_requires_each_timeline_entry_to_say_whose_date_it_is():
    text = (FLOWS / "cstream.yaml").read_text(encoding="utf-8")
    broken, problems = load_flow_text(text.replace("    kind: deadline\n", "", 1), "c.yaml")
    assert broken is None and any("missing 'kind'" in p.message for p in problems)


@pytest.mark.parametrize("when, said_day", [
    (paris(2026, 11, 26, 12, 0), "aujourd'hui"),           # a Thursday at noon
    (paris(2026, 11, 26, 18, 30), "dès demain matin"),     # after 18:00
    (paris(2026, 11, 28, 15, 0), "dès lundi matin"),       # Saturday afternoon
    (paris(2026, 11, 29, 11, 0), "dès demain matin"),      # Sunday
    (paris(2026, 12, 25, 10, 0), "dès demain matin"),      # Christmas: Saturday 26 is open
    (paris(2027, 5, 1, 10, 0), "dès lundi matin"),         # 1 May, a Saturday
])
def test_a_registered_letter_is_not_advised_today_when_the_post_is_closed(bot, when, said_day):
    progress, reply = walk(bot, "access", "video", "phone", "no_answer", now=when)
    assert f"Envoyez {said_day} votre réclamation" in reply.text, reply.text
    offer = [b.label for b in reply.buttons if b.id == "_case:today"]
    assert offer == (["📮 Je l'envoie aujourd'hui"] if said_day == "aujourd'hui" else [f"📮 Je l'envoie {said_day}"])


def test_the_wait_for_answer_outcome_does_not_contradict_itself(bot):
    progress, reply = walk(bot, "requests", "video", "written", "waiting", "no")
    assert progress.node == "wait_answer"
    assert "aujourd'hui" not in reply.text  # « laissez le délai » and « envoyée aujourd'hui » never together
    assert [b.id for b in reply.buttons if b.id.startswith("_case:")] == ["_case:date", "_case:no"]
    progress, reply = bot.choose(progress, "_case:date", reply.token, THURSDAY)
    progress, reply = bot.text(progress, "il y a dix jours", THURSDAY)
    progress, reply = bot.choose(progress, "_case:skip", "case", THURSDAY)
    progress, outcome = bot.current(progress, THURSDAY)
    text = outcome.text
    assert text.index("mercredi 16 décembre 2026") < text.index("jeudi 17 décembre 2026") < text.index("2027")


# -- found by a tester who had not read the code -----------------------------------------------

def test_the_mise_en_demeure_a_reminder_leads_to_is_dated_the_day_it_goes(bot):
    progress, _ = followed(bot, now=paris(2026, 11, 10, 10, 0))
    evening = paris(2026, 12, 11, 18, 30)  # the post is closed: it goes on Saturday 12 December
    progress, _ = bot.remind(progress, evening)
    progress, reply = bot.text(progress, "toujours rien", evening)
    assert "envoyée dès demain matin, elle exige une réponse au plus tard le dimanche 27 décembre 2026" in reply.text
    letter = bot.choose(progress, DETAIL + "letter", reply.token, evening)[1].document.content
    assert "le 12 décembre 2026" in letter and "soit au plus tard le dimanche 27 décembre 2026" in letter
    assert "le 10 novembre 2026," not in letter.split("\n\n")[1]  # not dated like the first letter


def test_a_case_whose_dates_have_all_passed_says_so(bot):
    progress, _ = followed(bot, now=paris(2026, 11, 10, 10, 0))
    later = paris(2027, 11, 12, 10, 0)
    _, case = bot.case_view(progress, later)
    assert "Plus aucun rappel : les dates du dossier sont passées." in case.facts
    assert not any("Prochain rappel" in fact for fact in case.facts)
    _, outcome = bot.current(progress, later)
    assert "le médiateur refusera ce dossier" in outcome.text and "peut être saisi" not in outcome.text


@pytest.mark.parametrize("node, typed, meant", [
    ("followup_answer", "ils ont remboursé qu'un mois sur les deux", "unsatisfied"),
    ("followup_answer", "ils m'ont remboursé un mois sur deux", "unsatisfied"),
    ("followup_answer", "ils ont remboursé un prélèvement mais pas l'autre", "unsatisfied"),
    ("followup_answer", "ils disent qu'ils vont rembourser", "unsatisfied"),
    ("followup_answer", "they refunded one month out of two", "unsatisfied"),
    ("followup_answer", "not really", "nothing"),
    ("followup_mediator", "oui mais non", "not_settled"),
    ("hearing", "un peu, j'entends mal au téléphone", "yes"),
    ("followup_answer", "j'ai reçu que la moitié", "unsatisfied"),
    ("followup_answer", "non", "nothing"),
    ("followup_mediator", "pas vraiment, ils ont juste remboursé la moitié", "not_settled"),
    ("written_age", "plus d'un an", "over_year"),
])
def test_short_and_spoken_answers(flow, node, typed, meant):
    from bot.flow.recognise import understand_answer
    assert understand_answer(typed, flow.nodes[node].choices).choice == meant


def test_suivi_gives_the_working_day_before_a_deadline_on_a_closed_day(bot):
    # debited Saturday 10 October 2026: the bank's 8 weeks end Saturday 5 December
    progress, _ = followed(bot, now=paris(2026, 11, 10, 10, 0),
                           path=("billing", "video", "no", "no", "debit", "le 10 octobre"))
    _, case = bot.case_view(progress, paris(2026, 11, 10, 10, 0))
    line = dict((day, label) for day, label in case.sections if day)["samedi 5 décembre 2026"]
    assert "agissez au plus tard le vendredi 4" in line


@pytest.mark.parametrize("typed, today, day", [
    ("fin septembre", (2024, 11, 15), "2024-09-20"),   # not the 1st: the bank's 8 weeks are not over
    ("mi-octobre", (2024, 11, 15), "2024-10-10"),
    ("late February", (2025, 3, 10), "2025-02-20"),
    ("le 31", (2024, 12, 10), "2024-10-31"),           # November has no 31st
    ("29 février", (2025, 3, 10), "2024-02-29"),
    ("le 2", (2025, 1, 1), "2024-12-02"),              # a day alone is never asked about as last year's
])
def test_loose_dates_read_as_meant(flow, typed, today, day):
    from bot.engine.dates import read_date
    from datetime import date
    reading = read_date(typed, date(*today))
    assert reading.day == date.fromisoformat(day) and not reading.last_year, (typed, reading)


def test_two_reminders_due_together_from_different_dates_are_both_asked(bot):
    # letter sent 15 November 2024; debit 2 November: the answer-due reminder (16 December) and the
    # bank's (21 December) both fall due while the person is away
    start = paris(2024, 11, 15, 10, 0)
    progress, _ = followed(bot, now=start, path=("billing", "video", "no", "no", "debit", "le 2"))
    back = paris(2024, 12, 21, 12, 0)
    first, reply = bot.remind(progress, back)
    assert first.node == "followup_bank"
    kept, second = bot.remind(first, back + timedelta(minutes=1))  # not lost, and not taking its place
    assert kept.node == "followup_bank" and "Avez-vous reçu une réponse" in second.text
    answered, _ = bot.text(kept, "pas encore", back)
    moved, question = bot.choose(answered, second.buttons[0].id, second.token, back)
    assert moved.node == "followup_answer"


def test_a_reminder_late_the_same_day_says_its_time(bot):
    progress, _ = followed(bot, now=paris(2026, 11, 26, 10, 0))
    _, reply = bot.remind(progress, paris(2026, 12, 27, 12, 0))  # due Sunday 27 December at 10:00
    assert "Ce rappel arrive en retard : il était prévu à 10:00." in reply.notices


def test_english_labels_have_no_french_space_before_colons(bot):
    from bot.console import render_text
    progress, reply = walk(bot, "billing", "video", "no", "no", "card", lang="en")
    progress, _ = bot.choose(progress, "_case:today", reply.token, THURSDAY)
    _, case = bot.case_view(progress, THURSDAY)
    shown = render_text(case, "en")
    assert "Problem: " in shown and " :" not in shown
    assert "Problème : " in render_text(bot.case_view(progress.with_(lang="fr"), THURSDAY)[1], "fr")


def test_the_13_months_to_contest_a_payment_never_agreed_to_are_reminded(bot):
    # debited 1 March 2026 without agreement, letter sent 26 November 2026: the refund's 8 weeks
    # are long over; the 13 months to contest end Thursday 1 April 2027, reminded a week before
    from dataclasses import replace
    progress, _ = followed(bot, path=("billing", "video", "no", "no", "not_agreed", "1 mars 2026"))
    letter_chain = ("answer_due", "mediator_open")  # answered by then: only the bank's dates are left
    progress = progress.with_(case=replace(progress.case, done=progress.case.done + letter_chain))
    assert bot.remind(progress, paris(2027, 3, 24, 12, 0)) is None
    progress, reply = bot.remind(progress, paris(2027, 3, 25, 12, 1))
    assert progress.node == "followup_contest" and "jeudi 1er avril 2027" in reply.text
    progress, reply = bot.text(progress, "pas encore", paris(2027, 3, 25, 12, 1))
    assert progress.node == "bank_now" and "Contestez dès maintenant" in reply.text
    assert "remboursement du prélèvement" not in reply.text  # its 8 weeks are over


# -- a month given for a day -----------------------------------------------------------------

def test_a_month_given_for_the_debit_day_is_asked_which_day_before_any_deadline(bot):
    """« en octobre » on 7 December: counted from 1 October, the bank's 8 weeks would be « over »
    while a debit on the 20th can be refunded until 15 December. The day is asked first."""
    now = paris(2026, 12, 7, 10, 0)
    progress, reply = walk(bot, "billing", "video", "no", "no", "debit", now=now)
    progress, reply = bot.text(progress, "en octobre", now)
    assert progress.node == "debit_when" and reply.kind == "confirm" and "Quel jour exactement, en octobre 2026" in reply.text
    assert [b.label for b in reply.buttons][:2] == ["Compter à partir du jeudi 1er octobre 2026", "Je ne sais plus"]
    day, outcome = bot.text(progress, "20", now)  # a bare number: that day of October
    assert day.texts["debit_when"] == "2026-10-20" and "jusqu'au mardi 15 décembre 2026 inclus" in outcome.text
    typed, _ = bot.text(progress, "le 12 octobre", now)
    assert typed.texts["debit_when"] == "2026-10-12"
    kept, outcome = bot.choose(progress, reply.buttons[0].id, reply.token, now)  # the earliest, knowingly
    assert kept.texts["debit_when"] == "2026-10-01"
    unknown, outcome = bot.choose(progress, "unknown", reply.token, now)
    assert unknown.answers["debit_when"] == "unknown" and "2026-10-01" not in str(unknown.texts)


def test_a_day_is_taken_at_once(bot):
    progress, reply = walk(bot, "billing", "video", "no", "no", "debit", now=paris(2026, 12, 7, 10, 0))
    progress, reply = bot.text(progress, "le 20 octobre", paris(2026, 12, 7, 10, 0))
    assert reply.kind == "outcome" and progress.texts["debit_when"] == "2026-10-20"


def test_planned_reminders_are_listed_in_date_order_and_each_button_says_which(bot):
    progress, _ = followed(bot, path=("billing", "video", "no", "no", "debit", "le 4 novembre"))
    _, view = bot.reminders_view(progress, THURSDAY)
    days = [title for title, _ in view.sections]
    labels = [b.label for b in view.buttons]
    assert len(labels) == len(set(labels))  # no two buttons read the same
    from bot.engine.followup import pending
    due = sorted(d for _, d in pending(bot.flows.get("cstream").flow, progress.case, bot.followup.quiet) if d > THURSDAY)
    assert days == [bot.followup._when(d, bot.flows.get("cstream").flow, "fr") for d in due]
