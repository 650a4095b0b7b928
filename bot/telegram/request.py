"""A python-telegram-bot `BaseRequest` on aiohttp: the Bot API calls cost less CPU than with
PTB's default httpx client (see bench/ for the figures), which matters once the bot is busy."""
from __future__ import annotations

import asyncio
from typing import Any
import logging

import aiohttp
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

from .. import jsonio

log = logging.getLogger(__name__)


class AiohttpRequest(BaseRequest):
    @staticmethod
    def parse_json_payload(payload: bytes) -> dict:
        """As BaseRequest's, but a malformed answer is logged by its size, never its content
        (it may quote what a person wrote)."""
        try:
            return jsonio.loads(payload.decode("utf-8", "replace"))
        except ValueError as exc:
            log.error("the Bot API answered %d bytes that are not JSON", len(payload))
            raise TelegramError("Invalid server response") from exc

    def __init__(self, connection_pool_size: int = 64, read_timeout: float = 5.0, connect_timeout: float = 5.0,
                 on_response=None):
        self._on_response = on_response  # (url, status) after each answer: the metrics (bot/ops)
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, ttl_dns_cache=300),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout=BaseRequest.DEFAULT_NONE, write_timeout=BaseRequest.DEFAULT_NONE,
                         connect_timeout=BaseRequest.DEFAULT_NONE, pool_timeout=BaseRequest.DEFAULT_NONE,
                         ) -> tuple[int, bytes]:
        if self._session is None:
            await self.initialize()
        read = self._read_timeout if not isinstance(read_timeout, (int, float)) else read_timeout
        connect = self._connect_timeout if not isinstance(connect_timeout, (int, float)) else connect_timeout
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)
        kwargs: dict[str, Any] = {}
        if request_data is not None:
            if request_data.contains_files:
                form = aiohttp.FormData()
                for name, value in request_data.json_parameters.items():
                    form.add_field(name, value)
                for name, (filename, content, mimetype) in request_data.multipart_data.items():
                    form.add_field(name, content, filename=filename, content_type=mimetype)
                kwargs["data"] = form
            else:
                kwargs["data"] = request_data.json_payload
                kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            assert self._session is not None  # initialize() above
            async with self._session.request(method, url, timeout=timeout, **kwargs) as response:
                answer = response.status, await response.read()
        except asyncio.TimeoutError as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc
        if self._on_response is not None:
            self._on_response(url, answer[0])
        return answer
