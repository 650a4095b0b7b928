"""Putting replies in a chat: sending, editing, and Bot API calls whose failure changes nothing."""
from __future__ import annotations

import logging
from typing import Awaitable

from telegram import InputFile
from telegram.error import TelegramError

from ..engine import Reply
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


async def deliver(bot, chat_id: int, user_id: int, reply: Reply, lang: str, group: bool,
                  reply_to: int | None) -> int | None:
    """Send a reply as Telegram messages; return the id of the one carrying its buttons."""
    extra = []
    if group and bot.username:
        link = f"https://t.me/{bot.username}?start=g{chat_id}"
        label = "details_button" if reply.kind == "outcome" else "private_button"
        extra = [button(t(lang, label), url=link)]
    messages = render(reply, lang, user_id, compact=group and reply.kind == "outcome", extra=extra)
    if group and reply.expects_text:
        # ForceReply makes the member's next message a reply to us, so privacy mode lets it through.
        question, buttons = messages[-1].html, messages[-1].buttons
        messages[-1] = OutMessage(question)
        await send(bot, chat_id, messages, reply_to, force_reply={
            "force_reply": True, "selective": True, "input_field_placeholder": t(lang, "placeholder")})
        sent = await send(bot, chat_id, [OutMessage(t(lang, "or_choose"), buttons)], reply_to)
    else:
        sent = await send(bot, chat_id, messages, reply_to)
    if reply.document and not group:
        await bot.do_api_request("sendDocument", api_kwargs={
            "chat_id": chat_id, "caption": reply.document.title,
            "document": InputFile(reply.document.content.encode("utf-8"), filename=reply.document.filename)})
    return sent


async def send(bot, chat_id: int, messages: list[OutMessage], reply_to: int | None,
               force_reply: dict | None = None) -> int | None:
    """Send the messages in order; return the last one's id. Messages go out through
    `Bot.do_api_request` with plain dicts: only the sent message's id is needed, and building
    then parsing full Message objects was most of the cost of an update (bench/)."""
    sent = None
    for out in messages:
        params = {"chat_id": chat_id, "text": out.html, "parse_mode": "HTML"}
        if "http" in out.html:  # only links get previews; cards should not grow pictures
            params["link_preview_options"] = {"is_disabled": True}
        markup = out.markup or force_reply
        if markup:
            params["reply_markup"] = markup
        if reply_to:
            params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        result = await bot.do_api_request("sendMessage", api_kwargs=params)
        sent = result.get("message_id") if isinstance(result, dict) else None
    return sent


async def edit(bot, chat_id: int, message_id: int, html: str | None = None) -> None:
    """Replace a message's text (when given) and remove its buttons."""
    if html is None:
        await bot.do_api_request("editMessageReplyMarkup", api_kwargs={"chat_id": chat_id, "message_id": message_id})
        return
    params = {"chat_id": chat_id, "message_id": message_id, "text": html, "parse_mode": "HTML"}
    if "http" in html:
        params["link_preview_options"] = {"is_disabled": True}
    await bot.do_api_request("editMessageText", api_kwargs=params)
