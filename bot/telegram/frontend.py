"""The Telegram front end: updates in, engine calls, messages out. No flow logic lives here.

One entry point (`on_update`) sees every update, so that nothing a user can send (a
sticker, an edited message, a forged button, a command for another bot) falls through
unanswered or crashes. Each update of a conversation is handled under that conversation's
lock: load progress, skip duplicates, ask the engine, save (compare-and-set), then send.
"""
from __future__ import annotations

import logging
import warnings
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Callable

from telegram import InlineQueryResultsButton, InputFile, Message, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from ..commands import command_of
from ..engine import Engine
from ..progress import Progress
from ..reply import Reply
from ..store import Conflict, StoreUnavailable, group_key, private_key
from .render import OutMessage, button, escape, parse_callback, render

log = logging.getLogger(__name__)

# Messages go out through Bot.do_api_request with plain dicts: the front end needs only the
# sent message's id, and building then parsing full Message objects was most of the cost of
# an update (bench/). PTB suggests its typed methods when one exists; that is what we avoid.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.")

TEXTS = {
    "fr": {
        "media": "Je ne lis que le texte : décrivez votre situation en quelques mots, ou utilisez les boutons.",
        "edited": "Je ne tiens pas compte des messages modifiés : envoyez plutôt un nouveau message.",
        "unknown_command": "Je ne connais pas cette commande. Tapez /aide pour la liste.",
        "stale_button": "Ce bouton appartient à une question précédente.",
        "invalid_button": "Ce bouton n'est plus valide.",
        "not_yours": "Ce bouton appartient à un autre membre. Tapez /start pour faire votre propre démarche.",
        "temporary": "Un problème temporaire m'empêche d'enregistrer votre réponse. Réessayez dans un instant : rien n'est perdu.",
        "forget_ask": "Effacer tout ce que je garde sur vous (votre progression ici et dans les groupes) ? C'est définitif.",
        "forget_yes": "Oui, tout effacer",
        "forget_no": "Non, garder",
        "forgotten": "C'est fait : tout ce que je gardais sur vous est effacé ({n} enregistrement(s)). Tapez /start pour recommencer.",
        "kept": "D'accord, je garde votre progression.",
        "resumed": "Reprenons où vous en étiez.",
        "moved_private": "On continue ici, en privé. Vos réponses vous ont suivi.",
        "private_button": "💬 Continuer en privé",
        "details_button": "📄 Détails et modèle de lettre en privé",
        "or_choose": "Ou choisissez :",
        "placeholder": "Décrivez votre problème…",
        "inline": "Ouvrir l'assistant réclamation",
        "group_intro": "Bonjour ! Je guide chacun dans sa réclamation. Tapez /start@{bot} pour commencer ; chacun a son propre parcours.",
        "commands": ("Commandes : /start pour commencer ou reprendre, /retour, /recommencer, "
                     "/recap (où j'en suis), /oublier (effacer mes données), /aide."),
        "stats": "{n} conversation(s) enregistrée(s).",
    },
    "en": {
        "media": "I only read text: describe your situation in a few words, or use the buttons.",
        "edited": "I don't take edited messages into account: please send a new message instead.",
        "unknown_command": "I don't know that command. Type /help for the list.",
        "stale_button": "That button belongs to an earlier question.",
        "invalid_button": "This button is no longer valid.",
        "not_yours": "This button belongs to another member. Type /start to begin your own.",
        "temporary": "A temporary problem stops me from saving your answer. Please try again in a moment: nothing is lost.",
        "forget_ask": "Erase everything I keep about you (your progress here and in groups)? This cannot be undone.",
        "forget_yes": "Yes, erase everything",
        "forget_no": "No, keep it",
        "forgotten": "Done: everything I kept about you is erased ({n} record(s)). Type /start to begin again.",
        "kept": "All right, I keep your progress.",
        "resumed": "Let's carry on where you left off.",
        "moved_private": "Let's continue here, in private. Your answers came along.",
        "private_button": "💬 Continue in private",
        "details_button": "📄 Details and letter template in private",
        "or_choose": "Or pick:",
        "placeholder": "Describe your problem…",
        "inline": "Open the complaint assistant",
        "group_intro": "Hello! I guide each member through their complaint. Type /start@{bot} to begin; everyone has their own progress.",
        "commands": ("Commands: /start to begin or resume, /back, /restart, /summary (where I am), "
                     "/forget (erase my data), /help."),
        "stats": "{n} stored conversation(s).",
    },
}
FORGET = "forget"


def say(lang: str, key: str, **values) -> str:
    text = TEXTS.get(lang, TEXTS["fr"])[key]
    return text.format(**values) if values else text


def user_lang(user) -> str:
    code = (getattr(user, "language_code", None) or "fr").lower()
    return "en" if code.startswith("en") else "fr"


def conversation_key(update: Update) -> str | None:
    """private:<chat> in a private chat, group:<chat>:<user> in a group; None when no person."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return None
    if chat.type == "private":
        return private_key(chat.id)
    return group_key(chat.id, user.id)


class TelegramFrontend:
    def __init__(self, engine: Engine, store, admin_ids=frozenset(),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.engine = engine
        self.store = store
        self.admin_ids = frozenset(admin_ids)
        self.clock = clock
        # Last question message per conversation, to retire its buttons once answered by text.
        self._last_question: OrderedDict[str, tuple[int, int]] = OrderedDict()

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
                await self._tell(update, context, "temporary")
                return
        log.warning("a conversation kept changing under this update; it was dropped")

    async def _dispatch(self, update: Update, context) -> None:
        if update.inline_query:
            await update.inline_query.answer([], cache_time=300, button=InlineQueryResultsButton(
                say(user_lang(update.inline_query.from_user), "inline"), start_parameter="inline"))
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
            await self._send(context, message.chat.id, [OutMessage(say(
                "fr", "group_intro", bot=context.bot.username))], reply_to=None)
            return
        user = message.from_user
        if user is None or user.is_bot or message.migrate_from_chat_id or message.new_chat_members \
                or message.left_chat_member:
            return
        group = message.chat.type != "private"
        text = message.text
        action, arg = command_of(text, context.bot.username) if text else (None, None)
        if action == "other":
            return  # a command for another bot
        if group and action is None and not self._answers_bot(message, context):
            return  # group chatter that is not addressed to us
        if action == "forget":
            await self._ask_forget(message, context)
            return
        if action == "stats":
            if user.id in self.admin_ids:
                n = await self.store.count()
                await self._send(context, message.chat.id, [OutMessage(say(user_lang(user), "stats", n=n))],
                                 reply_to=message.message_id if group else None)
                return
            action = "unknown"
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
        progress = await self.store.load(key)
        if progress and progress.last_update is not None and update.update_id <= progress.last_update:
            return  # delivered twice: already handled
        lang = progress.lang if progress else user_lang(user)
        carried_from = None  # a group conversation continued here in private
        retire = False
        if progress is None and action not in ("start",):
            progress, reply = self.engine.start(None, lang, now)
            if action is None and message.text and update.message:
                progress, reply = self.engine.text(progress, message.text, now)  # first words count
            elif action == "unknown":
                reply.notices.insert(0, say(lang, "unknown_command"))
        elif action == "start":
            progress, reply, carried_from = await self._start(progress, arg, user, chat, lang, now)
        elif update.edited_message:
            progress, reply = self.engine.current(progress, now, say(lang, "edited"))
        elif message.text is None:
            progress, reply = self.engine.current(progress, now, say(lang, "media"))
        elif action == "help":
            progress, reply = self.engine.help(progress, now)
            reply.notices.append(say(lang, "commands"))
        elif action == "back":
            progress, reply = self.engine.back(progress, now)
        elif action == "restart":
            progress, reply = self.engine.restart(progress, now)
        elif action == "summary":
            progress, reply = self.engine.summary(progress, now)
        elif action == "unknown":
            progress, reply = self.engine.current(progress, now, say(lang, "unknown_command"))
        else:
            progress, reply = self.engine.text(progress, message.text, now)
            retire = True
        await self._commit_and_send(update, context, key, progress, reply,
                                    reply_to=message.message_id if chat.type != "private" else None,
                                    retire=retire)
        if carried_from:
            await self.store.delete(carried_from)  # only once the private copy is saved

    async def _start(self, progress, payload, user, chat, lang, now):
        """/start [payload]: continue a group conversation in private (g<chat id>), open a
        flow by id, or resume. Returns progress, reply and the group key carried over."""
        payload = (payload or "").strip()
        rev = progress.rev if progress else 0
        if payload.startswith("g") and chat.type == "private":
            try:
                from_key = group_key(int(payload[1:]), user.id)
            except ValueError:
                from_key = None
            carried = await self.store.load(from_key) if from_key else None
            if carried is not None:
                moved = carried.with_(rev=rev, last_update=None)
                moved, reply = self.engine.current(moved, now, say(lang, "moved_private"))
                return moved, reply, from_key
        if payload in self.engine.flows.ids and (progress is None or progress.flow != payload):
            fresh, reply = self.engine.start(payload, lang, now)
            return fresh.with_(rev=rev), reply, None
        if progress is not None:
            return *self.engine.current(progress, now, say(lang, "resumed")), None
        return *self.engine.start(None, lang, now), None

    async def _commit_and_send(self, update, context, key, progress: Progress, reply: Reply,
                               reply_to: int | None, edit: Message | None = None, retire: bool = False) -> None:
        """Save first (compare-and-set), then show: a reply is never sent for a step not kept."""
        chat, user = update.effective_chat, update.effective_user
        saved = await self.store.save(key, progress.with_(last_update=update.update_id),
                                      user_id=user.id, chat_id=chat.id)
        if retire:
            await self._retire_buttons(context, key)
        if edit is not None and reply.answer:
            await self._mark_answered(context, edit, reply.answer)
        await self._deliver(context, key, chat.id, user.id, reply, saved.lang, chat.type != "private", reply_to)

    # -- buttons -------------------------------------------------------------------------
    async def _on_press(self, update: Update, context) -> None:
        query = update.callback_query
        user, message = query.from_user, query.message
        lang = user_lang(user)
        parsed = parse_callback(query.data)
        if message is None or not isinstance(message, Message):
            await self._answer(query, say(lang, "invalid_button"))
            return
        if parsed is None:
            await self._answer(query, say(lang, "invalid_button"))
            return await self._show_current(update, context, message)
        token, owner, choice = parsed
        if owner != user.id:
            await self._answer(query, say(lang, "not_yours"), show_alert=True)
            return
        if token == FORGET:
            return await self._forget(query, context, choice == "yes", lang)
        key = conversation_key(update)
        progress = await self.store.load(key)
        if progress is None:
            await self._answer(query, say(lang, "invalid_button"))
            return await self._show_current(update, context, message)
        if progress.last_update is not None and update.update_id <= progress.last_update:
            await self._answer(query, )
            return
        if token != self.engine.token(progress):
            if self._is_double_press(progress, token, choice):
                await self._answer(query, )  # the same press twice: answered once
                return
            await self._answer(query, say(progress.lang, "stale_button"))
            await self._retire(context, message)
            progress, reply = self.engine.current(progress, self.clock())
            return await self._commit_and_send(update, context, key, progress, reply,
                                               reply_to=message.message_id if message.chat.type != "private" else None)
        await self._answer(query, )
        progress, reply = self.engine.choose(progress, choice, token, self.clock())
        await self._commit_and_send(update, context, key, progress, reply,
                                    reply_to=message.message_id if message.chat.type != "private" else None,
                                    edit=message)

    @staticmethod
    async def _answer(query, text: str | None = None, show_alert: bool = False) -> None:
        """Answer a button press (stops its spinner). A press handled again after a conflict
        was already answered: Telegram refuses a second answer, which is fine."""
        try:
            await query.answer(text, show_alert=show_alert)
        except TelegramError:
            pass

    def _is_double_press(self, progress: Progress, token: str, choice: str) -> bool:
        if not progress.path:
            return False
        last = progress.path[-1]
        before = progress.with_(node=last[0], path=progress.path[:-1], pending=None, draft=None)
        return last[1] == choice and self.engine.token(before) == token

    async def _show_current(self, update, context, message: Message) -> None:
        key = conversation_key(update)
        progress = await self.store.load(key)
        lang = progress.lang if progress else user_lang(update.effective_user)
        if progress is None:
            progress, reply = self.engine.start(None, lang, self.clock())
        else:
            progress, reply = self.engine.current(progress, self.clock())
        await self._commit_and_send(update, context, key, progress, reply,
                                    reply_to=message.message_id if message.chat.type != "private" else None)

    # -- /oublier ------------------------------------------------------------------------
    async def _ask_forget(self, message: Message, context) -> None:
        user = message.from_user
        lang = user_lang(user)
        buttons = [[button(say(lang, "forget_yes"), f"{FORGET}:{user.id}:yes")],
                   [button(say(lang, "forget_no"), f"{FORGET}:{user.id}:no")]]
        await self._send(context, message.chat.id, [OutMessage(say(lang, "forget_ask"), buttons)],
                         reply_to=message.message_id if message.chat.type != "private" else None)

    async def _forget(self, query, context, confirmed: bool, lang: str) -> None:
        await query.answer()
        if confirmed:
            n = await self.store.delete_user(query.from_user.id)
            for key in [k for k in self._last_question
                        if k == private_key(query.from_user.id) or k.endswith(f":{query.from_user.id}")]:
                del self._last_question[key]
            log.info("a user erased their data (%d record(s))", n)
            text = say(lang, "forgotten", n=n)
        else:
            text = say(lang, "kept")
        try:
            await self._edit(context, query.message.chat.id, query.message.message_id, escape(text))
        except TelegramError:
            await self._send(context, query.message.chat.id, [OutMessage(text)], reply_to=None)

    # -- sending -------------------------------------------------------------------------
    async def _deliver(self, context, key: str, chat_id: int, user_id: int, reply: Reply, lang: str,
                       group: bool, reply_to: int | None) -> None:
        bot = context.bot
        extra = []
        if group and bot.username:
            link = f"https://t.me/{bot.username}?start=g{chat_id}"
            label = "details_button" if reply.kind == "outcome" else "private_button"
            extra = [button(say(lang, label), url=link)]
        messages = render(reply, lang, user_id, compact=group and reply.kind == "outcome", extra=extra)
        if group and reply.expects_text:
            # ForceReply makes the member's next message a reply to us, so privacy mode lets it through.
            question, buttons = messages[-1].html, messages[-1].buttons
            messages[-1] = OutMessage(question)
            await self._send(context, chat_id, messages, reply_to, force_reply={
                "force_reply": True, "selective": True, "input_field_placeholder": say(lang, "placeholder")})
            sent = await self._send(context, chat_id, [OutMessage(say(lang, "or_choose"), buttons)], reply_to)
        else:
            sent = await self._send(context, chat_id, messages, reply_to)
        if sent is not None and reply.buttons:
            self._remember(key, chat_id, sent)
        if reply.document and not group:
            try:
                await bot.do_api_request("sendDocument", api_kwargs={
                    "chat_id": chat_id, "caption": reply.document.title,
                    "document": InputFile(reply.document.content.encode("utf-8"),
                                          filename=reply.document.filename)})
            except Forbidden:
                log.info("chat %s blocked the bot; progress kept", chat_id)

    async def _send(self, context, chat_id: int, messages: list[OutMessage], reply_to: int | None,
                    force_reply: dict | None = None) -> int | None:
        """Send the messages in order; return the last one's id (None if the user blocked us)."""
        sent = None
        try:
            for out in messages:
                params = {"chat_id": chat_id, "text": out.html, "parse_mode": "HTML"}
                if "http" in out.html:  # only links get previews; cards should not grow pictures
                    params["link_preview_options"] = {"is_disabled": True}
                markup = out.markup or force_reply
                if markup:
                    params["reply_markup"] = markup
                if reply_to:
                    params["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
                result = await context.bot.do_api_request("sendMessage", api_kwargs=params)
                sent = result.get("message_id") if isinstance(result, dict) else None
        except Forbidden:
            log.info("chat %s blocked the bot; progress kept", chat_id)
        return sent

    @staticmethod
    async def _edit(context, chat_id: int, message_id: int, html: str | None = None) -> None:
        """Replace a message's text (when given) and remove its buttons."""
        if html is None:
            await context.bot.do_api_request("editMessageReplyMarkup", api_kwargs={
                "chat_id": chat_id, "message_id": message_id})
        else:
            params = {"chat_id": chat_id, "message_id": message_id, "text": html, "parse_mode": "HTML"}
            if "http" in html:
                params["link_preview_options"] = {"is_disabled": True}
            await context.bot.do_api_request("editMessageText", api_kwargs=params)

    def _remember(self, key: str, chat_id: int, message_id: int) -> None:
        self._last_question[key] = (chat_id, message_id)
        self._last_question.move_to_end(key)
        while len(self._last_question) > 50_000:
            self._last_question.popitem(last=False)

    async def _retire_buttons(self, context, key: str) -> None:
        """A typed answer: the previous question's buttons go, so none is left active."""
        where = self._last_question.pop(key, None)
        if where:
            try:
                await self._edit(context, *where)
            except TelegramError:
                pass

    async def _retire(self, context, message: Message) -> None:
        try:
            await self._edit(context, message.chat.id, message.message_id)
        except TelegramError:
            pass

    async def _mark_answered(self, context, message: Message, answer: str) -> None:
        """Show the chosen answer under the question, and remove its buttons."""
        try:
            await self._edit(context, message.chat.id, message.message_id,
                             f"{message.text_html}\n\n✔ <b>{escape(answer)}</b>")
        except BadRequest:
            await self._retire(context, message)
        except TelegramError:
            pass

    async def _tell(self, update: Update, context, key: str) -> None:
        chat = update.effective_chat
        lang = user_lang(update.effective_user)
        if update.callback_query:
            try:
                await update.callback_query.answer(say(lang, key), show_alert=True)
            except TelegramError:
                pass
            return
        if chat is not None:
            await self._send(context, chat.id, [OutMessage(say(lang, key))], reply_to=None)

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
            try:
                await self._tell(update, context, "temporary")
            except Exception:  # noqa: BLE001 - the error handler must never raise
                pass
