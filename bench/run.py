"""Benchmark: this bot against a plain python-telegram-bot ConversationHandler bot.

    .venv/bin/pip install -e ".[bench]" && .venv/bin/python -m bench.run      # 5 rounds, ~15 minutes
    .venv/bin/python -m bench.run --quick                                   # 1 round, a smoke run
    .venv/bin/python -m bench.run --sections throughput,latency             # some sections only

Contenders, each in processes of its own, alternating within every round (the order rotates):
- ours: its aiohttp request class, `--in-flight` updates at once (one conversation's in
  order), SQLite, every step committed (with its outbox and events) before its reply;
- ours-1: the same, one update at a time;
- baseline-httpx: ConversationHandler + PicklePersistence as PTB's examples write it, one
  update at a time (ConversationHandler requires it), with PTB's default httpx client;
- baseline-aiohttp: the same baseline with our aiohttp request class (bot/telegram/request.py).
Everyone gets the same stream (bench/workload.py: varied paths to varied outcomes, a part of
the conversations continuing ones stored before the run) as raw JSON; time runs from the raw
JSON to the last Bot API call of the update answered (parsing included) by a canned Bot API
on loopback (`--port-base`: it binds that port and the next two, nothing else). Each figure: median and min-max over
the rounds; a ratio whose ranges overlap is reported as "no difference".

Sections: idle (RSS and each part's cost), offline (canned Bot API in process), throughput
(saturated, loopback HTTP), distant (saturated, the Bot API answering each call after
`--api-delay-ms`, as across a network), latency (paced, with each bot's background work), stalls (ours
with 1,000,000 stored and 500,000 to purge, paced, purge + chat move + report meanwhile).
Results go to bench/results/latest.json (or `--out`).
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
DATA_VERSION = 2           # bump when what prepare() writes changes
GROUP_CHAT = -1001234      # a group whose members' conversations a chat move carries over
GROUP_MEMBERS = 5000
OLD_DAYS = 200             # the purge backlog's age (the bot keeps 90 days)
SECTIONS = ("idle", "offline", "throughput", "distant", "latency", "stalls")


# -- stored conversations ---------------------------------------------------------------------
def data_name(bot: str, n: int) -> str:
    return f"{bot}-v{DATA_VERSION}-{n}.{'sqlite3' if bot == 'ours' else 'pickle'}"


def prepare(n: int, baseline: bool = True) -> None:
    """n people mid-way (problem and service answered, at `contacted`), stored as each bot
    stores them, generated once into bench/data/. Ours: odd ids untouched for OLD_DAYS (the
    purge backlog: half), even ids recent (the returning people are among them), plus a group
    of GROUP_MEMBERS members (the chat move)."""
    sys.path.insert(0, str(ROOT))
    from bench.workload import PROBLEMS, STORED_TEMPLATES, Walker, stored_template
    DATA.mkdir(exist_ok=True)
    ours, base = DATA / data_name("ours", n), DATA / data_name("baseline", n)
    walker = Walker()
    templates = [walker.stored_progress(i) for i in range(len(STORED_TEMPLATES))]
    if not ours.exists():
        from bot.store import ConversationKey
        from bot.store.sqlite import migrate
        tmp = ours.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn)
        now = time.time()
        old = now - OLD_DAYS * 86400
        data = [p.to_json() for p in templates]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO progress(key, user_id, chat_id, rev, updated, data) VALUES (?,?,?,?,?,?)",
                         ((f"private:{uid}", uid, uid, 2, old if uid % 2 else now, data[stored_template(uid)])
                          for uid in range(1, n + 1)))
        conn.executemany("INSERT INTO progress(key, user_id, chat_id, rev, updated, data) VALUES (?,?,?,?,?,?)",
                         ((str(ConversationKey.group(GROUP_CHAT, uid)), uid, GROUP_CHAT, 2, now, data[0])
                          for uid in range(1, GROUP_MEMBERS + 1)))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        tmp.rename(ours)
    if baseline and not base.exists():
        from bench.baseline import CONTACTED
        conversations = {(uid, uid): CONTACTED for uid in range(1, n + 1)}
        user_data = {}
        for uid in range(1, n + 1):
            problem, service = STORED_TEMPLATES[stored_template(uid)]
            user_data[uid] = {"problem": PROBLEMS[problem][1], "service": service}
        tmp = base.with_suffix(".tmp")
        with tmp.open("wb") as file:
            pickle.dump({"conversations": {"complaint": conversations}, "user_data": user_data,
                         "chat_data": {}, "bot_data": {}, "callback_data": None}, file,
                        protocol=pickle.HIGHEST_PROTOCOL)
        tmp.rename(base)


# -- running workers --------------------------------------------------------------------------
CONTENDERS = {  # name: worker arguments
    "ours": ["--bot", "ours", "--client", "aiohttp"],
    "ours-1": ["--bot", "ours", "--client", "aiohttp", "--in-flight", "1"],
    "baseline-aiohttp": ["--bot", "baseline", "--client", "aiohttp"],
    "baseline-httpx": ["--bot", "baseline", "--client", "httpx"],
    "ours-canned": ["--bot", "ours", "--client", "canned"],
    "baseline-canned": ["--bot", "baseline", "--client", "canned"],
}


def worker(args: list[str]) -> dict:
    if args[0] != "idle":
        args = ["run", *args]
    proc = subprocess.run([sys.executable, "-m", "bench.worker", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def canned_server(port: int, delay_ms: float = 0.0) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bench.canned", str(port), str(delay_ms)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    raise RuntimeError(f"the canned Bot API did not listen on 127.0.0.1:{port}")


def idle_bot(api: str, port: int, settle: float = 3.0) -> float:
    """RSS (MB) of the real bot process in webhook mode, `settle` seconds after it is ready."""
    import tempfile
    import psutil
    folder = Path(tempfile.mkdtemp(prefix="bench-idle-"))
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": "123:bench", "TELEGRAM_BASE_URL": f"{api}/bot",
           "BOT_WEBHOOK_SECRET": "bench-secret", "BOT_WEBHOOK_LISTEN": "127.0.0.1", "BOT_WEBHOOK_PORT": str(port),
           "BOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook", "BOT_DATA_DIR": str(folder),
           "BOT_LOG_LEVEL": "WARNING", "BOT_DEFAULT_FLOW": "cstream"}  # the stream is the Cstream flow's
    env.pop("BOT_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "run", "--webhook"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(folder / "bot.log", "w"))
    try:
        import urllib.request
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the bot did not become ready:\n" + (folder / "bot.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.1)
        time.sleep(settle)
        return psutil.Process(proc.pid).memory_info().rss / 2**20
    finally:
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        import shutil
        shutil.rmtree(folder, ignore_errors=True)


def alternate(rounds: int, names: list[str], run) -> dict[str, list[dict]]:
    """Every contender once per round; the order rotates (and reverses every other round), so
    that none always runs first or after the same one."""
    out = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        if r % 2:
            order.reverse()
        for name in order:
            out[name].append(run(name))
            print(f"  round {r + 1} {name}: {summary_line(out[name][-1])}", flush=True)
    return out


def summary_line(r: dict) -> str:
    parts = [f"{r['updates_per_s']:.0f} updates/s", f"p50 {r['p50_ms']:.1f} ms", f"p99 {r['p99_ms']:.1f} ms",
             f"calls/update {r['calls_per_update']:.2f}",
             "stalls ms " + ", ".join(f"{k} {v:.0f}" for k, v in r["stall_ms"].items() if k != "stalls_over_10ms"),
             f"idle {r['stall_idle_ms']:.1f}"]
    if r.get("wal_largest_mb"):
        parts.append(f"WAL {r['wal_largest_mb']:.1f} MB")
    if "background" in r:
        parts.append("bg " + ", ".join(f"{k} {v:.3g}" for k, v in r["background"].items()))
    return "; ".join(parts)


def spread(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def compare(a: list[float], b: list[float], higher_better: bool = True) -> str:
    """a against b: the ratio of medians, or "no difference" when the ranges overlap."""
    (ma, la, ha), (mb, lb, hb) = spread(a), spread(b)
    ratio = ma / mb if mb else float("inf")
    if la <= hb and lb <= ha:
        return f"no difference ({ratio:.2f}x, ranges overlap)"
    ahead = (ma > mb) == higher_better
    return f"{ratio:.2f}x ({'ahead' if ahead else 'behind'})"


def fmt(values: list[float], digits: int = 0) -> str:
    m, lo, hi = spread(values)
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conversations", type=int, default=300, help="per saturated run")
    parser.add_argument("--paced-conversations", type=int, default=150, help="per paced run")
    parser.add_argument("--stall-conversations", type=int, default=400,
                        help="per stalls run (long enough for the purge to run under load)")
    parser.add_argument("--returning", type=float, default=0.3, help="share of conversations continuing stored ones")
    parser.add_argument("--stored", type=int, default=100_000, help="stored conversations for the comparisons")
    parser.add_argument("--stall-stored", type=int, default=1_000_000, help="stored for the stalls section")
    parser.add_argument("--rate", type=float, default=60, help="updates/s of the paced runs")
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--port-base", type=int, default=18_400,
                        help="the canned Bot API listens on this port, the idle bot on the next, the distant "
                             "Bot API on the one after: the only three bound")
    parser.add_argument("--api-delay-ms", type=float, default=25,
                        help="the distant section's Bot API answers each call after this long")
    parser.add_argument("--distant-conversations", type=int, default=60, help="per distant run")
    parser.add_argument("--distant-rate", type=float, default=10,
                        help="updates/s of the distant paced runs (the baseline handles about 14/s there)")
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--out", default=str(RESULTS / "latest.json"))
    parser.add_argument("--quick", action="store_true", help="1 round, small runs, small stores (a smoke run)")
    parser.add_argument("--table", nargs="+", metavar="JSON",
                        help="print the Markdown table of earlier results (a later file's sections replace an earlier's)")
    args = parser.parse_args()
    if args.table:
        print(markdown(args.table))
        return
    if args.quick:
        args.rounds, args.conversations, args.paced_conversations, args.stall_conversations = 1, 40, 30, 30
        args.distant_conversations = 10
        args.stored, args.stall_stored, args.rate = 2_000, 4_000, 100
    sections = args.sections.split(",")
    results: dict = {"machine": machine_info(), "args": vars(args), "runs": {}, "table": []}
    table = results["table"]

    def row(measure: str, ours: str, base: str, verdict: str, how: str) -> None:
        table.append({"measure": measure, "ours": ours, "baseline": base, "verdict": verdict, "reproduce": how})

    def common(n: int) -> list[str]:
        return ["--stored", str(args.stored), "--conversations", str(n),
                "--returning", str(round(n * args.returning))]

    def contender(name: str) -> list[str]:
        extra = ["--in-flight", str(args.in_flight)] if name in ("ours", "ours-canned") else []
        return CONTENDERS[name] + extra

    for n in sorted({args.stored} | ({args.stall_stored} if "stalls" in sections else set())):
        print(f"preparing {n} stored conversations...", flush=True)
        prepare(n, baseline=n == args.stored)
    api = f"http://127.0.0.1:{args.port_base}"

    server = None
    try:
        if {"idle", "throughput", "latency", "stalls"} & set(sections):
            server = canned_server(args.port_base)
        if "idle" in sections:
            print("idle: RSS of `python -m bot run --webhook` once ready and idle; each part's cost in fresh processes")
            bots = [idle_bot(api, args.port_base + 1) for _ in range(max(3, args.rounds))]
            idle = [worker(["idle"]) for _ in range(max(3, args.rounds))]
            results["runs"]["idle"] = {"bot": bots, "parts": idle}
            for mb, r in zip(bots, idle):
                print(f"  bot process idle RSS {mb:.1f} MB; in the worker {r['idle_rss_mb']:.1f} MB "
                      f"(its interpreter with psutil {r['interpreter_mb']:.1f} MB); loaded: {r['loaded_at_idle']}")
            row("idle RSS of `python -m bot run --webhook` (SQLite), ready", fmt(bots, 1) + " MB", "",
                "target <= 75 MB: " + ("met" if spread(bots)[0] <= 75 else "missed"), "--sections idle")
            for i, part in enumerate(idle[0]["parts"]):
                row(f"  of which: {part['part']}", fmt([r["parts"][i]["rss_mb"] for r in idle], 1) + " MB, "
                    + fmt([r["parts"][i]["seconds"] for r in idle], 2) + " s", "", "", "--sections idle")
            for i, part in enumerate(idle[0]["not_loaded_costs"]):
                if part["rss_mb"] is not None:
                    row(f"  not loaded when idle: {part['part']}", fmt([r["not_loaded_costs"][i]["rss_mb"] for r in idle], 1)
                        + " MB", "", "", "--sections idle")
        if "offline" in sections:
            print(f"offline: canned Bot API in process, saturated, {args.stored} stored")
            names = ["ours-canned", "baseline-canned"]
            runs = alternate(args.rounds, names, lambda name: worker(
                contender(name) + common(args.conversations)))
            results["runs"]["offline"] = runs
            ups = {k: [r["updates_per_s"] for r in v] for k, v in runs.items()}
            row("updates/s, canned Bot API in process (no HTTP)", fmt(ups["ours-canned"]), fmt(ups["baseline-canned"]),
                compare(ups["ours-canned"], ups["baseline-canned"]), "--sections offline")
        if "throughput" in sections:
            print(f"throughput: loopback HTTP at {api}, saturated, {args.stored} stored")
            names = ["ours", "ours-1", "baseline-aiohttp", "baseline-httpx"]
            runs = alternate(args.rounds, names, lambda name: worker(
                contender(name) + common(args.conversations) + ["--api", api]))
            results["runs"]["throughput"] = runs
            ups = {k: [r["updates_per_s"] for r in v] for k, v in runs.items()}
            cpu = {k: [r["calls_per_update"] for r in v] for k, v in runs.items()}
            for base in ("baseline-aiohttp", "baseline-httpx"):
                row(f"updates/s, loopback HTTP, ours ({args.in_flight} in flight) vs {base}", fmt(ups["ours"]),
                    fmt(ups[base]), compare(ups["ours"], ups[base]), "--sections throughput")
            row("updates/s, loopback HTTP, ours one at a time vs baseline-aiohttp", fmt(ups["ours-1"]),
                fmt(ups["baseline-aiohttp"]), compare(ups["ours-1"], ups["baseline-aiohttp"]), "--sections throughput")
            row("Bot API calls per update", fmt(cpu["ours"], 2), fmt(cpu["baseline-aiohttp"], 2),
                compare(cpu["ours"], cpu["baseline-aiohttp"], higher_better=False), "--sections throughput")
            row("largest WAL during the saturated run", fmt([r["wal_largest_mb"] for r in runs["ours"]], 1) + " MB", "",
                "", "--sections throughput")
        if "distant" in sections:
            far = f"http://127.0.0.1:{args.port_base + 2}"
            print(f"distant: a Bot API answering each call after {args.api_delay_ms:.0f} ms, {args.stored} stored; "
                  f"saturated, then paced at {args.distant_rate}/s")
            distant = canned_server(args.port_base + 2, args.api_delay_ms)
            try:
                names = ["ours", "baseline-aiohttp"]
                saturated = alternate(args.rounds, names, lambda name: worker(
                    contender(name) + common(args.distant_conversations) + ["--api", far]))
                paced_runs = alternate(args.rounds, names, lambda name: worker(
                    contender(name) + common(args.distant_conversations)
                    + ["--api", far, "--rate", str(args.distant_rate)]))
            finally:
                distant.terminate()
                distant.wait(10)
            results["runs"]["distant"] = saturated
            results["runs"]["distant-paced"] = paced_runs
            ups = {k: [r["updates_per_s"] for r in v] for k, v in saturated.items()}
            row(f"updates/s, Bot API {args.api_delay_ms:.0f} ms away, ours ({args.in_flight} in flight) vs "
                "baseline-aiohttp", fmt(ups["ours"]), fmt(ups["baseline-aiohttp"]),
                compare(ups["ours"], ups["baseline-aiohttp"]), "--sections distant")
            for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
                v = {k: [r[key] for r in rs] for k, rs in paced_runs.items()}
                row(f"{label} latency from arrival at {args.distant_rate:.0f}/s, Bot API {args.api_delay_ms:.0f} ms "
                    "away (ms)", fmt(v["ours"], 1), fmt(v["baseline-aiohttp"], 1),
                    compare(v["ours"], v["baseline-aiohttp"], higher_better=False), "--sections distant")
        if "latency" in sections:
            print(f"latency: updates arriving at {args.rate}/s over loopback HTTP, {args.stored} stored, "
                  "each bot's background work during the run")
            names = ["ours", "baseline-aiohttp", "baseline-httpx"]
            runs = alternate(args.rounds, names, lambda name: worker(
                contender(name) + common(args.paced_conversations)
                + ["--api", api, "--rate", str(args.rate), "--background"]))
            results["runs"]["latency"] = runs
            for key, label in (("p50_ms", "p50"), ("p99_ms", "p99")):
                v = {k: [r[key] for r in rs] for k, rs in runs.items()}
                for base in ("baseline-aiohttp", "baseline-httpx"):
                    row(f"{label} latency at {args.rate:.0f}/s (ms), ours vs {base}", fmt(v["ours"], 1), fmt(v[base], 1),
                        compare(v["ours"], v[base], higher_better=False), "--sections latency")
            stall = {k: [r["stall_ms"]["any"] for r in rs] for k, rs in runs.items()}
            row("longest loop stall in the latency run, any cause (ms), ours vs baseline-aiohttp", fmt(stall["ours"], 1),
                fmt(stall["baseline-aiohttp"], 1), compare(stall["ours"], stall["baseline-aiohttp"], False),
                "--sections latency")
        if "stalls" in sections:
            print(f"stalls: ours, {args.stall_stored} stored ({args.stall_stored // 2} to purge), paced at "
                  f"{args.rate}/s, purge + chat move ({GROUP_MEMBERS} members) + report meanwhile")
            runs = alternate(args.rounds, ["ours"], lambda name: worker(
                contender(name) + common(args.stall_conversations)[2:]
                + ["--stored", str(args.stall_stored), "--api", api, "--rate", str(args.rate), "--background",
                   "--idle-s", "2"]))
            results["runs"]["stalls"] = runs
            rs = runs["ours"]
            for cause, label in (("store", "store or background work"), ("gc", "garbage collector"),
                                 ("handling", "handling updates (and the machine)")):
                values = [r["stall_ms"][cause] for r in rs]
                target = ("target < 20 ms: " + ("met" if spread(values)[0] < 20 else "missed")) if cause == "store" else ""
                row(f"longest stall: {label} (ms)", fmt(values, 1), "", target, "--sections stalls")
            row("longest stall of the idle loop, same process, nothing running (ms)",
                fmt([r["stall_idle_ms"] for r in rs], 1), "", "", "--sections stalls")
            row("largest WAL (MB)", fmt([r["wal_largest_mb"] for r in rs], 1), "", "", "--sections stalls")
            row("purge (s), move (s), report (s), 200 reminders (s)",
                " / ".join(fmt([r["background"].get(k, float("nan")) for r in rs], 2)
                           for k in ("purge_s", "move_s", "report_s", "reminders_s")), "",
                "", "--sections stalls")
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)

    print()
    for r in table:
        print(f"{r['measure']:<70} {r['ours']:>24} {r['baseline']:>24}  {r['verdict']}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"results written to {out}")


def markdown(files: list[str]) -> str:
    rows: dict[str, list[dict]] = {}
    for file in files:
        table = json.loads(Path(file).read_text())["table"]
        for section in {r["reproduce"] for r in table}:
            rows[section] = [r for r in table if r["reproduce"] == section]
    lines = ["| measure | ours | baseline | ours / baseline | reproduce |", "| --- | --- | --- | --- | --- |"]
    for section in SECTIONS:
        for r in rows.get(f"--sections {section}", []):
            lines.append(f"| {r['measure']} | {r['ours']} | {r['baseline']} | {r['verdict']} | `{r['reproduce']}` |")
    return "\n".join(lines)


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
