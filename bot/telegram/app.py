"""Build and run the python-telegram-bot Application around the engine and the store."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import signal
import socket
import warnings
from collections import Counter

from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import Conflict, TelegramError
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor, TypeHandler
from telegram.request import BaseRequest

from ..engine import Engine
from ..engine.commands import menu
from ..errors import StoreUnavailable
from ..flow.files import FlowSet
from ..locales import languages
from ..ops.health import Health, HealthServer
from ..ops.logs import formatter
from ..ops.metrics import CountedStore, Metrics
from ..ops.startup import StartupFailed, check_bot_api, check_store
from ..settings import Settings
from ..store import ConversationKey
from ..stores import open_store
from .frontend import TelegramFrontend, conversation_key
from .limits import ChatRateLimiter
from .poller import Poller
from .receipts import Receipts
from .request import AiohttpRequest
from .webhook import WebhookServer

log = logging.getLogger(__name__)
SWEEP_EVERY = 10.0   # seconds between two delivery sweeps
SWEEP_BATCH = 200    # conversations a sweep delivers at most
SWEEP_AGE = 5.0      # seconds a reply waits in its outbox before the sweep sends it
START_SWEEP_AGE = 1.0  # ... and at start
SWEEP_PARALLEL = 32  # conversations the sweep shows at the same time
SWEEP_ROUNDS = 20    # batches one sweep takes at most
REMINDER_LEASE = 120.0  # seconds a process holds a claimed reminder before another may take it
REMINDER_BATCH = 50     # reminders claimed per look
OWNER = f"{socket.gethostname()}:{os.getpid()}"  # who holds a claim (for the operator reading the table)


class ConversationOrder(BaseUpdateProcessor):
    """Different conversations run concurrently; one conversation's updates run one at a time,
    in the order they arrived (asyncio locks wake their waiters first come, first served)."""

    def __init__(self, max_concurrent_updates: int = 4096):
        super().__init__(max_concurrent_updates)
        self._locks: dict[ConversationKey, asyncio.Lock] = {}
        self._users: Counter[ConversationKey] = Counter()

    async def do_process_update(self, update, coroutine) -> None:
        key = conversation_key(update) if isinstance(update, Update) else None
        if key is None:
            await coroutine
            return
        async with self.holding(key):
            await coroutine

    @contextlib.asynccontextmanager
    async def holding(self, key: ConversationKey):
        """Hold one conversation, as its updates do (the delivery sweep takes it too)."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._locks[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class RedactToken(logging.Filter):
    """Keeps the bot token out of every log line: the message, its arguments, and the
    traceback and stack printed with it (Bot API URLs contain the token)."""

    def __init__(self, token: str | None):
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg, record.args = message.replace(self.token, "<token>"), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and self.token in record.exc_text:
            record.exc_text = record.exc_text.replace(self.token, "<token>")
        if record.stack_info and self.token in record.stack_info:
            record.stack_info = record.stack_info.replace(self.token, "<token>")
        return True


def setup_logging(settings: Settings) -> None:
    """Logging for the bot process: the format (text, or JSON with BOT_LOG_FORMAT=json), the
    level, the token kept out of every line."""
    logging.basicConfig(level=settings.log_level, force=True)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter(settings.log_format))
        handler.addFilter(RedactToken(settings.token))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request, token in the URL
    # transitions logs each state change at INFO: one line per answer, with nothing to act on.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # "job added", "job executed": every 10 s
    # "maximum number of running instances reached": a sweep still showing replies in a flood
    # pause when the next is due; that next one is skipped, as meant.
    logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
    # Replies go out with plain dicts (send.api_call); a file, a channel post and the poller go
    # through Bot.do_api_request, for which PTB suggests its typed methods each time: the
    # typed objects are the cost plain dicts avoid.
    warnings.filterwarnings("ignore", message=r"Please use 'Bot\.")


def build_application(settings: Settings, flows: FlowSet, store=None, request: BaseRequest | None = None,
                      get_updates_request: BaseRequest | None = None, clock=None,
                      rate_limiter: bool = True) -> Application:
    """The real Application. Tests pass a recording `request` and a store to run it offline."""
    store = store or open_store(settings)
    from ..flow.route import load_router
    router, _ = load_router(settings.flows, flows)  # a first message about another company: its general route
    engine = Engine(flows, keep_unrecognised=settings.keep_unrecognised, quiet=settings.quiet_hours, router=router)
    engine.warm_up()  # before serving: the first person served does not pay for it
    metrics, receipts = Metrics(), Receipts()
    frontend = TelegramFrontend(engine, CountedStore(store, metrics), settings.admin_ids,
                                **({"clock": clock} if clock else {}),
                                stats_source=(settings.store_url, str(settings.flows)), receipts=receipts,
                                metrics=metrics)
    order = ConversationOrder()
    builder = (ApplicationBuilder().token(settings.token or "0:offline")
               .base_url(settings.base_url).base_file_url(settings.base_file_url)
               .concurrent_updates(order)
               .updater(None)  # poller.py fetches the updates (acknowledging only what is kept)
               .post_init(_post_init).post_shutdown(_post_shutdown))
    if rate_limiter:
        builder = builder.rate_limiter(ChatRateLimiter())
    if request is None:
        request = AiohttpRequest(on_response=metrics.api_response)
        get_updates_request = AiohttpRequest(connection_pool_size=1, on_response=metrics.api_response)
    builder = builder.request(request).get_updates_request(get_updates_request or request)
    app = builder.build()
    jobs = Background(store, frontend, order, settings)
    # For the serving code and the tests to reach; the jobs themselves look nothing up here.
    app.bot_data.update(store=store, frontend=frontend, settings=settings, metrics=metrics, receipts=receipts,
                        jobs=jobs)
    app.add_handler(TypeHandler(Update, metrics.timed(frontend.on_update)))
    app.add_error_handler(frontend.on_error)
    if app.job_queue is not None:
        jobs.schedule(app.job_queue)
    return app


async def _post_init(app: Application) -> None:
    """Publish the command menu (French for French-speaking users, English aliases otherwise),
    then move the start-up heap (modules, flows, the library) out of the garbage collector's
    sight: full collections then walk only what serving people creates, and stay short."""
    gc.collect()
    gc.freeze()
    try:
        for lang in languages():  # each language for its clients; English for all the others
            await app.bot.set_my_commands([BotCommand(name, text) for name, text in menu(lang)],
                                          scope=BotCommandScopeDefault(),
                                          language_code=None if lang == "en" else lang)
    except TelegramError as exc:
        log.warning("could not publish the command menu: %s", exc)


async def _post_shutdown(app: Application) -> None:
    app.bot_data["store"].close()


def _background(job):
    """A job that needs the store: while the store is away it waits for its next run without a
    word (the store logs the cause once, and « works again » once it does)."""
    @functools.wraps(job)
    async def run(*args, **kwargs) -> None:
        try:
            await job(*args, **kwargs)
        except StoreUnavailable:
            log.debug("%s: the store is away; next run later", job.__name__)
    return run


class Background:
    """The Application's background work, each job given at construction what it uses (the
    job's `context` brings only the bot to send with)."""

    def __init__(self, store, frontend: TelegramFrontend, order: ConversationOrder, settings: Settings):
        self.store, self.frontend, self.order, self.settings = store, frontend, order, settings

    def schedule(self, jobs) -> None:
        jobs.run_repeating(self.purge, interval=6 * 3600, first=60, name="purge")
        jobs.run_once(self.sweep_at_start, when=0, name="delivery at start")
        jobs.run_repeating(self.sweep, interval=SWEEP_EVERY, first=SWEEP_EVERY, name="delivery")
        jobs.run_repeating(self.reminders, interval=self.settings.reminder_every, first=2, name="reminders")

    @_background
    async def sweep(self, context, older_than: float | None = None) -> None:
        """Show the replies of saved steps that never reached their chat (a crash, a Bot API
        error, a long flood pause), each under its conversation's lock, oldest first, up to
        SWEEP_PARALLEL conversations at a time (the rate limiter keeps the flood limits), batch
        after batch while batches come full and something was delivered."""
        slots = asyncio.Semaphore(SWEEP_PARALLEL)

        async def show(key: ConversationKey) -> None:
            async with slots, self.order.holding(key):
                record = await self.store.load(key)  # fresh: the step may have moved on meanwhile
                if record is not None and record.outbox:
                    await self.frontend.flush(context.bot, key, record)
        # Only replies waiting for SWEEP_AGE: younger ones are most likely on their way from the
        # process that saved them (with several processes, taking them would show them twice).
        age = SWEEP_AGE if older_than is None else older_than
        for _ in range(SWEEP_ROUNDS):
            waiting = await self.store.undelivered(SWEEP_BATCH, older_than=age)
            before = len(waiting)
            await asyncio.gather(*(show(key) for key, _ in waiting if key.chat is not None))
            if not waiting:
                return
            left = await self.store.count_undelivered()
            log.info("delivery sweep: %d conversation(s) had replies waiting; %d still wait", before, left)
            if before < SWEEP_BATCH or left >= before:
                return

    async def sweep_at_start(self, context) -> None:
        """At start, the replies a process that stopped (or was killed) saved but never showed,
        at once: only those saved in the last second may still be on their way from another."""
        await self.sweep(context, older_than=START_SWEEP_AGE)

    @_background
    async def reminders(self, context) -> None:
        """Send the follow-up reminders that came due: each claimed first (so that with several
        processes on one database each goes out once), then handled under its conversation's
        lock and sent through the outbox. A claim whose process died runs out after
        REMINDER_LEASE and is taken over: a crash right after Telegram accepted a reminder may
        repeat it once, never lose it."""
        due = await self.store.claim_reminders(self.frontend.clock().timestamp(), OWNER, REMINDER_LEASE,
                                               REMINDER_BATCH)
        for key, reminder, when in due:
            async with self.order.holding(key):
                await self.frontend.remind(context.bot, key, reminder, when)

    @_background
    async def purge(self, context) -> None:
        days = self.settings.retention_days
        n = await self.store.purge(days * 86400)
        if n:
            log.info("purged %d conversation(s) untouched for %d days", n, days)


def run_bot(settings: Settings, flows: FlowSet, webhook: bool = False) -> int:
    """Run until SIGINT or SIGTERM (0), or until a fault that lasts (1): checked at start with
    bounded retries, then polling or the webhook server, with health and metrics routes."""
    setup_logging(settings)
    if webhook and (not settings.webhook_url or not settings.webhook_secret):
        log.error("webhook mode needs BOT_WEBHOOK_URL and BOT_WEBHOOK_SECRET (see .env.example)")
        return 2
    app = build_application(settings, flows)
    try:
        return asyncio.run(_serve(app, settings, webhook))
    except StartupFailed as exc:
        log.error("not starting: %s", exc)
        return 1
    except Exception:  # logged, so that the token is redacted (PTB quotes it in InvalidToken)
        log.exception("the bot stopped on an unexpected error")
        return 1


async def _serve(app: Application, settings: Settings, webhook: bool) -> int:
    stop, code = asyncio.Event(), [0]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = app.bot_data["store"]
    try:
        await check_store(store, settings.start_retry_seconds)
        await check_bot_api(app.bot, settings.start_retry_seconds)
    except StartupFailed:
        await app.bot.shutdown()
        store.close()
        raise
    health = Health(store, app.bot, app.bot_data["metrics"], settings.metrics_token)
    server: WebhookServer | HealthServer | None = None
    if webhook:  # refused above without its URL and secret
        assert settings.webhook_url is not None and settings.webhook_secret is not None
        server = WebhookServer(app, settings.webhook_url, settings.webhook_secret, settings.webhook_listen,
                               settings.webhook_port, health=health)
    elif settings.health_port:
        server = HealthServer(health, settings.health_listen, settings.health_port)

    def polling_failed(exc: TelegramError) -> None:
        """getUpdates failed in a way retrying cannot mend."""
        if isinstance(exc, Conflict):
            log.error("another instance is polling with this token (Telegram answered 409 Conflict): stop it, or "
                      "run several processes in webhook mode (`python -m bot run --webhook`, see docs/operating.md: "
                      "Running in production)")
        else:
            log.error("the Bot API refused the token (it answered %s): check TELEGRAM_BOT_TOKEN", exc.message)
        code[0] = 1
        stop.set()

    poller = None if webhook else Poller(app, app.bot_data["receipts"], polling_failed)
    await app.initialize()
    try:
        await _post_init(app)
        await app.start()
        if server is not None:
            await server.start()
        if webhook:
            await app.bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                      allowed_updates=Update.ALL_TYPES)
        elif poller is not None:
            await poller.start()
        await stop.wait()
    finally:
        if poller is not None:
            await poller.stop()
        if server is not None:
            await server.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        await _post_shutdown(app)
    return code[0]
