"""Canned Bot API answers: in process (a BaseRequest) and over loopback HTTP (a tiny server)."""
from __future__ import annotations

import json
import sys

from telegram.request import BaseRequest

BOT = {"id": 777, "is_bot": True, "first_name": "Bot", "username": "BenchBot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
MESSAGE = {"message_id": 99, "date": 1_790_000_000, "text": "ok",
           "chat": {"id": 1, "type": "private", "first_name": "U"}, "from": BOT}


def _ok(result) -> bytes:
    return json.dumps({"ok": True, "result": result}).encode()


ANSWERS = {"getMe": _ok(BOT), "sendMessage": _ok(MESSAGE), "editMessageText": _ok(MESSAGE),
           "editMessageReplyMarkup": _ok(MESSAGE),
           "sendDocument": _ok({**MESSAGE, "document": {"file_id": "d", "file_unique_id": "d"}})}
TRUE = _ok(True)


class CannedRequest(BaseRequest):
    """Answers every call at once with canned JSON; counts calls."""

    def __init__(self):
        self.calls = 0

    @property
    def read_timeout(self):
        return 5.0

    async def initialize(self):
        pass

    async def shutdown(self):
        pass

    async def do_request(self, url, method, request_data=None, **_):
        self.calls += 1
        return 200, ANSWERS.get(url.rsplit("/", 1)[-1], TRUE)


def serve(port: int, delay_ms: float = 0.0) -> None:
    """A loopback Bot API answering canned JSON (run in its own process), each answer after
    `delay_ms` (0: at once; more stands for a Bot API across a network)."""
    import asyncio
    from aiohttp import web

    async def handle(request):
        await request.read()
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        return web.Response(body=ANSWERS.get(request.match_info["method"], TRUE), content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", handle)
    print("ready", flush=True)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
