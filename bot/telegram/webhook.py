"""The bot's own HTTP server for webhook mode: Telegram's updates in, checked before read.

The secret header is checked before the body is read (403 without it), the body is read
whole (however many pieces it comes in) up to a cap (413 beyond `max_body`) and within
BODY_SECONDS (408). Telegram gets its 200 once the update is kept (receipts.py): its step
committed with its outbox, or handled with nothing to keep; a 503 while the store is away or
when that takes longer than ACK_SECONDS, so that Telegram sends it again. A body that is not
an update python-telegram-bot can read gets a 200 and one log line with its size: Telegram
would re-send it in vain. Slow or idle connections are nginx's to cut (deploy/nginx.conf);
the bot listens on loopback by default. Health routes join this server; /metrics only with
BOT_METRICS_TOKEN (bot/ops/health.py).
"""
from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlparse

from aiohttp import web
from telegram.ext import Application

from .incoming import parse_update
from .receipts import Receipts

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20  # Telegram's updates are a few kilobytes; 1 MiB leaves ample room
BODY_SECONDS = 10.0  # to receive the body once the headers are in
ACK_SECONDS = 20.0   # at most this long before answering (nginx waits 30 s: deploy/nginx.conf)


class WebhookServer:
    def __init__(self, application: Application, url: str, secret: str, listen: str, port: int,
                 max_body: int = MAX_BODY, health=None, receipts: Receipts | None = None,
                 ack_within: float = ACK_SECONDS):
        self.application, self.secret, self.health = application, secret, health
        # The Application's own (app.py): a receipt nobody settles would answer 503 to everything.
        self.receipts = receipts or application.bot_data["receipts"]
        self.ack_within = ack_within
        self.path = urlparse(url).path or "/"
        self.listen, self.port, self.max_body = listen, port, max_body
        self._runner: web.AppRunner | None = None

    def routes(self) -> web.Application:
        server = web.Application(client_max_size=self.max_body)
        server.router.add_post(self.path, self.receive)
        if self.health is not None:  # bot/ops/health.py: /healthz, /readyz, /metrics
            self.health.add_routes(server)
        return server

    async def start(self) -> None:
        self._runner = web.AppRunner(self.routes(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        log.info("serving the webhook on %s:%s%s", self.listen, self.port, self.path)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def receive(self, request: web.Request) -> web.Response:
        if request.headers.get(SECRET_HEADER) != self.secret:
            return web.Response(status=403)  # the body is never read
        if request.content_length is not None and request.content_length > self.max_body:
            return web.Response(status=413)
        try:
            body = await asyncio.wait_for(request.read(), BODY_SECONDS)  # all of it, up to client_max_size
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        except asyncio.TimeoutError:
            return web.Response(status=408)
        try:
            update = parse_update(body, self.application.bot)
        except Exception:  # noqa: BLE001 - whatever it holds, it is never handled nor quoted
            log.warning("the webhook received %d bytes that are not an update it can read; skipped", len(body))
            return web.Response(status=200)  # not 400: Telegram would send it again, in vain
        receipt = self.receipts.expect(update.update_id)
        await self.application.update_queue.put(update)
        kept = await self.receipts.wait(update.update_id, receipt, self.ack_within)
        return web.Response(status=200 if kept else 503)

