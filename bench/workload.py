"""The synthetic update stream both bots get: N conversations, interleaved, each walking a whole path."""
from __future__ import annotations

import itertools
import time

from bot.engine import Engine
from bot.flow.files import FlowSet
from bot.settings import REPO_FLOWS

BOT = {"id": 777, "is_bot": True, "first_name": "Bot", "username": "BenchBot"}
PATHS = [
    ("on m'a prélevé deux fois ce mois-ci", ["video", "no", "no"]),                          # write_now
    ("ma réclamation n'a jamais été traitée", ["books", "written", "no_answer", "under_year"]),  # mediator
    ("je n'arrive plus à me connecter", ["music", "phone", "no_answer"]),                     # write_now
]
FIRST_USER = 1_000_000_000  # far above the ids of stored conversations


def _message(user: int, text: str, message_id: int) -> dict:
    return {"message_id": message_id, "date": int(time.time()), "text": text,
            "chat": {"id": user, "type": "private", "first_name": "U"},
            "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": "fr"}}


def _press(user: int, data: str, message_id: int) -> dict:
    return {"id": f"{user}-{message_id}", "chat_instance": str(user), "data": data,
            "from": {"id": user, "is_bot": False, "first_name": "U", "language_code": "fr"},
            "message": {"message_id": message_id, "date": int(time.time()), "text": "Question ?",
                        "chat": {"id": user, "type": "private", "first_name": "U"}, "from": BOT}}


def conversations(n: int, bot: str) -> list[list[dict]]:
    """Per conversation, its updates (JSON) in order. `bot` picks the callback data format."""
    engine = Engine(FlowSet.load([REPO_FLOWS])[0]) if bot == "ours" else None
    result = []
    for i in range(n):
        user = FIRST_USER + i
        text, presses = PATHS[i % len(PATHS)]
        updates = [{"message": _message(user, text, 1)}]
        if engine:
            progress, _ = engine.start()
            progress, _ = engine.text(progress, text)
        for k, choice in enumerate(presses, 2):
            if engine:
                data = f"{engine.token(progress)}:{user}:{choice}"
                progress, _ = engine.choose(progress, choice, engine.token(progress))
            else:
                data = choice
            updates.append({"callback_query": _press(user, data, k)})
        result.append(updates)
    return result


def interleaved(n: int, bot: str) -> list[dict]:
    """Round-robin over conversations: step 1 of all, then step 2 of all... with update ids."""
    convs = conversations(n, bot)
    stream = [u for step in itertools.zip_longest(*convs) for u in step if u is not None]
    return [{"update_id": i, **u} for i, u in enumerate(stream, 1)]
