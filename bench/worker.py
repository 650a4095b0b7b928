"""One measured run of one bot, in its own process; prints one JSON line (bench/run.py runs it).

    python -m bench.worker run --bot ours|baseline --client canned|httpx|aiohttp [--api URL]
                               --stored N --conversations N --returning N [--rate R] [--background]
    python -m bench.worker idle      # idle RSS of the bot, and what each part of it costs

What is timed, for both bots alike: from the raw update JSON (bytes) to the last Bot API call
of that update answered: json.loads, the Update built (ours: its webhook's `parse_update`;
the baseline: PTB's Update.de_json), the handling, every call. Ours
takes `--in-flight` updates at once (its production setting, one conversation's updates in
order); the baseline takes one at a time (ConversationHandler + PicklePersistence require it).
With `--rate`, updates arrive at that rate instead (latency = arrival to last call answered).
`--background` runs the bot's own background work during the run: ours purges the stored
backlog, moves a group chat, draws a report, sends 200 follow-up reminders come due; the baseline writes its pickle (its periodic save).
A ticker on the event loop measures stalls, attributed to the garbage collector, the store
(or background work: on-loop store calls, the baseline's save), or handling; the idle
machine's own stalls are measured first, with nothing running.
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
import threading
import time
from pathlib import Path

T0 = time.perf_counter()
DATA = Path(__file__).resolve().parent / "data"
TOKEN = "123:bench"
RETENTION_DAYS = 90


def rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2**20


# -- stalls, by cause ---------------------------------------------------------------------------
class Causes:
    """Intervals (start, end) of what may hold the event loop: the garbage collector (any
    thread: it holds the GIL) and on-loop store work (a commit waiting for the write lock)."""

    def __init__(self):
        self.gc: list[tuple[float, float]] = []
        self.store: list[tuple[float, float]] = []
        self.slow: list[tuple[str, float, float]] = []  # on-loop store calls over 5 ms: (what, wall ms, CPU ms)
        self._gc_start = 0.0
        self.loop_thread = threading.get_ident()

    def gc_callback(self, phase, info):
        if phase == "start":
            self._gc_start = time.perf_counter()
        else:
            self.gc.append((self._gc_start, time.perf_counter()))

    def timed(self, fn, label: str = ""):
        def wrapper(*args, **kwargs):
            if threading.get_ident() != self.loop_thread:
                return fn(*args, **kwargs)
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                end = time.perf_counter()
                self.store.append((start, end))
                if end - start > 0.005:
                    self.slow.append((label, round((end - start) * 1000, 1), round((time.thread_time() - cpu) * 1000, 1)))
        return wrapper



def overlap(intervals, start, end) -> float:
    return sum(max(0.0, min(end, b) - max(start, a)) for a, b in intervals)


class Ticker:
    """Wakes every `period`; a stall is how late it wakes (beyond the period)."""

    def __init__(self, period: float = 0.001, threshold: float = 0.002):
        self.period, self.threshold = period, threshold
        self.stalls: list[tuple[float, float]] = []  # (when the sleep should have ended, when it did)
        self._task = None

    async def _run(self):
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.period)
            end = time.perf_counter()
            if end - start - self.period > self.threshold:
                self.stalls.append((start + self.period, end))

    def start(self):
        self._task = asyncio.create_task(self._run())

    async def stop(self):
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    def longest(self) -> float:
        return max((b - a for a, b in self.stalls), default=0.0)

    def by_cause(self, causes: Causes, background: tuple[float, float] | None) -> dict:
        """Longest stall per cause (ms): each stall goes to what overlapped most of it, the
        rest (running handlers, the interpreter, another process on the machine) to handling;
        the longest on-loop store call is reported apart (store_call)."""
        out = {"gc": 0.0, "store": 0.0, "handling": 0.0, "any": 0.0, "store_during_background": 0.0}
        for a, b in self.stalls:
            g, s = overlap(causes.gc, a, b), overlap(causes.store, a, b)
            rest = (b - a) - g - s
            cause = "gc" if g > max(s, rest) else "store" if s > max(g, rest) else "handling"
            gap = (b - a) * 1000
            out[cause] = max(out[cause], gap)
            out["any"] = max(out["any"], gap)
            if cause == "store" and background and a < background[1] and b > background[0]:
                out["store_during_background"] = max(out["store_during_background"], gap)
        out["stalls_over_10ms"] = sum(1 for a, b in self.stalls if b - a > 0.010)
        out["store_call"] = max(((b - a) * 1000 for a, b in causes.store), default=0.0)
        out["gc_pause"] = max(((b - a) * 1000 for a, b in causes.gc), default=0.0)
        return out


class WalWatch:
    """Largest size of the SQLite write-ahead log, sampled every 10 ms on a thread."""

    def __init__(self, db: Path | None):
        self.path = Path(f"{db}-wal") if db else None
        self.largest = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.01):
            try:
                self.largest = max(self.largest, self.path.stat().st_size)
            except OSError:
                pass

    def start(self):
        if self.path:
            self._thread.start()

    def stop(self):
        self._stop.set()
        if self.path:
            self._thread.join()


# -- the Bot API calls: counted, and when each chat's last one was answered --------------------
class Calls:
    def __init__(self):
        self.count = 0
        self.by_method: dict[str, int] = {}
        self.last: dict[int, float] = {}

    def wrap(self, request):
        inner = request.do_request

        async def do_request(url, method, request_data=None, **kwargs):
            answer = await inner(url, method, request_data, **kwargs)
            name = url.rsplit("/", 1)[-1]
            if name != "getMe":
                self.count += 1
                self.by_method[name] = self.by_method.get(name, 0) + 1
            params = request_data.parameters if request_data is not None else {}
            chat = params.get("chat_id")
            if chat is None and "callback_query_id" in params:
                chat = str(params["callback_query_id"]).split("-")[0]  # the workload's ids: "<user>-<n>"
            if chat is not None:
                self.last[int(chat)] = time.perf_counter()
            return answer
        request.do_request = do_request


def chat_of(update: dict) -> int:
    return (update.get("message") or update["callback_query"]["message"])["chat"]["id"]


# -- building the bots ----------------------------------------------------------------------------
def private_copy(name: str, workdir: Path) -> Path:
    source, copy = DATA / name, workdir / name
    shutil.copy(source, copy)
    return copy


def build(args, workdir: Path):
    """The application with the prepared stored conversations, and its database (ours)."""
    from bench.canned import CannedRequest
    base_url = f"{args.api}/bot" if args.api else None
    if args.client == "canned":
        request = CannedRequest()
    elif args.client == "aiohttp":
        from bot.telegram.request import AiohttpRequest
        request = AiohttpRequest()
    else:
        request = None  # PTB's default: httpx
    if args.bot == "baseline":
        from bench.baseline import build as build_baseline
        from bench.run import data_name
        pickle_path = private_copy(data_name("baseline", args.stored), workdir)
        return build_baseline(TOKEN, str(pickle_path), request=request, base_url=base_url), None
    assert args.client != "httpx", "ours runs on its own aiohttp request class"
    from bench.run import data_name
    from bot.flow.files import FlowSet
    from bot.settings import REPO_FLOWS, Settings
    from bot.stores import SQLiteStore
    from bot.telegram.app import build_application
    db = private_copy(data_name("ours", args.stored), workdir)
    flows, _ = FlowSet.load([REPO_FLOWS], "cstream")
    settings = Settings(token=TOKEN, data_dir=workdir, base_url=base_url or Settings.base_url,
                        retention_days=RETENTION_DAYS)
    # No rate limiter: it enforces Telegram's quotas (30 messages/s), which would measure Telegram.
    app = build_application(settings, flows, store=SQLiteStore(db), rate_limiter=False,
                            request=request if args.client == "canned" else None)
    return app, db


REMINDERS = 200  # stored conversations whose follow-up reminder comes due during the run
BACKGROUND = ("purge", "move", "report", "reminders")  # ours' background work, in this order


async def plant_reminders(app, count: int) -> None:
    """Give `count` stored private conversations a followed case whose first reminder is due
    now (before the measured run: this is the harness's work, not the bot's)."""
    from datetime import timedelta
    from bot.engine.progress import Case
    from bot.store import ConversationKey
    store, frontend = app.bot_data["store"], app.bot_data["frontend"]
    now = frontend.clock()
    sent = (now.date() - timedelta(days=40)).isoformat()
    planted, after = 0, ""
    while planted < count and (rows := await store.rows_after(after, 500)):
        after = rows[-1].key
        for row in rows:
            key = ConversationKey.parse(row.key)
            record = await store.load(key) if key.kind == "private" else None
            if record is None or planted >= count:
                continue
            case = Case(f"b{planted}", "write_now", record.progress.answers.get("problem", ""), sent,
                        now.timestamp() - 40 * 86400, answers=record.progress.path)
            await store.save(key, record.progress.with_(case=case), record.rev, record.seen, record.outbox, (),
                             [("answer_due", now.timestamp() - 60)])
            planted += 1
            if planted >= count:
                return


async def reminders_come_due(app, count: int) -> int:
    """Run the bot's reminders job until none is left (`plant_reminders` made `count` due):
    what a morning of reminders costs."""
    from types import SimpleNamespace
    frontend = app.bot_data["frontend"]
    before = frontend.metrics.reminders._value.get()
    context = SimpleNamespace(bot=app.bot)
    for _ in range(count // 50 + 2):  # the job claims 50 at a time
        await app.bot_data["jobs"].reminders(context)
    return int(frontend.metrics.reminders._value.get() - before)


async def background_work(app, db: Path | None, bot: str, causes: Causes, parts=BACKGROUND) -> dict:
    """What the bot does besides answering, started during the measured run (ours: `parts`)."""
    out = {}
    started = time.perf_counter()
    if bot == "ours":
        from bench.run import GROUP_CHAT
        from bot.ops.report import admin_summary_apart
        from bot.settings import REPO_FLOWS
        store = app.bot_data["store"]
        if "purge" in parts:
            t = time.perf_counter()
            out["purged"] = await store.purge(RETENTION_DAYS * 86400)
            out["purge_s"] = time.perf_counter() - t
        if "move" in parts:
            t = time.perf_counter()
            out["moved"] = await store.move_chat(GROUP_CHAT, GROUP_CHAT - 1_000_000_000_000)
            out["move_s"] = time.perf_counter() - t
        if "report" in parts:
            t = time.perf_counter()
            text, picture = await admin_summary_apart(f"sqlite:///{db}", str(REPO_FLOWS), "fr")
            out["report_s"], out["report_png_kb"] = time.perf_counter() - t, len(picture) / 1024
        if "reminders" in parts:
            t = time.perf_counter()
            out["reminders_sent"] = await reminders_come_due(app, REMINDERS)
            out["reminders_s"] = time.perf_counter() - t
    else:
        t = time.perf_counter()
        await app.persistence.flush()  # its periodic save: the whole pickle, on the event loop
        out["save_s"] = time.perf_counter() - t
        causes.store.append((t, t + out["save_s"]))
    out["background_s"] = time.perf_counter() - started
    return out


async def run(args) -> dict:
    from telegram import Update
    from bench.workload import stream
    from bot.telegram.incoming import parse_update
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        raw = [json.dumps(u).encode() for u in stream(args.conversations, args.returning, args.bot)]
        chats = [chat_of(json.loads(r)) for r in raw]
        app, db = build(args, workdir)
        calls = Calls()
        calls.wrap(app.bot._request[1])
        await app.initialize()
        store = app.bot_data.get("store")
        causes = Causes()
        if args.bot == "ours":
            from bot.store import ConversationKey
            await store.load(ConversationKey.console("warm-up"))  # open the database
            if args.background and "reminders" in args.background_parts.split(","):
                await plant_reminders(app, REMINDERS)
            store._commit_pending = causes.timed(store._commit_pending, "commit")
            store.load_sync = causes.timed(store.load_sync, "read")
        result = {"bot": args.bot, "client": args.client, "stored": args.stored, "ready_s": time.perf_counter() - T0,
                  "rss_ready_mb": rss_mb(), "in_flight": args.in_flight if args.bot == "ours" else 1}
        # The harness's own objects (the prepared stream) out of the collector's way, for both
        # bots alike, as a long-running bot does with its start-up heap (ours: post_init).
        gc.collect()
        gc.freeze()
        gc.callbacks.append(causes.gc_callback)
        idle = Ticker()
        idle.start()
        await asyncio.sleep(args.idle_s)
        await idle.stop()
        result["stall_idle_ms"] = idle.longest() * 1000

        ticker, wal = Ticker(), WalWatch(db)
        ticker.start()
        wal.start()
        await asyncio.sleep(0.005)
        latencies: list[float] = []
        first_start = [None]

        async def one(i: int, arrival: float | None = None):
            start = time.perf_counter()
            if args.bot == "ours":
                update = parse_update(raw[i], app.bot)  # as its webhook does
                await app.update_processor.process_update(update, app.process_update(update))
            else:
                update = Update.de_json(json.loads(raw[i]), app.bot)  # PTB's default
                await app.process_update(update)
            end = calls.last.get(chats[i], time.perf_counter())
            latencies.append(end - (arrival if arrival is not None else start))

        bg_task, bg_window = None, None

        async def start_background():
            nonlocal bg_window
            await asyncio.sleep(args.background_after)
            t = time.perf_counter()
            try:
                return await background_work(app, db, args.bot, causes, args.background_parts.split(","))
            finally:
                bg_window = (t, time.perf_counter())

        if args.background:
            bg_task = asyncio.create_task(start_background())
        profiler = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            profiler = cProfile.Profile()
            profiler.enable()
        started = time.perf_counter()
        first_start[0] = started
        if args.rate:
            await paced(args, one, len(raw))
        elif args.bot == "ours":
            await feed([lambda i=i: one(i) for i in range(len(raw))], args.in_flight)
        else:
            for i in range(len(raw)):  # PTB's default: one update at a time
                await one(i)
        elapsed = max(calls.last.values(), default=time.perf_counter()) - started
        if profiler:
            profiler.disable()
            profiler.dump_stats(os.environ["BENCH_PROFILE"])
        if bg_task is not None:
            result["background"] = await bg_task
            result["background_done_in_run"] = bg_window[1] <= started + elapsed
        await asyncio.sleep(0.01)
        await ticker.stop()
        wal.stop()
        gc.callbacks.remove(causes.gc_callback)
        latencies.sort()
        n = len(raw)
        result.update(
            updates=n, returning=args.returning, conversations=args.conversations, rate=args.rate,
            elapsed_s=elapsed, updates_per_s=n / elapsed,
            p50_ms=statistics.median(latencies) * 1000, p99_ms=latencies[int(n * 0.99) - 1] * 1000,
            max_ms=latencies[-1] * 1000, calls=calls.count, calls_per_update=calls.count / n,
            calls_by_method=calls.by_method, stall_ms=ticker.by_cause(causes, bg_window),
            wal_largest_mb=wal.largest / 2**20, rss_after_mb=rss_mb(),
            store_slow_calls=sorted(causes.slow, key=lambda c: -c[1])[:8])
        if args.bot == "ours":
            result["stored_after"] = store.count_sync()
            await app.shutdown()
        # The baseline is not shut down: at its defaults, PicklePersistence would rewrite the
        # whole file twice per changed conversation, which is not what is measured here.
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def feed(jobs, in_flight: int) -> None:
    """Start the jobs in order, at most `in_flight` running at once."""
    window = asyncio.Semaphore(in_flight)
    running: set = set()
    for job in jobs:
        await window.acquire()
        task = asyncio.create_task(job())
        running.add(task)
        task.add_done_callback(lambda t: (running.discard(t), window.release()))
    while running:
        await asyncio.wait(set(running))


async def paced(args, one, n: int) -> None:
    """Updates arrive at a fixed rate. Ours starts each on arrival (production); the baseline
    takes them one at a time from a queue, as PTB does by default."""
    loop = asyncio.get_running_loop()
    interval = 1.0 / args.rate
    start = time.perf_counter() + 0.02
    queue: asyncio.Queue = asyncio.Queue()

    async def consumer():
        while True:
            i, arrival = await queue.get()
            await one(i, arrival)
            queue.task_done()

    worker = asyncio.create_task(consumer()) if args.bot == "baseline" else None
    tasks = []
    for i in range(n):
        arrival = start + i * interval
        delay = arrival - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if worker:
            queue.put_nowait((i, arrival))
        else:
            tasks.append(loop.create_task(one(i, arrival)))
    if worker:
        await queue.join()
        worker.cancel()
    else:
        await asyncio.gather(*tasks)


# -- idle RSS and each part's cost --------------------------------------------------------------
def idle() -> dict:
    """In a fresh process: RSS and import time after each part, in the order the bot loads
    them; then the idle bot (application built, engine warmed up, collector frozen); then
    what the parts it does not load would cost (PostgreSQL driver, charts)."""
    parts = []
    last = [rss_mb(), time.perf_counter()]

    def part(name, fn):
        fn()
        now = rss_mb(), time.perf_counter()
        parts.append({"part": name, "rss_mb": now[0] - last[0], "seconds": now[1] - last[1]})
        last[:] = now

    base = rss_mb()
    part("python-telegram-bot (telegram.ext)", lambda: __import__("telegram.ext"))
    part("aiohttp", lambda: __import__("aiohttp.web"))
    part("the bot's modules (bot.telegram.app and what it imports)", lambda: __import__("bot.telegram.app"))
    workdir = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    holder = {}

    def flows():
        from bot.flow.files import FlowSet
        from bot.settings import REPO_FLOWS
        holder["flows"] = FlowSet.load([REPO_FLOWS], "cstream")[0]
    part("flows loaded (state machines, recognisers)", flows)

    def app():
        from bench.canned import CannedRequest  # getMe answered in process: no network here
        from bot.settings import Settings
        from bot.telegram.app import build_application
        holder["app"] = build_application(Settings(token=TOKEN, data_dir=workdir), holder["flows"],
                                          request=CannedRequest())
    part("application built, engine warmed up (every node rendered once)", app)

    def ready():
        async def go():
            a = holder["app"]
            await a.initialize()
            from bot.store import ConversationKey
            await a.bot_data["store"].load(ConversationKey.console("warm-up"))
            gc.collect()
            gc.freeze()
        asyncio.run(go())
    part("initialised, store opened, heap frozen", ready)
    idle_rss = rss_mb()
    loaded = {m: m in sys.modules for m in ("asyncpg", "matplotlib", "holidays", "httpx", "docx", "graphviz")}
    extra = []
    for name, module in (("asyncpg (PostgreSQL URLs only)", "asyncpg"), ("matplotlib (reports only)", "matplotlib.pyplot")):
        before, t = rss_mb(), time.perf_counter()
        try:
            __import__(module)
            extra.append({"part": name, "rss_mb": rss_mb() - before, "seconds": time.perf_counter() - t})
        except ImportError:
            extra.append({"part": name, "rss_mb": None, "seconds": None})
    shutil.rmtree(workdir, ignore_errors=True)
    return {"interpreter_mb": base, "parts": parts, "idle_rss_mb": idle_rss, "loaded_at_idle": loaded,
            "not_loaded_costs": extra, "ready_s": time.perf_counter() - T0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["run", "idle"])
    parser.add_argument("--bot", choices=["ours", "baseline"], default="ours")
    parser.add_argument("--client", choices=["canned", "httpx", "aiohttp"], default="aiohttp")
    parser.add_argument("--api", help="base URL of the canned Bot API server")
    parser.add_argument("--stored", type=int, default=0)
    parser.add_argument("--conversations", type=int, default=300)
    parser.add_argument("--returning", type=int, default=100, help="of which continue stored conversations")
    parser.add_argument("--rate", type=float, default=0, help="updates per second (0: saturated)")
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--background", action="store_true")
    parser.add_argument("--background-after", type=float, default=0.3, help="seconds into the run")
    parser.add_argument("--background-parts", default=",".join(BACKGROUND),
                        help="ours' background work to run, of " + ", ".join(BACKGROUND))
    parser.add_argument("--idle-s", type=float, default=1.0, help="the idle loop's stalls, measured first")
    args = parser.parse_args()
    result = idle() if args.what == "idle" else asyncio.run(run(args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
