"""Benchmark: this bot against a plain python-telegram-bot ConversationHandler bot.

    .venv/bin/pip install -e ".[bench]" && .venv/bin/python -m bench.run          # ~10 minutes
    .venv/bin/python -m bench.run --quick                                      # a smoke run

Each figure comes from separate processes, the two bots alternating (A/B, then B/A) over
several rounds; medians are printed, with the ratio ours / baseline. Results go to
bench/results/latest.json. Stored conversations are generated once into bench/data/.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results"
OFFLINE_RATE = 500  # updates/s that both bots sustain offline
HTTP_RATE = 80      # and over loopback HTTP (the baseline tops out near 130)


# -- stored conversations ---------------------------------------------------------------------
def prepare(n: int) -> None:
    """n people mid-way, stored as each bot stores them (generated once, then reused)."""
    DATA.mkdir(exist_ok=True)
    ours, baseline = DATA / f"ours-{n}.sqlite3", DATA / f"baseline-{n}.pickle"
    if not ours.exists():
        sys.path.insert(0, str(ROOT))
        from bot.engine.progress import Answer, Progress
        from bot.store.sqlite import migrate
        tmp = ours.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn)
        now = time.time()
        template = Progress("cstream", "v0", "contacted",
                            path=(Answer("problem", "billing", "on m'a prélevé deux fois"), Answer("service", "video")),
                            started=now, updated=now)
        data = template.to_json()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO progress(key, user_id, chat_id, rev, updated, data) VALUES (?,?,?,?,?,?)",
                         ((f"private:{uid}", uid, uid, 2, now, data) for uid in range(1, n + 1)))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        tmp.rename(ours)
    if not baseline.exists():
        conversations = {(uid, uid): 2 for uid in range(1, n + 1)}  # CONTACTED
        user_data = {uid: {"problem": "billing", "service": "video"} for uid in range(1, n + 1)}
        tmp = baseline.with_suffix(".tmp")
        with tmp.open("wb") as file:
            pickle.dump({"conversations": {"complaint": conversations}, "user_data": user_data,
                         "chat_data": {}, "bot_data": {}, "callback_data": None}, file,
                        protocol=pickle.HIGHEST_PROTOCOL)
        tmp.rename(baseline)


# -- running workers --------------------------------------------------------------------------
def worker(bot: str, mode: str, stored: int, conversations: int, api: str | None = None,
           rate: float | None = None) -> dict:
    args = [sys.executable, "-m", "bench.worker", "--bot", bot, "--mode", mode, "--stored", str(stored),
            "--conversations", str(conversations)]
    if rate:
        args += ["--rate", str(rate)]
    if api:
        args += ["--api", api]
    spawned = time.time()
    proc = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(f"{bot} {mode} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["startup_s"] = result["ready_at"] - spawned  # from the process's launch to ready
    return result


def canned_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "bench.canned", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}"


def alternate(rounds: int, run) -> dict[str, list[dict]]:
    """A/B then B/A, `rounds` times: neither bot always runs first on a warm machine."""
    out = {"ours": [], "baseline": []}
    for r in range(rounds):
        order = ("ours", "baseline") if r % 2 == 0 else ("baseline", "ours")
        for bot in order:
            out[bot].append(run(bot))
            print(f"  round {r + 1} {bot}: {summary_line(out[bot][-1])}", flush=True)
    return out


def summary_line(result: dict) -> str:
    keys = ("updates_per_s", "p50_ms", "p99_ms", "paced_p50_ms", "paced_p99_ms", "stall_run_ms",
            "stall_save_ms", "startup_s",
            "rss_ready_mb", "rss_after_mb", "stall_persist_ms", "saves_per_s")
    return ", ".join(f"{k}={result[k]:.3g}" for k in keys if k in result)


def med(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def machine_step_us(samples: int = 20000) -> float:
    sys.path.insert(0, str(ROOT))
    from bot.flow.files import FlowSet
    from bot.settings import REPO_FLOWS
    machine = FlowSet.load([REPO_FLOWS])[0].get("cstream")
    answers = {"problem": "billing", "service": "video", "contacted": "no"}
    steps = [("problem", "billing"), ("service", "video"), ("contacted", "no"), ("hearing", "no")]
    started = time.perf_counter()
    for i in range(samples):
        node, choice = steps[i % 4]
        machine.step(node, choice, answers)
    return (time.perf_counter() - started) / samples * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--stored", type=int, default=100_000, help="stored conversations for the runs")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="stored conversations for start-up")
    parser.add_argument("--quick", action="store_true", help="1 round, 200 conversations, small stores")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.conversations, args.stored, args.sizes = 1, 200, 10_000, "10000"
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sorted(set(sizes + [args.stored])):
        print(f"preparing {n} stored conversations...", flush=True)
        prepare(n)

    table: list[tuple[str, float, float, str]] = []
    results: dict = {"machine": machine_info(), "args": vars(args), "runs": {}}

    step = machine_step_us()
    results["machine_step_us"] = step
    print(f"state machine: {step:.1f} µs per step (set state, then trigger)")

    print(f"offline: {args.conversations} conversations, {args.stored} stored, canned Bot API in process")
    offline = alternate(args.rounds, lambda bot: worker(bot, "offline", args.stored, args.conversations))
    results["runs"]["offline"] = offline

    print(f"paced: the same stream arriving at {OFFLINE_RATE} updates/s (both keep up); latency = arrival to done")
    paced_offline = alternate(args.rounds, lambda bot: worker(bot, "paced", args.stored, args.conversations,
                                                              rate=OFFLINE_RATE))
    results["runs"]["paced_offline"] = paced_offline

    server, api = canned_server()
    try:
        print(f"loopback HTTP: canned Bot API at {api}; ours 32 in flight with its aiohttp client, "
              "baseline one at a time (PTB's default) with PTB's default httpx client")
        http = alternate(args.rounds, lambda bot: worker(bot, "http", args.stored, args.conversations, api))
        results["runs"]["http"] = http
        print(f"paced over loopback HTTP at {HTTP_RATE} updates/s")
        paced_http = alternate(args.rounds, lambda bot: worker(bot, "paced", args.stored, args.conversations,
                                                               api, rate=HTTP_RATE))
        results["runs"]["paced_http"] = paced_http

        print(f"persisting alone (ours): {args.conversations * 4} saves, {args.stored} stored")
        persist = [worker("ours", "persist", args.stored, args.conversations) for _ in range(args.rounds)]
        results["runs"]["persist"] = persist

        startup = {}
        for n in sizes:
            print(f"start-up with {n} stored conversations, each bot with its own HTTP client (getMe on loopback)")
            startup[n] = alternate(args.rounds, lambda bot: worker(bot, "startup", n, 0, api))
        results["runs"]["startup"] = startup
    finally:
        server.terminate()

    def row(name, key, runs, unit, better="higher"):
        ours, base = med(runs["ours"], key), med(runs["baseline"], key)
        table.append((name, ours, base, unit))

    row("updates/s, offline (saturated)", "updates_per_s", offline, "")
    row(f"p50 handling, offline at {OFFLINE_RATE}/s", "paced_p50_ms", paced_offline, "ms")
    row(f"p99 handling, offline at {OFFLINE_RATE}/s", "paced_p99_ms", paced_offline, "ms")
    row("updates/s, loopback HTTP (saturated)", "updates_per_s", http, "")
    row(f"p50 handling, HTTP at {HTTP_RATE}/s", "paced_p50_ms", paced_http, "ms")
    row(f"p99 handling, HTTP at {HTTP_RATE}/s", "paced_p99_ms", paced_http, "ms")
    row("longest loop stall during the HTTP run", "stall_run_ms", http, "ms")
    table.append(("longest loop stall while persisting", med(persist, "stall_persist_ms"),
                  med(offline["baseline"], "stall_save_ms"), "ms"))
    for n in sizes:
        row(f"start-up to ready, {n} stored", "startup_s", startup[n], "s")
        row(f"RSS at ready, {n} stored", "rss_ready_mb", startup[n], "MB")
    row("RSS after the offline run", "rss_after_mb", offline, "MB")
    results["table"] = [{"measure": m, "ours": o, "baseline": b, "unit": u, "ratio": o / b if b else None}
                        for m, o, b, u in table]

    print()
    print(f"{'measure':<44} {'ours':>10} {'baseline':>10} {'ours/base':>10}")
    for m, o, b, u in table:
        ratio = f"{o / b:.2f}x" if b else "-"
        print(f"{m:<44} {o:>9.3g}{u:<1} {b:>9.3g}{u:<1} {ratio:>10}")
    if len(sizes) > 1:
        first, last = min(sizes), max(sizes)
        grow = med(startup[last]["ours"], "startup_s") / med(startup[first]["ours"], "startup_s")
        print(f"ours: start-up with {last} stored / with {first} stored = {grow:.2f}x")
        results["ours_startup_growth"] = grow
    print(f"state machine step: {step:.1f} µs")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "latest.json"
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"results written to {out.relative_to(ROOT)}")


def machine_info() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gb"] = round(int(mem) / 2**20, 1)
    except OSError:
        pass
    return info


if __name__ == "__main__":
    main()
