"""An offline Telegram for tests: the real Application, a recording Bot API, and people.

`FakeTelegram` is a `telegram.request.BaseRequest`: every Bot API call the bot makes lands
here, is recorded, and gets a plausible answer. `Person` sends messages and presses buttons
through `application.process_update`, and reads what the bot showed in their chat, so a
test reads like a user's session:

    alice = Person(tg, app, 1001)
    await alice.send("/start")
    await alice.send("on m'a prélevé deux fois")
    await alice.press("Cstream Vidéo")
    assert "Avez-vous déjà contacté" in alice.last_text
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field

from telegram import Update
from telegram.request import BaseRequest, RequestData

BOT_ID = 777000
BOT_USERNAME = "ReclamationTestBot"
_update_ids = itertools.count(1_000_000)  # above the ids stored in tests/data


@dataclass
class BotMessage:
    chat_id: int
    message_id: int
    text: str
    buttons: list[list[dict]] = field(default_factory=list)
    force_reply: bool = False
    reply_to: int | None = None
    document: str | None = None          # a text file's content
    document_name: str | None = None
    thread: int | None = None
    photo: bytes | None = None
    document_bytes: bytes | None = None  # any file's bytes (a .docx)

    @property
    def labels(self) -> list[str]:
        return [b["text"] for row in self.buttons for b in row]


class FakeTelegram(BaseRequest):
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.messages: dict[tuple[int, int], BotMessage] = {}
        self.order: list[BotMessage] = []
        self._ids = itertools.count(1)
        # (method, HTTP status, JSON body[, chat id]) to answer the next such call with
        self.fail_next: list[tuple] = []
        self.delay = 0.0  # seconds each call takes (to see what runs at the same time)
        self.in_flight: dict = {}  # chat id -> calls under way
        self.most_at_once = 0      # calls under way at the same time, at most (all chats)
        self.most_in_one_chat = 0  # ...and for one chat
        self.timeline: list[tuple[str, str]] = []  # ("start" | "end", method), in the order they happened
        # Chats the bot can look up (getChat): id or @name -> chat JSON, and its rights there.
        self.chats: dict = {}
        self.rights: dict[int, dict] = {}

    def share_with(self, other: "FakeTelegram") -> None:
        """One Telegram for two bot processes: the same chats, messages and message ids (each
        keeps its own record of the calls it made)."""
        other.messages, other.order, other._ids = self.messages, self.order, self._ids

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self):
        return 5.0

    def calls_to(self, method: str) -> list[dict]:
        return [params for name, params in self.calls if name == method]

    def _message_json(self, msg: BotMessage) -> dict:
        data = {"message_id": msg.message_id, "date": int(time.time()), "text": msg.text,
                "chat": {"id": msg.chat_id, "type": "private" if msg.chat_id > 0 else "supergroup"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bot", "username": BOT_USERNAME}}
        if msg.buttons:
            data["reply_markup"] = {"inline_keyboard": msg.buttons}
        if msg.thread:
            data["message_thread_id"] = msg.thread
        return data

    async def do_request(self, url, method, request_data: RequestData | None = None, **_):
        name = url.rsplit("/", 1)[-1]
        params = {}
        if request_data is not None:
            params = {k: v if k in ("text", "caption") else _loads(v)
                      for k, v in (request_data.json_parameters or {}).items()}
            if request_data.contains_files:
                for key, part in (request_data.multipart_data or {}).items():
                    params[key] = part
        self.calls.append((name, params))
        self.timeline.append(("start", name))
        try:
            return await self._answer_after_delay(name, params)
        finally:
            self.timeline.append(("end", name))

    async def _answer_after_delay(self, name: str, params: dict):
        if self.delay:
            chat = params.get("chat_id")
            self.in_flight[chat] = self.in_flight.get(chat, 0) + 1
            self.most_at_once = max(self.most_at_once, sum(self.in_flight.values()))
            self.most_in_one_chat = max(self.most_in_one_chat, self.in_flight[chat])
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.in_flight[chat] -= 1
        failing = next((f for f in self.fail_next if f[0] == name and
                        (len(f) < 4 or str(f[3]) == str(params.get("chat_id")))), None)
        if failing:
            self.fail_next.remove(failing)
            return failing[1], json.dumps(failing[2]).encode()
        try:
            result = self._answer(name, params)
        except _Refusal as refusal:
            return refusal.status, json.dumps({"ok": False, "error_code": refusal.status,
                                               "description": refusal.description}).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _answer(self, name: str, params: dict):
        if name == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Bot", "username": BOT_USERNAME,
                    "can_join_groups": True, "can_read_all_group_messages": False,
                    "supports_inline_queries": True}
        if name in ("sendMessage", "sendDocument", "sendPhoto"):
            markup = params.get("reply_markup") or {}
            reply = params.get("reply_parameters") or {}
            msg = BotMessage(int(params["chat_id"]), next(self._ids), params.get("text", ""),
                             markup.get("inline_keyboard", []), bool(markup.get("force_reply")),
                             reply.get("message_id"), thread=params.get("message_thread_id"))
            if name == "sendPhoto":
                filename, content, _ = params["photo"]
                msg.document_name, msg.photo = filename, content
                msg.text = params.get("caption", "")
                data = self._message_json(msg)
                data["photo"] = [{"file_id": "p1", "file_unique_id": "p1", "width": 800, "height": 600}]
                self.messages[(msg.chat_id, msg.message_id)] = msg
                self.order.append(msg)
                return data
            if name == "sendDocument":
                filename, content, _ = params["document"]
                msg.document_bytes, msg.document_name = content, filename
                if not filename.endswith(".docx"):
                    msg.document = content.decode("utf-8")
                msg.text = params.get("caption", "")
            self.messages[(msg.chat_id, msg.message_id)] = msg
            self.order.append(msg)
            return self._message_json(msg)
        if name in ("editMessageText", "editMessageReplyMarkup"):
            msg = self.messages[(int(params["chat_id"]), int(params["message_id"]))]
            if "text" in params:
                msg.text = params["text"]
            msg.buttons = (params.get("reply_markup") or {}).get("inline_keyboard", [])
            return self._message_json(msg)
        if name == "getUpdates":
            return []
        if name == "getChat":
            chat = self.chats.get(params.get("chat_id")) or self.chats.get(str(params.get("chat_id")))
            if chat is None:
                raise _Refusal(400, "Bad Request: chat not found")
            return chat
        if name == "getChatMember":
            member = {"status": "member", **self.rights.get(int(params["chat_id"]), {})}
            return {"user": {"id": BOT_ID, "is_bot": True, "first_name": "Bot"}, **member}
        return True


class _Refusal(Exception):
    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _loads(value):
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


class Person:
    """A Telegram user in one chat (their private chat, or a group shared with others)."""

    def __init__(self, tg: FakeTelegram, app, user_id: int, chat_id: int | None = None,
                 name: str = "Camille", language: str = "fr"):
        self.tg, self.app, self.id = tg, app, user_id
        self.chat_id = chat_id if chat_id is not None else user_id
        self.name, self.language = name, language
        self._message_ids = itertools.count(10_000 + user_id % 1000 * 100)

    @property
    def chat(self) -> dict:
        if self.chat_id > 0:
            return {"id": self.chat_id, "type": "private", "first_name": self.name}
        return {"id": self.chat_id, "type": "supergroup", "title": "Entraide conso"}

    @property
    def user(self) -> dict:
        return {"id": self.id, "is_bot": False, "first_name": self.name, "language_code": self.language}

    def message(self, text: str | None = None, **extra) -> dict:
        data = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self.chat,
                "from": self.user, **extra}
        if text is not None:
            data["text"] = text
            if text.startswith("/"):
                data["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        return data

    def update(self, data: dict, update_id: int | None = None) -> Update:
        update_id = update_id if update_id is not None else next(_update_ids)
        return Update.de_json({"update_id": update_id, **data}, self.app.bot)

    def text_update(self, text: str) -> Update:
        return self.update({"message": self.message(text)})

    async def feed(self, data: dict, update_id: int | None = None) -> int:
        update = self.update(data, update_id)
        await self.app.process_update(update)
        return update.update_id

    async def send(self, text: str, reply_to_bot: bool = False, **extra) -> int:
        if reply_to_bot and self.last:
            extra["reply_to_message"] = self.tg._message_json(self.last)
        return await self.feed({"message": self.message(text, **extra)})

    async def press(self, label: str, message: BotMessage | None = None, data: str | None = None) -> int:
        target = message or next(m for m in reversed(self.seen) if label in m.labels)
        if data is None:
            data = next(b["callback_data"] for row in target.buttons for b in row if b["text"] == label)
        return await self.feed({"callback_query": {
            "id": str(next(_update_ids)), "from": self.user, "chat_instance": "ci",
            "message": self.tg._message_json(target), "data": data}})

    @property
    def seen(self) -> list[BotMessage]:
        return [m for m in self.tg.order if m.chat_id == self.chat_id]

    @property
    def last(self) -> BotMessage | None:
        seen = self.seen
        return seen[-1] if seen else None

    @property
    def last_text(self) -> str:
        return self.last.text if self.last else ""

    def texts_since(self, count: int) -> str:
        return "\n".join(m.text for m in self.seen[count:])
