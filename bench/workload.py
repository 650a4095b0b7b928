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
    engine = Engine(FlowSet.load([REPO_FLOWS], "cstream")[0]) if bot == "ours" else None
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


# -- bench/run.py's stream: varied paths, new and returning conversations ---------------------
# Problems both bots recognise the same way (billing and cancellation lead to the money
# questions, which the baseline does not know: they are left out). Each text gets a per-conversation tail, so that neither recognition
# nor an outcome's cache sees the same text twice.
PROBLEMS = [
    ("ma réclamation n'a jamais été traitée", "requests"),
    ("je n'arrive plus à me connecter", "access"),
    ("le service client est injoignable", "unreachable"),
    ("des bugs à répétition, la vidéo plante", "technical"),
]
TAILS = ["", " depuis {n} jours", " et ça dure, {n} essais", " (client n°{n})", " merci de m'aider, essai {n}"]
SERVICES = ["video", "music", "books", "several"]
# The baseline's states and answers (bench/baseline.py): a walk picks among these only.
CHOICES = {"contacted": ["no", "phone", "chat", "social", "several", "written"], "hearing": ["yes", "no"],
           "result": ["no_answer", "bad_answer", "promised"],
           "written_result": ["waiting", "no_answer", "bad_answer"], "written_age": ["under_year", "over_year"]}
STORED_TEMPLATES = [(p, s) for p in range(len(PROBLEMS)) for s in SERVICES]  # problem, service of stored rows


def baseline_next(node: str, choice: str, answers: dict) -> str | None:
    """Where bench/baseline.py goes after `choice` at `node` (None: the outcome)."""
    if node == "service":
        return "contacted"
    if node == "contacted":
        if choice == "no":
            return "hearing"
        if choice == "written":
            return "written_result"
        if answers["problem"] == "unreachable":
            return "hearing" if choice in ("chat", "social") else None
        return "result"
    if node == "result":  # after a chat or social contact, the hearing question (the outcome leads with the phone)
        return "hearing" if answers["contacted"] in ("chat", "social") else None
    if node == "written_result":
        return "hearing" if choice == "waiting" else "written_age"
    return None


def problem_text(i: int, problem: int) -> str:
    return PROBLEMS[problem][0] + TAILS[i % len(TAILS)].format(n=i)


class Walker:
    """Walks our engine and the baseline's routing side by side; a walk both agree on is kept."""

    def __init__(self):
        self.engine = Engine(FlowSet.load([REPO_FLOWS], "cstream")[0])

    def stored_progress(self, template: int):
        """The progress of a stored conversation: problem and service answered, at `contacted`."""
        problem, service = STORED_TEMPLATES[template]
        progress, _ = self.engine.start()
        progress, _ = self.engine.text(progress, PROBLEMS[problem][0])
        progress, _ = self.engine.choose(progress, service, self.engine.token(progress))
        assert progress.node == "contacted", progress.node
        return progress

    def walk(self, user: int, progress, answers: dict, rng, bot: str) -> list[dict]:
        """Presses from `progress` to an outcome, as callback_query updates for `bot`."""
        node, updates, k = progress.node, [], 2
        while node is not None:
            options = CHOICES[node] if node != "service" else SERVICES
            if node == "contacted" and answers["problem"] == "unreachable":
                options = [c for c in options if c != "no"]  # "not yet" is no answer to "unreachable"
            choice = rng.choice(options)
            token = self.engine.token(progress)
            progress, reply = self.engine.choose(progress, choice, token)
            answers[node] = choice
            expected = baseline_next(node, choice, answers)
            if expected is None:
                assert reply.kind == "outcome", (node, choice, progress.node, reply.kind)
            else:
                assert progress.node == expected, (node, choice, progress.node, expected)
            data = f"{token}:{user}:{choice}" if bot == "ours" else choice
            updates.append({"callback_query": _press(user, data, k)})
            node, k = expected, k + 1
        return updates

    def new(self, i: int, user: int, rng, bot: str) -> list[dict]:
        problem = i % len(PROBLEMS)
        text = problem_text(i, problem)
        progress, _ = self.engine.start()
        progress, _ = self.engine.text(progress, text)
        assert progress.node == "service" and progress.answers.get("problem") == PROBLEMS[problem][1], \
            (text, progress.node, progress.answers)
        return [{"message": _message(user, text, 1)}] + self.walk(user, progress, {"problem": PROBLEMS[problem][1]},
                                                                rng, bot)

    def returning(self, user: int, template: int, rng, bot: str) -> list[dict]:
        problem, service = STORED_TEMPLATES[template]
        progress = self.stored_progress(template)
        return self.walk(user, progress, {"problem": PROBLEMS[problem][1], "service": service}, rng, bot)


def stored_user(k: int) -> int:
    """The k-th returning person (k >= 0): an even id among the stored (odd ids are the purge
    backlog), so their row is recent."""
    return 2 * (k + 1)


def stored_template(user: int) -> int:
    return user % len(STORED_TEMPLATES)


def stream(n: int, returning: int, bot: str, seed: int = 13) -> list[dict]:
    """`n` conversations, of which `returning` continue stored ones (their people answer the
    question they were left at; rows are read), the others new; each walks a random path both
    bots know to an outcome. Interleaved round-robin, with update ids. The same seed gives
    both bots the same people, texts and answers."""
    import random
    walker = Walker()
    convs = []
    every = n / returning if returning else 0
    for i in range(n):
        rng = random.Random(seed * 1_000_003 + i)
        k = sum(1 for back, _ in convs if back)
        if returning and k < returning and i >= k * every:
            user = stored_user(k)
            convs.append((True, walker.returning(user, stored_template(user), rng, bot)))
        else:
            convs.append((False, walker.new(i, FIRST_USER + i, rng, bot)))
    steps = [c for _, c in convs]
    flat = [u for step in itertools.zip_longest(*steps) for u in step if u is not None]
    return [{"update_id": i, **u} for i, u in enumerate(flat, 1)]
