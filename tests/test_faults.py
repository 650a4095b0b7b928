"""Faults and bad input: nothing crashes, nothing is lost, no one gets in where they should not.

These tests are about mechanics: those that walk a flow's questions run on the tiny flow of
tests/tiny.py and assert its texts (the random walks excepted: they roam the real flow's whole
graph, inferred answers included, and assert no wording); the real flows' wording is asserted
in tests/test_content.py and tests/test_personas.py."""
import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import subprocess
import time
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot.flow.check import load_flow_text
from bot.flow.files import FlowSet
from bot.settings import Settings
from bot.store import ConversationKey
from bot.stores import SQLiteStore
from bot.telegram.app import RedactToken
from conftest import NOW, make_bot, stored
from tg import Person
from tiny import TINY, tiny_flows

TEMPORARY = "Un problème temporaire"


def errors(caplog):
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


# 3. Concurrency --------------------------------------------------------------------------
STEPS = ["une salade de fruits", "2", "/retour", "3", "1", "/recap", "2", "1", "/retour", "1",
         "/recommencer", "une soupe de légumes", "1", "1", "2", "/retour", "1", "euh", "1", "/recap"]


async def test_twenty_updates_for_one_chat_at_once_end_like_one_by_one(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    tg1, one_by_one, store1 = await make_bot(tmp_path / "a", tiny_flows(tmp_path / "a" / "flows"))
    tg2, at_once, store2 = await make_bot(tmp_path / "b", tiny_flows(tmp_path / "b" / "flows"))
    alice1, alice2 = Person(tg1, one_by_one, 3001), Person(tg2, at_once, 3001)
    for text in STEPS:
        await one_by_one.process_update(alice1.text_update(text))
    updates = [alice2.text_update(text) for text in STEPS]
    await asyncio.gather(*(at_once.update_processor.process_update(u, at_once.process_update(u)) for u in updates))
    assert stored(store2, "private:3001").path == stored(store1, "private:3001").path
    assert [m.text for m in alice2.seen] == [m.text for m in alice1.seen]
    for app, store in ((one_by_one, store1), (at_once, store2)):
        await app.shutdown()
        store.close()


async def test_conversations_run_at_the_same_time_and_each_one_in_order(tiny_bot):
    """While one person's reply is on its way, others are served; one person's updates wait
    for each other (serialising everyone behind one lock, or no one, would fail here)."""
    tg, app, store = tiny_bot
    tg.delay = 0.02
    people = [Person(tg, app, 9_000 + i) for i in range(20)]
    updates = [p.text_update(text) for p in people for text in ("une salade de fruits", "1", "1")]
    await asyncio.gather(*(app.update_processor.process_update(u, app.process_update(u)) for u in updates))
    assert tg.most_at_once > 5 and tg.most_in_one_chat == 1
    assert all(stored(store, f"private:{p.id}").node == "shape" for p in people)


async def test_two_hundred_conversations_at_once_all_end_correct(tiny_bot):
    tg, app, store = tiny_bot
    people = [Person(tg, app, 10_000 + i) for i in range(200)]
    path = ["une salade de fruits", "2", "1", "2", "Acide"]  # fruit, big, red, long, sour: numbers and a label typed
    updates = [p.text_update(text) for text in path for p in people]  # interleaved
    await asyncio.gather(*(app.update_processor.process_update(u, app.process_update(u)) for u in updates))
    for person in people:
        progress = stored(store, f"private:{person.id}")
        assert progress.node == "done", (person.id, progress.path)
        assert progress.answers == {"topic": "fruit", "size": "big", "colour": "red", "shape": "long", "taste": "sour"}


# 5. The flow changes while people are mid-way ---------------------------------------------
async def test_flow_edit_between_two_messages(tmp_path):
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"))
    camille = Person(tg, app, 3101)
    await camille.send("une soupe de légumes")
    assert stored(store, "private:3101").node == "size"
    await app.shutdown()
    # v2 drops the "size" question Camille is on.
    v2_text = TINY.replace("        next: size\n", "        next: colour\n")
    start, end = v2_text.index("  size:\n"), v2_text.index("  colour:\n")
    v2, problems = load_flow_text((v2_text[:start] + v2_text[end:]).replace("{size}", "moyenne"), "v2.yaml")
    assert problems == [], problems
    tg, app, _ = await make_bot(tmp_path, FlowSet([v2]), store=store)
    camille = Person(tg, app, 3101)
    await camille.send("/recap")
    assert "mis à jour" in camille.last_text and "Question C : quelle couleur ?" in camille.last_text
    moved = stored(store, "private:3101")
    assert moved.version == v2.version and moved.answers == {"topic": "vegetable"}
    await camille.press("Rouge")
    assert stored(store, "private:3101").node == "shape"
    await app.shutdown()


# 6. Store trouble -------------------------------------------------------------------------
async def test_locked_database_gets_a_temporary_message_and_loses_nothing(tiny_bot, caplog):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 3201)
    await camille.send("une salade de fruits")
    before = stored(store, "private:3201")
    blocker = sqlite3.connect(store.path, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")
    for _ in range(3):
        await camille.press("Petit")
        assert TEMPORARY in tg.calls_to("answerCallbackQuery")[-1]["text"]
    await camille.send("/recap")
    assert TEMPORARY in camille.last_text
    blocker.rollback()
    blocker.close()
    assert stored(store, "private:3201") == before
    await camille.press("Petit")
    assert stored(store, "private:3201").node == "colour"
    logged = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(logged) == 1 and "locked" in logged[0].getMessage()
    assert not [r for r in errors(caplog) if "failed to handle" in r.getMessage()]


async def test_missing_data_directory(tmp_path):
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data folder should be")
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), store=SQLiteStore(blocked / "progress.sqlite3"))
    camille = Person(tg, app, 3206)
    await camille.send("/start")
    assert TEMPORARY in camille.last_text
    blocked.unlink()  # the operator makes room for the folder: the next message works
    await camille.send("une salade de fruits")
    assert "Question B : quelle taille ?" in camille.last_text
    assert stored(store, "private:3206").answers == {"topic": "fruit"}
    await app.shutdown()
    store.close()


async def test_429_is_waited_out_and_the_message_still_goes(tmp_path):
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), rate_limiter=True)
    tg.fail_next.append(("sendMessage", 429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                               "parameters": {"retry_after": 1}}))
    camille = Person(tg, app, 3301)
    started = time.monotonic()
    await camille.send("/start")
    assert time.monotonic() - started >= 1
    assert [name for name, _ in tg.calls].count("sendMessage") == 2
    assert "Question A : fruits ou légumes ?" in camille.last_text
    await app.shutdown()


async def test_403_blocked_user_is_logged_and_progress_kept(tiny_bot, caplog):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 3302)
    await camille.send("/start")
    tg.fail_next.append(("sendMessage", 403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}))
    caplog.set_level(logging.INFO)
    await camille.send("une salade de fruits")
    assert stored(store, "private:3302").node == "size"
    assert any("blocked the bot" in r.getMessage() for r in caplog.records)
    assert not errors(caplog)


# 8. Bad input -----------------------------------------------------------------------------
MEDIA = {
    "photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
    "voice": {"file_id": "v", "file_unique_id": "v", "duration": 1},
    "audio": {"file_id": "a", "file_unique_id": "a", "duration": 1},
    "video": {"file_id": "v", "file_unique_id": "v", "width": 1, "height": 1, "duration": 1},
    "video_note": {"file_id": "n", "file_unique_id": "n", "length": 1, "duration": 1},
    "document": {"file_id": "d", "file_unique_id": "d"},
    "location": {"latitude": 44.8, "longitude": -0.57},
    "contact": {"phone_number": "0600000000", "first_name": "X"},
    "sticker": {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False,
                "is_video": False, "type": "regular"},
    "animation": {"file_id": "g", "file_unique_id": "g", "width": 1, "height": 1, "duration": 1},
    "poll": {"id": "1", "question": "?", "options": [{"text": "a", "voter_count": 0, "persistent_id": "o1"}], "total_voter_count": 0,
             "is_closed": False, "is_anonymous": True, "type": "regular", "allows_multiple_answers": False,
             "allows_revoting": False, "members_only": False},
    "dice": {"emoji": "🎲", "value": 3},
}
TEXTS = ["", "a", "x" * 10_000, "😡😡😡", "\u200b\u200b", "abc\x00\x07def", "\u202eطلب استرداد", "/",
         "<script>alert(1)</script>", "*gras* _it_ [lien](http://x)", "/inconnue", "/start@otherbot",
         "0", "99", "-1", "/retour /retour", "\n\n\n"]


async def test_bad_input_corpus_gets_answers_and_never_raises(tiny_bot, caplog):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 3401)
    await camille.send("/start")
    for text in TEXTS:
        sent = len(camille.seen)
        await camille.send(text)
        if text != "/start@otherbot":
            assert len(camille.seen) > sent, repr(text)
        assert stored(store, "private:3401").node in {"topic", "size"}
    for kind, payload in MEDIA.items():
        sent = len(camille.seen)
        await camille.feed({"message": camille.message(None, **{kind: payload})})
        assert len(camille.seen) == sent + 1 and "Je ne lis que le texte" in camille.last_text, kind
    assert all(len(m.text) <= 4096 for m in camille.seen)
    assert not errors(caplog)


async def test_updates_ignored_on_purpose(bot, caplog):
    tg, app, store = bot
    robot = Person(tg, app, 3402)
    channel = {"id": -100999, "type": "channel", "title": "Annonces"}
    await robot.feed({"channel_post": {"message_id": 1, "date": 1, "chat": channel, "text": "hello"}})
    await robot.feed({"edited_channel_post": {"message_id": 1, "date": 1, "chat": channel, "text": "hi", "edit_date": 2}})
    other_bot = {"id": 5555, "is_bot": True, "first_name": "Other"}
    await robot.feed({"message": {**robot.message("/start"), "from": other_bot}})
    assert [name for name, _ in tg.calls if name == "sendMessage"] == []
    await robot.feed({"inline_query": {"id": "q", "from": robot.user, "query": "remboursement", "offset": ""}})
    assert tg.calls_to("answerInlineQuery")[-1]["button"]["start_parameter"] == "inline"
    assert store.count_sync() == 0 and not errors(caplog)


event = st.one_of(
    st.tuples(st.just("text"), st.one_of(st.text(max_size=60), st.sampled_from(
        ["double prélèvement", "1", "2", "3", "/retour", "/recommencer", "/recap", "/aide", "/oublier", "/xyz"]))),
    st.tuples(st.just("press"), st.integers(0, 8)),
    st.tuples(st.just("forged"), st.text(max_size=70)),
    st.tuples(st.just("media"), st.sampled_from(sorted(MEDIA))),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(event, min_size=1, max_size=15))
async def test_random_events_keep_the_invariants(bot, flow, events, caplog):
    tg, app, store = bot
    person = Person(tg, app, 3500)
    for kind, value in events:
        sent, answered = len(person.seen), len(tg.calls_to("answerCallbackQuery"))
        before = stored(store, "private:3500")
        if kind == "text":
            await person.send(value)
            if value == "/retour" and before is not None and before.path and before.pending is None:
                after = stored(store, "private:3500")  # back returns to the last answered question
                assert after.path == before.path[:-1] and after.node == before.path[-1].node
        elif kind == "press":
            buttons = [b for m in person.seen[-3:] for row in m.buttons for b in row if "callback_data" in b]
            if not buttons:
                continue
            button = buttons[value % len(buttons)]
            await person.press(button["text"], message=next(m for m in person.seen[-3:]
                                                            if button in [b for r in m.buttons for b in r]))
        elif kind == "forged":
            if not person.seen:
                continue
            await person.press("?", message=person.seen[-1], data=value or "x")
        else:
            await person.feed({"message": person.message(None, **{kind: MEDIA[value]})})
        progress = stored(store, "private:3500")
        if progress is not None:
            assert progress.node in flow.nodes
            node, answers = flow.start, {}
            machine = app.bot_data["frontend"].engine.flows.get(flow.id)
            for i, entry in enumerate(progress.path):  # the history replays to the current node
                assert entry[0] == node
                answers[entry[0]] = entry[1]
                told = {e[0]: e[1] for e in progress.inferred if e[2] <= i}  # read from what was typed by then
                known = {**answers, **told, entry[0]: entry[1]}
                node = machine.step(node, entry[1], known)
                while node in told and flow.nodes[node].kind == "choice":  # questions skipped (`infer:`)
                    node = machine.step(node, told[node], known)
            assert node == progress.node
        got_reply = len(person.seen) > sent or len(tg.calls_to("answerCallbackQuery")) > answered
        assert got_reply or (kind == "text" and value.strip().startswith("/") and "@" in value), (kind, value)
    assert not errors(caplog)
    store.delete_sync(ConversationKey.private(3500))


def test_random_engine_events_keep_the_invariants(engine, flow):
    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(
        st.tuples(st.just("choose"), st.sampled_from(["access", "billing", "video", "no", "yes", "phone", "written",
                                                      "no_answer", "under_year", "_back", "_restart", "_list", "zzz"])),
        st.tuples(st.just("text"), st.text(max_size=40)),
        st.tuples(st.sampled_from(["back", "restart", "summary", "help"]), st.none())), max_size=25))
    def run(events):
        progress, reply = engine.start(now=NOW)
        before = progress
        for kind, value in events:
            if kind == "choose":
                progress, reply = engine.choose(progress, value, reply.token, NOW)
            elif kind == "text":
                progress, reply = engine.text(progress, value, NOW)
            else:
                progress, reply = getattr(engine, kind)(progress, NOW)
            assert progress.node in flow.nodes and reply is not None
            assert reply.buttons or reply.kind == "outcome" or reply.expects_text
            assert all(answer.node in flow.nodes for answer in progress.path)
            if kind == "back" and before.path and before.pending is None:
                assert progress.path == before.path[:-1] and progress.node == before.path[-1].node
            before = progress
    run()


# 9. Bad flow files ------------------------------------------------------------------------
def test_bot_refuses_to_start_on_an_invalid_flow(cli, tmp_path):
    bad = tmp_path / "flows"
    bad.mkdir()
    (bad / "broken.yaml").write_text(TINY.replace("next: colour}", "next: colur}"), encoding="utf-8")
    code, _, err = cli("run", env={"TELEGRAM_BOT_TOKEN": "1:x", "BOT_FLOWS": str(bad)})
    assert code == 1
    assert "broken.yaml:" in err and "unknown target 'colur' (did you mean 'colour'?)" in err


# 10. Privacy and access -------------------------------------------------------------------
async def test_logs_carry_no_message_text(bot, caplog):
    tg, app, _ = bot
    caplog.set_level(logging.DEBUG)
    camille = Person(tg, app, 3601)
    await camille.send("mon IBAN FR76 est débité deux fois")
    await camille.send("/recap")
    await camille.send("/oublier")
    await camille.press("Oui, tout effacer")
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith("bot")]
    assert any("erased their data" in line for line in logged)  # the bot did log what it did...
    assert not any("IBAN" in line or "FR76" in line for line in logged)  # ...without what was written


def test_token_is_redacted_from_logs():
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1,
                               "HTTP Request: POST %s", ("https://api.telegram.org/bot123:SECRET/getUpdates",), None)
    RedactToken("123:SECRET").filter(record)
    assert record.getMessage() == "HTTP Request: POST https://api.telegram.org/bot<token>/getUpdates"


async def test_old_conversations_are_purged(bot):
    """The purge job itself, as the job queue runs it, with the retention setting in days."""
    tg, app, store = bot
    old, recent = Person(tg, app, 3701), Person(tg, app, 3702)
    await old.send("/start")
    await recent.send("/start")
    assert app.bot_data["settings"].retention_days == 90
    for key, days in (("private:3701", 91), ("private:3702", 89)):
        store._connection().execute("UPDATE progress SET updated = ? WHERE key = ?", (time.time() - days * 86400, key))
    store._forget()
    [job] = [job for job in app.job_queue.jobs() if job.name == "purge"]
    await job.callback(SimpleNamespace(bot_data=app.bot_data, job=job))
    assert stored(store, "private:3701") is None and stored(store, "private:3702") is not None


# 11. The disk and the database file under a running bot -----------------------------------
@contextlib.contextmanager
def small_disk(path, size="2m"):
    """A real file system of `size` at `path` (a tmpfs; needs root, as CI has)."""
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


async def test_data_folder_deleted_while_running(tmp_path, caplog):
    data = tmp_path / "data"
    tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), store=SQLiteStore(data / "progress.sqlite3"))
    camille = Person(tg, app, 3801)
    await camille.send("une salade de fruits")
    shutil.rmtree(data)
    for _ in range(2):  # refused, not written to a file nobody will read again
        await camille.press("Petit")
        assert TEMPORARY in tg.calls_to("answerCallbackQuery")[-1]["text"]
    assert not data.exists()
    logged = [r for r in errors(caplog) if "unavailable" in r.getMessage()]
    assert len(logged) == 1 and "deleted or replaced" in logged[0].getMessage()
    data.mkdir()  # the operator brings the folder back
    await camille.send("/start")
    assert "Question A : fruits ou légumes ?" in camille.last_text and stored(store, "private:3801") is not None
    await app.shutdown()
    store.close()


async def test_read_only_disk_then_writable_again(tmp_path):
    """A file system that is read-only when the store opens its file (SQLite then opens it
    read-only, for good): steps are refused; once it is writable, the store opens it anew."""
    with small_disk(tmp_path / "disk") as disk:
        store = SQLiteStore(disk / "progress.sqlite3")
        store.count_sync()  # the file exists, with its tables
        store.close()
        store = SQLiteStore(disk / "progress.sqlite3")
        tg, app, _ = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), store=store)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        camille, other = Person(tg, app, 3202), Person(tg, app, 3203)
        await camille.send("une salade de fruits")
        assert TEMPORARY in camille.last_text
        await other.send("/start")
        assert TEMPORARY in other.last_text
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        await camille.send("une salade de fruits")
        assert "Question B : quelle taille ?" in camille.last_text
        await camille.press("Grand")
        assert stored(store, "private:3202").answers == {"topic": "fruit", "size": "big"}
        await app.shutdown()
        store.close()


async def test_full_disk_then_room_again(tmp_path):
    with small_disk(tmp_path / "disk", size="1m") as disk:
        tg, app, store = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), store=SQLiteStore(disk / "progress.sqlite3"))
        camille = Person(tg, app, 3204)
        await camille.send("une salade de fruits")
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):  # write until the disk is full
            while os.write(fd, b"\0" * 4096):
                pass
        os.close(fd)
        newcomers = [Person(tg, app, 3300 + i) for i in range(60)]
        for person in newcomers:  # steps that need room the disk no longer has
            await person.send("une soupe de légumes comme hier soir, c'est le troisième jour que j'en veux une")
        refused = [p for p in newcomers if TEMPORARY in p.last_text]
        assert refused, "the disk never filled up"
        assert all(stored(store, f"private:{p.id}") is None for p in refused)  # refused means not kept
        filler.unlink()
        await refused[0].send("une soupe de légumes")
        assert "Question B : quelle taille ?" in refused[0].last_text
        await camille.press("Grand")
        assert stored(store, "private:3204").answers["size"] == "big"
        await app.shutdown()
        store.close()


async def test_an_erasure_leaves_no_copy_of_what_was_typed_on_disk(tiny_bot):
    tg, app, store = tiny_bot
    for other in range(5):  # others share the database pages with her
        await Person(tg, app, 3910 + other).send("une salade de fruits")
    camille = Person(tg, app, 3901)
    iban = "FR7630006000011234567890189"
    await camille.send(f"une salade de fruits payée deux fois sur mon compte {iban}")
    for label in ("Petit", "Rouge", "Rond"):
        await camille.press(label)
    await camille.send("/recap")
    folder = store.path.parent
    assert any(iban.encode() in f.read_bytes() for f in folder.glob("progress.sqlite3*"))  # it was there
    await camille.send("/oublier")
    await camille.press("Oui, tout effacer")
    for file in folder.glob("progress.sqlite3*"):
        assert iban.encode() not in file.read_bytes(), file.name


async def test_an_unreadable_record_is_set_aside_and_its_owner_starts_again(tiny_bot, caplog):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 3902)
    await camille.send("une salade de fruits")
    store._connection().execute("UPDATE progress SET data = '{\"schema\": 99}' WHERE key = 'private:3902'")
    store._forget()
    await camille.send("une soupe de légumes")
    assert "reprenons depuis le début" in camille.last_text and "Question B : quelle taille ?" in camille.last_text
    assert stored(store, "private:3902").answers == {"topic": "vegetable"}
    kept = store._connection().execute("SELECT key, data FROM unreadable").fetchall()
    assert kept == [("private:3902", '{"schema": 99}')]  # for the operator to look at


def test_the_token_never_appears_in_a_logged_traceback(monkeypatch):
    import io
    from bot.telegram.app import setup_logging
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    setup_logging(Settings(token="123:SECRET-TOKEN"))
    out = io.StringIO()
    root.handlers[0].setStream(out)
    try:
        raise RuntimeError("redirect loop at https://api.telegram.org/bot123:SECRET-TOKEN/getMe")
    except RuntimeError:
        logging.getLogger("telegram.ext.Updater").exception("error while getting updates", stack_info=True)
    logging.getLogger("httpx").warning("POST https://api.telegram.org/bot%s/getMe", "123:SECRET-TOKEN")
    printed = out.getvalue()
    assert "redirect loop" in printed and "Traceback" in printed and "Stack (most recent call last)" in printed
    assert "SECRET-TOKEN" not in printed


def test_a_malformed_bot_api_answer_is_logged_by_its_size_not_its_content(caplog):
    from telegram.error import TelegramError

    from bot.telegram.request import AiohttpRequest
    with pytest.raises(TelegramError):
        AiohttpRequest.parse_json_payload(b'{"ok": true, "result": {"text": "mon IBAN FR76 et')
    assert "bytes" in caplog.text and "IBAN" not in caplog.text


async def test_an_unreadable_record_found_by_one_process_is_explained_by_another(tmp_path, flow):
    """Process A finds the record unreadable (a reminder run, say) and sets it aside; the
    person's next message reaches process B: B's reply says why they start again."""
    from bot.errors import Unreadable
    from bot.flow.files import FlowSet
    from bot.store import ConversationKey
    from bot.stores import SQLiteStore
    from conftest import make_bot
    tg, app, store = await make_bot(tmp_path, FlowSet([flow]))
    try:
        camille = Person(tg, app, 3903)
        await camille.send("double prélèvement")
        store._connection().execute("UPDATE progress SET data = '{\"schema\": 99}' WHERE key = 'private:3903'")
        other = SQLiteStore(tmp_path / "progress.sqlite3")  # process A
        with pytest.raises(Unreadable):
            other.load_sync(ConversationKey.private(3903))
        other.close()
        store._forget()
        await camille.send("je n'arrive plus à me connecter")  # process B
        assert "reprenons depuis le début" in camille.last_text
        await camille.send("/recap")
        assert "reprenons depuis le début" not in camille.last_text  # told once
    finally:
        await app.shutdown()
        store.close()
