"""Putting replies in a chat: a reply planned as Bot API calls (what the outbox keeps), then
made with plain dicts (`api_call`): only the sent message's id is needed, and building then
parsing full Message objects was most of the cost of an update (bench/)."""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Iterable
from urllib.parse import urlencode

from telegram import InputFile
from telegram.error import BadRequest, TelegramError

from .. import jsonio
from ..engine import Reply
from ..letterfile import docx_bytes
from ..locales import t
from .render import OutMessage, button, render

log = logging.getLogger(__name__)


async def quietly(call: Awaitable, why: str):
    """Await a Bot API call whose failure changes nothing for the person (removing old
    buttons, answering a spinner twice); log at DEBUG what was ignored and why."""
    try:
        return await call
    except TelegramError as exc:
        log.debug("ignored %s while %s", type(exc).__name__, why)
        return None


class _Plain:
    """A call's plain parameters as PTB's requests read a `RequestData` (each value
    JSON-encoded, a string as it is), with no `RequestParameter` built per value. (PTB marks
    RequestData final: this has its documented attributes instead; no files.)"""
    __slots__ = ("_plain",)
    contains_files = False

    def __init__(self, params: dict[str, Any]):
        self._plain = params

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._plain)

    @property
    def json_parameters(self) -> dict[str, str]:
        return {k: v if isinstance(v, str) else jsonio.dumps(v) for k, v in self._plain.items()}

    @property
    def multipart_data(self) -> dict[str, Any]:
        return {}

    @property
    def json_payload(self) -> bytes:
        return jsonio.dumps(self.json_parameters).encode()

    def url_encoded_parameters(self, encode_kwargs: dict[str, Any] | None = None) -> str:
        return urlencode(self.json_parameters, **(encode_kwargs or {}))

    def parametrized_url(self, url: str, encode_kwargs: dict[str, Any] | None = None) -> str:
        return f"{url}?{self.url_encoded_parameters(encode_kwargs)}"


async def api_call(bot, method: str, params: dict[str, Any]) -> Any:
    """One Bot API call with plain parameters; its result as Telegram gives it (a dict, or
    True). What `Bot.do_api_request` does for them, without its per-value objects and its
    « use Bot.<method> » warning: through the bot's rate limiter when it has one, then its
    request (errors raised as PTB raises them). A file goes through `do_api_request`."""
    params = {k: v for k, v in params.items() if v is not None}
    if any(isinstance(v, InputFile) for v in params.values()):
        return await bot.do_api_request(method, api_kwargs=params)
    request, url = bot.request, f"{bot.base_url}/{method}"

    async def post() -> Any:
        return await request.post(url=url, request_data=_Plain(params))

    limiter = getattr(bot, "rate_limiter", None)  # (an ExtBot's; a plain Bot has none)
    if limiter is None:
        return await post()
    return await limiter.process_request(callback=post, args=(), kwargs={}, endpoint=method, data=params,
                                         rate_limit_args=None)


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API call of an outbox. Kept in the store as its data (`to_data`: JSON-ready,
    only the fields set) and read back with `of`."""
    method: str
    params: dict[str, Any]
    question: bool = False           # the message carrying the question's buttons
    quiet: bool = False              # its failure changes nothing for the person (old buttons removed)
    refusable: bool = False          # an edit Telegram may refuse: the fallback is sent instead
    fallback: "Call | None" = None   # what to call when this one fails quietly or is refused
    document: dict[str, str] | None = None  # a file: "filename" and its "content", or a .docx in "base64"

    def to_data(self) -> dict[str, Any]:
        """Written out by hand: dataclasses.asdict deep-copies every parameter (a fifth of an
        update's CPU in the offline benchmark)."""
        data: dict[str, Any] = {"method": self.method, "params": self.params}
        if self.question:
            data["question"] = True
        if self.quiet:
            data["quiet"] = True
        if self.refusable:
            data["refusable"] = True
        if self.fallback is not None:
            data["fallback"] = self.fallback.to_data()
        if self.document is not None:
            data["document"] = self.document
        return data

    @classmethod
    def of(cls, item: "Call | dict[str, Any]") -> "Call":
        if isinstance(item, Call):
            return item
        fallback = item.get("fallback")
        return cls(item["method"], item["params"], bool(item.get("question")), bool(item.get("quiet")),
                   bool(item.get("refusable")), cls.of(fallback) if fallback else None, item.get("document"))


def outbox_of(calls: Iterable[Call]) -> tuple[dict[str, Any], ...]:
    """Calls as the outbox keeps them (the store keeps JSON-ready data; `deliver` reads it back)."""
    return tuple(call.to_data() for call in calls)


def plan(reply: Reply, lang: str, chat_id: int, user_id: int, group: bool, reply_to: int | None,
         bot_username: str | None, thread: int | None = None) -> list[Call]:
    """A reply as the Bot API calls that show it, in order (saved in the outbox with the
    step): the message carrying the buttons marked `question`, a letter as a `document`. A
    press's single-question reply is then turned into an edit of the pressed message
    (`edit_into`: refusable, its fallback the sendMessage planned here)."""
    extra = []
    if group and bot_username:
        link = f"https://t.me/{bot_username}?start=g{chat_id}"
        label = "details_button" if reply.kind == "outcome" else "private_button"
        extra = [button(t(lang, label), url=link)]
    messages = render(reply, lang, user_id, compact=group and reply.kind == "outcome", extra=extra)
    items = []
    if group and reply.expects_text:
        # ForceReply makes the member's next message a reply to us, so privacy mode lets it through.
        question, buttons = messages[-1].html, messages[-1].buttons
        messages[-1] = OutMessage(question)
        force = {"force_reply": True, "selective": True, "input_field_placeholder": t(lang, "placeholder")}
        items += [_message(chat_id, out, reply_to, force, thread) for out in messages]
        messages = [OutMessage(t(lang, "or_choose"), buttons)]
    asks = bool(reply.buttons) and reply.kind != "forget"  # the last message carries the question's buttons
    items += [_message(chat_id, out, reply_to, thread=thread, question=asks and i == len(messages) - 1)
              for i, out in enumerate(messages)]
    if reply.document and not group:
        doc = reply.document
        file = ({"filename": doc.filename, "base64": base64.b64encode(docx_bytes(doc.content)).decode("ascii")}
                if doc.docx else {"filename": doc.filename, "content": doc.content})
        items.append(Call("sendDocument", {"chat_id": chat_id, "caption": doc.title,
                                           **({"message_thread_id": thread} if thread else {})}, document=file))
    return items


def _text_params(chat_id: int, html: str, **more) -> dict:
    """The parameters of a message's text: HTML, and no link preview when it holds a link
    (only links get previews; cards should not grow pictures)."""
    params = {"chat_id": chat_id, **more, "text": html, "parse_mode": "HTML"}
    if "http" in html:
        params["link_preview_options"] = {"is_disabled": True}
    return params


def _message(chat_id: int, out: OutMessage, reply_to: int | None, force_reply: dict | None = None,
             thread: int | None = None, question: bool = False) -> Call:
    params = _text_params(chat_id, out.html)
    if thread:  # a forum topic or a channel post's comment thread: the reply stays there
        params["message_thread_id"] = thread
    markup = out.markup or force_reply
    if markup:
        params["reply_markup"] = markup
    if reply_to:
        params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
    return Call("sendMessage", params, question)


def edit_item(chat_id: int, message_id: int, html: str | None = None) -> Call:
    """Replace a message's text (when given) and remove its buttons; a failure changes
    nothing for the person ("quiet")."""
    if html is None:
        return Call("editMessageReplyMarkup", {"chat_id": chat_id, "message_id": message_id}, quiet=True)
    params = _text_params(chat_id, html, message_id=message_id)
    # If the text cannot be changed (too long, say), the buttons at least go.
    return Call("editMessageText", params, quiet=True, fallback=edit_item(chat_id, message_id))


def edit_into(chat_id: int, message_id: int, html: str, item: Call) -> Call:
    """The pressed message edited in place into the next question (a planned sendMessage
    `item`): `html` (the answer taken) above the question's text, the question's buttons in
    place of the pressed ones. One call instead of an edit and a send. If Telegram refuses
    the edit (the message too old to edit, deleted), the question is sent as a new
    message instead (the "fallback"): the person always gets it, with working buttons."""
    sent = item.params
    text = f"{html}\n\n{sent['text']}"
    params = _text_params(chat_id, text, message_id=message_id)
    if "reply_markup" in sent:
        params["reply_markup"] = sent["reply_markup"]
    return Call("editMessageText", params, refusable=True, question=item.question, fallback=item)


async def _refusable(call: Awaitable, params: dict):
    """An edit Telegram may refuse (BadRequest): None then, for the fallback to show it."""
    try:
        return await call
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return {"message_id": params["message_id"]}  # already showing exactly this
        log.debug("edit refused (%s); sending instead", type(exc).__name__)
        return None


async def deliver(bot, items: Iterable[Call | dict[str, Any]]) -> int | None:
    """Make the calls in order; return the id of the message carrying the question's
    buttons, whichever call showed it (a message sent, an edit, or an edit's fallback). A
    quiet item's failure is ignored, a refusable item's refusal sends its fallback instead;
    any other failure raises (the caller keeps the items in the outbox, or drops them when
    Telegram refuses them for good)."""
    question = None
    for item in map(Call.of, items):
        params = dict(item.params)
        if item.document is not None:
            doc = item.document
            data = base64.b64decode(doc["base64"]) if "base64" in doc else doc["content"].encode("utf-8")
            params["document"] = InputFile(data, filename=doc["filename"])
        call = api_call(bot, item.method, params)
        if item.refusable:
            result = await _refusable(call, params)
        else:
            result = await (quietly(call, f"calling {item.method}") if item.quiet else call)
        if result is None and item.fallback is not None:
            # the fallback's question, when it carries one (the question sent anew)
            question = await deliver(bot, [item.fallback]) or question
        if item.question and isinstance(result, dict):
            question = result.get("message_id")
    return question


async def send(bot, chat_id: int, messages: list[OutMessage], reply_to: int | None = None,
               thread: int | None = None) -> None:
    """Send messages that belong to no step (nothing to save, nothing to send again)."""
    await deliver(bot, [_message(chat_id, out, reply_to, thread=thread) for out in messages])
