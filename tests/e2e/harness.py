"""Runs the real bot process against the telegram-test-api emulator on loopback.

`Emulator` starts `node emulator.js PORT`; `BotProcess` starts `python -m bot run` pointed at
it; `Chat` plays a Telegram user through the emulator's user API (/sendMessage,
/sendCommand, /sendCallback) and reads what the bot sent (/getUpdates, /getUpdatesHistory).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOKEN = "123456:e2e-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, data: dict | None = None, headers: dict | None = None, timeout: float = 10) -> dict:
    body = json.dumps(data or {}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def missing_tools() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (HERE / "node_modules" / "telegram-test-api").exists():
        return "the emulator is not installed: run `npm ci` in tests/e2e"
    return None


class Emulator:
    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(["node", str(HERE / "emulator.js"), str(self.port)], cwd=HERE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise RuntimeError(f"emulator did not start: {line}{self.proc.stderr.read()}")

    def fail_next(self, method: str, status: int, body: dict) -> None:
        post(f"{self.url}/failNext", {"method": method, "status": status, "body": body})

    def stall_next(self, method: str) -> None:
        post(f"{self.url}/stallNext", {"method": method})

    def stalled(self) -> int:
        return post(f"{self.url}/stalled")["result"]

    def history(self) -> list[dict]:
        return post(f"{self.url}/getUpdatesHistory", {"token": TOKEN})["result"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class BotProcess:
    def __init__(self, emulator: Emulator, data_dir: Path, webhook: bool = False, extra_env: dict | None = None):
        self.log = data_dir / f"bot-{time.time_ns()}.log"
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": f"{emulator.url}/bot",
               "BOT_DATA_DIR": str(data_dir), "BOT_LOG_LEVEL": "INFO",
               "BOT_DEFAULT_FLOW": "cstream",  # these tests drive the Cstream flow's questions
               **(extra_env or {})}
        args = [sys.executable, "-m", "bot", "run"]
        if webhook:
            self.webhook_port = free_port()
            self.secret = "s3cret-e2e"
            env.update({"BOT_WEBHOOK_URL": f"http://127.0.0.1:{self.webhook_port}/hook",
                        "BOT_WEBHOOK_LISTEN": "127.0.0.1", "BOT_WEBHOOK_PORT": str(self.webhook_port),
                        "BOT_WEBHOOK_SECRET": self.secret, **(extra_env or {})})  # extra_env wins
            self.webhook_port, self.secret = int(env["BOT_WEBHOOK_PORT"]), env["BOT_WEBHOOK_SECRET"]
            args.append("--webhook")
        self.emulator, self.hook = emulator, env.get("BOT_WEBHOOK_URL") if webhook else None
        self._log_file = open(self.log, "w")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _hook_set(self) -> bool:
        """Webhook mode: whether this process's webhook is the one set (the bot logs « Application
        started » before it sets it; an update sent before then would wait in the emulator's
        getUpdates queue, which a webhook bot never reads, where Telegram would deliver it)."""
        info = post(f"{self.emulator.url}/bot{TOKEN}/getWebhookInfo")["result"]
        return info.get("url") == self.hook

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            text = self.log.read_text()
            if "Application started" in text and (self.hook is None or self._hook_set()):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"bot exited {self.proc.returncode}:\n{text}")
            time.sleep(0.1)
        raise RuntimeError(f"bot not ready after {timeout}s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no flush, nothing."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._log_file.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log_file.close()


class Chat:
    """One Telegram user in one chat, driven through the emulator's user API."""

    def __init__(self, emulator: Emulator, user_id: int, chat_id: int | None = None, name: str = "Camille",
                 same_chat_as: "Chat | None" = None):
        self.emu, self.user_id = emulator, user_id
        self.chat_id = chat_id if chat_id is not None else user_id
        self.name = name
        # Members of one group read the same chat: they share what the bot sent there.
        self.received: list[dict] = same_chat_as.received if same_chat_as else []

    def _base(self) -> dict:
        chat = ({"id": self.chat_id, "type": "private", "first_name": self.name} if self.chat_id > 0
                else {"id": self.chat_id, "type": "supergroup", "title": "Entraide conso"})
        return {"botToken": TOKEN, "date": int(time.time()), "chat": chat,
                "from": {"id": self.user_id, "is_bot": False, "first_name": self.name, "language_code": "fr"}}

    def send(self, text: str, reply_to: dict | None = None) -> None:
        message = {**self._base(), "text": text}
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
            post(f"{self.emu.url}/sendCommand", message)
        else:
            post(f"{self.emu.url}/sendMessage", message)

    def press(self, label: str) -> None:
        """Press the newest button labelled `label` that the bot showed this user."""
        for message in reversed(self.received):
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == label and f":{self.user_id}:" in button.get("callback_data", ""):
                        shown = {"message_id": message["_id"], "date": int(time.time()), "text": message.get("text", ""),
                                 "chat": self._base()["chat"],
                                 "from": {"id": 666, "is_bot": True, "first_name": "Bot"}}
                        post(f"{self.emu.url}/sendCallback", {**self._base(), "message": shown,
                                                              "data": button["callback_data"]})
                        return
        raise AssertionError(f"no button {label!r} among {self.labels()}")

    def labels(self) -> list[str]:
        return [b["text"] for m in self.received[-3:]
                for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]

    def wait_for(self, fragment: str, timeout: float = 15) -> str:
        """Collect the bot's new messages in this chat until one contains `fragment`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = post(f"{self.emu.url}/getUpdates", {"token": TOKEN, "chatId": self.chat_id})["result"]
            for item in result:
                self.received.append({**item["message"], "_id": item["messageId"]})
            for message in self.received:
                if fragment in (message.get("text") or "") and not message.get("_seen"):
                    for earlier in self.received:
                        earlier["_seen"] = True
                        if earlier is message:
                            break
                    return message["text"]
            time.sleep(0.1)
        texts = "\n---\n".join((m.get("text") or "")[:200] for m in self.received[-5:])
        raise AssertionError(f"no message with {fragment!r} within {timeout}s; last ones:\n{texts}")

    def wait_for_label(self, prefix: str, timeout: float = 15) -> str:
        """Collect the bot's new messages until a button labelled `prefix`… is shown: an outcome
        comes in several messages, its buttons on the last, which may arrive after its text."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = next((label for label in self.labels() if label.startswith(prefix)), None)
            if found is not None:
                return found
            result = post(f"{self.emu.url}/getUpdates", {"token": TOKEN, "chatId": self.chat_id})["result"]
            for item in result:
                self.received.append({**item["message"], "_id": item["messageId"]})
            time.sleep(0.1)
        raise AssertionError(f"no button {prefix!r}… within {timeout}s; shown: {self.labels()}")

    def bot_message_to_reply_to(self) -> dict:
        message = self.received[-1]
        return {"message_id": message["_id"], "date": int(time.time()), "chat": self._base()["chat"],
                "from": {"id": 666, "is_bot": True, "first_name": "Bot"}, "text": message.get("text", "")}
