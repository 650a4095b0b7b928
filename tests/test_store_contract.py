"""What every progress store promises, run against each store (`any_store` in conftest)."""
import asyncio
import time

import pytest

from bot.engine.progress import Answer, Progress
from bot.errors import Conflict
from bot.store import ConversationKey, Row

ALICE, BOB = ConversationKey.private(7001), ConversationKey.private(7002)
ALICE_IN_GROUP = ConversationKey.group(-100700, 7001)
P0 = Progress("cstream", "v1", "problem", started=1.0, updated=1.0)
P1 = P0.with_(node="service", path=(Answer("problem", "billing", "deux fois"),))


async def test_save_then_load_round_trips(any_store):
    saved = await any_store.save(ALICE, P1, 0, seen=(5,), outbox=({"say": "Quel service ?"},))
    assert saved.rev == 1
    loaded = await any_store.load(ALICE)
    assert loaded.progress == P1 and loaded.rev == 1 and loaded.seen == (5,)
    assert loaded.outbox == ({"say": "Quel service ?"},)
    assert await any_store.load(BOB) is None


async def test_compare_and_set_refuses_a_stale_revision(any_store):
    await any_store.save(ALICE, P0, 0)
    await any_store.save(ALICE, P1, 1)
    with pytest.raises(Conflict):
        await any_store.save(ALICE, P0, 1)  # based on revision 1, but the record is at 2
    with pytest.raises(Conflict):
        await any_store.save(ALICE, P0, 0)  # "new", but it exists
    assert (await any_store.load(ALICE)).progress == P1


async def test_the_outbox_empties_only_for_the_revision_shown(any_store):
    await any_store.save(ALICE, P0, 0, outbox=({"say": "a"},))
    await any_store.save(BOB, P0, 0, outbox=({"say": "b"},))
    assert await any_store.count_undelivered() == 2
    assert [key for key, _ in await any_store.undelivered()] == [ALICE, BOB]
    assert await any_store.undelivered(older_than=60) == []  # saved just now
    assert await any_store.delivered(ALICE, 1)
    assert (await any_store.load(ALICE)).outbox == ()
    await any_store.save(BOB, P1, 1, outbox=({"say": "b2"},))
    assert not await any_store.delivered(BOB, 1)  # an older step's delivery: the new outbox stays
    assert (await any_store.load(BOB)).outbox == ({"say": "b2"},)
    assert [record.outbox for _, record in await any_store.undelivered()] == [({"say": "b2"},)]


async def test_an_outbox_emptied_while_the_next_step_is_saved_keeps_the_new_outbox(any_store):
    await any_store.save(ALICE, P0, 0, outbox=({"say": "a"},))
    await asyncio.gather(any_store.delivered(ALICE, 1), any_store.save(ALICE, P1, 1, outbox=({"say": "a2"},)))
    assert (await any_store.load(ALICE)).outbox == ({"say": "a2"},)
    assert [record.outbox for _, record in await any_store.undelivered()] == [({"say": "a2"},)]


async def test_erasing_a_person_erases_their_private_and_group_records(any_store):
    for key in (ALICE, ALICE_IN_GROUP, BOB):
        await any_store.save(key, P0, 0)
    assert await any_store.delete_user(7001) == 2
    assert await any_store.load(ALICE) is None and await any_store.load(ALICE_IN_GROUP) is None
    assert await any_store.count() == 1
    assert await any_store.delete(BOB) == 1 and await any_store.count() == 0


async def test_purge_erases_what_is_older_than_the_retention(any_store):
    await any_store.save(ALICE, P0, 0)
    assert await any_store.purge(3600) == 0
    time.sleep(0.05)
    await any_store.save(BOB, P0, 0)
    assert await any_store.purge(0.03) == 1
    assert await any_store.load(ALICE) is None and await any_store.load(BOB) is not None


async def test_a_group_that_becomes_a_supergroup_keeps_its_members(any_store):
    await any_store.save(ALICE_IN_GROUP, P1, 0)
    assert await any_store.move_chat(-100700, -100800) == 1
    assert await any_store.load(ALICE_IN_GROUP) is None
    moved = await any_store.load(ConversationKey.group(-100800, 7001))
    assert moved.progress == P1
    assert await any_store.delete_user(7001) == 1  # still found by its member


def test_the_terminal_uses_the_same_records(any_store):
    key = ConversationKey.console("camille")
    record = any_store.save_sync(key, P0, 0)
    assert any_store.load_sync(key) == record
    with pytest.raises(Conflict):
        any_store.save_sync(key, P1, 0)
    assert any_store.count_sync() == 1
    assert any_store.delete_sync(key) == 1 and any_store.load_sync(key) is None


async def test_rows_are_copied_as_they_are_and_only_forward(any_store):
    """What `python -m bot store copy` relies on: paging in key order, writes kept as is."""
    rows = [Row(str(BOB), 3, 100.0, P1.to_json(), "[5]", '[{"say": "b"}]'),
            Row(str(ALICE_IN_GROUP), 1, 50.0, P0.to_json(), "[]", "[]")]
    assert await any_store.put_rows(rows) == 2
    assert await any_store.put_rows(rows) == 0  # already there at that revision
    page = await any_store.rows_after("", 1)
    assert [row.key for row in page] == [str(ALICE_IN_GROUP)]
    assert await any_store.rows_after(page[-1].key, 10) == [rows[0]]
    bob = await any_store.load(BOB)
    assert (bob.progress, bob.rev, bob.seen, bob.outbox) == (P1, 3, (5,), ({"say": "b"},))
    assert await any_store.put_rows([Row(str(BOB), 2, 200.0, P0.to_json(), "[]", "[]")]) == 0  # older
    assert await any_store.put_rows([Row(str(BOB), 4, 200.0, P0.to_json(), "[]", "[]")]) == 1  # newer
    assert (await any_store.load(BOB)).progress == P0
    assert await any_store.delete_user(7001) == 1  # found by its member
    assert await any_store.purge(3600) == 1  # its age came with it (updated = 200.0)


async def test_an_unreadable_record_is_set_aside_once(any_store):
    from bot.errors import Unreadable
    from bot.store.base import Row
    await any_store.put_rows([Row(str(ALICE), 4, time.time(), '{"schema": 99}', "[]", "[]")])
    with pytest.raises(Unreadable):
        await any_store.load(ALICE)
    assert await any_store.count() == 0  # set aside once: its owner starts anew...
    with pytest.raises(Unreadable):
        await any_store.load(ALICE)  # ...and every process says why, until they have
    assert (await any_store.save(ALICE, P0, 0)).rev == 1
    assert (await any_store.load(ALICE)).rev == 1
    await any_store.delete(ALICE)
    assert await any_store.load(ALICE) is None  # told: never again


async def test_large_groups_move_and_old_conversations_purge_whole(any_store):
    """Both work in chunks (so that the bot's own saves never wait long): every row is done."""
    from bot.store.base import Row
    members = [Row(str(ConversationKey.group(-100900, 50_000 + i)), 1, 1.0, P0.to_json(), "[]", "[]")
               for i in range(1201)]
    await any_store.put_rows(members)
    assert await any_store.move_chat(-100900, -100901) == 1201
    assert await any_store.load(ConversationKey.group(-100901, 51_200)) is not None
    await any_store.save(ALICE, P0, 0)
    assert await any_store.purge(3600) == 1201 and await any_store.count() == 1


async def test_the_entry_post_of_a_chat_is_remembered(any_store):
    assert await any_store.entry_post(-100123) is None
    await any_store.set_entry_post(-100123, 7)
    await any_store.set_entry_post(-100123, 9)  # published anew: the latest one is remembered
    assert await any_store.entry_post(-100123) == 9 and await any_store.entry_post(-100124) is None


def _event(node, next_node, token="t1", **more):
    item = {"day": "2026-11-26", "flow": "cstream", "version": "v1", "kind": "answer", "node": node,
            "choice": "billing", "understood": None, "next": next_node, "outcome": None, "followup": None,
            "seconds": 12, "token": token}
    return {**item, **more}


async def test_events_are_saved_with_their_step_and_only_with_it(any_store):
    await any_store.save(ALICE, P0, 0, events=(_event(None, "problem", kind="start", choice=None),))
    await any_store.save(ALICE, P1, 1, events=(_event("problem", "service", understood=True),))
    with pytest.raises(Conflict):  # a step refused by compare-and-set writes no event
        await any_store.save(ALICE, P0, 1, events=(_event("problem", "lost"),))
    rows = await any_store.events()
    assert [(r[4], r[5], r[7], r[8]) for r in rows] == [("start", None, None, "problem"),
                                                         ("answer", "problem", 1, "service")]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert rows[1][1:] == ("2026-11-26", "cstream", "v1", "answer", "problem", "billing", 1, "service", None,
                           None, 12, "t1")


async def test_events_page_by_id_and_filter_by_day_and_flow(any_store):
    events = [_event("problem", "service", day=f"2026-11-{d:02d}", flow="cstream" if d % 2 else "other")
              for d in range(1, 11)]
    await any_store.save(ALICE, P0, 0, events=tuple(events))
    first = await any_store.events(limit=4)
    rest = await any_store.events(after=first[-1][0], limit=100)
    assert [r[1] for r in first + rest] == [e["day"] for e in events]
    assert [r[1] for r in await any_store.events("2026-11-07", "cstream")] == ["2026-11-07", "2026-11-09"]


def test_the_terminal_saves_events_too(any_store):
    key = ConversationKey.console("camille")
    any_store.save_sync(key, P0, 0, events=(_event(None, "problem", kind="start"),))
    with pytest.raises(Conflict):
        any_store.save_sync(key, P1, 0, events=(_event("problem", "service"),))
    assert [r[4] for r in any_store.events_sync()] == ["start"]


async def test_unrecognised_descriptions_are_kept_apart_and_erased_with_their_person(any_store):
    said = _event("problem", "problem", kind="stay", choice=None, understood=False, text="mon truc bizarre")
    await any_store.save(ALICE, P0, 0, events=(said,))
    await any_store.save(BOB, P0, 0, events=({**said, "text": "autre chose"},))
    assert await any_store.unrecognised() == [("2026-11-26", "cstream", "problem", "mon truc bizarre"),
                                              ("2026-11-26", "cstream", "problem", "autre chose")]
    assert all("bizarre" not in str(row) for row in await any_store.events())  # never in the events
    await any_store.delete_user(7001)
    assert [row[3] for row in await any_store.unrecognised()] == ["autre chose"]
    await any_store.delete(BOB)
    assert await any_store.unrecognised() == []
    assert len(await any_store.events()) == 2  # the events stay: nothing links them to anyone


async def test_purge_drops_descriptions_older_than_thirty_days(any_store, monkeypatch):
    said = _event("problem", "problem", kind="stay", understood=False, text="vieux texte")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() - 31 * 86400)
    await any_store.save(ALICE, P0, 0, events=(said,))
    monkeypatch.setattr(time, "time", real)
    await any_store.save(BOB, P0, 0, events=({**said, "text": "récent"},))
    await any_store.purge(3600 * 24 * 365)
    assert [row[3] for row in await any_store.unrecognised()] == ["récent"]


async def _sql(store, statement: str) -> None:
    if hasattr(store, "_connection"):
        store._connection().execute(statement)
    else:
        await store._run(lambda c: c.execute(statement), write=True)


async def test_a_step_and_its_events_are_one_transaction(any_store):
    from bot.errors import StoreUnavailable
    await any_store.save(ALICE, P0, 0)
    await _sql(any_store, "ALTER TABLE events RENAME TO events_away")
    with pytest.raises(StoreUnavailable):  # the events cannot be written: the step is not kept either
        await any_store.save(ALICE, P1, 1, events=(_event("problem", "service"),))
    await _sql(any_store, "ALTER TABLE events_away RENAME TO events")
    assert (await any_store.load(ALICE)).rev == 1 and (await any_store.load(ALICE)).progress == P0
    await any_store.save(ALICE, P1, 1, events=(_event("problem", "service"),))
    assert len(await any_store.events()) == 1


async def test_event_facts_are_the_events_in_another_form(any_store):
    """What the report reads: (id, seconds, token, FACTS as a JSON array), the same text for
    the same facts, every value as `events` gives it."""
    import json
    from bot.store.base import FIELDS
    from bot.store.base import FACTS
    assert FACTS == tuple(f for f in FIELDS if f not in ("seconds", "token"))
    events = (_event(None, "problem", kind="start", choice=None), _event("problem", "service", understood=True),
              _event("problem", "service", understood=True, token="t2", seconds=40),
              _event("service", "écrit « ici »", understood=False, outcome="écrit « ici »", followup="settled"))
    await any_store.save(ALICE, P0, 0, events=events)
    rows, facts = await any_store.events(), await any_store.event_facts()
    assert [(r[0], r[11], r[12]) for r in rows] == [f[:3] for f in facts]
    assert [json.loads(f[3]) for f in facts] == [[r[1 + FIELDS.index(name)] for name in FACTS] for r in rows]
    assert facts[1][3] == facts[2][3] and facts[1][2] != facts[2][2]
    assert await any_store.event_facts("2026-11-27") == [] and len(await any_store.event_facts(after=facts[1][0])) == 2


async def test_reminders_are_written_with_their_step_and_claimed_once(any_store):
    """A step that plans reminders writes them in its transaction; a conflicting step writes
    none; a due reminder is claimed by one process only, until its claim runs out."""
    now = time.time()
    await any_store.save(ALICE, P0, 0, reminders=[("answer_due", now - 10), ("later", now + 3600)])
    with pytest.raises(Conflict):
        await any_store.save(ALICE, P1, 0, reminders=[("other", now - 10)])
    assert await any_store.reminders_of(ALICE) == [("answer_due", now - 10), ("later", now + 3600)]
    first = await any_store.claim_reminders(now, "process-a", lease=60)
    assert first == [(ALICE, "answer_due", now - 10)]
    assert await any_store.claim_reminders(now, "process-b", lease=60) == []  # held by a
    # process a died: once its claim has run out, b takes the reminder over
    assert await any_store.claim_reminders(now + 61, "process-b", lease=60) == [(ALICE, "answer_due", now - 10)]
    # decided on an old copy of the conversation (it is at revision 1): nothing changes
    assert not await any_store.finish_reminder(ALICE, "answer_due", now - 10, rev=0)
    assert not await any_store.postpone_reminder(ALICE, "later", now + 7200, rev=2)
    assert await any_store.reminders_of(ALICE) == [("answer_due", now - 10), ("later", now + 3600)]
    assert await any_store.finish_reminder(ALICE, "answer_due", now - 10, rev=1)
    assert await any_store.reminders_of(ALICE) == [("later", now + 3600)]
    assert await any_store.postpone_reminder(ALICE, "later", now + 7200, rev=1)
    assert await any_store.reminders_of(ALICE) == [("later", now + 7200)]
    await any_store.save(ALICE, P1, 1, reminders=[])  # the step that stops them
    assert await any_store.reminders_of(ALICE) == []


async def test_reminders_go_with_their_person(any_store):
    now = time.time()
    await any_store.save(ALICE, P0.with_(updated=1.0), 0, reminders=[("answer_due", now + 60)])
    await any_store.save(BOB, P0, 0, reminders=[("answer_due", now + 60)])
    assert await any_store.purge(0) == 0  # a conversation with reminders to come is kept
    assert await any_store.delete_user(7001) == 1
    assert await any_store.reminders_of(ALICE) == [] and len(await any_store.reminders_of(BOB)) == 1


async def test_reminders_travel_with_a_copied_row(any_store, tmp_path):
    """`store copy` brings each conversation's reminders to come with it."""
    from bot.stores import SQLiteStore
    source = SQLiteStore(tmp_path / "source.sqlite3")
    source.save_sync(ALICE, P1, 0, reminders=[("answer_due", 1800000000.0)])
    rows = source.rows_after_sync("", 10)
    source.close()
    assert await any_store.put_rows(rows) == 1
    assert await any_store.reminders_of(ALICE) == [("answer_due", 1800000000.0)]
    import json
    assert json.loads((await any_store.rows_after("", 10))[0].reminders) == [["answer_due", 1800000000]]


async def test_the_question_shown_is_kept_for_every_process(any_store):
    await any_store.save(ALICE, P0, 0, outbox=({"say": "q1"},))
    assert (await any_store.load(ALICE)).question is None
    assert await any_store.delivered(ALICE, 1, question=501)
    assert (await any_store.load(ALICE)).question == 501
    saved = await any_store.save(ALICE, P1, 1, outbox=({"say": "q2"},))
    assert saved.question == 501 and (await any_store.load(ALICE)).question == 501  # until the next is shown
    assert await any_store.delivered(ALICE, 2, question=502)
    assert (await any_store.load(ALICE)).question == 502


async def test_a_prompt_is_answered_once(any_store):
    assert await any_store.answer_once(-100, 77, 1, update_id=500)
    assert not await any_store.answer_once(-100, 77, 1, update_id=501)  # another press
    assert await any_store.answer_once(-100, 77, 1, update_id=500)  # the same update again (it failed after)
    assert await any_store.answer_once(-100, 78, 1, update_id=502) and await any_store.answer_once(-100, 77, 2, 503)
