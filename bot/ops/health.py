"""/healthz, /readyz and /metrics: on the webhook server, or on a small server of their own
(BOT_HEALTH_PORT) in polling mode.

/healthz: the process answers (alive). /readyz: the store answers a cheap query and the Bot
API answered recently (getMe at start, then any successful call; asked again when older than
a minute); 503 with the reason otherwise. Neither says anything about anyone. /metrics:
Prometheus text format, only with BOT_METRICS_TOKEN set and sent as a bearer token (404
without the setting, 401 without the token): it counts what people do.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import time

from aiohttp import web

log = logging.getLogger(__name__)
API_FRESH = 60.0   # seconds a successful Bot API call counts as "reached"
CHECK_TIMEOUT = 3.0


class Health:
    def __init__(self, store, bot, metrics, metrics_token: str | None = None):
        self.store, self.bot, self.metrics = store, bot, metrics
        self.metrics_token = metrics_token

    def add_routes(self, server: web.Application) -> None:
        server.router.add_get("/healthz", self.healthz)
        server.router.add_get("/readyz", self.readyz)
        server.router.add_get("/metrics", self.serve_metrics)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        problems = []
        try:
            await asyncio.wait_for(self.store.count(), CHECK_TIMEOUT)
        except Exception as exc:  # any failure means not ready; the reason is shown
            problems.append(f"store: {type(exc).__name__}")
        if not await self._api_reached():
            problems.append("bot api: not reached in the last minute")
        if problems:
            return web.Response(status=503, text="".join(p + "\n" for p in problems))
        return web.Response(text="ready\n")

    async def _api_reached(self) -> bool:
        seen = self.metrics.api_ok_at
        if seen is not None and time.monotonic() - seen < API_FRESH:
            return True
        try:
            await asyncio.wait_for(self.bot.get_me(), CHECK_TIMEOUT)
        except Exception:  # noqa: BLE001 - any failure: not reached
            return False
        self.metrics.api_ok_at = time.monotonic()
        return True

    async def serve_metrics(self, request: web.Request) -> web.Response:
        if not self.metrics_token:
            return web.Response(status=404)
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {self.metrics_token}".encode()):
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        body, content_type = self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})


class HealthServer:
    """The health routes alone, for polling mode."""

    def __init__(self, health: Health, listen: str, port: int):
        self.health, self.listen, self.port = health, listen, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        server = web.Application()
        self.health.add_routes(server)
        self._runner = web.AppRunner(server, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        log.info("serving /healthz and /readyz%s on %s:%s", " and /metrics" if self.health.metrics_token else "",
                 self.listen, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
