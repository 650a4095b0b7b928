"""Publishing the bot's entry post in a channel or group: a short presentation with a button
that opens the private chat on a flow, pinned when allowed, edited in place when published again."""
from __future__ import annotations

import logging

from telegram.error import BadRequest, Forbidden

from ..locales import t
from ..store import Administration

log = logging.getLogger(__name__)


async def publish(bot, store: Administration, target: str | int, title: str, flow_id: str, lang: str = "fr",
                  any_company: bool = False) -> str:
    """Publish (or update) the entry post of a flow in `target` (@name or id); return the
    sentence that tells the admin what happened, a refusal included. `any_company`: the flow is
    the general one (« Un problème avec une entreprise ? »), not one company's."""
    try:  # plain dicts: only a few fields are needed
        chat = await bot.do_api_request("getChat", api_kwargs={"chat_id": target})
        me = await bot.do_api_request("getChatMember", api_kwargs={"chat_id": chat["id"], "user_id": bot.id})
    except (BadRequest, Forbidden) as exc:
        log.info("publishing refused: %s", type(exc).__name__)
        return t(lang, "publish_no_chat", chat=target)
    chat_id, name, creator = chat["id"], _name(chat), me.get("status") == "creator"
    if me.get("status") not in ("administrator", "creator"):
        return t(lang, "publish_not_admin", chat=name)
    if chat.get("type") == "channel" and not (creator or me.get("can_post_messages")):
        return t(lang, "publish_cannot_post", chat=name)
    text = t(lang, "entry_post_any") if any_company else t(lang, "entry_post", title=title)
    start = f"https://t.me/{bot.username}?start={flow_id}"
    markup = {"inline_keyboard": [[{"text": t(lang, "entry_button"), "url": start}]]}
    existing = await store.entry_post(chat_id)
    if existing is not None:
        try:
            await bot.do_api_request("editMessageText", api_kwargs={
                "chat_id": chat_id, "message_id": existing, "text": text, "reply_markup": markup})
            return t(lang, "publish_updated", chat=name)
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return t(lang, "publish_unchanged", chat=name)
            log.info("the entry post of chat %s is gone (%s): publishing a new one", chat_id, exc)
    try:
        sent = await bot.do_api_request("sendMessage", api_kwargs={"chat_id": chat_id, "text": text,
                                                                   "reply_markup": markup})
    except (BadRequest, Forbidden):
        return t(lang, "publish_cannot_post", chat=name)
    await store.set_entry_post(chat_id, sent["message_id"])
    # Pinning needs the right to edit messages in a channel, to pin them in a group.
    if creator or me.get("can_edit_messages" if chat.get("type") == "channel" else "can_pin_messages"):
        try:
            await bot.do_api_request("pinChatMessage", api_kwargs={
                "chat_id": chat_id, "message_id": sent["message_id"], "disable_notification": True})
            return t(lang, "publish_done_pinned", chat=name)
        except (BadRequest, Forbidden):
            pass
    return t(lang, "publish_done_not_pinned", chat=name)


def _name(chat: dict) -> str:
    return f"@{chat['username']}" if chat.get("username") else (chat.get("title") or str(chat["id"]))
