"""The global ways out (/start, /aide, /retour, /recommencer, /recap, /oublier, /quitter and
their English names), one dispatcher for every front end: same command, same effect, same
words. A front end only decides how to show the reply and carries out the `effect`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from datetime import datetime

from ..locales import catalogue, languages, t
from .engine import Engine
from .progress import Progress
from .reply import ERASE, FORGET_TOKEN, KEEP, Button, Reply, match_button

ACTIONS = ("start", "help", "back", "restart", "summary", "forget", "quit", "case", "reminders")


def command_names() -> dict[str, str]:
    """Every command name in every language -> its action ('retour' -> 'back')."""
    names = {action: action for action in ACTIONS}
    names["stats"] = "stats"  # admins only, in Telegram; anyone else gets "unknown command"
    for lang in languages():
        for action, aliases in catalogue(lang)["commands"].items():
            names.update((alias, action) for alias in aliases)
    return names


COMMANDS = command_names()


def command_of(text: str, bot_username: str | None = None) -> tuple[str | None, str]:
    """'/Retour@MyBot args' -> ('back', 'args'); an unknown command -> ('unknown', '');
    plain text -> (None, text); a command for another bot (`/start@otherbot`) -> ('other', '')."""
    text = text.strip()
    if not text.startswith("/") or len(text) < 2:
        return None, text
    head, _, rest = text[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return "other", ""
    return COMMANDS.get(name.lower(), "unknown"), rest.strip()


def menu(lang: str) -> list[tuple[str, str]]:
    """(command name, description) for the menu a client shows, in that language (the
    commands that have a description: not the admins' ones)."""
    names, descriptions = catalogue(lang)["commands"], catalogue(lang)["menu"]
    return [(names[action][0], text) for action, text in descriptions.items()]


Effect = Literal["erase", "quit"]  # what a front end carries out after a turn: erase the person, stop


@dataclass
class Turn:
    """What a command did: the progress to save (None: nothing to save), the reply, and an
    effect the front end carries out: 'erase' (every record of this person) or 'quit'."""
    progress: Progress | None
    reply: Reply
    effect: Effect | None = None


class Commands:
    def __init__(self, engine: Engine):
        self.engine = engine

    def run(self, action: str, arg: str, progress: Progress | None, lang: str, now: datetime,
            resume: str | None = "/start") -> Turn:
        """Carry out a command. `progress` is None for someone the bot has not met (or who
        erased everything); `resume` is how this front end says "come back" (None: nothing
        is kept, so there is nothing to come back to)."""
        engine = self.engine
        if action == "quit":
            said = t(lang, "quit", resume=resume) if resume else t(lang, "quit_no_store")
            return Turn(None, Reply("notice", said), "quit")
        if action == "forget":
            return Turn(None, Reply("forget", t(lang, "forget_ask"), token=FORGET_TOKEN, buttons=[
                Button(ERASE, t(lang, "forget_yes")), Button(KEEP, t(lang, "forget_no"))]))
        if action == "start":
            return Turn(*self._start(progress, arg, lang, now))
        if progress is None:
            progress, reply = engine.start(None, lang, now)
            if action == "help":
                reply.notices[:0] = [t(lang, "help"), t(lang, "commands_list")]
            elif action in ("case", "reminders"):
                reply.notices.insert(0, t(lang, "case_none"))
            elif action not in ("back", "restart", "summary"):
                reply.notices.insert(0, t(lang, "unknown_command"))
            return Turn(progress, reply)
        if action == "help":
            progress, reply = engine.help(progress, now)
            reply.notices.append(t(progress.lang, "commands_list"))
        elif action == "back":
            progress, reply = engine.back(progress, now)
        elif action == "restart":
            progress, reply = engine.restart(progress, now)
        elif action == "summary":
            progress, reply = engine.summary(progress, now)
        elif action == "case":
            progress, reply = engine.case_view(progress, now)
        elif action == "reminders":
            progress, reply = engine.reminders_view(progress, now)
        else:  # unknown, or a command this person may not use
            progress, reply = engine.current(progress, now, t(progress.lang, "unknown_command"))
        return Turn(progress, reply)

    def text(self, progress: Progress | None, text: str, lang: str, now: datetime) -> Turn:
        """Typed words: an answer to the current question; for someone new, the welcome and
        their first words taken as the answer to the first question."""
        if progress is None:
            progress, _ = self.engine.start(None, lang, now)
        return Turn(*self.engine.text(progress, text, now))

    def _start(self, progress: Progress | None, payload: str, lang: str, now: datetime) -> tuple[Progress, Reply]:
        """/start [flow id]: open that flow, else resume where the person is, else begin."""
        payload = (payload or "").strip()
        if payload in self.engine.flows.ids and (progress is None or progress.flow != payload):
            return self.engine.start(payload, lang, now)
        if progress is not None:
            return self.engine.current(progress, now, t(progress.lang, "resumed"))
        return self.engine.start(None, lang, now)

    def confirm_forget(self, choice: str, progress: Progress | None, lang: str, now: datetime) -> Turn:
        """The answer to /oublier's question: ERASE (effect 'erase') or KEEP (back to the question)."""
        if choice == ERASE:
            return Turn(None, Reply("notice", t(lang, "forgotten")), "erase")
        if progress is None:
            return Turn(None, Reply("notice", t(lang, "kept")))
        progress, reply = self.engine.current(progress, now, t(progress.lang, "kept"))
        return Turn(progress, reply)

    @staticmethod
    def typed_answer(prompt: Reply, text: str) -> str | None:
        """A typed answer to a prompt shown without a flow question (/oublier's): its number,
        its label, or oui/non."""
        picked = match_button(prompt.buttons, text)
        if picked is None and prompt.kind == "forget":
            word = text.strip().lower().rstrip(" !.")
            picked = ERASE if word in ("oui", "yes", "o", "y") else KEEP if word in ("non", "no", "n") else None
        return picked
