"""The global ways out, in French with English aliases; shared by every front end."""
from __future__ import annotations

COMMANDS = {
    "start": "start", "demarrer": "start",
    "aide": "help", "help": "help",
    "retour": "back", "back": "back",
    "recommencer": "restart", "restart": "restart",
    "recap": "summary", "summary": "summary",
    "oublier": "forget", "forget": "forget",
    "quitter": "quit", "quit": "quit", "exit": "quit",
    "stats": "stats",  # admins only, in Telegram
}

# (French command, English alias, description in French, description in English)
MENU = [
    ("start", None, "Commencer ou reprendre", "Start or resume"),
    ("aide", "help", "Comment ça marche", "How it works"),
    ("retour", "back", "Revenir à la question précédente", "Back to the previous question"),
    ("recommencer", "restart", "Tout reprendre depuis le début", "Start again from the beginning"),
    ("recap", "summary", "Où j'en suis et mes réponses", "Where I am and my answers"),
    ("oublier", "forget", "Effacer tout ce qui est gardé sur moi", "Erase everything kept about me"),
]


def command_of(text: str, bot_username: str | None = None) -> tuple[str | None, str]:
    """'/Retour@MyBot args' -> ('back', 'args'). Unknown commands give (None, ''); text -> (None, text).

    A command addressed to another bot (`/start@otherbot`) is not ours: ('other', '').
    """
    text = text.strip()
    if not text.startswith("/") or len(text) < 2:
        return None, text
    head, _, rest = text[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return "other", ""
    return COMMANDS.get(name.lower(), "unknown"), rest.strip()
