"""Every saved step reaches the person: the outbox, its retries, and Telegram's refusals.

These tests are about mechanics: those that walk a flow's questions run on the tiny flow of
tests/tiny.py and assert its texts; the real flows' wording is asserted in tests/test_content.py
and tests/test_personas.py."""
import asyncio
import time


from bot.flow.files import FlowSet
from conftest import make_bot, stored
from tg import Person
from tiny import tiny_flows

ERROR_500 = ("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})


def flood(seconds: int, chat=None):
    body = {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds}}
    return ("sendMessage", 429, body) if chat is None else ("sendMessage", 429, body, chat)


async def sweep(app, age: float = 0.0):
    """The delivery sweep, as its job runs it, taking replies that waited `age` seconds."""
    from types import SimpleNamespace

    import bot.telegram.app as module
    kept, module.SWEEP_AGE = module.SWEEP_AGE, age
    try:
        await app.bot_data["jobs"].sweep(SimpleNamespace(bot=app.bot))
    finally:
        module.SWEEP_AGE = kept


async def test_a_reply_lost_to_a_bot_api_error_is_shown_before_the_next_answer_is_applied(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 8101)
    await camille.send("/start")
    tg.fail_next.append(ERROR_500)
    await camille.send("une salade de fruits")      # saved, but its question never reached the chat
    assert stored(store, "private:8101").node == "size"
    assert "Question B" not in camille.last_text
    tg.fail_next.append(ERROR_500)
    await camille.send("Grand")                     # Telegram still refuses: nothing applied, the
    assert "Question B" not in camille.last_text    # update left for Telegram to send again
    assert stored(store, "private:8101").answers == {"topic": "fruit"}
    await camille.send("Grand")                     # typed again: the question first, then the answer
    texts = [m.text for m in camille.seen[-2:]]
    assert "Question B : quelle taille ?" in texts[0] and "Question C : quelle couleur ?" in texts[1]
    assert stored(store, "private:8101").answers == {"topic": "fruit", "size": "big"}
    assert store.count_undelivered_sync() == 0


async def test_the_sweep_delivers_what_is_waiting(tiny_bot):
    tg, app, store = tiny_bot
    people = [Person(tg, app, 8200 + i) for i in range(3)]
    for person in people:
        await person.send("/start")
    tg.fail_next += [ERROR_500] * 3
    for person in people:
        await person.send("une salade de fruits")
    assert store.count_undelivered_sync() == 3
    await sweep(app, age=60)  # just saved: most likely still on its way from its own process
    assert store.count_undelivered_sync() == 3
    await sweep(app)
    assert store.count_undelivered_sync() == 0
    assert all("Question B : quelle taille ?" in person.last_text for person in people)


async def test_a_redelivered_update_sends_its_reply_only_if_it_was_never_shown(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 8301)
    await camille.send("/start")
    tg.fail_next.append(ERROR_500)
    update_id = await camille.send("une salade de fruits")
    sends = len(tg.calls_to("sendMessage"))
    await camille.feed({"message": camille.message("une salade de fruits")}, update_id=update_id)  # Telegram again
    assert len(tg.calls_to("sendMessage")) == sends + 1 and "Question B : quelle taille ?" in camille.last_text
    await camille.feed({"message": camille.message("une salade de fruits")}, update_id=update_id)
    assert len(tg.calls_to("sendMessage")) == sends + 1  # shown now: a third delivery changes nothing
    assert stored(store, "private:8301").answers == {"topic": "fruit"}


async def test_a_second_press_after_a_lost_reply_shows_it(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 8401)
    await camille.send("une salade de fruits")
    question = camille.last
    tg.fail_next.append(("editMessageText", *ERROR_500[1:]))  # the edit into the next question fails
    await camille.press("Grand", message=question)
    assert stored(store, "private:8401").node == "colour"
    assert "Question C : quelle couleur ?" not in question.text and "Grand" in question.labels
    await camille.press("Grand", message=question)  # nothing came, so they press again
    assert "Question C : quelle couleur ?" in camille.last_text and camille.last is question  # edited in place
    assert stored(store, "private:8401").node == "colour"  # applied once


async def test_a_reply_telegram_refuses_for_good_leaves_the_outbox(tiny_bot, caplog):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 8501)
    await camille.send("/start")
    tg.fail_next.append(("sendMessage", 400, {"ok": False, "error_code": 400, "description": "Bad Request: message is too long"}))
    await camille.send("une salade de fruits")
    assert store.count_undelivered_sync() == 0 and "refused a reply" in caplog.text
    await camille.send("2")  # nobody is stuck: their next answer is applied
    assert stored(store, "private:8501").answers["size"] == "big"


async def test_the_message_after_an_error_never_says_the_answer_was_lost(bot):
    tg, app, store = bot
    camille = Person(tg, app, 8601)
    await camille.send("/start")
    tg.fail_next.append(ERROR_500)
    await camille.send("double prélèvement")
    said = " ".join(m.text for m in camille.seen)
    assert "pas pu enregistrer" not in said and "could not be saved" not in said


async def test_a_flood_pause_in_one_chat_does_not_hold_the_others(tmp_path):
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), rate_limiter=True)
    slow, fast = Person(tg, app, 8701), Person(tg, app, 8702)
    tg.fail_next.append(flood(30, chat=8701))      # Telegram: this chat waits 30 s
    started = time.monotonic()
    await asyncio.gather(slow.send("/start"), fast.send("/start"))
    assert time.monotonic() - started < 5          # nobody waited the 30 s on the spot
    assert "Question A : fruits ou légumes ?" in fast.last_text
    assert not slow.seen and store.count_undelivered_sync() == 1  # kept for later, not lost
    limiter = app.bot._rate_limiter
    limiter._paused.clear()                         # the pause is over
    await sweep(app)
    assert "Question A : fruits ou légumes ?" in slow.last_text and store.count_undelivered_sync() == 0
    await app.shutdown()


async def test_a_short_flood_pause_is_waited_out(tmp_path):
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), rate_limiter=True)
    tg.fail_next.append(flood(1))
    camille = Person(tg, app, 8801)
    started = time.monotonic()
    await camille.send("/start")
    assert time.monotonic() - started >= 1
    assert "Question A : fruits ou légumes ?" in camille.last_text and store.count_undelivered_sync() == 0
    await app.shutdown()


async def test_several_chats_flooded_at_once_pause_everyone(tmp_path, flow):
    tg, app, store = await make_bot(tmp_path, FlowSet([flow]), rate_limiter=True)
    people = [Person(tg, app, 8900 + i) for i in range(4)]
    tg.fail_next += [flood(20, chat=8900 + i) for i in range(3)]
    await asyncio.gather(*(p.send("/start") for p in people[:3]))
    limiter = app.bot._rate_limiter
    assert limiter.paused_for(8903) > 10  # a fourth chat waits too: the bot as a whole is over
    await people[3].send("/start")
    assert not people[3].seen and store.count_undelivered_sync() == 4
    await app.shutdown()


# The webhook server -------------------------------------------------------------------------
async def _raw_request(port: int, head: str, body: bytes = b"", timeout: float = 3.0) -> int:
    """Send raw HTTP; return the status, or -1 if the server waits for the body instead."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError:
        return -1
    finally:
        writer.close()
    return int(line.split()[1])


async def test_the_webhook_checks_the_secret_before_reading_and_caps_the_body(bot):
    import json
    import socket

    from bot.telegram.webhook import WebhookServer
    tg, app, store = bot
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = WebhookServer(app, "https://bot.example.org/hooks/telegram", "s3cret", "127.0.0.1", port, max_body=4096)
    await server.start()
    try:
        huge = "POST /hooks/telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 90000000\r\n"
        assert await _raw_request(port, huge) == 403          # answered at once, the 90 MB never read
        assert await _raw_request(port, huge.replace("Host: x", "Host: x\r\nX-Telegram-Bot-Api-Secret-Token: s3cret")) == 413
        camille = Person(tg, app, 8950)
        update = json.dumps({"update_id": 4242, "message": camille.message("/start")}).encode()
        head = ("POST /hooks/telegram HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: s3cret\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(update)}\r\n")
        wrong_path = head.replace("/hooks/telegram", "/telegram")
        assert await _raw_request(port, wrong_path, update) == 404  # the full path of the URL is served
    finally:
        await server.stop()


async def test_replies_saved_before_a_restart_are_sent_at_once_at_start(tmp_path, monkeypatch):
    """A process saved 200 steps and was killed before showing them: the next one shows them
    all as it starts, not batch by batch at the sweep's pace (the regular sweep is put an
    hour away here: only the one at start can show them)."""
    import bot.telegram.app as module
    monkeypatch.setattr(module, "SWEEP_EVERY", 3600.0)
    from bot.engine.progress import Progress
    from bot.store import ConversationKey
    from bot.stores import SQLiteStore
    flows = tiny_flows(tmp_path / "flows")
    first = SQLiteStore(tmp_path / "progress.sqlite3")
    for i in range(200):
        progress = Progress("tiny", flows.get("tiny").flow.version, "topic", started=1.0, updated=1.0)
        first.save_sync(ConversationKey.private(9000 + i), progress, 0, outbox=(
            {"method": "sendMessage", "params": {"chat_id": 9000 + i, "text": "Question A : fruits ou légumes ?"}},))
    first.close()
    await asyncio.sleep(1.1)  # older than what may still be on its way from a live process
    tg, app, store = await make_bot(tmp_path, flows)
    started = time.monotonic()
    await app.start()
    try:
        while store.count_undelivered_sync() and time.monotonic() - started < 20:
            await asyncio.sleep(0.05)
    finally:
        await app.stop()
        await app.shutdown()
        store.close()
    assert sorted(p["chat_id"] for p in tg.calls_to("sendMessage")) == list(range(9000, 9200))


async def test_a_reply_to_a_group_that_became_a_supergroup_leaves_the_outbox(bot, caplog):
    tg, app, store = bot
    member = Person(tg, app, 8401, chat_id=-4001)
    tg.fail_next.append(("sendMessage", 400, {"ok": False, "error_code": 400, "description": "Bad Request: group chat "
                         "was upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -1004001}}))
    await member.send("/start@ReclamationTestBot")
    assert store.count_undelivered_sync() == 0  # never to be shown there: it does not hold the chat
    assert any("ChatMigrated" in r.getMessage() for r in caplog.records)


def _outbox_in_file(path, key: str) -> str:
    import sqlite3
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT outbox FROM progress WHERE key = ?", (key,)).fetchone()[0]


async def test_a_reply_shown_is_marked_in_the_file_with_the_next_step_or_soon_after(tiny_bot, tmp_path):
    """The mark « shown » of one step rides in the next step's commit (one at a time, one
    commit per update); alone, it reaches the file within MARK_WAIT; this process knows it at
    once: nothing is shown twice, nothing is counted as waiting."""
    from bot.store.sqlite import MARK_WAIT
    tg, app, store = tiny_bot
    path = tmp_path / "progress.sqlite3"
    anna = Person(tg, app, 8301)
    await anna.send("/start")
    await asyncio.sleep(MARK_WAIT * 3)
    commits = []
    writers = [c for c in (store._conns[True], store._inline) if c is not None]  # the thread's, the loop's
    for conn in writers:
        conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    try:
        await anna.send("une salade de fruits")
        assert store.count_undelivered_sync() == 0
        shown = len(tg.calls_to("sendMessage")) + len(tg.calls_to("editMessageText"))
        await anna.send("Grand")
        assert len(tg.calls_to("sendMessage")) + len(tg.calls_to("editMessageText")) == shown + 1  # nothing again
        assert len(commits) == 2  # two steps, two commits: the first one's mark rode in the second
        assert _outbox_in_file(path, "private:8301") != "[]"  # the last mark: not in the file yet...
        await asyncio.sleep(MARK_WAIT * 3)
        assert _outbox_in_file(path, "private:8301") == "[]" and len(commits) == 3  # ...then on its own
    finally:
        for conn in writers:
            conn.set_trace_callback(None)


async def test_a_sweep_before_the_mark_reaches_the_file_shows_nothing_twice(tiny_bot, tmp_path):
    tg, app, store = tiny_bot
    cleo = Person(tg, app, 8303)
    await cleo.send("/start")
    await cleo.send("une salade de fruits")
    assert _outbox_in_file(tmp_path / "progress.sqlite3", "private:8303") != "[]"  # the mark is on its way
    sent = len(tg.calls_to("sendMessage")) + len(tg.calls_to("editMessageText"))
    await sweep(app)
    assert len(tg.calls_to("sendMessage")) + len(tg.calls_to("editMessageText")) == sent


async def test_a_mark_not_in_the_file_when_the_process_dies_means_shown_again_never_lost(tmp_path):
    """Closed: the marks go to the file first. Killed before a mark reached the file: the next
    process's sweep shows that reply once more."""
    from bot.stores import SQLiteStore
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"))
    bea = Person(tg, app, 8302)
    await bea.send("/start")
    await bea.send("une salade de fruits")
    await app.shutdown()
    store.close()  # a clean stop: the mark is written
    assert _outbox_in_file(tmp_path / "progress.sqlite3", "private:8302") == "[]"

    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"))
    bea = Person(tg, app, 8302)
    await bea.send("Grand")
    store._pending.clear()  # the process dies here: its mark never reaches the file
    store._marks.clear()
    assert _outbox_in_file(tmp_path / "progress.sqlite3", "private:8302") != "[]"
    tg2, app2, store2 = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), store=SQLiteStore(tmp_path / "progress.sqlite3"))
    try:
        await sweep(app2)
        again = [c["text"] for c in tg2.calls_to("sendMessage")]
        assert any("Question C" in text for text in again) and store2.count_undelivered_sync() == 0
    finally:
        await app2.shutdown()
        store2.close()
        await app.shutdown()
        store.close()
