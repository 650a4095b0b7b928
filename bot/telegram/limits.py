"""Telegram's flood limits, kept per chat: a 429 pauses the chat it came for, not everyone.

Telegram allows about 30 messages a second overall and 20 a minute in a group, and answers
429 with how long to wait. python-telegram-bot's AIORateLimiter pauses every request on any
429; here only the chat concerned waits, unless several chats get one within a few seconds
(then the bot as a whole is over its limit, and everything waits). A wait longer than
`max_wait` is not waited out on the spot: the call fails with RetryAfter, the reply stays in
the conversation's outbox, and the delivery sweep sends it once the pause is over.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections import deque
from datetime import timedelta

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class ChatRateLimiter(BaseRateLimiter):
    def __init__(self, overall_per_second: float = 30, group_per_minute: float = 20, max_wait: float = 5.0,
                 chats_for_global_pause: int = 3, window: float = 2.0, clock=time.monotonic):
        self._overall = AsyncLimiter(overall_per_second, 1) if overall_per_second else None
        self._group_rate = group_per_minute
        self._groups: dict[int | str, AsyncLimiter] = {}
        self.max_wait = max_wait
        self._chats_for_global_pause, self._window = chats_for_global_pause, window
        self._clock = clock
        self._paused: dict[int | str, float] = {}   # chat -> monotonic time its pause ends
        self._everyone_until = 0.0
        self._recent: deque[tuple[float, int | str]] = deque()  # (when, chat) of recent 429s

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def paused_for(self, chat) -> float:
        """Seconds this chat must still wait (0 when it may send now)."""
        return max(0.0, max(self._everyone_until, self._paused.get(chat, 0.0)) - self._clock())

    def _pause(self, chat, seconds: float) -> None:
        now = self._clock()
        self._paused[chat] = max(self._paused.get(chat, 0.0), now + seconds)
        self._recent.append((now, chat))
        while self._recent and self._recent[0][0] < now - self._window:
            self._recent.popleft()
        chats = {c for _, c in self._recent}
        if len(chats) >= self._chats_for_global_pause:
            self._everyone_until = max(self._everyone_until, now + seconds)
            log.warning("%d chats hit Telegram's flood limit at once: every chat waits %.1f s", len(chats), seconds)
        if len(self._paused) > 4096:  # forget pauses that are over
            self._paused = {c: until for c, until in self._paused.items() if until > now}

    def _group_limiter(self, chat) -> AsyncLimiter | contextlib.nullcontext:
        if not self._group_rate or not ((isinstance(chat, int) and chat < 0) or isinstance(chat, str)):
            return contextlib.nullcontext()
        if chat not in self._groups:
            if len(self._groups) > 512:
                self._groups = {c: lim for c, lim in self._groups.items() if not lim.has_capacity(lim.max_rate)}
            self._groups[chat] = AsyncLimiter(self._group_rate, 60)
        return self._groups[chat]

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        chat = data.get("chat_id")
        with contextlib.suppress(TypeError, ValueError):
            chat = int(chat)
        for _ in range(3):
            wait = self.paused_for(chat)
            if wait > self.max_wait:
                raise RetryAfter(int(wait) + 1)
            if wait:
                await asyncio.sleep(wait)
            try:
                async with self._group_limiter(chat), (self._overall if chat is not None and self._overall
                                                       else contextlib.nullcontext()):
                    return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_seconds(exc) + 0.1
                log.info("flood limit in chat %s: it waits %.1f s", chat, seconds)
                self._pause(chat, seconds)
                if seconds > self.max_wait:
                    raise
        raise RetryAfter(int(self.paused_for(chat)) + 1)
