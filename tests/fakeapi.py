"""A tiny Bot API on loopback for tests of the real bot process at start: each method answers
what the test says (a 401, a 409...), the rest answer ok; calls are recorded by method name."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ME = {"id": 666, "is_bot": True, "first_name": "Test", "username": "TestNameBot",
      "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


class FakeBotApi:
    def __init__(self, answers: dict | None = None, updates: list | None = None):
        """`answers`: method -> (HTTP status, JSON body). `updates`: what getUpdates gives, as
        Telegram does: those from the offset asked for on (an update stays until confirmed)."""
        self.answers = {"getMe": (200, {"ok": True, "result": ME}), **(answers or {})}
        self.updates = list(updates or [])
        self.calls: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                method = self.path.rsplit("/", 1)[-1]
                api.calls.append(method)
                status, body = api.answers.get(method, (200, {"ok": True, "result": True}))
                if method == "getUpdates" and status == 200 and "getUpdates" not in api.answers:
                    try:
                        offset = json.loads(raw or b"{}").get("offset") or 0
                    except ValueError:
                        offset = 0
                    waiting = [u for u in api.updates if u["update_id"] >= offset]
                    if not waiting:
                        time.sleep(0.3)
                    body = {"ok": True, "result": waiting}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/bot"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
