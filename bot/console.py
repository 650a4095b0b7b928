"""The terminal front end: the whole conversation on stdin/stdout, resumable via the store.

Answer by number, by typing a label, or in your own words. Commands: /retour, /recommencer,
/recap, /aide, /oublier, /quitter (English aliases /back, /restart, /summary, /help,
/forget, /quit). Reads plain lines, so it can be scripted:

    printf 'on m a preleve deux fois\\n1\\n...' | python -m bot chat
"""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Callable, TextIO

from .commands import command_of
from .engine import Engine
from .store import StoreUnavailable
from .textrender import render_text

_BYE = {"fr": "À bientôt ! Votre progression est gardée : relancez `python -m bot chat` pour reprendre.",
        "en": "Bye! Your progress is kept: run `python -m bot chat` again to resume."}
_BYE_NO_STORE = {"fr": "À bientôt !", "en": "Bye!"}
_FORGOTTEN = {"fr": "C'est fait : tout ce qui était gardé sur vous a été effacé.",
              "en": "Done: everything kept about you has been erased."}
_STORE_DOWN = {"fr": "Votre progression n'a pas pu être enregistrée (problème temporaire) ; on continue quand même.",
               "en": "Your progress could not be saved (temporary problem); carrying on anyway."}


def run_console(engine: Engine, store=None, key: str = "console:default", flow_id: str | None = None,
                lang: str = "fr", stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
                clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> int:
    echo = not stdin.isatty()

    def show(text: str) -> None:
        print(text + "\n", file=stdout, flush=True)

    def save(progress):
        if store is None:
            return progress
        try:
            return store.save_sync(key, progress)
        except StoreUnavailable:
            show(_STORE_DOWN[lang])
            return progress

    progress = None
    if store is not None:
        try:
            progress = store.load_sync(key)
        except StoreUnavailable:
            show(_STORE_DOWN[lang])
    if progress is not None and flow_id and progress.flow != flow_id:
        progress = None
    if progress is None:
        progress, reply = engine.start(flow_id, lang, clock())
    else:
        progress, reply = engine.current(progress, clock())
    progress = save(progress)
    show(render_text(reply, progress.lang))
    while True:
        print("> ", end="", file=stdout, flush=True)
        line = stdin.readline()
        if not line:
            print(file=stdout)
            show((_BYE if store is not None else _BYE_NO_STORE)[progress.lang])
            return 0
        line = line.rstrip("\n")
        if echo:
            print(line, file=stdout)
        action, _ = command_of(line)
        now = clock()
        if action == "quit":
            show((_BYE if store is not None else _BYE_NO_STORE)[progress.lang])
            return 0
        if action == "forget":
            if store is not None:
                store.delete_sync(key)
            show(_FORGOTTEN[progress.lang])
            progress, reply = engine.start(progress.flow, progress.lang, now)
        elif action == "back":
            progress, reply = engine.back(progress, now)
        elif action == "restart":
            progress, reply = engine.restart(progress, now)
        elif action == "summary":
            progress, reply = engine.summary(progress, now)
        elif action in ("help", "start", "unknown", "other", "stats"):
            progress, reply = engine.help(progress, now) if action != "start" else engine.current(progress, now)
        else:
            progress, reply = engine.text(progress, line, now)
        progress = save(progress)
        show(render_text(reply, progress.lang))
