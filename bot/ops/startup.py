"""Start-up checks with bounded retries: the store can be written, the Bot API answers.

A fault that lasts (a data folder that cannot be written, a database that does not answer,
no network) is retried with backoff, one log line per try, for BOT_START_RETRY_SECONDS; then
the bot exits non-zero with one clear line, instead of starting and telling every person
« problème temporaire ». A token the Bot API refuses (401) is not retried.
"""
from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path

from telegram.error import InvalidToken, TelegramError

from ..errors import BotError, StoreUnavailable

log = logging.getLogger(__name__)


class StartupFailed(BotError):
    """What the bot needs at start is still missing once the retries are spent (or for good)."""


async def retry(what: str, attempt, budget: float, retryable: tuple, first_delay: float = 1.0, stop: tuple = ()):
    """`await attempt()` until it works; a `retryable` failure (but those in `stop`, raised at
    once) is logged (one line per try) and tried again after 1, 2, 4... (at most 30) seconds
    while `budget` seconds last."""
    deadline, delay, tries = time.monotonic() + budget, first_delay, 1
    while True:
        try:
            return await attempt()
        except stop:
            raise
        except retryable as exc:
            reason = " ".join(f"{type(exc).__name__}: {exc}".split()) if str(exc) else type(exc).__name__
            left = deadline - time.monotonic()
            if left <= 0:
                raise StartupFailed(f"{what}: still failing after {tries} tries in {budget:g} s ({reason})") from None
            wait = min(delay, left)
            log.warning("%s: try %d failed (%s); next try in %.1f s", what, tries, reason, wait)
            await asyncio.sleep(wait)
            delay, tries = min(delay * 2, 30.0), tries + 1


def _probe_folder(folder: Path) -> None:
    """Create the folder if needed and write a file in it: raises OSError when it cannot."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
        pass


async def check_store(store, budget: float) -> None:
    """The store answers a cheap query (and, for SQLite, its folder can be written)."""
    folder = Path(store.path).parent if hasattr(store, "path") else None

    async def attempt():
        if folder is not None:
            try:
                await asyncio.to_thread(_probe_folder, folder)
            except OSError as exc:
                raise StoreUnavailable(f"the data folder {folder} cannot be written: "
                                       f"{exc.strerror or type(exc).__name__}") from None
        await store.count()
    await retry("progress store", attempt, budget, (StoreUnavailable,))


class _Unreadable(TelegramError):
    """getMe answered something that is not a bot's description."""


async def check_bot_api(bot, budget: float) -> None:
    """getMe answers (this initialises the bot). A refused token (401, or 404: the URL names no
    bot) raises StartupFailed at once; anything else (no network, a 5xx, an answer that is not
    a bot's description) is retried like the store."""
    async def attempt():
        try:
            await bot.initialize()
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise _Unreadable(f"getMe answered something that is not a bot ({type(exc).__name__})") from None
    try:
        await retry("Bot API (getMe)", attempt, budget, (TelegramError,), stop=(InvalidToken,))
    except InvalidToken as exc:
        said = exc.__cause__.message if isinstance(exc.__cause__, TelegramError) else exc.message  # 401 or 404
        raise StartupFailed(f"the Bot API refused the token (it answered « {said} »): check TELEGRAM_BOT_TOKEN "
                            "and TELEGRAM_BASE_URL") from None
