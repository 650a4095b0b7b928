"""The terminal front end: the whole conversation on stdin/stdout, resumable via the store.

Answer by number, by typing a label, or in your own words; the commands are those of
Telegram (engine/commands.py). Reads plain lines, so it can be scripted:

    printf 'on m a preleve deux fois\\n1\\n...' | python -m bot chat
"""
from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime, timezone
from typing import Callable, TextIO

from .engine import Commands, Engine, Reply, Turn, command_of
from .engine.followup import CASE_TOKEN
from .engine.reply import card_lines
from .errors import Conflict, StoreUnavailable
from .locales import t
from .ops.events import events_of
from .store import ConversationKey, ProgressStore, Record

RESUME = "`python -m bot chat`"


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
    """One person at the terminal: their record, saved after each step."""

    def __init__(self, store: ProgressStore | None, key: ConversationKey, show: Callable[[str], None]):
        self.store, self.key, self.show = store, key, show
        self.record: Record | None = None
        self.unsaved = False

    def load(self) -> Record | None:
        if self.store is not None:
            try:
                self.record = self.store.load_sync(self.key)
            except StoreUnavailable as exc:
                self.show(t("fr", "not_saved_setup" if exc.lasting else "not_saved_here"))
                self.unsaved = True
        return self.record

    @property
    def kept(self) -> bool:
        """Whether the person's place is saved now, so that quitting may promise it back."""
        return self.store is not None and self.record is not None and not self.unsaved

    def save(self, progress, events=()) -> bool:
        """Keep the step and its events; False when the record moved on elsewhere (another terminal)."""
        if self.store is None:
            self.record = Record(progress)
            return True
        try:
            self.record = self.store.save_sync(self.key, progress, self.record.rev if self.record else 0,
                                               events=events)
            self.unsaved = False
        except Conflict:
            self.record = self.store.load_sync(self.key)
            return False
        except StoreUnavailable as exc:
            if not self.unsaved:
                self.show(t(progress.lang, "not_saved_setup" if exc.lasting else "not_saved_here"))
            self.unsaved = True
            self.record = Record(progress, self.record.rev if self.record else 0)
        return True

    def erase(self, lang: str) -> str | None:
        """Erase everything kept on this person; what to say instead of « C'est fait » when
        the store could not do it (None: done)."""
        if self.store is not None:
            try:
                self.store.delete_sync(self.key)
            except StoreUnavailable as exc:
                return t(lang, "not_erased_setup" if exc.lasting else "not_erased")
        self.record = None
        return None


def run_console(engine: Engine, store: ProgressStore | None = None,
                key: ConversationKey = ConversationKey.console("default"), flow_id: str | None = None,
                lang: str = "fr", stdin: TextIO | None = None, stdout: TextIO | None = None,
                clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc), resume: str = RESUME) -> int:
    """The conversation on `stdin`/`stdout` until end of input or /quitter. `resume` is the
    command that comes back to it (« `python -m bot chat --user alice` »)."""
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    echo = not stdin.isatty()
    commands = Commands(engine)

    def show(text: str) -> None:
        print(text + "\n", file=stdout, flush=True)

    session = _Session(store, key, show)
    record = session.load()
    progress = record.progress if record and (not flow_id or record.progress.flow == flow_id) else None
    now = clock()
    due = engine.cases.remind(progress, now) if progress is not None else None
    # A reminder due by now (--at) comes first, with its buttons, as Telegram would send it.
    turn = Turn(*due) if due else commands.run("start", flow_id or "", progress, lang, now)
    prompt: Reply | None = None  # a question outside the flow (/oublier's) waiting for a typed answer
    line = None
    while True:
        before = session.record.progress if session.record else None
        if turn.effect == "erase":
            failed = session.erase(lang)
            if failed:  # nothing was erased: say so, never « C'est fait »
                turn = Turn(None, Reply("notice", failed))
        events = events_of(session.record.progress if session.record else None, turn.progress, turn.reply, now,
                           line, engine.keep_unrecognised)
        if turn.progress is not None and not session.save(turn.progress, events):
            # Another terminal moved this conversation on: show where it now stands.
            progress = session.record.progress if session.record else None
            turn = commands.run("start", "", progress, lang, clock())
            turn.reply.notices.insert(0, t(lang, "changed_elsewhere"))
            continue
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
        progress = session.record.progress if session.record else None
        action, arg = command_of(line)
        now = clock()
        choice = Commands.typed_answer(prompt, line) if prompt is not None and action is None else None
        if choice is not None and prompt.kind == "case" and progress is not None:
            turn = Turn(*engine.choose(progress, choice, prompt.token, now))  # /suivi's, /rappels' buttons
        elif choice is not None and prompt.kind == "forget":
            turn = commands.confirm_forget(choice, progress, lang, now)
        elif prompt is not None and prompt.kind == "case" and action is None and line.strip().isdigit():
            turn = Turn(progress, replace(prompt, notices=[t(lang, "pick_a_button")]))  # a number not on the list
        elif action == "quit" and store is not None and session.unsaved:
            turn = Turn(None, Reply("notice", t(lang, "quit_unsaved")), "quit")
        elif action is not None:  # « progression gardée » only when it is
            turn = commands.run(action, arg, progress, lang, now, resume=resume if session.kept else None)
        else:
            turn = commands.text(progress, line, lang, now)
