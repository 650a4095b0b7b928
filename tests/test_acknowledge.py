"""Telegram is told an update was received only once it is kept (bot/telegram/receipts.py):
the webhook answers 200 after the step is committed, 503 while the store is away; the poller
moves its offset past an update only then. Updates that cannot be read are skipped, once.

These tests are about mechanics: those that walk a flow's questions run on the tiny flow of
tests/tiny.py and assert its texts; the real flows' wording is asserted in tests/test_content.py
and tests/test_personas.py."""
import asyncio
import contextlib
import json
import socket
import sqlite3

import pytest

from bot.store import ConversationKey
from bot.telegram.poller import Poller, next_offset
from bot.telegram.webhook import WebhookServer
from conftest import stored
from tg import Person

SECRET_HEAD = "POST /hook HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: s3cret\r\n" \
              "Content-Type: application/json\r\nContent-Length: {n}\r\n\r\n"
POISON = {"update_id": 5150, "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 7, "type": "private"},
                                         "from": {"id": 7}, "text": "mon adresse est 3 rue des Lilas"}}


@contextlib.contextmanager
def store_away(store):
    """The SQLite file locked by another connection: every write of the bot fails meanwhile."""
    blocker = sqlite3.connect(store.path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        blocker.rollback()
        blocker.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def post(port: int, body: bytes, pieces: int = 1, pause: float = 0.0, timeout: float = 30) -> int:
    """POST an update as raw HTTP, its body in `pieces` TCP writes `pause` seconds apart; the status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(SECRET_HEAD.format(n=len(body)).encode())
        size = -(-len(body) // pieces)
        for start in range(0, len(body), size):
            writer.write(body[start:start + size])
            await writer.drain()
            await asyncio.sleep(pause)
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    return int(line.split()[1])


@pytest.fixture
async def served(tiny_bot):
    """The bot's Application running (its updates handled) behind its webhook server."""
    tg, app, store = tiny_bot
    port = free_port()
    server = WebhookServer(app, "https://bot.example.org/hook", "s3cret", "127.0.0.1", port)
    await app.start()
    await server.start()
    yield tg, app, store, port, server
    await server.stop()
    await app.stop()


def update_body(person: Person, text: str, update_id: int) -> bytes:
    return json.dumps({"update_id": update_id, "message": person.message(text)}).encode()


async def test_the_200_comes_once_the_step_is_stored(served):
    tg, app, store, port, _ = served
    camille = Person(tg, app, 8960)
    assert await post(port, update_body(camille, "/start", 6001)) == 200
    assert stored(store, "private:8960").node == "topic"  # kept when Telegram was told
    assert await post(port, update_body(camille, "une salade de fruits", 6002)) == 200
    assert stored(store, "private:8960").answers["topic"] == "fruit"


async def test_a_body_that_comes_in_pieces_is_read_whole(served):
    tg, app, store, port, _ = served
    camille = Person(tg, app, 8961)
    assert await post(port, update_body(camille, "/start", 6011), pieces=3, pause=0.2) == 200
    assert stored(store, "private:8961").node == "topic"


async def test_an_update_that_cannot_be_read_is_answered_200_and_logged_once_by_size(served, caplog):
    tg, app, store, port, _ = served
    body = json.dumps(POISON).encode()
    assert await post(port, body) == 200  # a 400 would make Telegram send it again and again
    lines = [r.getMessage() for r in caplog.records if "can read" in r.getMessage()]
    assert lines == [f"the webhook received {len(body)} bytes that are not an update it can read; skipped"]
    assert "Lilas" not in caplog.text and not tg.calls_to("sendMessage")


async def test_while_the_store_is_away_the_webhook_answers_503_then_applies_the_update(served):
    tg, app, store, port, _ = served
    camille = Person(tg, app, 8962)
    assert await post(port, update_body(camille, "/start", 6021)) == 200
    body = update_body(camille, "une salade de fruits", 6022)
    with store_away(store):
        assert await post(port, body) == 503  # not kept: Telegram sends it again
        assert await post(port, body) == 503
    told = [m for m in camille.seen if m.text.startswith("Un problème temporaire retarde ma réponse")]
    assert len(told) == 1  # said once, not at every retry
    assert await post(port, body) == 200  # Telegram's next try: applied
    assert stored(store, "private:8962").answers["topic"] == "fruit"
    assert "Question B : quelle taille ?" in camille.last_text


async def test_an_update_sent_again_after_its_200_changes_progress_once(served):
    tg, app, store, port, _ = served
    camille = Person(tg, app, 8963)
    assert await post(port, update_body(camille, "/start", 6031)) == 200
    body = update_body(camille, "une salade de fruits", 6032)
    assert await post(port, body) == 200
    path = stored(store, "private:8963").path
    assert await post(port, body) == 200  # an acknowledgement lost: the same update again
    assert stored(store, "private:8963").path == path


def test_the_offset_moves_past_kept_updates_only():
    assert next_offset(None, [5, 6, 7], {5: True, 6: True, 7: True}) == 8
    assert next_offset(None, [5, 6, 7], {5: True, 6: False, 7: True}) == 6  # 6 and 7 come again
    assert next_offset(4, [5, 6], {6: True}) == 7  # 5 could not be read: skipped
    assert next_offset(9, [], {}) == 9


async def test_the_poller_skips_what_it_cannot_read_and_holds_what_the_store_refused(tiny_bot, caplog):
    tg, app, store = tiny_bot
    await app.start()
    try:
        camille = Person(tg, app, 8964)
        poller = Poller(app, app.bot_data["receipts"], on_fatal=None)
        start = {"update_id": 7001, "message": camille.message("/start")}
        assert await poller.handle([start, POISON]) is True
        assert poller.offset == 7002 and stored(store, "private:8964").node == "topic"
        skipped = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
        assert skipped == [f"skipped an update of {len(json.dumps(POISON))} bytes that cannot be read"]
        assert "Lilas" not in caplog.text
        fruit = {"update_id": 7003, "message": camille.message("une salade de fruits")}
        with store_away(store):
            assert await poller.handle([fruit]) is False
            assert poller.offset == 7003  # fetched again
        assert await poller.handle([fruit]) is True
        assert poller.offset == 7004 and stored(store, "private:8964").answers["topic"] == "fruit"
    finally:
        await app.stop()


async def test_the_poller_confirms_a_batch_only_once_its_steps_are_stored(bot):
    """A batch's offset is not moved (so a kill loses nothing) until every step is kept."""
    tg, app, store = bot
    await app.start()
    try:
        people = [Person(tg, app, 8970 + i) for i in range(20)]
        poller = Poller(app, app.bot_data["receipts"], on_fatal=None)
        batch = [{"update_id": 7100 + i, "message": p.message("/start")} for i, p in enumerate(people)]
        assert await poller.handle(batch) is True
        assert poller.offset == 7120
        assert all(store.load_sync(ConversationKey.private(p.id)) is not None for p in people)
    finally:
        await app.stop()


async def test_the_delay_message_lost_to_a_flood_pause_is_sent_at_the_next_delivery(served):
    tg, app, store, port, _ = served
    camille = Person(tg, app, 8965)
    assert await post(port, update_body(camille, "/start", 6041)) == 200
    body = update_body(camille, "une salade de fruits", 6042)
    flood = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 30",
             "parameters": {"retry_after": 30}}
    with store_away(store):
        tg.fail_next.append(("sendMessage", 429, flood))
        assert await post(port, body) == 503
        told = [m for m in camille.seen if m.text.startswith("Un problème temporaire")]
        assert told == []  # refused by Telegram's flood limit
        assert await post(port, body) == 503  # Telegram's next try: said now
        assert await post(port, body) == 503
    told = [m for m in camille.seen if m.text.startswith("Un problème temporaire")]
    assert len(told) == 1


async def test_updates_of_the_wrong_shape_are_skipped_in_one_line(served, caplog):
    """Only the holder of the webhook's secret could send them: a 200 (Telegram would not send
    them again), one line by size, nothing stored, no traceback."""
    tg, app, store, port, _ = served
    camille = Person(tg, app, 8966)
    shapes = [{"update_id": None, "message": camille.message("/start")},
              {"update_id": [1], "message": camille.message("/start")},
              {"update_id": 6051, "message": {**camille.message("/start"), "chat": {"id": "SECRETWORD", "type": "private"}}},
              {"update_id": 6052, "message": {**camille.message(), "text": 42}}]
    for shape in shapes:
        assert await post(port, json.dumps(shape).encode()) == 200
    lines = [r.getMessage() for r in caplog.records if "can read" in r.getMessage()]
    assert len(lines) == len(shapes) and not any(r.exc_info for r in caplog.records)
    assert store.count_sync() == 0 and "SECRETWORD" not in caplog.text


async def test_the_poller_gives_up_an_update_its_conversation_holds_not_the_others(tiny_bot):
    """A conversation whose last reply cannot be shown holds its next update; fetched again a
    few times, it is then given up: everyone else's updates go on meanwhile and after."""
    from bot.telegram import poller as module
    tg, app, store = tiny_bot
    await app.start()
    try:
        stuck, other = Person(tg, app, 8980), Person(tg, app, 8981)
        fail_8980 = ("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal"}, 8980)
        poller = Poller(app, app.bot_data["receipts"], on_fatal=None)
        assert await poller.handle([{"update_id": 7200, "message": stuck.message("/start")}])
        tg.fail_next.append(fail_8980)
        assert await poller.handle([{"update_id": 7201, "message": stuck.message("une salade de fruits")}])
        assert store.count_undelivered_sync() == 1  # its reply waits in the outbox
        batch = [{"update_id": 7202, "message": stuck.message("Grand")},
                 {"update_id": 7203, "message": other.message("/start")}]
        for _ in range(module.HOLD_TRIES - 1):
            tg.fail_next.append(fail_8980)
            assert await poller.handle(batch) is False
            assert poller.offset == 7202  # held: fetched again
        starts = len([m for m in other.seen if "Question A : fruits ou légumes ?" in m.text])
        assert starts == 1  # the other person's update was handled once, not at every fetch
        tg.fail_next.append(fail_8980)
        await poller.handle(batch)
        assert poller.offset == 7204  # given up: the others are not held behind it
    finally:
        await app.stop()
