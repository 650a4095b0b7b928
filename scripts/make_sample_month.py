"""A month of scripted conversations through the real engine and store, then the report (docs/operating.md's screenshot).

    .venv/bin/python scripts/make_sample_month.py --out docs/sample   # report.html, csv/, the store

Deterministic (seeded): 600 people over November 2026 describe a problem in their words
(some the bot cannot route), answer the questions with the buttons, sometimes go back or
stop; some answer a follow-up a few weeks later (as a reminder would ask). Every step is saved
with its events exactly as the front ends do (bot/ops/events.py).
"""
from __future__ import annotations

import argparse
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.engine import Commands, Engine, Turn  # noqa: E402
from bot.engine.reply import BACK, RESTART, SHOW_LIST  # noqa: E402
from bot.flow.files import FlowSet  # noqa: E402
from bot.ops.events import events_of  # noqa: E402
from bot.ops.report import collect, render_html, write_csv  # noqa: E402
from bot.settings import REPO_FLOWS  # noqa: E402
from bot.store import ConversationKey  # noqa: E402
from bot.store.sqlite import SQLiteStore  # noqa: E402

DESCRIPTIONS = [
    "on m'a prélevé deux fois ce mois-ci", "je n'arrive plus à me connecter à mon compte",
    "la vidéo coupe tout le temps", "j'ai résilié mais ils continuent de prélever",
    "impossible de joindre le service client", "ma réclamation n'a jamais été traitée",
    "erreur de facturation sur mon abonnement", "le film se bloque au bout de dix minutes",
    "mot de passe refusé alors qu'il est bon", "personne ne répond au 3979",
    "je veux un remboursement pour un mois non utilisé", "ça marche pas", "bonjour",
    "mon fils a souscrit sans mon accord", "arnaque !!!",
]
FOLLOWUPS = ["settled", "settled", "mediator", "no_answer"]


def month(store, engine: Engine, people: int = 600, seed: int = 7,
          start: datetime = datetime(2026, 11, 1, 9, tzinfo=ZoneInfo("Europe/Paris"))) -> None:
    rng, commands = random.Random(seed), Commands(engine)
    for n in range(people):
        key = ConversationKey.private(10_000 + n)
        now = start + timedelta(days=rng.random() * 29, hours=rng.random() * 11)
        record = None

        def step(turn, typed=None, followup=None):
            nonlocal record
            before = record.progress if record else None
            events = events_of(before, turn.progress, turn.reply, now, typed, engine.keep_unrecognised, followup)
            record = store.save_sync(key, turn.progress, record.rev if record else 0, events=events)
            return turn.reply

        said = rng.choice(DESCRIPTIONS)
        step(commands.run("start", "", None, "fr", now))
        now += timedelta(seconds=rng.randint(10, 90))
        reply = step(commands.text(record.progress, said, "fr", now), said)
        for _ in range(12):
            if reply.kind == "outcome" or rng.random() < 0.07:
                break
            now += timedelta(seconds=rng.randint(8, 200))
            if rng.random() < 0.05 and record.progress.path:
                reply = step(commands.run("back", "", record.progress, "fr", now))
                continue
            ids = [b.id for b in reply.buttons if b.id not in (BACK, RESTART, SHOW_LIST)]
            if not ids:
                break
            reply = step(Turn(*engine.choose(record.progress, rng.choice(ids), None, now)))
        if reply.kind == "outcome" and rng.random() < 0.4:  # a follow-up, weeks later
            now += timedelta(days=rng.randint(7, 25))
            step(commands.run("start", "", record.progress, "fr", now), followup=rng.choice(FOLLOWUPS))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/sample", help="folder for the store, report.html and csv/")
    parser.add_argument("--people", type=int, default=600)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sample.sqlite3").unlink(missing_ok=True)
    flows, problems = FlowSet.load([REPO_FLOWS], "cstream")
    if problems:
        print("\n".join(map(str, problems)), file=sys.stderr)
        return 1
    store = SQLiteStore(out / "sample.sqlite3")
    try:
        month(store, Engine(flows, keep_unrecognised=True), args.people)
        stats = collect(store, "2026-11-01", None, flows)
    finally:
        store.close()
    (out / "report.html").write_text(render_html(stats), encoding="utf-8")
    write_csv(stats, out / "csv")
    print(f"{stats.conversations} conversations, {stats.events} events: {out / 'report.html'}, {out / 'csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
