"""The Telegram front end: updates in, engine and commands out, messages sent. No flow logic.

One entry point (`on_update`) sees every update, so that nothing a person can send (a
sticker, an edited message, a forged button, a command for another bot) falls through
unanswered or crashes. Each update of a conversation is handled under that conversation's
lock (app.py): load the record, skip an update already handled, ask the engine, save
(compare-and-set), then send.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Callable

from telegram import InlineQueryResultsButton, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from ..engine import Commands, Engine, Progress, Reply, Turn, command_of
from ..engine.reply import FORGET_TOKEN
from ..errors import Conflict, StoreUnavailable
from ..locales import pick, t
from ..store import ConversationKey, ProgressStore, Record
from .render import OutMessage, escape, parse_callback
from .send import deliver, edit, quietly, send

log = logging.getLogger(__name__)


def user_lang(user) -> str:
    return pick(getattr(user, "language_code", None))


def conversation_key(update: Update) -> ConversationKey | None:
    """The chat in a private chat, the chat and the member in a group; None when no person."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return None
    if chat.type == "private":
        return ConversationKey.private(chat.id)
    return ConversationKey.group(chat.id, user.id)


class TelegramFrontend:
    def __init__(self, engine: Engine, store: ProgressStore, admin_ids=frozenset(),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.engine = engine
        self.commands = Commands(engine)
        self.store = store
        self.admin_ids = frozenset(admin_ids)
        self.clock = clock
        # Last question message per conversation, to retire its buttons once answered by text.
        self._last_question: OrderedDict[ConversationKey, tuple[int, int]] = OrderedDict()

    # -- entry point ---------------------------------------------------------------------
    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        for _ in range(3):
            try:
                await self._dispatch(update, context)
                return
            except Conflict:
                # Another process moved this conversation on since we read it. Nothing was sent
                # yet (progress is saved before replying): handle the update again, fresh.
                continue
            except StoreUnavailable:
                await self._tell(update, context, "temporary")  # true: nothing was saved
                return
        log.warning("a conversation kept changing under this update; it was dropped")

    async def _dispatch(self, update: Update, context) -> None:
        if update.inline_query:
            await update.inline_query.answer([], cache_time=300, button=InlineQueryResultsButton(
                t(user_lang(update.inline_query.from_user), "inline"), start_parameter="inline"))
            return
        if update.callback_query:
            await self._on_press(update, context)
            return
        message = update.message or update.edited_message
        if message is None or message.chat.type == "channel":
            return  # channel posts, member updates, polls...: not for us, on purpose
        if message.migrate_to_chat_id:
            moved = await self.store.move_chat(message.chat.id, message.migrate_to_chat_id)
            log.info("group %s became supergroup %s: %d conversation(s) moved",
                     message.chat.id, message.migrate_to_chat_id, moved)
            return
        if message.new_chat_members and any(m.id == context.bot.id for m in message.new_chat_members):
            await send(context.bot, message.chat.id, [OutMessage(t(
                "fr", "group_intro", bot=context.bot.username))], reply_to=None)
            return
        user = message.from_user
        if user is None or user.is_bot or message.migrate_from_chat_id or message.new_chat_members \
                or message.left_chat_member:
            return
        group = message.chat.type != "private"
        action, arg = command_of(message.text, context.bot.username) if message.text else (None, None)
        if action == "other":
            return  # a command for another bot
        if group and action is None and not self._answers_bot(message, context):
            return  # group chatter that is not addressed to us
        if action == "stats" and user.id in self.admin_ids:
            await send(context.bot, message.chat.id, [OutMessage(t(user_lang(user), "stats", n=await self.store.count()))],
                             reply_to=message.message_id if group else None)
            return
        await self._converse(update, context, message, action, arg)

    @staticmethod
    def _answers_bot(message: Message, context) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == context.bot.id)

    # -- a conversation step -------------------------------------------------------------
    async def _converse(self, update: Update, context, message: Message, action, arg) -> None:
        key = conversation_key(update)
        user, chat = message.from_user, message.chat
        now = self.clock()
        record = await self.store.load(key)
        if record is not None and record.handled(update.update_id):
            return  # delivered twice: already handled
        progress = record.progress if record else None
        lang = progress.lang if progress else user_lang(user)
        carried_from = None  # a group conversation continued here in private
        if action == "start" and (arg or "").startswith("g") and chat.type == "private":
            turn, carried_from = await self._carry_over(arg, user, progress, lang, now)
        elif update.edited_message or message.text is None:
            turn = self.commands.run("start", "", progress, lang, now)
            turn.reply.notices.append(t(turn.progress.lang, "edited" if update.edited_message else "media"))
        elif action is not None:
            turn = self.commands.run(action, arg, progress, lang, now)
        else:
            turn = self.commands.text(progress, message.text, lang, now)
        await self._step(update, context, key, record, turn, retire=action is None and message.text is not None,
                         reply_to=message.message_id if chat.type != "private" else None)
        if carried_from is not None:
            await self.store.delete(carried_from)  # only once the private copy is saved

    async def _carry_over(self, payload: str, user, progress: Progress | None, lang: str, now):
        """/start g<group id> in private: continue that group conversation here."""
        try:
            from_key = ConversationKey.group(int(payload[1:]), user.id)
        except ValueError:
            return self.commands.run("start", "", progress, lang, now), None
        carried = await self.store.load(from_key)
        if carried is None:
            return self.commands.run("start", "", progress, lang, now), None
        return Turn(*self.engine.current(carried.progress, now, t(lang, "moved_private"))), from_key

    async def _step(self, update: Update, context, key: ConversationKey, record: Record | None, turn: Turn,
                    reply_to: int | None, edit: Message | None = None, retire: bool = False) -> None:
        """Save first (compare-and-set), then show: a reply is never sent for a step not kept."""
        chat, user = update.effective_chat, update.effective_user
        if turn.effect == "erase":
            await self.store.delete_user(user.id)
            for mine in [k for k in self._last_question if k.user == user.id]:
                del self._last_question[mine]
            log.info("a person erased their data")
        if turn.progress is not None:
            seen = record.seeing(update.update_id) if record else (update.update_id,)
            await self.store.save(key, turn.progress, record.rev if record else 0, seen)
        try:
            if retire:
                await self._retire_buttons(context, key)
            if edit is not None and turn.reply.answer:
                await self._mark_answered(context, edit, turn.reply.answer)
            lang = turn.progress.lang if turn.progress else user_lang(user)
            await self._deliver(context, key, chat.id, user.id, turn.reply, lang, chat.type != "private", reply_to)
        except Forbidden:
            log.info("chat %s blocked the bot; progress kept", chat.id)
        except TelegramError as exc:
            log.warning("a saved step could not be shown (%s)", type(exc).__name__)
            await quietly(send(context.bot, chat.id, [OutMessage(t(user_lang(user), "not_shown"))], None),
                          "telling that a reply could not be shown")

    # -- buttons -------------------------------------------------------------------------
    async def _on_press(self, update: Update, context) -> None:
        query = update.callback_query
        user, message = query.from_user, query.message
        lang = user_lang(user)
        parsed = parse_callback(query.data)
        if not isinstance(message, Message) or parsed is None:
            await self._answer(query, t(lang, "invalid_button"))
            if isinstance(message, Message):
                await self._show_current(update, context, message)
            return
        token, owner, choice = parsed
        if owner != user.id:
            await self._answer(query, t(lang, "not_yours"), show_alert=True)
            return
        key = conversation_key(update)
        reply_to = message.message_id if message.chat.type != "private" else None
        record = await self.store.load(key)
        if token == FORGET_TOKEN:
            await self._answer(query)
            turn = self.commands.confirm_forget(choice, record.progress if record else None, lang, self.clock())
            await self._retire(context, message)
            return await self._step(update, context, key, record, turn, reply_to)
        if record is None:
            await self._answer(query, t(lang, "invalid_button"))
            return await self._show_current(update, context, message)
        if record.handled(update.update_id):
            await self._answer(query)
            return
        progress = record.progress
        if token != self.engine.token(progress):
            if self._is_double_press(progress, token, choice):
                await self._answer(query)  # the same press twice: answered once
                return
            await self._answer(query, t(progress.lang, "stale_button"))
            await self._retire(context, message)
            turn = Turn(*self.engine.current(progress, self.clock()))
            return await self._step(update, context, key, record, turn, reply_to)
        await self._answer(query)
        turn = Turn(*self.engine.choose(progress, choice, token, self.clock()))
        await self._step(update, context, key, record, turn, reply_to, edit=message)

    @staticmethod
    async def _answer(query, text: str | None = None, show_alert: bool = False) -> None:
        """Stop a button's spinner. A press handled again after a conflict was already
        answered, and Telegram refuses a second answer: nothing to tell the person."""
        await quietly(query.answer(text, show_alert=show_alert), "answering a button press")

    def _is_double_press(self, progress: Progress, token: str, choice: str) -> bool:
        if not progress.path:
            return False
        last = progress.path[-1]
        before = progress.with_(node=last.node, path=progress.path[:-1], pending=None, draft=None)
        return last.choice == choice and self.engine.token(before) == token

    async def _show_current(self, update, context, message: Message) -> None:
        key = conversation_key(update)
        record = await self.store.load(key)
        turn = self.commands.run("start", "", record.progress if record else None,
                                 user_lang(update.effective_user), self.clock())
        await self._step(update, context, key, record, turn,
                         reply_to=message.message_id if message.chat.type != "private" else None)

    # -- sending -------------------------------------------------------------------------
    async def _deliver(self, context, key: ConversationKey, chat_id: int, user_id: int, reply: Reply, lang: str,
                       group: bool, reply_to: int | None) -> None:
        sent = await deliver(context.bot, chat_id, user_id, reply, lang, group, reply_to)
        if sent is not None and reply.buttons and reply.kind != "forget":
            self._remember(key, chat_id, sent)

    def _remember(self, key: ConversationKey, chat_id: int, message_id: int) -> None:
        self._last_question[key] = (chat_id, message_id)
        self._last_question.move_to_end(key)
        while len(self._last_question) > 50_000:
            self._last_question.popitem(last=False)

    async def _retire_buttons(self, context, key: ConversationKey) -> None:
        """A typed answer: the previous question's buttons go, so none is left active."""
        where = self._last_question.pop(key, None)
        if where:
            await quietly(edit(context.bot, *where), "removing the buttons of an answered question")

    async def _retire(self, context, message: Message) -> None:
        await quietly(edit(context.bot, message.chat.id, message.message_id), "removing stale buttons")

    async def _mark_answered(self, context, message: Message, answer: str) -> None:
        """Show the chosen answer under the question, and remove its buttons."""
        try:
            await edit(context.bot, message.chat.id, message.message_id,
                             f"{message.text_html}\n\n✔ <b>{escape(answer)}</b>")
        except BadRequest:
            await self._retire(context, message)

    async def _tell(self, update: Update, context, key: str) -> None:
        chat = update.effective_chat
        lang = user_lang(update.effective_user)
        if update.callback_query:
            await quietly(update.callback_query.answer(t(lang, key), show_alert=True), "answering a press")
        elif chat is not None:
            await quietly(send(context.bot, chat.id, [OutMessage(t(lang, key))], reply_to=None),
                          f"telling the person: {key}")

    async def on_error(self, update: object, context) -> None:
        """Log which kind of update failed and where: never its text, never the token."""
        kind = chat = None
        if isinstance(update, Update):
            kind = next((name for name in ("message", "edited_message", "callback_query", "inline_query",
                                           "channel_post", "my_chat_member") if getattr(update, name)), "other")
            chat = update.effective_chat.id if update.effective_chat else None
        log.error("failed to handle a %s update in chat %s: %s", kind, chat,
                  type(context.error).__name__, exc_info=context.error)
        if isinstance(update, Update):
            await self._tell(update, context, "unexpected")
