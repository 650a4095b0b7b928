"""Acknowledge to Telegram only what is kept.

Telegram forgets an update once it is acknowledged (a webhook's 2xx, or a getUpdates offset
past it), and re-sends one that is not. So the receivers (webhook.py, poller.py) wait for the
update's receipt before acknowledging it: the front end marks an update *kept* once its step
is committed with its outbox (the reply is shown after that, from the outbox, by this process
or by the sweep of any other), or once it is handled with nothing to keep (group chatter, a
command with no record); it marks it *refused* when the store is away: nothing was kept,
so Telegram must send it again; *held* when this conversation cannot go on yet (its last
reply cannot be shown): also sent again, but the poller gives it up after a few tries rather
than hold everyone's updates behind it.

The store keeps each conversation's last update ids (`Record.seen`): an update that comes
again after all (an acknowledgement lost with the process that sent it) changes progress
once and shows its reply again.
"""
from __future__ import annotations

import asyncio

KEPT, REFUSED, HELD = "kept", "refused", "held"


class Receipts:
    def __init__(self):
        self._waiting: dict[int, asyncio.Future] = {}

    def expect(self, update_id: int) -> asyncio.Future:
        """The receipt of an update about to be handled (shared when it arrives twice at once)."""
        future = self._waiting.get(update_id)
        if future is None or future.done():
            future = self._waiting[update_id] = asyncio.get_running_loop().create_future()
        return future

    def kept(self, update_id: int | None) -> None:
        self._settle(update_id, KEPT)

    def refused(self, update_id: int | None) -> None:
        self._settle(update_id, REFUSED)

    def held(self, update_id: int | None) -> None:
        self._settle(update_id, HELD)

    def forget(self, update_id: int) -> None:
        """The receiver gave up waiting (it answered that the update was not kept)."""
        self._waiting.pop(update_id, None)

    def _settle(self, update_id: int | None, outcome: str) -> None:
        future = self._waiting.pop(update_id, None) if update_id is not None else None
        if future is not None and not future.done():
            future.set_result(outcome)

    async def wait(self, update_id: int, future: asyncio.Future, within: float) -> bool:
        """Whether the update was kept; False when it was refused or held, or took longer than
        `within` seconds (the update is then handled all the same, and its copy, when Telegram
        sends it again, is recognised as handled)."""
        try:
            return await asyncio.wait_for(asyncio.shield(future), within) == KEPT
        except asyncio.TimeoutError:
            self.forget(update_id)
            return False
