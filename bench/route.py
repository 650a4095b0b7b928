"""How long reading company, sector and problem takes, and what the directory costs to load.

    .venv/bin/python -m bench.route [--runs 200]

Prints the median, best-round median and worst time of `Router.route` for a 4,096-character
message of random new words (every word unknown: the worst case for the typo look-ups), a long
complaint naming a company, and a short message; then the directory's load time (read, check,
build the router) and the memory it adds to the process (resident set, psutil).
"""
from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from pathlib import Path

from bench.recognise import random_message, timed
from bot.flow.directory import load_directory
from bot.flow.files import FlowSet
from bot.flow.route import Router

ROOT = Path(__file__).resolve().parent.parent
LETTER = ("Madame, Monsieur, client de Bouygues Telecom depuis 2019, je constate que ma box redémarre "
          "sans cesse depuis le 3 mars et que j'ai été prélevé deux fois en avril. ")


def rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    flows, _ = FlowSet.load([ROOT / "flows"], "cstream")
    flow = flows.get("cstream").flow
    lent = flow.nodes[flow.classify_node].choices
    gc.collect()
    before, start = rss_mb(), time.perf_counter()
    directory, problems = load_directory(ROOT / "flows" / "directory")
    assert directory is not None, problems
    router = Router(directory, lent)
    router.route("warm up")  # the problem model is built at the first message
    loaded, after = (time.perf_counter() - start) * 1000, rss_mb()
    rng = random.Random(1)
    cases = {
        "4,096 chars of random new words": [random_message(rng) for _ in range(args.runs)],
        "long letter naming a company": [(LETTER * 30)[:4096]] * args.runs,
        "short message": ["Spotify m'a prélevé deux fois ce mois-ci"] * args.runs,
    }
    print(f"{'case':<36} {'median':>9} {'best round':>11} {'worst':>9}   ({args.runs} runs in 5 rounds)")
    for name, texts in cases.items():
        rounds = [timed(router.route, texts[r::5]) for r in range(5)]
        times = [t for round_ in rounds for t in round_]
        best = min(statistics.median(round_) for round_ in rounds)
        print(f"{name:<36} {statistics.median(times):7.3f}ms {best:9.3f}ms {max(times):7.3f}ms")
    print(f"directory loaded, checked and its router built in {loaded:.0f} ms; resident memory "
          f"{before:.1f} MB -> {after:.1f} MB (+{after - before:.1f} MB)")


if __name__ == "__main__":
    main()
