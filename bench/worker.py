"""One measured run of one bot, in its own process; prints one JSON line.

    python -m bench.worker --bot ours|baseline --mode offline|http|startup --stored N [--api URL]
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

T0 = time.perf_counter()
DATA = Path(__file__).resolve().parent / "data"
TOKEN = "123:bench"


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


class Ticker:
    """Measures event-loop stalls: how late a 1 ms sleep wakes up."""

    def __init__(self):
        self.worst = 0.0
        self._task = None

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, loop.time() - start - 0.001)

    def start(self):
        self._task = asyncio.create_task(self._run())

    async def stop(self):
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


def stored_file(name: str, workdir: Path, in_place: bool) -> Path:
    """The prepared store: read where it lies (start-up only reads it), or a private copy."""
    source, copy = DATA / name, workdir / name
    if not source.exists() or in_place:
        return source if source.exists() else copy
    shutil.copy(source, copy)
    return copy


def build(bot: str, stored: int, workdir: Path, api: str | None, in_place: bool = False):
    """The application with `stored` earlier conversations on disk, and its request object."""
    from bench.canned import CannedRequest
    if api:
        request = None if bot == "baseline" else "aiohttp"
    else:
        request = CannedRequest()
    if bot == "baseline":
        from bench.baseline import build as build_baseline
        pickle_path = stored_file(f"baseline-{stored}.pickle", workdir, in_place)
        return build_baseline(TOKEN, str(pickle_path), request=request, base_url=f"{api}/bot" if api else None)
    from bot.flow.files import FlowSet
    from bot.settings import REPO_FLOWS, Settings
    from bot.store.sqlite import SQLiteStore
    from bot.telegram.app import build_application
    db = stored_file(f"ours-{stored}.sqlite3", workdir, in_place)
    flows, _ = FlowSet.load([REPO_FLOWS])
    settings = Settings(token=TOKEN, data_dir=workdir, base_url=f"{api}/bot" if api else Settings.base_url)
    # No rate limiter: it enforces Telegram's quotas (30 messages/s), which would measure Telegram.
    return build_application(settings, flows, store=SQLiteStore(db), rate_limiter=False,
                             request=None if request == "aiohttp" else request)


async def run(args) -> dict:
    from telegram import Update
    from bench.workload import interleaved
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        app = build(args.bot, args.stored, workdir, args.api, in_place=args.mode == "startup")
        await app.initialize()
        if args.bot == "ours":
            from bot.store import ConversationKey
            await app.bot_data["store"].load(ConversationKey.console("warm-up"))  # open the database
        ready_at = time.time()
        ready_s = time.perf_counter() - T0
        result = {"bot": args.bot, "mode": args.mode, "stored": args.stored, "ready_at": ready_at,
                  "ready_s": ready_s, "rss_ready_mb": rss_mb()}
        if args.mode == "startup":
            await app.shutdown()
            return result
        if args.mode == "persist":
            gc.collect()
            gc.freeze()  # as the bot does once started (post_init)
            result.update(await persist_only(app, args))
            await app.shutdown()
            return result
        updates = [Update.de_json(u, app.bot) for u in interleaved(args.conversations, args.bot)]
        # The prepared stream is the harness's, not the bot's: keep it out of the garbage
        # collector's way (for both bots alike), as a long-running bot does with its start-up heap.
        gc.collect()
        gc.freeze()
        if args.mode == "paced":
            result.update(await paced(app, args, updates))
            if args.bot == "ours":
                await app.shutdown()
            return result
        ticker = Ticker()
        ticker.start()
        await asyncio.sleep(0.005)  # the ticker is running before the first update
        times: list[float] = []

        async def one(update):
            start = time.perf_counter()
            if args.bot == "ours":
                await app.update_processor.process_update(update, app.process_update(update))
            else:
                await app.process_update(update)
            times.append(time.perf_counter() - start)

        profiler = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        if args.bot == "ours":
            # As in production: concurrent across conversations, in order within one.
            await feed([lambda u=u: one(u) for u in updates], args.in_flight)
        else:
            for update in updates:  # PTB's default: one update at a time
                await one(update)
        elapsed = time.perf_counter() - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(os.environ["BENCH_PROFILE"])
        await asyncio.sleep(0.005)  # a run that never yielded (the baseline offline) ends here
        stall_run = ticker.worst
        ticker.worst = 0.0
        save_started = time.perf_counter()
        if args.bot == "baseline":
            # One full write of the pickle: the least a periodic save (every 60 s) costs once
            # anything changed. (At its defaults, PicklePersistence rewrites the file once per
            # changed conversation and user, so a real periodic save costs a multiple of this.)
            await app.persistence.flush()
        save_s = time.perf_counter() - save_started
        await asyncio.sleep(0.01)
        await ticker.stop()
        times.sort()
        result.update(
            updates=len(updates), elapsed_s=elapsed, updates_per_s=len(updates) / elapsed,
            p50_ms=statistics.median(times) * 1000, p99_ms=times[int(len(times) * 0.99) - 1] * 1000,
            stall_run_ms=stall_run * 1000, stall_save_ms=ticker.worst * 1000, periodic_save_s=save_s,
            rss_after_mb=rss_mb())
        if args.bot == "ours":
            result["stored_after"] = app.bot_data["store"].count_sync()
            await app.shutdown()
        # The baseline is not shut down: at its defaults, PicklePersistence would rewrite the
        # whole file twice per changed conversation (minutes with 100k stored), which is not
        # what is measured here.
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def feed(jobs, in_flight: int) -> None:
    """Start the jobs in order, at most `in_flight` running at once (tasks are created as
    room frees up, so creating them never blocks the loop)."""
    window = asyncio.Semaphore(in_flight)
    running: set = set()
    for job in jobs:
        await window.acquire()
        task = asyncio.create_task(job())
        running.add(task)
        task.add_done_callback(lambda t: (running.discard(t), window.release()))
    while running:
        await asyncio.wait(set(running))


async def paced(app, args, updates) -> dict:
    """Updates arrive at a fixed rate both bots sustain; latency = arrival to reply sent.
    Ours starts each update on arrival (its production setting); the baseline takes them one
    at a time from a queue, as PTB does by default."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / args.rate
    start = loop.time() + 0.05
    latencies: list[float] = []
    queue: asyncio.Queue = asyncio.Queue()

    async def handle(update, arrival):
        if args.bot == "ours":
            await app.update_processor.process_update(update, app.process_update(update))
        else:
            await app.process_update(update)
        latencies.append(loop.time() - arrival)

    async def consumer():
        while True:
            update, arrival = await queue.get()
            await handle(update, arrival)
            queue.task_done()

    worker_task = asyncio.create_task(consumer()) if args.bot == "baseline" else None
    tasks = []
    for i, update in enumerate(updates):
        arrival = start + i * interval
        delay = arrival - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        if worker_task:
            queue.put_nowait((update, arrival))
        else:
            tasks.append(asyncio.create_task(handle(update, arrival)))
    if worker_task:
        await queue.join()
        worker_task.cancel()
    else:
        await asyncio.gather(*tasks)
    latencies.sort()
    return {"rate": args.rate, "paced_p50_ms": statistics.median(latencies) * 1000,
            "paced_p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


async def persist_only(app, args) -> dict:
    """Ours: the store alone, as the bot uses it (read, then save, 32 at a time), with the
    ticker running: the event-loop stall that persisting itself causes."""
    from bot.engine.progress import Answer, Progress
    from bot.store import ConversationKey
    store = app.bot_data["store"]
    ticker = Ticker()
    ticker.start()
    progress = Progress("cstream", "bench", "contacted", path=(Answer("problem", "billing", "deux fois"),
                                                                Answer("service", "video")))

    async def one(i):
        key = ConversationKey.private(i)
        current = await store.load(key)
        await store.save(key, progress, current.rev if current else 0)

    started = time.perf_counter()
    await feed([lambda i=i: one(i) for i in range(args.conversations * 4)], args.in_flight)
    elapsed = time.perf_counter() - started
    await ticker.stop()
    return {"saves": args.conversations * 4, "saves_per_s": args.conversations * 4 / elapsed,
            "stall_persist_ms": ticker.worst * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bot", choices=["ours", "baseline"], required=True)
    parser.add_argument("--mode", choices=["offline", "http", "startup", "persist", "paced"], required=True)
    parser.add_argument("--rate", type=float, default=500, help="updates per second (paced mode)")
    parser.add_argument("--stored", type=int, default=0)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--api", help="base URL of the canned Bot API server (http mode)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
