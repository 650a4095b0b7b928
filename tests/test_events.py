"""The anonymous step events: written with their step, by both front ends, naming no one.

These tests are about mechanics: those that walk a flow's questions run on the tiny flow of
tests/tiny.py and assert its texts; the real flows' wording is asserted in tests/test_content.py
and tests/test_personas.py."""
import io
import json

import pytest

from bot.console import run_console
from bot.engine import Engine
from bot.engine.progress import Progress
from bot.errors import Conflict
from bot.store.base import FIELDS
from bot.store import ConversationKey
from bot.stores import SQLiteStore
from conftest import ADMIN, NOW, stored
from tg import Person
from tiny import tiny_flows

SAID = "une salade de fruits pour ce midi"
ODD = "zorglub quintessence farfelue"


def events(store) -> list[dict]:
    return [dict(zip(("id",) + FIELDS, row)) for row in store.events_sync()]


async def test_each_step_of_a_telegram_conversation_leaves_one_event(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1001)
    await camille.send("/start")
    await camille.send(SAID)
    await camille.press("Grand")
    await camille.send("/retour")
    await camille.press("Grand")
    await camille.press("Rouge")
    await camille.press("Rond")
    await camille.press("Acide")
    got = [(e["kind"], e["node"], e["choice"], e["understood"], e["next"], e["outcome"]) for e in events(store)]
    assert got == [("start", None, None, None, "topic", None),
                   ("answer", "topic", "fruit", 1, "size", None),
                   ("answer", "size", "big", None, "colour", None),
                   ("back", "colour", None, None, "size", None),
                   ("answer", "size", "big", None, "colour", None),
                   ("answer", "colour", "red", None, "shape", None),
                   ("answer", "shape", "round", None, "taste", None),
                   ("answer", "taste", "sour", None, "done", "done")]
    token = stored(store, "private:1001").token
    assert len(token) == 16 and {e["token"] for e in events(store)} == {token}
    assert {e["day"] for e in events(store)} == {NOW.date().isoformat()}


async def test_events_hold_nothing_personal(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 987654321)
    member = Person(tg, app, 123456789, chat_id=-1009988776655)
    await camille.send(SAID)
    await camille.send(ODD)
    await member.send("/start@ReclamationTestBot")
    await member.send("une soupe de légumes bien chaude", reply_to_bot=True)
    rows = store.events_sync()
    assert len(rows) >= 4
    dump = json.dumps(rows, ensure_ascii=False)
    for personal in ("987654321", "123456789", "1009988776655", "Camille", "salade", "zorglub", "chaude"):
        assert personal not in dump
    for row in rows:  # a day, never a finer time
        event = dict(zip(("id",) + FIELDS, row))
        assert len(event["day"]) == 10 and isinstance(event["seconds"], int)
    # The other tables hold nothing of what was typed either (BOT_KEEP_UNRECOGNISED is off).
    assert store.unrecognised_sync() == []


async def test_a_step_whose_events_cannot_be_written_is_not_saved_either(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1002)
    await camille.send("/start")
    before = stored(store, "private:1002")
    store._connection().execute("ALTER TABLE events RENAME TO events_away")
    await camille.send(SAID)
    assert "temporaire" in camille.last_text.lower()
    assert stored(store, "private:1002") == before  # the step went with its events: neither was kept
    store._connection().execute("ALTER TABLE events_away RENAME TO events")
    await camille.send(SAID)
    assert stored(store, "private:1002").node == "size"
    assert [e["kind"] for e in events(store)] == ["start", "answer"]


async def test_a_restart_draws_a_new_token_and_an_old_record_gets_one(tiny_bot, tmp_path):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1003)
    await camille.send(SAID)
    first = stored(store, "private:1003").token
    await camille.send("/recommencer")
    assert stored(store, "private:1003").token not in ("", first)
    assert [e["kind"] for e in events(store)][-1] == "start"
    old = json.loads(Progress("tiny", "v", "topic").to_json())
    del old["token"]
    old["schema"] = 2
    assert len(Progress.from_json(json.dumps(old)).token) == 16
    fixed, _ = Engine(tiny_flows(tmp_path / "engine")).start(token="abc")
    assert fixed.token == "abc"  # randomness can be passed in: the engine stays testable


def test_the_terminal_writes_the_same_events(tmp_path):
    store = SQLiteStore(tmp_path / "p.sqlite3")
    out = io.StringIO()
    run_console(Engine(tiny_flows(tmp_path / "flows")), store, ConversationKey.console("t"),
                stdin=io.StringIO(f"{SAID}\n1\n"), stdout=out, clock=lambda: NOW)
    assert [(e["kind"], e["node"], e["next"]) for e in events(store)] == [
        ("start", None, "topic"), ("answer", "topic", "size"), ("answer", "size", "colour")]
    store.close()


async def test_unrecognised_descriptions_are_kept_only_when_asked_and_said(tmp_path):
    from bot.settings import Settings
    from bot.telegram.app import build_application
    from tg import FakeTelegram
    tg = FakeTelegram()
    store = SQLiteStore(tmp_path / "p.sqlite3")
    settings = Settings(token="1:x", data_dir=tmp_path, admin_ids=frozenset({ADMIN}), keep_unrecognised=True)
    app = build_application(settings, tiny_flows(tmp_path / "flows"), store=store, request=tg, clock=lambda: NOW,
                            rate_limiter=False)
    await app.initialize()
    camille = Person(tg, app, 1004)
    await camille.send("/start")
    assert "gardées 30 jours" in camille.last_text
    await camille.send(ODD)
    await camille.send(SAID)
    assert [row[3] for row in store.unrecognised_sync()] == [ODD]
    assert [e["understood"] for e in events(store) if e["understood"] is not None] == [0, 1]
    await camille.send("/oublier")
    await camille.press("Oui, tout effacer")
    assert store.unrecognised_sync() == []
    assert len(events(store)) == 3  # the events stay: nothing links them to Camille any more
    await app.shutdown()
    store.close()


async def test_without_the_setting_the_welcome_says_nothing_of_it(bot):
    tg, app, _ = bot
    camille = Person(tg, app, 1005)
    await camille.send("/start")
    assert "30 jours" not in camille.last_text


def test_events_of_a_step_saved_elsewhere_are_not_written(tmp_path):
    store = SQLiteStore(tmp_path / "p.sqlite3")
    key = ConversationKey.console("x")
    p = Progress("cstream", "v", "problem", token="t")
    store.save_sync(key, p, 0)
    step = {**dict.fromkeys(FIELDS), "day": "2026-01-01", "flow": "cstream", "version": "v", "kind": "stay",
            "seconds": 0, "token": "t"}
    with pytest.raises(Conflict):
        store.save_sync(key, p, 0, events=(step,))
    assert store.events_sync() == []
    store.save_sync(key, p, 1, events=(step,))
    assert len(store.events_sync()) == 1
    store.close()


async def test_stats_gives_admins_a_summary_and_the_funnel_picture_and_nobody_else(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1006)
    await camille.send(SAID)
    await camille.press("Grand")
    await Person(tg, app, 1007).send(ODD)
    await camille.send("/stats")
    assert "Derniers jours" not in camille.last_text and tg.calls_to("sendPhoto") == []  # not an admin
    admin = Person(tg, app, ADMIN)
    await admin.send("/stats")
    summary, picture = admin.seen[-2:]
    assert summary.text.startswith("30 derniers jours : 2 conversation(s), 0 arrivée(s) à une issue")
    assert "50 %" in summary.text and "2 conversation(s) enregistrée(s)" in summary.text
    assert picture.photo.startswith(b"\x89PNG") and len(picture.photo) > 5000
    assert stored(store, f"private:{ADMIN}") is None  # /stats is not a conversation step
