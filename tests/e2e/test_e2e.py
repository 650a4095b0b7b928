"""End to end: the real bot process, polling or webhook, against a Bot API emulator on loopback."""
import json
import os
import sqlite3
import time
import urllib.error

import pytest

from harness import ROOT, BotProcess, Chat, Emulator, missing_tools, post

pytestmark = pytest.mark.e2e

_missing = missing_tools()
if _missing and os.environ.get("CI"):
    raise RuntimeError(f"end-to-end tests must run under CI, but {_missing}")
if _missing:
    pytest.skip(f"end-to-end tests skipped: {_missing}", allow_module_level=True)


@pytest.fixture
def emulator():
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture
def bot_process(emulator, tmp_path):
    started = []

    def start(**kw):
        process = BotProcess(emulator, tmp_path, **kw)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.proc.poll() is None:
            process.stop()


def walk_to_mediator(chat: Chat) -> None:
    chat.send("/start")
    chat.wait_for("Quel est votre problème")
    chat.send("ma réclamation n'a jamais été traitée")
    chat.wait_for("Quel service Cstream")
    chat.press("Cstream Books")
    chat.wait_for("Avez-vous déjà contacté")
    chat.press("Oui, par écrit (courrier ou e-mail)")
    chat.wait_for("Qu'a donné votre réclamation écrite")
    chat.press("Pas de réponse depuis plus de 2 mois")
    chat.wait_for("Quand avez-vous envoyé")
    chat.press("Il y a moins d'un an")
    chat.wait_for("saisir gratuitement le médiateur")
    chat.wait_for("mediateurfevad.fr")


def test_polling_whole_path_from_free_text_to_the_mediator(emulator, bot_process):
    bot = bot_process()
    chat = Chat(emulator, 5001)
    walk_to_mediator(chat)
    # The pressed question became the next one, the chosen answer on top (edited in place)...
    edited = [m for m in chat.received if (m.get("text") or "").startswith("✔ <b>Cstream Books</b>\n\n")
              and "Avez-vous déjà contacté" in m["text"]]
    assert edited, "the answered question shows the chosen answer"
    # ...and the last one, answered into the outcome, keeps its text with the answer below.
    last = [m for m in emulator.history() if m.get("message", {}).get("text", "").endswith("✔ <b>Il y a moins d'un an</b>")]
    assert last, "the question answered last shows the chosen answer"
    assert "e2e-test-token" not in bot.log.read_text()
    assert "jamais été traitée" not in bot.log.read_text()


def test_group_with_two_members(emulator, bot_process, tmp_path):
    bot_process()
    alice = Chat(emulator, 6001, chat_id=-100600, name="Alice")
    bob = Chat(emulator, 6002, chat_id=-100600, name="Bob", same_chat_as=alice)
    alice.send("/start@TestNameBot")
    alice.wait_for("Ou choisissez")
    bob.send("/start@TestNameBot")
    bob.wait_for("Ou choisissez")
    alice.send("on m'a prélevé deux fois", reply_to=alice.bot_message_to_reply_to())
    alice.wait_for("Quel service Cstream")
    bob.send("je n'arrive pas à me connecter", reply_to=bob.bot_message_to_reply_to())
    bob.wait_for("Quel service Cstream")
    bob.press("Cstream Books")
    bob.wait_for("Avez-vous déjà contacté")
    alice.press("Cstream Music")
    alice.wait_for("Avez-vous déjà contacté")
    rows = dict(sqlite3.connect(tmp_path / "progress.sqlite3").execute("SELECT key, data FROM progress"))
    alice_answers = {e[0]: e[1] for e in json.loads(rows["group:-100600:6001"])["path"]}
    bob_answers = {e[0]: e[1] for e in json.loads(rows["group:-100600:6002"])["path"]}
    assert alice_answers == {"problem": "billing", "service": "music"}
    assert bob_answers == {"problem": "access", "service": "books"}


def test_any_company_in_private_and_in_a_group(emulator, bot_process, tmp_path):
    """The default flow as shipped: a plain /start asks for the problem and the company; SFR's
    route, its second level and its mediator; in a group, a parcel's seller, not Cstream."""
    bot_process(extra_env={"BOT_DEFAULT_FLOW": ""})
    camille = Chat(emulator, 8101)
    camille.send("/start")
    camille.wait_for("Décrivez votre problème et l'entreprise en une phrase")
    camille.send("SFR me facture deux fois ma box, j'ai appelé 3 fois")
    camille.wait_for("Comment cet argent a-t-il été pris")
    camille.press("Par carte bancaire")
    text = camille.wait_for("au service clients de SFR")
    assert "service consommateurs" in text and "Médiateur des communications électroniques" in text
    assert "Cstream" not in text
    alice = Chat(emulator, 8102, chat_id=-100810, name="Alice")
    alice.send("/start@TestNameBot")
    alice.wait_for("Ou choisissez")
    alice.send("mon colis Amazon est marqué livré mais je ne l'ai jamais reçu", reply_to=alice.bot_message_to_reply_to())
    alice.wait_for("Qu'est-il arrivé à la livraison")
    alice.press("Perdue, ou « livrée » sans que je l'aie reçue")
    alice.wait_for("Où en êtes-vous avec Amazon")
    alice.press("Je ne l'ai pas encore contactée")
    alice.wait_for("C'est au vendeur de livrer, pas au transporteur")
    rows = dict(sqlite3.connect(tmp_path / "progress.sqlite3").execute("SELECT key, data FROM progress"))
    assert json.loads(rows["group:-100810:8102"])["flow"] == "general"


def test_sigkill_mid_flow_then_restart_continues_from_the_same_question(emulator, bot_process):
    bot = bot_process()
    chat = Chat(emulator, 7001)
    chat.send("double prélèvement")
    chat.wait_for("Quel service Cstream")
    chat.press("Cstream Vidéo")
    chat.wait_for("Avez-vous déjà contacté")
    bot.kill()
    chat.press("Non, pas encore")  # sent while the bot is down: waits at the emulator
    bot_process()
    chat.wait_for("sourdes ou malentendantes", timeout=30)
    chat.press("Non")
    chat.wait_for("Quel jour l'argent a-t-il été pris")  # « prélèvement »: how is not asked, only when
    chat.press("Je ne sais plus")
    chat.wait_for("votre réclamation écrite en recommandé")


def test_webhook_mode_with_secret_token(emulator, bot_process):
    bot = bot_process(webhook=True)
    url = f"http://127.0.0.1:{bot.webhook_port}/hook"
    with pytest.raises(urllib.error.HTTPError) as refused:
        post(url, {"update_id": 1})
    assert refused.value.code == 403
    chat = Chat(emulator, 8001)
    walk_to_mediator(chat)


def test_webhook_bot_killed_and_restarted_loses_nothing(emulator, bot_process):
    bot = bot_process(webhook=True)
    chat = Chat(emulator, 8101)
    chat.send("double prélèvement")
    chat.wait_for("Quel service Cstream")
    bot.kill()
    chat.press("Cstream Music")  # the emulator retries delivery until the bot is back
    bot_process(webhook=True)
    chat.wait_for("Avez-vous déjà contacté", timeout=30)


def test_sigkill_after_every_step_loses_no_committed_step(emulator, bot_process):
    """Kill the bot after each answer; each time the next answer continues where it was."""
    steps = [("send", "double prélèvement", "Quel service Cstream"),
             ("press", "Cstream Music", "Avez-vous déjà contacté"),
             ("press", "Oui, par téléphone", "Qu'a donné ce contact"),
             ("press", "Pas de réponse, ou pas de suite", "Quel jour l'argent a-t-il été pris"),
             ("press", "Je ne sais plus", "votre réclamation écrite en recommandé")]
    chat = Chat(emulator, 7101)
    bot = bot_process()
    for action, value, expected in steps:
        getattr(chat, action)(value)
        chat.wait_for(expected, timeout=30)
        bot.kill()
        bot = bot_process()
    chat.send("/recap")
    summary = chat.wait_for("Récapitulatif")
    assert "Cstream Music" in summary and "Oui, par téléphone" in summary


def test_polling_survives_bot_api_errors(emulator, bot_process):
    bot = bot_process()
    for _ in range(3):
        emulator.fail_next("getUpdates", 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    chat = Chat(emulator, 7201)
    chat.send("/start")
    chat.wait_for("Quel est votre problème", timeout=30)
    assert bot.proc.poll() is None


def _stored_node(data_dir, key: str) -> str | None:
    import sqlite3
    with sqlite3.connect(data_dir / "progress.sqlite3") as conn:
        row = conn.execute("SELECT data FROM progress WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0])["node"] if row else None


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "webhook"])
def test_killed_between_the_save_and_the_send_the_reply_still_comes(emulator, bot_process, tmp_path, webhook):
    """The step is saved, the call showing its reply hangs (the pressed question's edit into
    the next one), the bot dies: after the restart the person gets that reply (the outbox),
    and the step was applied once."""
    bot = bot_process(webhook=webhook)
    chat = Chat(emulator, 7301 + webhook)
    chat.send("double prélèvement")
    chat.wait_for("Quel service Cstream")
    emulator.stall_next("editMessageText")
    chat.press("Cstream Vidéo")
    deadline = time.time() + 15
    while emulator.stalled() < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert emulator.stalled() == 1, "the bot never tried to send"
    assert _stored_node(tmp_path, f"private:{chat.chat_id}") == "contacted"  # saved before the send
    bot.kill()
    bot_process(webhook=webhook)
    chat.wait_for("Avez-vous déjà contacté", timeout=30)  # the lost reply, sent again
    chat.press("Non, pas encore")
    chat.wait_for("sourdes ou malentendantes")
    chat.send("/recap")
    summary = chat.wait_for("Récapitulatif")
    assert summary.count("Cstream Vidéo") == 1


def test_burst_with_random_kills_every_person_ends_on_the_question_shown(emulator, bot_process, tmp_path):
    """50 people answer whatever question they were last shown while the bot is killed with
    SIGKILL at random for half a minute; once it is quiet, each person's stored question is
    the last one they were shown, and no answer is stored for a question they never saw."""
    import random
    import threading

    from bot.flow.check import load_flow
    from conftest import FLOWS
    flow, _ = load_flow(FLOWS / "cstream.yaml")
    rng = random.Random(7)
    people = [Chat(emulator, 20_000 + i) for i in range(50)]
    holder = {"bot": bot_process()}
    stop = threading.Event()

    def killer():
        while not stop.wait(rng.uniform(1.0, 3.0)):
            holder["bot"].kill()
            holder["bot"] = bot_process()

    def fetch(chat):
        for item in post(f"{emulator.url}/getUpdates", {"token": "123456:e2e-test-token", "chatId": chat.chat_id})["result"]:
            chat.received.append({**item["message"], "_id": item["messageId"]})

    def questions(chat):
        return [m for m in chat.received if (m.get("reply_markup") or {}).get("inline_keyboard")]

    for chat in people:
        chat.send("/start")
    answered = {chat.chat_id: 0 for chat in people}
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while time.time() < deadline:
        for chat in people:
            fetch(chat)
            shown = questions(chat)
            if len(shown) > answered[chat.chat_id]:  # a question they have not answered yet
                answered[chat.chat_id] = len(shown)
                labels = [b["text"] for row in shown[-1]["reply_markup"]["inline_keyboard"] for b in row
                          if "callback_data" in b and "Recommencer" not in b["text"] and "Retour" not in b["text"]]
                if labels:
                    chat.press(rng.choice(labels))
        time.sleep(0.2)
    stop.set()
    thread.join()
    time.sleep(15)  # quiet: the sweep delivers what waits
    for chat in people:
        fetch(chat)
    import sqlite3
    with sqlite3.connect(tmp_path / "progress.sqlite3") as conn:
        rows = dict(conn.execute("SELECT key, data FROM progress").fetchall())
    for chat in people:
        progress = json.loads(rows[f"private:{chat.chat_id}"])
        texts = [m.get("text") or "" for m in chat.received]
        last_question = (questions(chat) or [{"text": ""}])[-1].get("text") or ""
        node = flow.nodes[progress["node"]]
        opening = node.text["fr"].split("{")[0][:40]
        # An outcome whose text is made of conditional parts opens with whichever part applies.
        openings = [opening] + [part.text["fr"].split("{")[0][:30] for part in node.parts]
        assert opening in last_question or (node.is_outcome and any(o and o in t for o in openings for t in texts)), \
            (chat.chat_id, progress["node"], last_question[:80])
        for answer in progress["path"]:  # every stored answer was given to a question shown
            asked = flow.nodes[answer[0]].text["fr"].split("{")[0][:40]
            assert any(asked in t for t in texts), (chat.chat_id, answer)


def test_a_reminder_comes_after_the_bot_was_killed_and_restarted(emulator, bot_process, tmp_path):
    """A test flow whose first reminder falls 8 seconds after the case opens, quiet hours off:
    the bot is killed with SIGKILL right after the case is opened, restarted after the due
    time, and the reminder comes, once, whatever the time of day."""
    flows = tmp_path / "flows"
    flows.mkdir()
    text = (ROOT / "flows" / "cstream.yaml").read_text(encoding="utf-8")
    text = text.replace("  answer_due:\n    delay: 30 days\n", "  answer_due:\n    delay: 8 seconds\n")
    text = text.replace("      at: formal_notice_from\n", "      at: answer_due\n")  # 8 seconds, not a day after
    assert "delay: 8 seconds" in text and "      at: answer_due\n" in text
    (flows / "cstream.yaml").write_text(text, encoding="utf-8")
    env = {"BOT_FLOWS": str(flows), "BOT_QUIET_HOURS": "off", "BOT_REMINDER_CHECK_SECONDS": "1"}
    bot = bot_process(extra_env=env)
    chat = Chat(emulator, 7101)
    chat.send("on m'a facturé deux fois")
    chat.wait_for("Quel service Cstream")
    for label, then in (("Cstream Vidéo", "Avez-vous déjà contacté"), ("Non, pas encore", "sourdes ou malentendantes"),
                        ("Non", "Comment cet argent a-t-il été pris"), ("Par carte bancaire", "votre réclamation écrite en recommandé")):
        chat.press(label)
        chat.wait_for(then)
    chat.press(chat.wait_for_label("📮"))  # today, or the post's next day
    chat.wait_for("votre dossier, courrier envoyé le")
    chat.press("Passer")
    chat.wait_for("Prochain rappel")
    bot.kill()
    time.sleep(9)  # the reminder falls due while no bot runs
    bot_process(extra_env=env)
    reminder = chat.wait_for("Rappel de votre dossier", timeout=30)
    assert "Avez-vous reçu une réponse" in reminder
    chat.press("Non, toujours rien")
    chat.wait_for("Sans réponse au courrier")
    time.sleep(3)  # several more looks for due reminders
    sent = [m for m in emulator.history() if "Rappel de votre dossier" in m.get("message", {}).get("text", "")]
    assert len(sent) == 1
