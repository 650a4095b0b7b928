"""The bot's own HTTP server for webhook mode: Telegram's updates in, checked before read.

The secret header is checked before the body is read (403 without it), the body is capped
(413 beyond `max_body`), and Telegram gets its 200 as soon as the update is queued: the
update is handled after the answer, so a slow step never makes Telegram time out and send
the update again. Health and metrics routes join this server (one for everything served).
"""
from __future__ import annotations

import logging
from urllib.parse import urlparse

from aiohttp import web
from telegram.ext import Application

from .incoming import parse_update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20  # Telegram's updates are a few kilobytes; 1 MiB leaves ample room


class WebhookServer:
    def __init__(self, application: Application, url: str, secret: str, listen: str, port: int,
                 max_body: int = MAX_BODY, health=None):
        self.application, self.secret, self.health = application, secret, health
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
        body = await request.content.read(self.max_body + 1)
        if len(body) > self.max_body:
            return web.Response(status=413)
        try:
            update = parse_update(body, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("the webhook received %d bytes that are not an update; ignored", len(body))
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response(status=200)

