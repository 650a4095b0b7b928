"""How long recognising a message takes (it runs on the event loop, so it must stay short).

    .venv/bin/python -m bench.recognise [--runs 200]

Prints the median, best-round median and worst time of `recognise` for: a 4,096-character message of random new
words (every word unknown, so every one is looked up for a typo: the worst case), a long
complaint letter, a short message; and of `understand_answer` on a short answer. Each random
message is new, so no cache helps it.
"""
from __future__ import annotations

import argparse
import random
import statistics
import string
import time
from pathlib import Path

from bot.flow.check import load_flow
from bot.flow.recognise import recognise, understand_answer

ROOT = Path(__file__).resolve().parent.parent
LETTER = ("Madame, Monsieur, titulaire d'un abonnement Cstream Vidéo depuis 2021, je constate que "
          "depuis le 3 mars la lecture s'interrompt sans cesse, que mon compte m'est refusé une fois "
          "sur deux et que j'ai été prélevé deux fois en avril. J'ai appelé le 3979 à trois reprises. ")


def random_message(rng: random.Random, size: int = 4096) -> str:
    words, length = [], 0
    while length < size:
        word = "".join(rng.choice(string.ascii_lowercase + "éèàç") for _ in range(rng.randint(2, 12)))
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:size]


def timed(fn, texts) -> list[float]:
    out = []
    for text in texts:
        start = time.perf_counter()
        fn(text)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    flow, problems = load_flow(ROOT / "flows" / "cstream.yaml")
    assert flow is not None, problems
    choices = flow.nodes["problem"].choices
    recognise("warm up", choices)   # the model is built once per flow, at start-up
    understand_answer("warm up", flow.nodes["contacted"].choices)
    rng = random.Random(1)
    cases = {
        "4,096 chars of random new words": (lambda t: recognise(t, choices),
                                            [random_message(rng) for _ in range(args.runs)]),
        "long letter (4,096 chars)": (lambda t: recognise(t, choices),
                                      [(LETTER * 20)[:4096]] * args.runs),
        "short message": (lambda t: recognise(t, choices),
                          ["on m'a prélevé deux fois ce mois-ci"] * args.runs),
        "typed answer to a button question": (lambda t: understand_answer(t, flow.nodes["contacted"].choices),
                                              ["j'ai appelé le 3979"] * args.runs),
    }
    print(f"{'case':<36} {'median':>9} {'best round':>11} {'worst':>9}   ({args.runs} runs in 5 rounds)")
    for name, (fn, texts) in cases.items():
        rounds = [timed(fn, texts[r::5]) for r in range(5)]
        times = [t for round_ in rounds for t in round_]
        best = min(statistics.median(round_) for round_ in rounds)
        print(f"{name:<36} {statistics.median(times):7.3f}ms {best:9.3f}ms {max(times):7.3f}ms")
    print("median: of all runs; best round: the lowest median of the 5 rounds (what the code costs "
          "when the machine is not busy elsewhere); worst: the slowest single run")

if __name__ == "__main__":
    main()
