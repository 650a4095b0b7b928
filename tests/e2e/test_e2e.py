"""End to end: the real bot process, polling or webhook, against a Bot API emulator on loopback."""
import json
import os
import sqlite3
import urllib.error

import pytest

from harness import BotProcess, Chat, Emulator, missing_tools, post

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
    edited = [m for m in emulator.history() if m.get("message", {}).get("text", "").endswith("✔ <b>Cstream Books</b>")]
    assert edited, "the answered question shows the chosen answer"
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
    chat.wait_for("Passez maintenant à l'écrit")


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
             ("press", "Pas de réponse, ou pas de suite", "Passez maintenant à l'écrit")]
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
