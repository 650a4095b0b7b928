"""Benchmark: the report over 1,000,000 events (read in pages and aggregated), timed, and off the event loop.

    .venv/bin/python -m bench.report_events [--events 1000000] [--repeat 5]

Inserts synthetic events (125,000 conversations of 8 steps) into a fresh SQLite store, then
times `collect` (reading and aggregating; `--repeat` times, median and min-max, wall clock and
this process's CPU) and the HTML rendering, and runs `collect` once more
through asyncio.to_thread while the loop measures its own largest stall, as /stats does.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bot.store.base import FIELDS
from bot.ops.report import admin_summary_apart, collect, render_html
from bot.stores import SQLiteStore

PATH = ["problem", "service", "contacted", "result", "hearing", "written_result", "written_age"]


def fill(path: Path, events: int) -> None:
    rng = random.Random(1)
    rows = []
    for n in range(events // 8):
        token, day = f"{n:016x}", f"2026-11-{rng.randint(1, 28):02d}"
        stop = rng.randint(1, len(PATH))
        rows.append((day, "cstream", "v1", "start", None, None, None, "problem", None, None, 0, token))
        for i in range(7):
            node = PATH[min(i, stop - 1)]
            nxt = PATH[i + 1] if i + 1 < stop else "write_now"
            rows.append((day, "cstream", "v1", "answer", node, rng.choice("abcd"), rng.choice((None, 0, 1)),
                         nxt, "write_now" if nxt == "write_now" else None, None, 30 * (i + 1), token))
    conn = sqlite3.connect(path)
    conn.executemany(f"INSERT INTO events({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})", rows)
    conn.commit()
    conn.close()


def spread(values: list[float]) -> str:
    """The median, and min-max when there are several."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


async def stall_while(coroutine) -> tuple[object, float]:
    """Await work started off the loop; return its result and the loop's largest delay meanwhile."""
    worst, task = 0.0, asyncio.create_task(coroutine)
    while not task.done():
        before = time.perf_counter()
        await asyncio.sleep(0.01)
        worst = max(worst, time.perf_counter() - before - 0.01)
    return task.result(), worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="times the report is read and aggregated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "bench.sqlite3")
        store.count_sync()  # creates and migrates the file
        started = time.perf_counter()
        fill(store.path, args.events)
        print(f"inserted {args.events:,} events in {time.perf_counter() - started:.1f} s")
        walls, cpus = [], []
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            stats = collect(store, "", None)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
        started = time.perf_counter()
        render_html(stats)
        drawn = time.perf_counter() - started
        print(f"report over {stats.events:,} events ({stats.conversations:,} conversations): read and aggregated "
              f"in {spread(walls)} s (CPU {spread(cpus)} s; {args.repeat} runs), charts and page in {drawn:.2f} s")
        _, worst = asyncio.run(stall_while(asyncio.to_thread(collect, store, "", None)))
        print(f"the same on a thread (asyncio.to_thread): the loop's largest stall {worst * 1000:.0f} ms")
        url, flows = f"sqlite:///{store.path}", str(Path(__file__).resolve().parent.parent / "flows")
        started = time.perf_counter()
        _, worst = asyncio.run(stall_while(admin_summary_apart(url, flows, "fr")))
        print(f"/stats in a process of its own (read, summary, funnel picture): {time.perf_counter() - started:.2f} s, "
              f"the loop's largest stall {worst * 1000:.0f} ms")
        store.close()


if __name__ == "__main__":
    main()
