"""The Telegram front end: updates in, engine and commands out, messages sent. No flow logic.

One entry point (`on_update`) sees every update, so that nothing a person can send (a
sticker, an edited message, a forged button, a command for another bot) falls through
unanswered or crashes. Each update of a conversation is handled under that conversation's
lock (app.py): load the record, skip an update already handled, ask the engine, save
(compare-and-set), then send.
"""
from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Callable

from telegram import InlineQueryResultsButton, Message, Update
from telegram.error import BadRequest, ChatMigrated, EndPointNotFound, Forbidden, TelegramError
from telegram.ext import ContextTypes

from ..conversation import Conversations, retried
from ..engine import Commands, Engine, Progress, Turn, command_of
from ..engine.followup import CASE_TOKEN
from ..engine.reply import FORGET_TOKEN
from ..errors import Conflict, StoreUnavailable, Unreadable
from ..flow.model import tr
from ..locales import languages, pick, t
from ..lru import LRU
from ..ops.metrics import NO_METRICS, update_kind
from ..store import ConversationKey, ProgressStore, Record
from .render import OutMessage, escape, parse_callback
from .publish import publish
from .receipts import Receipts
from .send import Call, api_call, deliver, edit_into, edit_item, outbox_of, plan, quietly, send

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


def person_key(update: Update) -> ConversationKey:
    """The conversation of an update that comes from a person (a message or a press: the
    only ones the handlers take)."""
    key = conversation_key(update)
    if key is None:
        raise ValueError("an update from no person reached a conversation handler")
    return key


OUTBOX_WAIT = 1.0  # seconds a typed answer waits for the question it answers to be marked shown

# Replies that are one plain question: what a pressed message can be edited into.
IN_PLACE = frozenset({"choice", "text", "free", "date", "confirm"})


def _in_place(key: ConversationKey, turn: Turn, items: list[Call]) -> bool:
    """Whether a press's reply can replace the pressed message: an answer taken to a question
    (not an info message's « continue »: its text stays to be read), in a private chat (a
    group's typed questions need ForceReply, which only a new message carries), and the reply
    a single message (no outcome, no document)."""
    path = turn.progress.path if turn.progress is not None else ()
    return key.kind == "private" and turn.reply.kind in IN_PLACE and bool(turn.reply.answer) \
        and bool(path) and path[-1].choice != "continue" \
        and len(items) == 1 and items[0].method == "sendMessage"


_TAG = re.compile(r"<[^>]+>")


@lru_cache(maxsize=1)
def _summary_titles() -> frozenset[str]:
    return frozenset(t(lang, "summary_title") for lang in languages())


def _shows_summary(message: Message) -> bool:
    """Whether a pressed message is a /recap summary (it carries the current question's
    buttons): it stays as it is, marked with the answer, and the next question comes anew."""
    titles = _summary_titles()
    return any(_TAG.sub("", line).strip() in titles for line in (message.text or "").splitlines())


def _asker(message: Message):
    """Who wrote the message a pressed bot message answers, when Telegram says (in groups the
    bot's questions and prompts answer the member's own message)."""
    replied = message.reply_to_message
    return replied.from_user if replied is not None else None


def _not_theirs(key: ConversationKey, record: Record | None, message: Message, user_id: int, prompt: bool) -> bool:
    """In a group, whether a pressed message is not the presser's conversation's question:
    another member's message pressed with data made up to carry the presser's id, or an old
    question of theirs. Nothing is applied then, and the message is not edited. The question
    on record (`Record.question`) decides; an /oublier prompt (never on record) or a question
    not marked delivered yet must answer the presser's own message (Telegram says so in the
    pressed message's `reply_to_message`)."""
    if key.kind != "group":
        return False
    if not prompt and record is not None and record.question is not None:
        return message.message_id != record.question
    asker = _asker(message)
    return asker is None or asker.id != user_id  # whose it is cannot be told: not applied


def _thread(message: Message) -> int | None:
    """The forum topic or comment thread a group message belongs to (replies go there too)."""
    return message.message_thread_id if message.chat.type != "private" else None


class TelegramFrontend:
    def __init__(self, engine: Engine, store: ProgressStore, admin_ids=frozenset(),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 stats_source: tuple[str, str] = ("", ""), receipts: Receipts | None = None, metrics=NO_METRICS):
        """`metrics`: the Application's own (bot/ops/metrics.py); `receipts`: what the webhook
        and the poller acknowledge (receipts.py)."""
        self.engine = engine
        self.receipts = receipts or Receipts()
        self.commands = Commands(engine)
        self.conversations = Conversations(engine, store, clock, metrics)
        self.metrics = metrics
        self.store = store
        self.admin_ids = frozenset(admin_ids)
        self.clock = clock
        self.stats_source = stats_source  # (store URL, flows folder) that /stats reads from
        # Callback queries this process answered: an update handled again after a conflict does
        # not answer twice (another process's second answer is refused by Telegram, quietly).
        self._answered_queries: LRU[str, bool] = LRU(1000)
        self._restarted: set[ConversationKey] = set()  # loaded just now: unreadable, owner not told yet
        self._told_away: set[ConversationKey] = set()  # told the store is away, not yet saved since

    # -- entry point ---------------------------------------------------------------------
    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Handle an update; its receipt says whether it was kept (receipts.py): refused when
        the store is away, so that Telegram sends it again and it is applied once it is back."""
        try:
            if not await retried(lambda: self._dispatch(update, context)):
                self.receipts.refused(update.update_id)
                log.warning("a conversation kept changing under this update; it is left for Telegram to send again")
        except StoreUnavailable:
            self.receipts.refused(update.update_id)
            await self._store_away(update, context)
        finally:
            self.receipts.kept(update.update_id)  # handled, nothing to keep (or kept already)

    async def _store_away(self, update: Update, context) -> None:
        """Say once per conversation that the answer is delayed (a press is always answered:
        its spinner must stop); said again only after a step of theirs was saved since. A
        message that could not be sent (a flood pause) is tried again at the update's next
        delivery, so that nobody is left with nothing."""
        key = conversation_key(update)
        if update.callback_query is None and key in self._told_away:
            return
        if await self._tell(update, context, "temporary") and update.callback_query is None:
            if len(self._told_away) > 10_000:
                self._told_away.clear()
            if key is not None:
                self._told_away.add(key)

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
        if action == "publish" and not group:
            await send(context.bot, message.chat.id, [OutMessage(await self._publish(context.bot, user, arg or ""))])
            return
        if action == "stats" and user.id in self.admin_ids:
            await self._stats(context.bot, message, user_lang(user), group)
            return
        await self._converse(update, context, message, action, arg)

    async def _publish(self, bot, user, target: str) -> str:
        """/publier @canal [flow]: the entry post of a flow (the default one: any company), for
        the bot's admins only."""
        lang = user_lang(user)
        if user.id not in self.admin_ids:
            return t(lang, "publish_not_allowed")
        if not target:
            return t(lang, "publish_usage")
        where, *which = target.split()
        machine = self.engine.flows.get(which[0] if which else self.engine.flows.default or "")
        if machine is None:
            return t(lang, "publish_unknown_flow", flow=which[0], flows=", ".join(self.engine.flows.ids))
        flow = machine.flow
        return await publish(bot, self.store, where, tr(flow.title, lang), flow.id, lang, flow.directory is not None)

    async def _stats(self, bot, message: Message, lang: str, group: bool) -> None:
        """/stats, admins only: the last 30 days in a paragraph, and the funnel as a picture,
        read and drawn in a process of its own: the event loop keeps serving everyone."""
        from ..ops.report import admin_summary_apart
        text, picture = await admin_summary_apart(*self.stats_source, lang)
        await send(bot, message.chat.id, [OutMessage(escape(text))], reply_to=message.message_id if group else None)
        await bot.send_photo(message.chat.id, picture, filename="funnel.png")

    @staticmethod
    def _answers_bot(message: Message, context) -> bool:
        replied = message.reply_to_message
        return bool(replied and replied.from_user and replied.from_user.id == context.bot.id)

    # -- a conversation step -------------------------------------------------------------
    async def _converse(self, update: Update, context, message: Message, action, arg) -> None:
        key = person_key(update)
        user, chat = message.from_user, message.chat
        now = self.clock()
        record = await self._load(key)
        if record is not None and record.handled(update.update_id):
            await self.flush(context.bot, key, record)  # delivered twice: its reply shown, if it was lost
            return
        if record is not None and record.outbox and action != "forget":
            # The last step's reply is not marked shown: another process may be showing it right
            # now, or the one that saved it died (before or after Telegram took it), or Telegram
            # refused it. It is shown first (at least once), then this update applied; while it
            # cannot be shown, the update is left for Telegram to send again.
            record = await self._shown_meanwhile(key, record)
            if record is not None and record.outbox:
                if not await self.flush(context.bot, key, record):
                    self.receipts.held(update.update_id)  # this conversation's trouble, not the store's
                    return
                record = await self._load(key)
        progress = record.progress if record else None
        lang = progress.lang if progress else user_lang(user)
        carried_from = None  # a group conversation continued here in private
        if action == "start" and (arg or "").startswith("g") and chat.type == "private":
            turn, carried_from = await self._carry_over(arg, user, progress, lang, now)
        elif update.edited_message or message.text is None:
            turn = self.commands.run("start", "", progress, lang, now)
            turn.reply.notices.append(t(turn.progress.lang if turn.progress else lang,
                                        "edited" if update.edited_message else "media"))
        elif action is not None:
            turn = self.commands.run(action, arg, progress, lang, now)
        else:
            turn = self.commands.text(progress, message.text, lang, now)
        await self._step(update, context, key, record, turn, retire=action is None and message.text is not None,
                         reply_to=message.message_id if chat.type != "private" else None, thread=_thread(message))
        if carried_from is not None:
            await self.store.delete(carried_from)  # only once the private copy is saved

    async def _shown_meanwhile(self, key: ConversationKey, record: Record) -> Record | None:
        """The record once its outbox is marked shown, when that happens within OUTBOX_WAIT
        seconds (with several processes, the one that saved the last step may be showing its
        question right now: Telegram confirmed it, the store not yet, and the person answered
        at once); else the record as it is."""
        deadline = asyncio.get_running_loop().time() + OUTBOX_WAIT
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            fresh = await self._load(key)
            if fresh is None or not fresh.outbox or fresh.rev != record.rev:
                return fresh
        return record

    async def _carry_over(self, payload: str, user, progress: Progress | None, lang: str, now):
        """/start g<group id> in private: continue that group conversation here."""
        try:
            from_key = ConversationKey.group(int(payload[1:]), user.id)
        except ValueError:
            return self.commands.run("start", "", progress, lang, now), None
        carried = await self._load(from_key)
        if carried is None:
            return self.commands.run("start", "", progress, lang, now), None
        return Turn(*self.engine.current(carried.progress, now, t(lang, "moved_private"))), from_key

    async def _load(self, key: ConversationKey) -> Record | None:
        """The record; None when there is none, or when it was set aside as unreadable (the
        store says so until they start again: then their reply says why, in any process)."""
        record, restarted = await self.conversations.load(key)
        if restarted:
            self._restarted.add(key)
        else:
            self._restarted.discard(key)
        return record

    async def _step(self, update: Update, context, key: ConversationKey, record: Record | None, turn: Turn,
                    reply_to: int | None, edit: Message | None = None, retire: bool = False,
                    thread: int | None = None) -> None:
        """Save the step with what it must show (its outbox: bot/conversation.py), then show
        it: a reply is never sent for a step not kept, and a step kept is shown, now or by a
        later retry."""
        chat, user = update.effective_chat, update.effective_user
        assert chat is not None and user is not None  # a person's update (person_key)
        turn = self.conversations.ruled(key, record, turn, restarted=key in self._restarted)

        def calls(turn: Turn, progress: Progress | None) -> list[Call]:
            lang = progress.lang if progress else user_lang(user)
            items = plan(turn.reply, lang, chat.id, user.id, chat.type != "private", reply_to, context.bot.username,
                         thread)
            # Then the answered question loses its buttons: after the reply, so that if the reply
            # cannot be sent, the person can still press again (and gets it then).
            if retire and record is not None and record.question is not None:
                items.append(edit_item(chat.id, record.question))
            if edit is not None and _in_place(key, turn, items) and not _shows_summary(edit):
                # A press that leads to another plain question: the pressed message becomes it,
                # the answer taken on top (one edit instead of an edit and a new message).
                return [edit_into(edit.chat.id, edit.message_id, f"✔ <b>{escape(turn.reply.answer or '')}</b>", items[0])]
            # The pressed message: marked with the answer taken, or its buttons removed; not for a
            # detail or the follow-up, whose outcome keeps its buttons (another detail, the letter).
            if edit is not None and turn.reply.kind not in ("detail", "case"):
                items.append(edit_item(edit.chat.id, edit.message_id, turn.reply.answer and
                                       f"{edit.text_html}\n\n✔ <b>{escape(turn.reply.answer)}</b>"))
            return items
        step = await self.conversations.commit(key, record, turn, lambda turn, progress: outbox_of(calls(turn, progress)),
                                               update.update_id)
        if step.record is None:  # nothing kept about this person: nothing to show again later
            await deliver(context.bot, step.outbox)
            return
        self.receipts.kept(update.update_id)  # Telegram may forget it now: the outbox shows the reply
        self._told_away.discard(key)
        await self.flush(context.bot, key, step.record)

    async def flush(self, bot, key: ConversationKey, record: Record) -> bool:
        """Show a record's outbox and empty it once Telegram confirmed every message. A
        refusal for good (blocked, or a message Telegram cannot take) empties it too, so
        nobody stays stuck behind it; any other failure leaves it for the next retry (False)."""
        if not record.outbox:
            return True
        question = record.question
        try:
            shown = await deliver(bot, record.outbox)
            retired = any(Call.of(item).params.get("message_id") == question for item in record.outbox)
            question = shown if shown is not None else None if retired else question
        except Forbidden:
            log.info("chat %s blocked the bot; progress kept, the reply leaves the outbox", key.chat)
            await self._blocked(key)
        except (BadRequest, ChatMigrated, EndPointNotFound) as exc:  # a group that became a supergroup: its
            log.warning("Telegram refused a reply for chat %s for good (%s); it leaves the outbox",  # members
                        key.chat, type(exc).__name__)  # follow with the migration update; this reply stays behind
        except TelegramError as exc:
            log.warning("a saved step's reply is not shown yet in chat %s (%s); it will be sent again",
                        key.chat, type(exc).__name__)
            return False
        await self.store.delivered(key, record.rev, question)
        return True

    async def _blocked(self, key: ConversationKey) -> None:
        """Telegram says the person blocked the bot: their case's reminders are cancelled."""
        try:
            if await self.conversations.unreachable(key):
                log.info("chat %s blocked the bot: its follow-up reminders are cancelled", key.chat)
        except (Conflict, StoreUnavailable, Unreadable) as exc:
            log.warning("could not cancel the reminders of chat %s (%s); the next one will try again",
                        key.chat, type(exc).__name__)

    # -- reminders ---------------------------------------------------------------------------
    async def remind(self, bot, key: ConversationKey, reminder: str, due: float) -> None:
        """A reminder this process claimed: put its question through the outbox, with the step
        that marks it sent (and plans the next), or drop the row when nothing is to be sent."""
        try:  # a Conflict: the person answered meanwhile, read again
            if not await retried(lambda: self._remind(bot, key, reminder, due)):
                log.warning("a conversation kept changing under a reminder; it will be tried again")
        except StoreUnavailable:
            pass  # the claim runs out and the reminder is taken again later

    async def _remind(self, bot, key: ConversationKey, reminder: str, due: float) -> None:
        record = await self._load(key)
        question = record.question if record is not None else None
        chat = key.chat or 0  # a private chat (others are not reminded: Conversations.remind)

        def calls(turn: Turn, progress: Progress) -> list[Call]:
            items = plan(turn.reply, progress.lang, chat, chat, False, None, bot.username)
            if turn.reply.kind != "case" and question is not None:  # they were moved: the old question goes
                items.append(edit_item(chat, question))
            return items
        step = await self.conversations.remind(key, record, reminder, due,
                                               lambda turn, progress: outbox_of(calls(turn, progress)))
        if step is not None and step.record is not None:
            await self.flush(bot, key, step.record)

    # -- buttons -------------------------------------------------------------------------
    async def _on_press(self, update: Update, context) -> None:
        query = update.callback_query
        assert query is not None  # the handler takes presses only
        user, message = query.from_user, query.message
        lang = user_lang(user)
        parsed = parse_callback(query.data or "")
        if not isinstance(message, Message) or parsed is None:
            await self._answer(query, t(lang, "invalid_button"))
            return
        token, owner, choice = parsed
        if owner != user.id:
            await self._answer(query, t(lang, "not_yours"), show_alert=True)
            return
        key = person_key(update)
        reply_to = message.message_id if message.chat.type != "private" else None
        thread = _thread(message)
        record = await self._load(key)
        if _not_theirs(key, record, message, user.id, prompt=token == FORGET_TOKEN):
            await self._answer(query, t(lang, "stale_button"))  # nothing applied, the message left as it is
            return
        if token == FORGET_TOKEN:
            await self._answer(query)
            if not await self.store.answer_once(message.chat.id, message.message_id, user.id, update.update_id):
                return  # the same confirmation pressed twice (in this process or another)
            turn = self.commands.confirm_forget(choice, record.progress if record else None, lang, self.clock())
            asker = _asker(message)
            mine = key.kind == "private" or (asker is not None and asker.id == user.id)  # else left as it is
            return await self._step(update, context, key, record, turn, reply_to, edit=message if mine else None,
                                    thread=thread)
        if record is None:  # a button from before an erasure, or forged: nothing to create
            await self._answer(query, t(lang, "invalid_button"))
            return
        current = token in (self.engine.token(record.progress), CASE_TOKEN)
        if record.outbox and not current and not record.handled(update.update_id):
            record = await self._shown_meanwhile(key, record)  # another process may be showing it right now
            if record is None:
                await self._answer(query, t(lang, "invalid_button"))
                return
            current = token in (self.engine.token(record.progress), CASE_TOKEN)
        progress = record.progress
        if record.outbox and not current or record.handled(update.update_id):
            await self._answer(query)
            await self.flush(context.bot, key, record)  # the question they have not seen yet
            return
        if not current:  # the same press twice (answered once), or a button of an older question
            turn = Turn(*self.engine.choose(progress, choice, token, self.clock()))
            await self._answer(query, None if turn.reply.kind == "again" else t(progress.lang, "stale_button"))
            if turn.reply.kind != "again":
                await self._step(update, context, key, record, turn, reply_to, edit=message, thread=thread)
            return
        # The spinner is stopped while the step is worked out and saved, not before: the
        # next question shows one Bot API round trip sooner.
        answering = asyncio.ensure_future(self._answer(query))
        try:
            turn = Turn(*self.engine.choose(progress, choice, token, self.clock()))
            await self._step(update, context, key, record, turn, reply_to, edit=message, thread=thread)
        finally:
            await answering

    async def _answer(self, query, text: str | None = None, show_alert: bool = False) -> None:
        """Stop a button's spinner, once: an update handled again after a conflict must not
        answer again (Telegram refuses a second answer)."""
        if query.id in self._answered_queries:
            return
        self._answered_queries.put(query.id, True)
        await quietly(api_call(query.get_bot(), "answerCallbackQuery",
                               {"callback_query_id": query.id, "text": text, "show_alert": show_alert or None}),
                      "answering a button press")

    async def _tell(self, update: Update, context, key: str) -> bool:
        """Say something that belongs to no step; whether Telegram took it."""
        chat = update.effective_chat
        lang = user_lang(update.effective_user)
        if update.callback_query:
            return await quietly(update.callback_query.answer(t(lang, key), show_alert=True),
                                 "answering a press") is not None
        if chat is not None:
            try:
                await send(context.bot, chat.id, [OutMessage(t(lang, key))])
                return True
            except TelegramError as exc:
                log.debug("ignored %s while telling the person: %s", type(exc).__name__, key)
        return False

    async def on_error(self, update: object, context) -> None:
        """Log which kind of update failed and where: never its text, never the token."""
        if not isinstance(update, Update):  # a background job (app.py): its name, its traceback
            job = getattr(getattr(context, "job", None), "name", None) or "background work"
            log.error("%s failed: %s", job, type(context.error).__name__, exc_info=context.error)
            return
        chat = update.effective_chat.id if update.effective_chat else None
        log.error("failed to handle a %s update in chat %s: %s", update_kind(update), chat,
                  type(context.error).__name__, exc_info=context.error)
        await self._tell(update, context, "unexpected")
