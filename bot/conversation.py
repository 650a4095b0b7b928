"""One conversation step, the same for every front end (Telegram, the terminal).

A front end turns what the person did into a `Turn` (engine/commands.py) and shows what the
step saved; in between, `Conversations` does the rest, once for all of them:

- the domain rules: a case's reminders are for private conversations only (a case opened in a
  group is offered in private instead); a record set aside as unreadable is explained in the
  reply that starts again;
- what is kept: the turn's progress, else the stored one, or nothing after an erasure (which
  erases every record of that person, or the terminal's one conversation);
- the step's anonymous events (bot/ops/events.py) and its reminders' difference (the
  follow-up's schedule before and after), saved with the progress and the outbox the front
  end planned, in one transaction (compare-and-set: `Conflict` when another process moved
  the conversation on first; nothing was shown yet, so the front end handles its input again);
- a reminder that came due: its question put through the outbox with the step that marks it
  sent and plans the next.

    conversations = Conversations(engine, store)
    record, restarted = await conversations.load(key)
    turn = conversations.ruled(key, record, Commands(engine).text(progress, "…", "fr", now), restarted)
    step = await conversations.commit(key, record, turn, outbox=lambda turn, progress: (...))
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Awaitable, Callable, Protocol

from .engine import Engine, Progress, Turn
from .errors import Conflict, Unreadable
from .locales import t
from .ops.events import events_of
from .ops.metrics import NO_METRICS
from .store import ConversationKey, ConversationStore, Record, ReminderQueue
from .store.base import Outbox

log = logging.getLogger(__name__)
FOLLOWED = frozenset({"private", "console"})  # conversations whose cases send reminders


async def retried(attempt: Callable[[], Awaitable[None]], tries: int = 3) -> bool:
    """Run `attempt` again while another process moves the conversation on first (`Conflict`:
    nothing was shown before the save, so trying again from the stored record is safe); False
    when it kept changing."""
    for _ in range(tries):
        try:
            await attempt()
            return True
        except Conflict:
            continue
    return False


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Step:
    """What a step did: the turn as the rules left it, what is kept of the person (None:
    nothing), the record saved with the outbox to show (None: nothing saved), and that outbox
    (shown at once when nothing is saved)."""
    turn: Turn
    progress: Progress | None
    record: Record | None
    outbox: tuple = ()


class StepStore(ConversationStore, ReminderQueue, Protocol):
    """The store roles a conversation step uses: its records, and the reminders it drops or moves."""


class Conversations:
    def __init__(self, engine: Engine, store: StepStore | None, clock: Callable[[], datetime] = _utcnow,
                 metrics=NO_METRICS):
        """`store` None: nothing is kept (the terminal's --no-store)."""
        self.engine, self.store, self.clock, self.metrics = engine, store, clock, metrics

    async def load(self, key: ConversationKey) -> tuple[Record | None, bool]:
        """The stored record, and whether it was set aside as unreadable (its owner not told yet)."""
        if self.store is None:
            return None, False
        try:
            return await self.store.load(key), False
        except Unreadable:
            return None, True

    def ruled(self, key: ConversationKey, record: Record | None, turn: Turn, restarted: bool = False) -> Turn:
        """The turn once the domain rules are applied (see the module's docstring)."""
        if key.kind not in FOLLOWED and turn.reply.opened and record is not None:
            turn = Turn(*self.engine.current(record.progress, self.clock(),
                                             t(record.progress.lang, "case_private_only")))
        if restarted and turn.progress is not None:
            turn.reply.notices.insert(0, t(turn.progress.lang, "record_unreadable"))
        return turn

    @staticmethod
    def kept(record: Record | None, turn: Turn) -> Progress | None:
        """What is kept of the person after this turn (None: nothing)."""
        return turn.progress or (record.progress if record is not None and turn.effect is None else None)

    async def commit(self, key: ConversationKey, record: Record | None, turn: Turn,
                     outbox: Callable[[Turn, Progress | None], Outbox] = lambda turn, progress: (),
                     update_id: int | None = None, now: datetime | None = None) -> Step:
        """Carry out the turn's effect, then save what is kept with its events (at `now`: the
        clock's time by default), its reminders' difference and `outbox(turn, kept progress)`
        (what to show, planned by the front end), after `update_id` (the Telegram update it
        answers, for duplicates). Raises Conflict or StoreUnavailable (nothing saved)."""
        if turn.effect == "erase" and self.store is not None:
            if key.user is not None:
                await self.store.delete_user(key.user)  # private and group conversations alike
            else:
                await self.store.delete(key)
            log.info("a person erased their data")
        progress = self.kept(record, turn)
        items = tuple(outbox(turn, progress))
        if progress is None:
            return Step(turn, None, None, items)
        before = record.progress if record is not None else None
        if self.store is None:
            return Step(turn, progress, Record(progress, (record.rev if record else 0) + 1, outbox=items), items)
        seen = record.seeing(update_id) if record is not None else (() if update_id is None else (update_id,))
        events = events_of(before, turn.progress, turn.reply, now or self.clock(), self.engine.keep_unrecognised)
        planned = self.engine.followup.schedule(before)
        plans = self.engine.followup.schedule(progress) if key.kind in FOLLOWED else []
        saved = await self.store.save(key, progress, record.rev if record is not None else 0, seen, items, tuple(events),
                                      plans if plans != planned else None)
        if turn.reply.kind == "outcome":
            self.metrics.outcome(self.engine, progress)
        return Step(turn, progress, saved, items)

    def _store(self) -> StepStore:
        """The store, for what only exists with one (reminders come only from a store)."""
        if self.store is None:
            raise RuntimeError("reminders and blocked chats need a store")
        return self.store

    async def remind(self, key: ConversationKey, record: Record | None, reminder: str, due: float,
                     outbox: Callable[[Turn, Progress], Outbox]) -> Step | None:
        """A reminder this process claimed (its row: `reminder`, `due`): its question put
        through the outbox, saved with the schedule that marks it sent and plans the next; or,
        when nothing is to be sent now, its row dropped or moved (None). Each is decided against
        `record`'s revision: a process holding an old copy changes nothing (Conflict: read again)."""
        now, rev, store = self.clock(), record.rev if record is not None else 0, self._store()
        if record is None or key.kind != "private":  # erased, or not a chat to send to (the terminal
            # shows its due reminder when it starts again, bot/console.py)
            _decided(key, await store.finish_reminder(key, reminder, due, rev))
            return None
        quiet_end = self.engine.followup.quiet_until(record.progress, now)
        if quiet_end is not None:  # due while the bot was down, now in the quiet hours: at their end
            _decided(key, await store.postpone_reminder(key, reminder, quiet_end.timestamp(), rev))
            return None
        found = self.engine.remind(record.progress, now)
        if found is None:  # cancelled, answered, stopped, no longer in the flow, or now later
            later = dict(self.engine.followup.schedule(record.progress)).get(reminder)
            if later is not None and later > due:  # the flow's new version puts it later
                _decided(key, await store.postpone_reminder(key, reminder, later, rev))
            else:
                _decided(key, await store.finish_reminder(key, reminder, due, rev))
            return None
        progress, reply = found
        turn = Turn(progress, reply)
        items = tuple(record.outbox) + tuple(outbox(turn, progress))
        saved = await store.save(key, progress, record.rev, record.seen, items, (), self.engine.followup.schedule(progress))
        self.metrics.reminders.inc()
        return Step(turn, progress, saved, items)

    async def unreachable(self, key: ConversationKey, why: str = "blocked") -> bool:
        """The person can no longer be reached (they blocked the bot): their case stops and its
        reminders are dropped, the progress kept. False when there was no case to stop."""
        store = self._store()
        record = await store.load(key)
        if record is None or record.progress.case is None or not record.progress.case.open:
            return False
        progress, _ = self.engine.stop_case(record.progress, self.clock(), why=why)
        await store.save(key, progress, record.rev, record.seen, (), (), self.engine.followup.schedule(progress))
        return True


def _decided(key: ConversationKey, done: bool) -> None:
    """A reminder is dropped or moved only against the revision it was decided on: a process
    holding an old copy changes nothing, and decides again on the new one."""
    if not done:
        raise Conflict(str(key))
