"""Following a case over time: the case opened at the end of the letter's outcome, reminders at
the timeline's dates (a fake clock drives them), each answer moving the case along the flow,
and the guarantees: restarts, several processes, quiet hours, blocked users, /oublier."""
import asyncio
from contextlib import asynccontextmanager
from datetime import timedelta
from types import SimpleNamespace

import pytest

from bot.engine import Engine
from bot.flow.check import load_flow_text
from bot.flow.files import FlowSet
from bot.store import ConversationKey
from bot.stores import SQLiteStore
from conftest import FLOWS, NOW, make_bot, paris, stored
from tg import BOT_USERNAME, Person

TODAY = "📮 Je l'envoie aujourd'hui"
SENT_ON = "📅 Je l'ai envoyée le…"
INTRO = "🔔 Rappel de votre dossier"


class Clock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


async def to_the_letter(person: Person) -> None:
    """A billing problem paid by card, not contacted yet, hearing fine: the written complaint."""
    await person.send("on m'a facturé deux fois ce mois-ci")
    for label in ("Cstream Vidéo", "Non, pas encore", "Non", "Par carte bancaire"):
        await person.press(label)
    assert TODAY in person.last.labels


async def followed_from_today(person: Person) -> None:
    """To the letter, then « Je l'envoie aujourd'hui » (or the day the post next opens), no
    registered number."""
    await person.send("on m'a facturé deux fois ce mois-ci")
    for label in ("Cstream Vidéo", "Non, pas encore", "Non", "Par carte bancaire"):
        await person.press(label)
    await person.press(next(label for label in person.last.labels if label.startswith("📮")))
    await person.press("Passer")


@asynccontextmanager
async def bot_running(tmp_path, flow, clock):
    """One bot process on the data folder `tmp_path` (a restart: the next one on the same file)."""
    tg, app, store = await make_bot(tmp_path, FlowSet([flow]), clock=clock)
    try:
        yield tg, app, store
    finally:
        await app.shutdown()
        store.close()


async def run_reminders(app) -> None:
    await app.bot_data["jobs"].reminders(SimpleNamespace(bot=app.bot))


def reminders_sent(tg, chat_id=None) -> list[str]:
    return [p["text"] for name, p in tg.calls if name == "sendMessage" and INTRO in p.get("text", "")
            and (chat_id is None or p["chat_id"] == chat_id)]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def followed(tmp_path, flow, clock):
    async with bot_running(tmp_path, flow, clock) as bot:
        yield bot


async def test_the_whole_case_on_a_fake_clock(followed, clock):
    """Letter sent today; thirty days later the reminder asks; « toujours rien » leads to the
    mise en demeure with the case's dates filled in; the mediator's reminders are still planned."""
    tg, app, store = followed
    camille = Person(tg, app, 1001)
    await to_the_letter(camille)
    await camille.press(TODAY)
    assert "courrier envoyé le jeudi 26 novembre 2026" in camille.last_text
    await camille.send("1A 123 456 7890 1")
    assert "recommandé n° 1A 123 456 7890 1" in camille.last_text
    assert "jeudi 26 novembre 2026 à 12:00" not in camille.last_text  # the next reminder, not today
    # the answer is asked for by 26 December: the reminder comes the day after, when the mise en
    # demeure it advises can go (« dès le lendemain »), never on the due day itself
    assert "Prochain rappel : dimanche 27 décembre 2026 à 12:00." in camille.last_text

    clock.now = NOW + timedelta(days=30, minutes=1)
    await run_reminders(app)
    assert reminders_sent(tg) == []  # not on the due day

    clock.now = NOW + timedelta(days=31, minutes=1)
    await run_reminders(app)
    sent = reminders_sent(tg)
    assert len(sent) == 1
    assert "Votre courrier du jeudi 26 novembre 2026 demandait une réponse au plus tard le samedi 26 décembre 2026" in sent[0]
    assert camille.last.labels == ["Oui, c'est réglé", "Oui, mais elle ne me convient pas", "Non, toujours rien"]
    await run_reminders(app)
    assert len(reminders_sent(tg)) == 1  # once

    await camille.send("toujours rien")
    text = camille.texts_since(-3)
    assert "Sans réponse au courrier du jeudi 26 novembre 2026" in text
    # Sunday 27 December: the mise en demeure goes « dès demain matin », Monday 28, + 15 days
    assert "envoyée dès demain matin, elle exige une réponse au plus tard le mardi 12 janvier 2027" in text
    assert "rappel le mardi 26 janvier 2027" in text and "jusqu'au vendredi 26 novembre 2027" in text
    progress = stored(store, "private:1001")
    assert progress.node == "notice_now" and progress.case.open
    assert [rid for rid, _ in store.reminders_of_sync(ConversationKey.private(1001))] == ["mediator_open", "last_month"]
    from bot.store.base import FIELDS
    answered = [dict(zip(FIELDS, row[1:])) for row in store.events_sync() if row[1 + FIELDS.index("followup")]]
    assert [(e["node"], e["followup"], e["next"]) for e in answered] == [("followup_answer", "nothing", "notice_now")]


async def test_settled_closes_the_case_and_asks_once_if_it_helped(followed, clock):
    tg, app, store = followed
    camille = Person(tg, app, 1002)
    await followed_from_today(camille)
    clock.now = NOW + timedelta(days=32)
    await run_reminders(app)
    await camille.press("Oui, c'est réglé")
    assert "Je clos alors le dossier" in camille.last_text  # confirmed first: nothing closed yet
    assert stored(store, "private:1002").case.open and store.reminders_of_sync(ConversationKey.private(1002))
    await camille.press("Oui, c'est réglé")
    assert "Le dossier est clos" in camille.last_text and camille.last.labels[:3] == ["Oui", "Un peu", "Non"]
    assert stored(store, "private:1002").case.state == "closed"
    assert store.reminders_of_sync(ConversationKey.private(1002)) == []
    clock.now = NOW + timedelta(days=400)
    await run_reminders(app)
    assert len(reminders_sent(tg)) == 1


async def test_a_date_typed_loosely_opens_the_case_from_that_day(followed, clock):
    tg, app, store = followed
    camille = Person(tg, app, 1003)
    await to_the_letter(camille)
    await camille.press(SENT_ON)
    await camille.send("demain")
    assert "Cette date est dans le futur" in camille.last_text
    await camille.send("12/11/2023")
    assert "plus de deux ans" in camille.last_text
    await camille.send("le 3")
    assert "courrier envoyé le mardi 3 novembre 2026" in camille.last_text
    await camille.press("Passer")
    # 3 November + 30 days = 3 December, the reminder the day after: from the day it was sent
    assert "Prochain rappel : vendredi 4 décembre 2026 à 12:00." in camille.last_text


async def test_reaching_the_outcome_again_opens_no_second_case(followed):
    tg, app, store = followed
    camille = Person(tg, app, 1004)
    await followed_from_today(camille)
    case = stored(store, "private:1004").case
    await camille.send("/recommencer")
    await to_the_letter_again(camille)
    assert TODAY not in camille.last.labels
    assert "Ce dossier est déjà suivi (courrier envoyé le jeudi 26 novembre 2026)" in camille.texts_since(-2)
    assert stored(store, "private:1004").case == case


async def to_the_letter_again(person: Person) -> None:
    await person.send("on m'a facturé deux fois ce mois-ci")
    for label in ("Cstream Vidéo", "Non, pas encore", "Non", "Par carte bancaire"):
        await person.press(label)


async def test_suivi_rappels_cancel_one_and_stop(followed, clock):
    tg, app, store = followed
    camille = Person(tg, app, 1005)
    key = ConversationKey.private(1005)
    await followed_from_today(camille)
    await camille.send("/rappels")
    assert "dimanche 27 décembre 2026 à 12:00" in camille.last_text
    await camille.press("Annuler celui du dimanche 27 décembre 2026")
    assert "Ce rappel est annulé" in camille.last_text
    assert [rid for rid, _ in store.reminders_of_sync(key)] == ["mediator_open", "last_month"]
    await camille.send("/suivi")
    assert "📁 Votre dossier" in camille.last_text and "Erreur de facturation" in camille.last_text
    await camille.press("📄 Le résumé pour le médiateur")
    file = next(m for m in reversed(camille.seen) if m.document_name == "dossier-mediateur.txt")
    assert "Courrier envoyé le : jeudi 26 novembre 2026" in file.document
    assert "Comment cet argent a-t-il été pris ? → Par carte bancaire" in file.document
    await camille.press("⏹️ Arrêter le suivi")
    assert "Le suivi est arrêté" in camille.texts_since(-2)
    assert store.reminders_of_sync(key) == []
    clock.now = NOW + timedelta(days=400)
    await run_reminders(app)
    assert reminders_sent(tg) == []


async def test_a_restart_between_planning_and_the_due_time(tmp_path, flow, clock):
    """The bot stops after the case is opened; a new process on the same file sends it, once."""
    async with bot_running(tmp_path, flow, clock) as (tg, app, _):
        await followed_from_today(Person(tg, app, 1006))
    clock.now = NOW + timedelta(days=31, hours=1)
    async with bot_running(tmp_path, flow, clock) as (tg2, app2, _):
        await run_reminders(app2)
        await run_reminders(app2)
        assert len(reminders_sent(tg2, 1006)) == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_two_processes_racing_send_each_reminder_once(tmp_path, flow, clock, kind, request):
    """Two bot processes on one database look for due reminders at the same moment: every
    reminder goes out once (the Bot API calls are counted)."""
    from conftest import PG_URL, postgres_schema
    from bot.stores import PostgresStore
    async with (postgres_schema() if kind == "postgres" else _nothing()) as schema:
        def open_one():
            if kind == "sqlite":
                return SQLiteStore(tmp_path / "shared.sqlite3", lock_timeout=5)
            return PostgresStore(f"{PG_URL}?options=-csearch_path%3D{schema}")
        tg_a, app_a, store_a = await make_bot(tmp_path, FlowSet([flow]), store=open_one(), clock=clock)
        tg_b, app_b, store_b = await make_bot(tmp_path, FlowSet([flow]), store=open_one(), clock=clock)
        people = [Person(tg_a, app_a, 2000 + i) for i in range(12)]
        for person in people:
            await followed_from_today(person)
        clock.now = NOW + timedelta(days=31, hours=1)
        tg_b.order, tg_b.messages = tg_a.order, tg_a.messages  # both processes talk to one Telegram
        await asyncio.gather(run_reminders(app_a), run_reminders(app_b), run_reminders(app_a), run_reminders(app_b))
        sent = reminders_sent(tg_a) + reminders_sent(tg_b)
        assert len(sent) == len(people)
        assert sorted(p["chat_id"] for t in (tg_a, tg_b) for name, p in t.calls
                      if name == "sendMessage" and INTRO in p["text"]) == [p.id for p in people]
        for app, store in ((app_a, store_a), (app_b, store_b)):
            await app.shutdown()
            store.close()


class _nothing:
    async def __aenter__(self):
        return None

    async def __aexit__(self, *exc):
        return False


async def test_quiet_hours_move_reminders_to_nine(followed, clock):
    """A case opened at 22:30 plans its reminders at 09:00; a reminder found due at night
    (the bot was down) waits for 09:00 and then says it is late."""
    tg, app, store = followed
    clock.now = paris(2026, 11, 26, 22, 30)
    camille = Person(tg, app, 1007)
    await followed_from_today(camille)  # « Je l'envoie dès demain matin »: sent Friday 27 November
    assert "courrier envoyé le vendredi 27 novembre 2026" in camille.texts_since(-2)
    assert "Prochain rappel : mardi 29 décembre 2026 à 9:00." in camille.last_text  # 28 December, 22:30
    clock.now = paris(2026, 12, 30, 3, 0)  # the bot was down on the day; now it is night
    await run_reminders(app)
    assert reminders_sent(tg) == []
    clock.now = paris(2026, 12, 30, 9, 1)
    await run_reminders(app)
    sent = reminders_sent(tg)
    assert len(sent) == 1 and "Ce rappel arrive en retard : il était prévu le mardi 29 décembre 2026." in sent[0]


async def test_a_blocked_user_has_their_reminders_cancelled(followed, clock):
    tg, app, store = followed
    camille = Person(tg, app, 1008)
    key = ConversationKey.private(1008)
    await followed_from_today(camille)
    clock.now = NOW + timedelta(days=31)
    tg.fail_next.append(("sendMessage", 403, {"ok": False, "error_code": 403,
                                              "description": "Forbidden: bot was blocked by the user"}))
    await run_reminders(app)
    assert stored(store, "private:1008").case.state == "stopped"
    assert store.reminders_of_sync(key) == []
    clock.now = NOW + timedelta(days=70)
    await run_reminders(app)
    assert len(reminders_sent(tg)) == 1  # the one Telegram refused, and nothing since


async def test_oublier_erases_the_case_and_its_reminders(followed, clock):
    tg, app, store = followed
    camille = Person(tg, app, 1009)
    key = ConversationKey.private(1009)
    await to_the_letter(camille)
    await camille.press(TODAY)
    await camille.send("1A 123 456 7890 1")
    await camille.send("/oublier")
    await camille.press("Oui, tout effacer")
    assert stored(store, "private:1009") is None and store.reminders_of_sync(key) == []
    clock.now = NOW + timedelta(days=31)
    await run_reminders(app)
    assert reminders_sent(tg) == []


async def test_a_reminder_follows_the_flow_version_of_its_day(tmp_path, flow, clock):
    """The flow's reminder text changed between the case and its date: the new text is sent;
    a reminder the new version dropped is not sent at all."""
    async with bot_running(tmp_path, flow, clock) as (tg, app, _):
        await followed_from_today(Person(tg, app, 1010))
    text = (FLOWS / "cstream.yaml").read_text(encoding="utf-8").replace(
        "Avez-vous reçu une réponse ?", "Cdiscount vous a-t-il répondu ?")
    edited, problems = load_flow_text(text, "cstream.yaml")
    assert edited is not None and edited.version != flow.version
    clock.now = NOW + timedelta(days=31)
    async with bot_running(tmp_path, edited, clock) as (tg2, app2, _):
        await run_reminders(app2)
        assert ["Cdiscount vous a-t-il répondu ?" in text for text in reminders_sent(tg2)] == [True]
    dropped = text.replace("    - id: answer_due\n      at: formal_notice_from\n", "    - id: answer_due\n      at: mediator_from\n")
    later, _ = load_flow_text(dropped, "cstream.yaml")
    async with bot_running(tmp_path, later, clock) as (tg3, app3, _):
        clock.now = NOW + timedelta(days=45)
        await run_reminders(app3)
        assert reminders_sent(tg3) == []  # sent already under its old date: not again


async def test_a_reminder_the_new_flow_version_puts_later_waits_for_its_new_date(tmp_path, flow, clock):
    async with bot_running(tmp_path, flow, clock) as (tg, app, _):
        await followed_from_today(Person(tg, app, 1013))
    text = (FLOWS / "cstream.yaml").read_text(encoding="utf-8").replace(
        "  answer_due:\n    delay: 30 days\n", "  answer_due:\n    delay: 40 days\n")
    later, _ = load_flow_text(text, "cstream.yaml")
    async with bot_running(tmp_path, later, clock) as (tg3, app3, _):
        clock.now = NOW + timedelta(days=32)  # the row said day 31; the flow now says day 41
        await run_reminders(app3)
        assert reminders_sent(tg3) == []
        clock.now = NOW + timedelta(days=41, minutes=1)
        await run_reminders(app3)
        assert len(reminders_sent(tg3)) == 1


async def test_in_a_group_the_case_is_offered_in_private(tmp_path, flow, clock):
    async with bot_running(tmp_path, flow, clock) as (tg, app, store):
        member = Person(tg, app, 1011, chat_id=-100500)
        await member.send(f"/start@{BOT_USERNAME}")
        await member.send("on m'a facturé deux fois", reply_to_bot=True)
        for label in ("Cstream Vidéo", "Non, pas encore", "Non", "Par carte bancaire"):
            await member.press(label)
        assert TODAY not in member.last.labels  # no reminders in a group
        assert any("privé" in label for label in member.last.labels)
        await member.send(TODAY, reply_to_bot=True)  # the offer typed anyway, by its label
        assert "Le suivi avec rappels se fait en privé" in member.texts_since(-2)
        assert stored(store, "group:-100500:1011").case is None


def test_check_names_a_followup_mistake(flow):
    text = (FLOWS / "cstream.yaml").read_text(encoding="utf-8")
    broken, problems = load_flow_text(text.replace("      ask: followup_mediator\n", "      ask: mediatr\n"), "c.yaml")
    assert broken is None
    assert any("ask must name a choice question, not 'mediatr'" in p.message for p in problems)
    broken, problems = load_flow_text(text.replace("  opens: [write_now]", "  opens: [contacted]"), "c.yaml")
    assert any("opens must name outcomes, not 'contacted'" in p.message for p in problems)


def test_engine_alone_keeps_time_a_parameter(flow):
    """No clock inside: the same case, asked at two instants, answers for each."""
    engine = Engine(FlowSet([flow]))
    progress, reply = engine.start(now=NOW)
    for answer in ("billing", "video", "no", "no", "card"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    progress, _ = engine.choose(progress, "_case:today", reply.token, NOW)
    progress, _ = engine.choose(progress, "_case:skip", "case", NOW)
    assert engine.remind(progress, NOW + timedelta(days=30)) is None
    later, reply = engine.remind(progress, NOW + timedelta(days=31))
    assert later.node == "followup_answer" and reply.notices == ["🔔 Rappel de votre dossier"]


def test_the_terminal_runs_at_a_given_time_and_shows_the_reminder_first(cli):
    """`chat --at`: the case opened on 26 November; run as if it were 28 December, the
    reminder comes first with its buttons, and a button is picked by its number."""
    opened = "on m'a facturé deux fois\n1\n1\n2\n2\n5\n1A 123 456 7890 1\n"
    code, out, _ = cli("chat", "--flow", "cstream", "--user", "camille", "--at", "2026-11-26 12:00", stdin=opened)
    assert code == 0 and "courrier envoyé le jeudi 26 novembre 2026" in out
    assert "Prochain rappel : dimanche 27 décembre 2026 à 12:00." in out
    code, out, _ = cli("chat", "--user", "camille", "--at", "2026-12-28 10:00", stdin="3\n")
    first = out.split(">", 1)[0]
    assert "🔔 Rappel de votre dossier" in first and "Ce rappel arrive en retard" in first
    assert "1. Oui, c'est réglé" in first and "3. Non, toujours rien" in first
    assert "Sans réponse au courrier du jeudi 26 novembre 2026" in out
    code, out, _ = cli("chat", "--at", "yesterday")
    assert code == 2


async def test_the_outcome_keeps_its_letter_button_while_the_case_opens(followed):
    tg, app, store = followed
    camille = Person(tg, app, 1012)
    await to_the_letter(camille)
    outcome = camille.last
    await camille.press(TODAY, message=outcome)
    assert "📄 La lettre" in outcome.labels  # still there on the outcome
    await camille.press("📄 La lettre", message=outcome)
    assert any(m.document_name and m.document_name.endswith(".docx") for m in camille.seen)
    await camille.send("Passer")
    assert stored(store, "private:1012").case.open and stored(store, "private:1012").asking is None


def opened_case(engine, sent_text=None, now=NOW, path=("billing", "video", "no", "no", "card")):
    """A case opened at the written complaint, sent today or on the day typed."""
    progress, reply = engine.start(now=now)
    for answer in path:
        progress, reply = engine.choose(progress, answer, reply.token, now)
    if sent_text is None:
        progress, reply = engine.choose(progress, "_case:today", reply.token, now)
    else:
        progress, reply = engine.choose(progress, "_case:date", reply.token, now)
        progress, reply = engine.text(progress, sent_text, now)
    return progress, reply


def test_a_reminder_whose_deadline_passed_while_the_bot_was_down_is_not_sent(flow):
    """Down for over a year: « il reste un mois » would be false, and so would any earlier
    question; nothing is sent."""
    engine = Engine(FlowSet([flow]))
    progress, _ = opened_case(engine)
    progress, _ = engine.choose(progress, "_case:skip", "case", NOW)
    assert engine.remind(progress, paris(2028, 3, 1, 10, 0)) is None
    _, reply = engine.reminders_view(progress, paris(2028, 3, 1, 10, 0))
    assert "Aucun rappel n'est prévu" in " ".join(reply.notices)


def test_a_letter_sent_long_ago_asks_at_once_whether_an_answer_came(flow):
    """Sent 40 days ago: the answer was due 10 days ago; it is asked now, not in a month."""
    engine = Engine(FlowSet([flow]))
    progress, reply = opened_case(engine, "il y a 40 jours")
    assert "courrier envoyé le samedi 17 octobre 2026" in reply.text
    asked = engine.remind(progress, NOW + timedelta(minutes=1))
    assert asked is not None and "Avez-vous reçu une réponse" in asked[1].text
    assert not any("en retard" in n for n in asked[1].notices)  # not late: the case is new
    progress, reply = opened_case(engine, "il y a 10 mois")  # everything but the last month is past
    assert "Toutes ses dates sont déjà passées" not in reply.text
    progress, reply = opened_case(engine, "il y a 12 mois")  # the mediator's year ends today: still asked
    assert "Toutes ses dates sont déjà passées" not in reply.text and progress.case.open


def test_once_the_letter_is_sent_every_date_counts_from_it(flow):
    """« Je l'ai envoyée le 3 »: the outcome on screen, its letter and /suivi all count from the
    3rd, and nothing says « envoyez aujourd'hui » of a letter already sent."""
    engine = Engine(FlowSet([flow]))
    progress, _ = opened_case(engine, "le 3")
    progress, _ = engine.choose(progress, "_case:skip", "case", NOW)
    _, outcome = engine.current(progress, NOW)
    assert "partie le mardi 3 novembre 2026" in outcome.text and "jeudi 3 décembre 2026" in outcome.text
    assert "aujourd'hui" not in outcome.text and "samedi 26 décembre 2026" not in outcome.text
    _, letter = engine.choose(progress, "_detail:letter", outcome.token, NOW)
    assert "le 3 novembre 2026" in letter.document.content and "26 novembre 2026" not in letter.document.content
    _, case = engine.case_view(progress, NOW)
    assert ("vendredi 4 décembre 2026", "la réponse demandée est en retard : la mise en demeure peut partir") in case.sections


@pytest.mark.parametrize("typed, leads_to", [
    ("ils m'ont répondu mais c'est nul", "mediator"),
    ("ils m'ont répondu non", "mediator"),
    ("ils m'ont remboursé la moitié", "mediator"),
    ("toujours rien", "notice_now"),
    ("aucune nouvelle", "notice_now"),
    ("oui c'est réglé, tout est bon", "followup_helped"),
])
def test_typed_answers_to_the_reminder(flow, typed, leads_to):
    engine = Engine(FlowSet([flow]))
    progress, _ = opened_case(engine)
    progress, _ = engine.remind(progress, NOW + timedelta(days=31))
    after, reply = engine.text(progress, typed, NOW + timedelta(days=31))
    if reply.kind == "confirm":  # « C'est bien ça ? » is fine too, if it names the right answer
        after, reply = engine.text(after, "oui", NOW + timedelta(days=31))
    assert after.node == leads_to, (typed, reply.text)


def test_at_the_date_prompt_a_number_is_a_day(flow):
    engine = Engine(FlowSet([flow]))
    progress, reply = opened_case(engine, "1")
    assert "courrier envoyé le dimanche 1er novembre 2026" in reply.text


def test_recap_at_a_billing_outcome_and_at_the_date_prompt(flow):
    """/recap fills the outcome's first line (no {placeholders}), and while the day the letter
    was sent is asked, its buttons are the prompt's (« 1 » is not « La lettre »)."""
    engine = Engine(FlowSet([flow]))
    progress, reply = engine.start(now=NOW)
    for answer in ("billing", "video", "no", "no", "debit"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    progress, reply = engine.text(progress, "le 20 novembre", NOW)
    _, recap = engine.summary(progress, NOW)
    assert recap.facts[0] == "Parcours terminé : Écrire en recommandé"  # the outcome's label, no {placeholders}
    progress, _ = engine.choose(progress, "_case:date", reply.token, NOW)
    _, recap = engine.summary(progress, NOW)
    assert [b.label for b in recap.buttons] == ["Annuler"]


def test_a_reminder_left_unanswered_can_be_answered_from_suivi(flow):
    """The reminder came, the person went elsewhere (/recommencer): /suivi offers to answer it."""
    engine = Engine(FlowSet([flow]))
    progress, _ = opened_case(engine)
    progress, _ = engine.choose(progress, "_case:skip", "case", NOW)
    later = NOW + timedelta(days=31)
    progress, _ = engine.remind(progress, later)
    progress, _ = engine.restart(progress, later)
    _, view = engine.case_view(progress, later)
    assert view.buttons[0].label == "🔔 Répondre au dernier rappel"
    progress, reply = engine.choose(progress, "_case:answer", "case", later)
    assert progress.node == "followup_answer" and "Avez-vous reçu une réponse" in reply.text
    progress, reply = engine.choose(progress, "nothing", reply.token, later)
    assert progress.node == "notice_now"
    _, view = engine.case_view(progress, later)
    assert "🔔 Répondre au dernier rappel" not in [b.label for b in view.buttons]


@pytest.mark.parametrize("change, message", [
    (("      before: 1 month\n", "      before: 2 years\n"), "reaches back to the day the letter is sent or earlier"),
    (("    - id: mediator_open\n", "    - id: answer_due\n"), "followup reminder answer_due: a second reminder with this id"),
    (("    - id: mediator_open\n", "    - at: mediator_from\n"), "followup reminder #4: missing 'id'"),
])
def test_check_explains_a_broken_reminder(change, message):
    text = (FLOWS / "cstream.yaml").read_text(encoding="utf-8")
    assert change[0] in text
    broken, problems = load_flow_text(text.replace(change[0], change[1], 1), "c.yaml")
    assert broken is None and any(message in p.message for p in problems), [p.message for p in problems]


def test_a_reminder_never_takes_away_a_conversation_under_way(flow):
    """Mid-way through another problem when the reminder comes: their place is kept; the
    reminder's question comes with a button that takes them to it."""
    engine = Engine(FlowSet([flow]))
    progress, _ = opened_case(engine)
    progress, _ = engine.choose(progress, "_case:skip", "case", NOW)
    progress, reply = engine.restart(progress, NOW)
    progress, reply = engine.choose(progress, "access", reply.token, NOW)  # another problem, under way
    later = NOW + timedelta(days=31)
    kept, reminder = engine.remind(progress, later)
    assert kept.node == progress.node and kept.path == progress.path  # nothing lost
    assert "Avez-vous reçu une réponse" in reminder.text and "autre démarche" in " ".join(reminder.notices)
    assert engine.remind(kept, later) is None  # sent once
    moved, question = engine.choose(kept, reminder.buttons[0].id, reminder.token, later)
    assert moved.node == "followup_answer" and [b.id for b in question.buttons] == ["settled", "unsatisfied", "nothing"]


def test_an_empty_message_at_a_follow_up_question_says_what_is_expected(flow):
    engine = Engine(FlowSet([flow]))
    progress, _ = opened_case(engine)  # asked for the registered number
    _, reply = engine.text(progress, "   ", NOW)
    assert "numéro de recommandé" in " ".join(reply.notices)
    progress, reply = engine.start(now=NOW)
    for answer in ("billing", "video", "no", "no", "card"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    progress, _ = engine.choose(progress, "_case:date", reply.token, NOW)
    _, reply = engine.text(progress, "", NOW)
    assert "Je n'ai pas compris cette date" in " ".join(reply.notices) and progress.asking == "case_date"


async def test_a_killed_claim_holder_loses_no_reminder_to_a_process_with_old_copies(tmp_path, flow, clock):
    """Two processes on one SQLite file. Process B met these people first (it holds copies of
    their records from before their case); process A took them to the letter, then claimed
    their reminders and was killed before sending any. Once the claim runs out, B sends every
    one: its old copies are checked against the file, and a reminder is dropped only against
    the revision it was decided on."""
    def shared():
        return SQLiteStore(tmp_path / "shared.sqlite3", lock_timeout=5)
    tg_a, app_a, store_a = await make_bot(tmp_path, FlowSet([flow]), store=shared(), clock=clock)
    tg_b, app_b, store_b = await make_bot(tmp_path, FlowSet([flow]), store=shared(), clock=clock)
    tg_a.share_with(tg_b)
    try:
        people = []
        for i in range(8):
            in_b = Person(tg_b, app_b, 2100 + i)
            await in_b.send("/start")  # B caches a record with no case
            assert store_b.load_sync(ConversationKey.private(in_b.id)) is not None
            in_a = Person(tg_a, app_a, 2100 + i)
            await followed_from_today(in_a)
            people.append(in_a)
        clock.now = NOW + timedelta(days=31, hours=1)
        claimed = await store_a.claim_reminders(clock.now.timestamp(), "process-a", lease=120)
        assert len(claimed) == len(people)  # ... and process A is killed here
        await app_a.shutdown()
        store_a.close()
        await run_reminders(app_b)
        assert reminders_sent(tg_b) == []  # A's claim still holds
        clock.now += timedelta(minutes=3)
        await run_reminders(app_b)
        assert sorted(p["chat_id"] for name, p in tg_b.calls if name == "sendMessage" and INTRO in p["text"]) \
            == [p.id for p in people]
        assert all(stored(store_b, f"private:{p.id}").case.open for p in people)
    finally:
        await app_b.shutdown()
        store_b.close()


def test_the_terminal_keeps_the_reminders_of_a_case_it_opens(tmp_path, flow):
    """The terminal's steps go through the same conversation step as Telegram's: a case opened
    there has its reminders in the store, and a later session at their date is reminded."""
    import io

    from bot.console import run_console
    key = ConversationKey.console("camille")
    store = SQLiteStore(tmp_path / "p.sqlite3")
    try:
        lines = ["on m'a facturé deux fois ce mois-ci", "Cstream Vidéo", "Non, pas encore", "Non",
                 "Par carte bancaire", "📮 Je l'envoie aujourd'hui", "Passer"]
        out = io.StringIO()
        run_console(Engine(FlowSet([flow])), store, key, stdin=io.StringIO("".join(f"{x}\n" for x in lines)),
                    stdout=out, clock=lambda: NOW)
        planned = store.reminders_of_sync(key)
        assert planned, out.getvalue()[-800:]
        assert [rid for rid, _ in planned] == [rid for rid, _ in Engine(FlowSet([flow])).followup.schedule(
            store.load_sync(key).progress)]
        later = io.StringIO()
        run_console(Engine(FlowSet([flow])), store, key, stdin=io.StringIO(""), stdout=later,
                    clock=lambda: NOW + timedelta(days=31, hours=1))
        assert INTRO in later.getvalue()
        assert store.reminders_of_sync(key) != planned  # the one sent is done, the next planned
    finally:
        store.close()


@pytest.mark.parametrize("button", ["_case:sent_last_year", "_case:drop:r1"])
def test_a_case_button_after_its_flow_was_removed_starts_again_without_a_crash(flow, button):
    """A redeploy removed the flow a case belongs to: the follow-up's buttons (« Oui, l'an
    dernier », dropping a reminder) answer like any button of a flow gone, never crash."""
    engine = Engine(FlowSet([flow]))
    progress, _ = engine.choose(opened_case(engine)[0], "_case:date", "case", NOW)
    progress = progress.with_(flow="removed", asking="case_date", draft="2025-12-20")
    progress, reply = engine.choose(progress, button, "case", NOW)
    assert progress.flow == flow.id and reply.kind != "again"  # back at the start of a loaded flow


def test_words_typed_at_the_outcome_then_the_sent_on_button_ask_the_day_without_a_crash(flow):
    """At the letter's outcome the person types a new problem (kept until they take up the
    offer), then presses « Je l'ai envoyée le… »: the day is asked; the words typed are no date."""
    engine = Engine(FlowSet([flow]))
    progress, reply = engine.start(now=NOW)
    for answer in ("billing", "video", "no", "no", "debit"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    progress, reply = engine.text(progress, "le 20 novembre", NOW)  # the debit's day: the letter's outcome
    progress, typed = engine.text(progress, "et aussi un double prélèvement sur ma carte", NOW)
    assert progress.draft  # the words are kept for the offer of a new conversation
    progress, reply = engine.choose(progress, "_case:date", typed.token, NOW)
    assert progress.asking == "case_date" and [b.label for b in reply.buttons] == ["Annuler"]
    progress, reply = engine.text(progress, "le 23 novembre", NOW)
    assert progress.case is not None and progress.case.sent == "2026-11-23"
