"""The bot's own HTTP server for webhook mode: Telegram's updates in, checked before read.

The secret header is checked before the body is read (403 without it), the body is capped
(413 beyond `max_body`), and Telegram gets its 200 as soon as the update is queued: the
update is handled after the answer, so a slow step never makes Telegram time out and send
the update again. Health and metrics routes join this server (one for everything served).
"""
from __future__ import annotations

import asyncio
import json
import logging
import signal
from urllib.parse import urlparse

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20  # Telegram's updates are a few kilobytes; 1 MiB leaves ample room


class WebhookServer:
    def __init__(self, application: Application, url: str, secret: str, listen: str, port: int,
                 max_body: int = MAX_BODY):
        self.application, self.secret = application, secret
        self.path = urlparse(url).path or "/"
        self.listen, self.port, self.max_body = listen, port, max_body
        self._runner: web.AppRunner | None = None

    def routes(self) -> web.Application:
        server = web.Application(client_max_size=self.max_body)
        server.router.add_post(self.path, self.receive)
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
            update = Update.de_json(json.loads(body), self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("the webhook received %d bytes that are not an update; ignored", len(body))
            return web.Response(status=400)
        await self.application.update_queue.put(update)
        return web.Response(status=200)


async def serve(application: Application, settings, allowed_updates) -> None:
    """Run the Application behind the webhook server until SIGINT or SIGTERM."""
    server = WebhookServer(application, settings.webhook_url, settings.webhook_secret,
                           settings.webhook_listen, settings.webhook_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        await application.start()
        await server.start()
        await application.bot.set_webhook(settings.webhook_url, secret_token=settings.webhook_secret,
                                          allowed_updates=allowed_updates)
        await stop.wait()
    finally:
        await server.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
