"""The pure conversation: flows in, replies out; no I/O, no Telegram (see engine.py)."""
from .commands import Commands, Turn, command_of
from .engine import Engine, clean_text
from .progress import Answer, Progress
from .reply import Reply

__all__ = ["Answer", "Commands", "Engine", "Progress", "Reply", "Turn", "clean_text", "command_of"]
