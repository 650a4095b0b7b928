"""Polling mode: getUpdates in a loop, the offset moved past an update only once it is kept.

python-telegram-bot's Updater confirms a batch (its next getUpdates carries the new offset) as
soon as the batch is queued, and parses the whole batch at once: a process killed meanwhile
loses what was queued, and one update it cannot parse makes it fetch the same batch again
and again. Here each update of a batch is parsed alone (one that cannot be read is skipped,
logged by its size, never its content), handed to the Application, and the offset moves
past the longest run of updates that are kept (receipts.py). What the store refused is
fetched again after a short pause, for as long as the store is away (nothing can be applied
meanwhile). What one conversation holds (its last reply cannot be shown) or what took longer
than ACK_SECONDS is fetched again too, but given up after HOLD_TRIES fetches, as Telegram gives
up a webhook update: one conversation never holds everyone's updates. Updates of a batch
fetched again that were kept already are not handled twice.
"""
from __future__ import annotations

import asyncio
import json
import logging

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import Application

from .incoming import update_of
from .receipts import KEPT, REFUSED, Receipts

log = logging.getLogger(__name__)
LONG_POLL = 10      # seconds getUpdates waits for an update
ACK_SECONDS = 60.0  # at most this long for a batch's updates to be kept; then fetched again
PAUSES = (1.0, 2.0, 5.0)  # between two tries while getUpdates fails or the store refuses
HOLD_TRIES = 5      # fetches an update one conversation holds is given, then given up


def next_offset(offset: int | None, ids: list[int], kept: dict[int, bool]) -> int | None:
    """The offset past every update of the batch up to the first one not kept (`ids` in the
    order Telegram gave them; an id absent from `kept` was skipped, and counts as kept)."""
    for update_id in sorted(ids):
        if not kept.get(update_id, True):
            return update_id
        offset = update_id + 1
    return offset


class Poller:
    def __init__(self, application: Application, receipts: Receipts, on_fatal, long_poll: int = LONG_POLL,
                 ack_within: float = ACK_SECONDS):
        """`on_fatal(exc)`: getUpdates failed in a way retrying cannot mend (409, 401)."""
        self.application, self.receipts, self.on_fatal = application, receipts, on_fatal
        self.long_poll, self.ack_within = long_poll, ack_within
        self.offset: int | None = None
        self._task: asyncio.Task | None = None
        self._failing = False
        self._kept: set[int] = set()       # kept, in a batch not yet confirmed past
        self._held: dict[int, int] = {}    # update id -> fetches it was held

    async def start(self) -> None:
        try:  # a webhook left set would make every getUpdates fail with 409
            await self.application.bot.delete_webhook()
        except TelegramError as exc:
            log.warning("could not remove a webhook before polling (%s)", type(exc).__name__)
        log.info("polling for updates")
        self._task = asyncio.create_task(self._run(), name="poller")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - stopping either way
            pass
        self._task = None
        if self.offset is not None:  # confirm what was kept, so the next start is not sent it again
            try:
                await self._get_updates(0, limit=1)
            except TelegramError:
                pass

    async def _get_updates(self, wait: int, limit: int = 100):
        return await self.application.bot.do_api_request(
            "getUpdates", api_kwargs={"offset": self.offset, "timeout": wait, "limit": limit,
                                      "allowed_updates": list(Update.ALL_TYPES)},
            read_timeout=wait + 5)

    async def _run(self) -> None:
        pause = 0
        while True:
            try:
                batch = await self._get_updates(self.long_poll)
            except (Conflict, InvalidToken) as exc:
                self.on_fatal(exc)
                return
            except TelegramError as exc:
                if not self._failing:
                    log.warning("getting updates failed (%s); retrying", type(exc).__name__)
                    self._failing = True
                await asyncio.sleep(PAUSES[min(pause, len(PAUSES) - 1)])
                pause += 1
                continue
            if self._failing:
                log.warning("getting updates works again")
                self._failing = False
            if not isinstance(batch, list):
                log.warning("getUpdates answered something other than a list; retrying")
                await asyncio.sleep(PAUSES[0])
                continue
            if await self.handle(batch):
                pause = 0
            else:  # the store refused some: they are fetched again after a pause
                await asyncio.sleep(PAUSES[min(pause, len(PAUSES) - 1)])
                pause += 1

    async def handle(self, batch: list) -> bool:
        """Hand a batch's updates to the Application and move the offset past those kept;
        False when one was not kept."""
        ids, updates = [], []
        for data in batch:
            update_id = data.get("update_id") if isinstance(data, dict) else None
            if type(update_id) is int:
                ids.append(update_id)
            try:
                update = update_of(data, self.application.bot)  # its ids checked there
            except Exception:  # noqa: BLE001 - whatever it holds, it is never handled nor quoted
                log.warning("skipped an update of %d bytes that cannot be read", len(json.dumps(data)))
                continue
            updates.append(update)
        updates = [update for update in updates if update.update_id not in self._kept]  # fetched again
        receipts = {update.update_id: self.receipts.expect(update.update_id) for update in updates}
        for update in updates:
            await self.application.update_queue.put(update)
        if receipts:
            await asyncio.wait(set(receipts.values()), timeout=self.ack_within)
        kept, refused = {}, False
        for update_id, receipt in receipts.items():
            outcome = receipt.result() if receipt.done() else None
            if not receipt.done():
                self.receipts.forget(update_id)  # handled all the same; its copy will be known
            if outcome == KEPT:
                self._kept.add(update_id)
            elif outcome == REFUSED:
                refused = True
            else:  # held by its conversation, or slow: tried again, a few times
                tries = self._held[update_id] = self._held.get(update_id, 0) + 1
                if tries >= HOLD_TRIES:
                    log.warning("an update was held by its conversation %d times; given up", tries)
                    outcome = KEPT
            kept[update_id] = outcome == KEPT
        self.offset = next_offset(self.offset, ids, kept)
        if self.offset is not None:  # what is confirmed now is never fetched again
            self._kept = {i for i in self._kept if i >= self.offset}
            self._held = {i: n for i, n in self._held.items() if i >= self.offset}
        if not ids and batch:
            await asyncio.sleep(PAUSES[0])  # nothing to move the offset past: not in a tight loop
        return not refused and all(kept.values())
