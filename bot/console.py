"""The terminal front end: the whole conversation on stdin/stdout, resumable via the store.

Answer by number, by typing a label, or in your own words; the commands are those of
Telegram (engine/commands.py). Reads plain lines, so it can be scripted:

    printf 'on m a preleve deux fois\\n1\\n...' | python -m bot chat
"""
from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, TextIO

from .conversation import Conversations, StepStore
from .engine import Commands, Engine, Reply, Turn, command_of
from .engine.followup import CASE_TOKEN
from .engine.reply import card_lines
from .errors import Conflict, StoreUnavailable
from .locales import t
from .store import ConversationKey, ProgressStore, Record

RESUME = "`python -m bot chat`"
DEFAULT_KEY = ConversationKey.console("default")


def render_text(reply: Reply, lang: str = "fr") -> str:
    """A reply as plain text; its buttons numbered, since a number picks one (not where a date
    is asked: there a number is a day)."""
    out: list[str] = list(reply.notices)
    if reply.answer:
        out.append(f"✔ {reply.answer}")
    out.append(reply.text)
    out += [f"{title}{t(lang, 'colon')} {text}" if title else text for title, text in reply.sections]
    out.append(reply.now or "")
    for card in reply.cards:
        lines = [text + (f" ({t(lang, 'unchecked')})" if card.unchecked else "") if role == "title"
                 else f"   {'ℹ️ ' if role == 'note' else ''}{text}" for role, text in card_lines(card)]
        out.append("\n".join(lines))
    out.append("\n".join(f"• {fact}" for fact in reply.facts))
    if reply.document:
        out.append(f"──── {reply.document.title} — {reply.document.filename} ────\n"
                   f"{reply.document.content.rstrip()}\n────")
    if reply.sources:
        out.append(f"{t(lang, 'sources')}{t(lang, 'colon')}\n" + "\n".join(f"  - {s}" for s in reply.sources))
    out.append(reply.footer or "")
    if reply.days:  # a number typed here is a day of the month: the buttons are picked by their words
        out.append("\n".join(f"  • {b.label}" for b in reply.buttons))
    else:
        out.append("\n".join(f"  {i}. {b.label}" for i, b in enumerate(reply.buttons, 1)))
    return "\n\n".join(part for part in out if part)


class _Session:
    """One person at the terminal: their record, each step kept through the conversation step
    (bot/conversation.py) as Telegram's are, reminders included."""

    def __init__(self, conversations: Conversations, key: ConversationKey, show: Callable[[str], None]):
        self.conversations, self.key, self.show = conversations, key, show
        self.record: Record | None = None
        self.restarted = False
        self.unsaved = False

    @property
    def store(self) -> StepStore | None:
        return self.conversations.store

    async def load(self) -> Record | None:
        try:
            self.record, self.restarted = await self.conversations.load(self.key)
        except StoreUnavailable as exc:
            self.show(t("fr", "not_saved_setup" if exc.lasting else "not_saved_here"))
            self.unsaved = True
        return self.record

    @property
    def kept(self) -> bool:
        """Whether the person's place is saved now, so that quitting may promise it back."""
        return self.store is not None and self.record is not None and not self.unsaved

    async def step(self, turn: Turn, typed: str | None, now: datetime) -> Turn | None:
        """Keep the step (an erasure erases); the turn to show, or None when the record moved on
        elsewhere (another terminal): it is read again."""
        turn = self.conversations.ruled(self.key, self.record, turn, self.restarted)
        try:
            step = await self.conversations.commit(self.key, self.record, turn, now=now)
        except Conflict:
            self.record, _ = await self.conversations.load(self.key)
            return None
        except StoreUnavailable as exc:
            lang = turn.progress.lang if turn.progress is not None else "fr"
            if turn.effect == "erase":  # nothing was erased: say so, never « C'est fait »
                return Turn(None, Reply("notice", t(lang, "not_erased_setup" if exc.lasting else "not_erased")))
            if turn.progress is not None:
                if not self.unsaved:
                    self.show(t(lang, "not_saved_setup" if exc.lasting else "not_saved_here"))
                self.unsaved = True
                self.record = Record(turn.progress, self.record.rev if self.record else 0)
            return turn
        if step.record is not None:
            self.record, self.unsaved, self.restarted = step.record, False, False
        elif turn.effect == "erase":
            self.record = None
        return step.turn


def run_console(engine: Engine, store: ProgressStore | None = None,
                key: ConversationKey = DEFAULT_KEY, flow_id: str | None = None,
                lang: str = "fr", stdin: TextIO | None = None, stdout: TextIO | None = None,
                clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), resume: str = RESUME) -> int:
    """The conversation on `stdin`/`stdout` until end of input or /quitter. `resume` is the
    command that comes back to it (« `python -m bot chat --user alice` »). It runs on an event
    loop of its own (the store's asynchronous API, as the bot's), reading lines as they come."""
    return asyncio.run(_converse(engine, store, key, flow_id, lang, stdin or sys.stdin, stdout or sys.stdout, clock,
                                 resume))


async def _converse(engine: Engine, store: ProgressStore | None, key: ConversationKey, flow_id: str | None,
                    lang: str, stdin: TextIO, stdout: TextIO, clock: Callable[[], datetime], resume: str) -> int:
    echo = not stdin.isatty()
    commands = Commands(engine)

    def show(text: str) -> None:
        print(text + "\n", file=stdout, flush=True)

    session = _Session(Conversations(engine, store, clock), key, show)
    record = await session.load()
    progress = record.progress if record and (not flow_id or record.progress.flow == flow_id) else None
    now = clock()
    due = engine.remind(progress, now) if progress is not None else None
    # A reminder due by now (--at) comes first, with its buttons, as Telegram would send it.
    turn = Turn(*due) if due else commands.run("start", flow_id or "", progress, lang, now)
    prompt: Reply | None = None  # a question outside the flow (/oublier's) waiting for a typed answer
    line = None
    while True:
        before = session.record.progress if session.record else None
        shown = await session.step(turn, line, now)
        if shown is None:
            # Another terminal moved this conversation on: show where it now stands.
            progress = session.record.progress if session.record else None
            now = clock()
            turn = commands.run("start", "", progress, lang, now)
            turn.reply.notices.insert(0, t(lang, "changed_elsewhere"))
            line = None
            continue
        turn = shown
        if turn.progress is not None:
            lang = turn.progress.lang
        reply = turn.reply
        if not session.kept and reply.footer:  # « /start reprend ici » promises a place kept
            reply = replace(reply, footer=None)
        if store is None and turn.progress is not None and turn.progress.case is not None and (
                before is None or before.case is None):  # a case opened with nothing kept (--no-store)
            reply = replace(reply, notices=reply.notices + [t(lang, "case_not_kept")])
        show(render_text(reply, lang))
        if turn.effect == "quit":
            return 0
        # A prompt outside the flow takes the typed answer: /oublier's, and /suivi's or /rappels'
        # views (not the follow-up's questions, whose typed answers the engine reads: « 3 » is a day).
        prompt = turn.reply if turn.reply.kind == "forget" or turn.reply.token == CASE_TOKEN else None
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            print(file=stdout)
            line = "/quitter"
        line = line.rstrip("\n")
        if echo:
            print(line, file=stdout)
        progress, now = (session.record.progress if session.record else None), clock()
        turn = _turn_for(engine, commands, prompt, line, progress, lang, now,
                         resume if session.kept else None, quit_unsaved=store is not None and session.unsaved)


def _turn_for(engine: Engine, commands: Commands, prompt: Reply | None, line: str, progress, lang: str, now,
              resume: str | None, quit_unsaved: bool) -> Turn:
    """What a typed line does: an answer to the prompt on screen, a command, or words."""
    action, arg = command_of(line)
    choice = Commands.typed_answer(prompt, line) if prompt is not None and action is None else None
    if choice is not None and prompt is not None and prompt.kind == "case" and progress is not None:
        return Turn(*engine.choose(progress, choice, prompt.token, now))  # /suivi's, /rappels' buttons
    if choice is not None and prompt is not None and prompt.kind == "forget":
        return commands.confirm_forget(choice, progress, lang, now)
    if prompt is not None and prompt.kind == "case" and action is None and line.strip().isdigit():
        return Turn(progress, replace(prompt, notices=[t(lang, "pick_a_button")]))  # a number not on the list
    if action == "quit" and quit_unsaved:
        return Turn(None, Reply("notice", t(lang, "quit_unsaved")), "quit")
    if action is not None:  # « progression gardée » only when it is
        return commands.run(action, arg, progress, lang, now, resume=resume)
    return commands.text(progress, line, lang, now)
