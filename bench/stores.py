"""Benchmark: one process on SQLite vs one on PostgreSQL vs three on PostgreSQL behind nginx.

    .venv/bin/python -m bench.stores --conversations 600   # 5 rounds (~9 minutes; docs/operating.md's figures)
    .venv/bin/python -m bench.stores                       # 5 rounds, 1,000 conversations (~15 minutes)
    .venv/bin/python -m bench.stores --quick               # 1 round, 200 conversations (a smoke run)

Each set-up runs the real `python -m bot run --webhook` processes (fresh data folder, fresh
PostgreSQL database per run, nginx configured from deploy/nginx.conf with loopback ports).
This process is the load and the Bot API at once: a canned Bot API (aiohttp, loopback) that
counts the calls naming each chat, and a sender that POSTs bench/workload.py's conversations,
interleaved, with the secret header (re-sent until a 200), `--in-flight` updates at a time.
A conversation's next update is sent once the previous one's replies reached the Bot API
(as a person answers the question they see); an update's latency runs from its POST to its
last reply reaching the Bot API. updates/s = updates / (first POST to the last reply).
How many calls each step makes is learned from three warm-up conversations per run (which
also warm the processes up) and checked at the end of the run for every chat.
The set-ups alternate over the rounds (the order rotates); medians and min-max are printed.
CPU seconds of every process (bots, PostgreSQL, nginx, this one) are read with psutil over
the measured window. Results go to bench/results/stores.json.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import psutil
from aiohttp import web

from bench.canned import ANSWERS, TRUE
from bench.run import machine_info

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PG_URL = os.environ.get("BOT_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
TOKEN = "123:bench"
SECRET = "bench-secret"
PATH = "/telegram/webhook"  # the path in deploy/nginx.conf
SETUPS = {"sqlite1": "1 process, SQLite", "pg1": "1 process, PostgreSQL", "pg3": "3 processes, PostgreSQL, nginx"}
WARM = 3  # warm-up conversations per run, one per path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        sys.exit("nginx is not installed (apt-get install nginx-light)")
    return found


def nginx_config(tmp: Path, listen: int, ports: list[int], fail_timeout: int | None = None,
                 workers: int = 1) -> Path:
    """deploy/nginx.conf with loopback ports and without TLS, inside a main configuration of
    its own in `tmp` (tests/e2e/test_nginx.py uses it too). `fail_timeout` shortens how long
    a failed process is skipped, so that a restarted one is back in the rotation sooner."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = iter(ports)
    site, n = re.subn(r"server 127\.0\.0\.1:\d+", lambda m: f"server 127.0.0.1:{next(upstream)}", site)
    assert n == 3, "deploy/nginx.conf names three bot processes"
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{listen};")
    if fail_timeout is not None:
        site = re.sub(r"fail_timeout=\d+s", f"fail_timeout={fail_timeout}s", site)
    site = "\n".join(line for line in site.splitlines() if not line.strip().startswith("ssl_"))
    (tmp / "site.conf").write_text(site)
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"    {kind}_temp_path {tmp}/{kind};" for kind in kinds)
    main = tmp / "nginx.conf"
    main.write_text(f"""user root;
worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temp}
    include {tmp}/site.conf;
}}
""")
    return main


# -- the canned Bot API, counting the calls that name a chat ----------------------------------
class Api:
    def __init__(self):
        self.calls: dict[int, int] = {}
        self.waiters: dict[int, tuple[int, asyncio.Future]] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._runner = None

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        chat = None
        if request.content_type == "application/json":
            body = await request.read()
            if body:
                chat = json.loads(body).get("chat_id")
        else:
            form = await request.post()
            chat = form.get("chat_id")
        if chat is not None:
            chat = int(chat)
            count = self.calls[chat] = self.calls.get(chat, 0) + 1
            waiter = self.waiters.get(chat)
            if waiter and count >= waiter[0] and not waiter[1].done():
                waiter[1].set_result(time.perf_counter())
        return web.Response(body=ANSWERS.get(method, TRUE), content_type="application/json")

    async def reached(self, chat: int, target: int) -> float:
        """When the chat's calls reached `target` (now if they already have)."""
        if self.calls.get(chat, 0) >= target:
            return time.perf_counter()
        future = asyncio.get_running_loop().create_future()
        self.waiters[chat] = (target, future)
        try:
            return await future
        finally:
            self.waiters.pop(chat, None)

    async def start(self):
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self):
        await self._runner.cleanup()


# -- the processes ----------------------------------------------------------------------------
async def pg_admin(sql: str) -> None:
    import asyncpg
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class Setup:
    """The bot processes (and nginx) of one set-up, started fresh for one run."""

    def __init__(self, kind: str, api: Api, capped: bool = False):
        self.kind, self.api = kind, api
        self.synchronous_commit = None
        self.module = "bot" if capped else "bench.botproc"  # bench/botproc.py: no overall 30/s cap
        self.tmp = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
        self.database = None
        self.bots: list[subprocess.Popen] = []
        self.nginx: subprocess.Popen | None = None
        self.ports: list[int] = []
        self.url = ""

    async def start(self) -> None:
        count = 3 if self.kind == "pg3" else 1
        self.ports = [free_port() for _ in range(count)]
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": f"{self.api.url}/bot",
               "BOT_WEBHOOK_SECRET": SECRET, "BOT_WEBHOOK_LISTEN": "127.0.0.1", "BOT_LOG_LEVEL": "INFO",
               "BOT_DEFAULT_FLOW": "cstream"}  # the stream is the Cstream flow's
        if self.kind != "sqlite1":
            name = f"bench_{uuid.uuid4().hex[:10]}"
            await pg_admin(f'CREATE DATABASE "{name}"')
            if self.synchronous_commit:
                await pg_admin(f'ALTER DATABASE "{name}" SET synchronous_commit = {self.synchronous_commit}')
            self.database = name
            env["BOT_DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + "/" + name
        if self.kind == "pg3":
            listen = free_port()
            conf = nginx_config(self.tmp, listen, self.ports)
            self.nginx = subprocess.Popen([nginx_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                          stderr=open(self.tmp / "nginx.out", "w"))
            self.url = f"http://127.0.0.1:{listen}{PATH}"
        else:
            self.url = f"http://127.0.0.1:{self.ports[0]}{PATH}"
        for i, port in enumerate(self.ports):
            folder = self.tmp / f"bot{i}"
            folder.mkdir()
            bot_env = {**env, "BOT_DATA_DIR": str(folder), "BOT_WEBHOOK_PORT": str(port),
                       "BOT_WEBHOOK_URL": self.url if self.kind == "pg3" else f"http://127.0.0.1:{port}{PATH}"}
            self.bots.append(subprocess.Popen([sys.executable, "-m", self.module, "run", "--webhook"], cwd=ROOT,
                                              env=bot_env, stdout=open(folder / "bot.log", "w"),
                                              stderr=subprocess.STDOUT))
        async with aiohttp.ClientSession() as http:
            for port, proc in zip(self.ports, self.bots):
                deadline = time.monotonic() + 60
                while True:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        logs = "\n".join((self.tmp / f"bot{i}" / "bot.log").read_text()[-2000:]
                                         for i in range(len(self.bots)))
                        raise RuntimeError(f"{self.kind}: a bot process did not become ready:\n{logs}")
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)

    def processes(self) -> dict[str, list[psutil.Process]]:
        found = {"bots": [psutil.Process(p.pid) for p in self.bots], "nginx": [], "postgres": []}
        if self.nginx:
            master = psutil.Process(self.nginx.pid)
            found["nginx"] = [master] + master.children(recursive=True)
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] and proc.info["name"].startswith("postgres"):
                found["postgres"].append(proc)
        return found

    async def stop(self) -> None:
        for proc in self.bots:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in self.bots:
            try:
                await asyncio.to_thread(proc.wait, 20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.nginx and self.nginx.poll() is None:
            self.nginx.terminate()
            await asyncio.to_thread(self.nginx.wait, 10)
        if self.database:
            await pg_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        shutil.rmtree(self.tmp, ignore_errors=True)


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for proc in procs:
        try:
            t = proc.cpu_times()
            out[proc.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


# -- the load ---------------------------------------------------------------------------------
def chat_of(update: dict) -> int:
    return (update.get("message") or update["callback_query"]["message"])["chat"]["id"]


class Sender:
    def __init__(self, http: aiohttp.ClientSession, url: str, api: Api):
        self.http, self.url, self.api = http, url, api
        self.refused = 0

    async def post(self, update: dict) -> None:
        """As Telegram: POST until a 200."""
        while True:
            try:
                async with self.http.post(self.url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                                          timeout=aiohttp.ClientTimeout(total=30)) as response:
                    await response.read()
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            self.refused += 1
            await asyncio.sleep(0.05)


async def calibrate(sender: Sender, api: Api, warm: list[list[dict]]) -> list[list[int]]:
    """Per path, the Bot API calls naming the chat that each step makes (one step at a time,
    until no call comes for 0.5 s)."""
    calls = []
    for updates in warm:
        chat, per_step = chat_of(updates[0]), []
        for update in updates:
            before = api.calls.get(chat, 0)
            await sender.post(update)
            last, seen = time.monotonic(), before
            while time.monotonic() - last < 0.5:
                await asyncio.sleep(0.02)
                if api.calls.get(chat, 0) != seen:
                    seen, last = api.calls.get(chat, 0), time.monotonic()
            per_step.append(seen - before)
        calls.append(per_step)
    return calls


async def drive(sender: Sender, api: Api, stream: list[dict], targets: dict[int, int], in_flight: int) -> dict:
    """The interleaved stream, `in_flight` updates at a time, each conversation in order."""
    window = asyncio.Semaphore(in_flight)
    previous: dict[int, asyncio.Task] = {}
    latencies: list[float] = []
    tasks = []

    async def one(update, target, before):
        if before is not None:
            await before
        start = time.perf_counter()
        await sender.post(update)
        try:
            done = await asyncio.wait_for(api.reached(chat_of(update), target), 60)
        except asyncio.TimeoutError:
            raise RuntimeError(f"update {update['update_id']}: chat {chat_of(update)} has "
                               f"{api.calls.get(chat_of(update), 0)} calls, expected {target}") from None
        latencies.append(done - start)
        window.release()
        return done

    started = time.perf_counter()
    for update in stream:
        await window.acquire()
        chat = chat_of(update)
        task = asyncio.create_task(one(update, targets[update["update_id"]], previous.get(chat)))
        previous[chat] = task
        tasks.append(task)
    ends = await asyncio.gather(*tasks)
    elapsed = max(ends) - started
    latencies.sort()
    return {"updates": len(stream), "elapsed_s": elapsed, "updates_per_s": len(stream) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000}


def workload(conversations: int) -> tuple[list[list[dict]], list[list[dict]]]:
    """Warm-up conversations (one per path) and the measured ones (the next `conversations`)."""
    from bench.workload import conversations as make
    convs = make(WARM + conversations, "ours")
    ids = itertools.count(1)
    for conv in convs:
        for update in conv:
            update["update_id"] = next(ids)
    return convs[:WARM], convs[WARM:]


async def warm_up(sender: Sender, api: Api, warm: list[list[dict]], per_path: list[list[int]]) -> None:
    """The warm-up conversations, one step at a time, each step until its replies came."""
    for updates, steps in zip(warm, per_path):
        chat = chat_of(updates[0])
        target = api.calls.get(chat, 0)
        for update, n in zip(updates, steps):
            target += n
            await sender.post(update)
            await asyncio.wait_for(api.reached(chat, target), 30)


async def learn_calls(api: Api, args) -> list[list[int]]:
    """Per path, the calls naming the chat each step makes, learned once on one SQLite process
    (with several processes, a reply can be delivered twice: by its process and by another's
    outbox sweep, so they are not the place to learn it)."""
    warm, _ = workload(0)
    for conv in warm:  # chats of their own
        for update in conv:
            chat = update.get("message") or update["callback_query"]["message"]
            chat["chat"] = {**chat["chat"], "id": chat["chat"]["id"] - 500_000}
    setup = Setup("sqlite1", api, args.capped)
    await setup.start()
    try:
        async with aiohttp.ClientSession() as http:
            return await calibrate(Sender(http, setup.url, api), api, warm)
    finally:
        await setup.stop()


async def one_run(kind: str, api: Api, args, per_path: list[list[int]]) -> dict:
    warm, measured = workload(args.conversations)
    setup = Setup(kind, api, args.capped)
    setup.synchronous_commit = args.synchronous_commit
    spawned = time.perf_counter()
    await setup.start()
    ready_s = time.perf_counter() - spawned
    try:
        connector = aiohttp.TCPConnector(limit=args.in_flight)
        async with aiohttp.ClientSession(connector=connector) as http:
            sender = Sender(http, setup.url, api)
            await warm_up(sender, api, warm, per_path)
            targets, expected = {}, {}
            for i, conv in enumerate(measured):
                steps = per_path[(WARM + i) % len(per_path)]
                chat, total = chat_of(conv[0]), api.calls.get(chat_of(conv[0]), 0)
                for update, n in zip(conv, steps):
                    total += n
                    targets[update["update_id"]] = total
                expected[chat] = total
            stream = [u for step in itertools.zip_longest(*measured) for u in step if u is not None]
            procs = setup.processes()
            me = psutil.Process()
            before = {k: cpu_seconds(v) for k, v in procs.items()}
            me_before, machine_before = me.cpu_times(), psutil.cpu_times()
            result = await drive(sender, api, stream, targets, args.in_flight)
            me_after, machine_after = me.cpu_times(), psutil.cpu_times()
            after = {k: cpu_seconds(v) for k, v in setup.processes().items()}
            await asyncio.sleep(0.3)  # late calls, if any, show up in the check below
        # A process born during the run (a pooled connection's backend) counts whole.
        cpu = {k: sum(t - before[k].get(pid, 0.0) for pid, t in after[k].items()) for k in before}
        cpu["load_and_api"] = (me_after.user + me_after.system) - (me_before.user + me_before.system)
        def busy(t):
            return sum(t) - t.idle - getattr(t, "iowait", 0.0)
        # What else ran on the machine meanwhile (another job, the kernel...): all busy CPU
        # time but that of the processes above.
        cpu["other"] = max(0.0, busy(machine_after) - busy(machine_before) - sum(cpu.values()))
        more = sum(1 for chat, n in expected.items() if api.calls.get(chat, 0) > n)
        updates = result["updates"]
        result.update(setup=kind, processes=len(setup.bots), ready_s=ready_s,
                      refused=sender.refused, chats_with_extra_calls=more,
                      cpu_s=cpu, cpu_ms_per_update={k: v / updates * 1000 for k, v in cpu.items()},
                      cpu_busy_cores=(sum(cpu.values()) - cpu["other"]) / result["elapsed_s"],
                      machine_busy_cores=sum(cpu.values()) / result["elapsed_s"],
                      # With a core for each bot process (and the database, nginx and the load
                      # elsewhere): each process handles 1 / (its CPU per update) updates/s.
                      core_each_updates_per_s=len(setup.bots) * updates / cpu["bots"] if cpu["bots"] else None)
        return result
    finally:
        await setup.stop()


def line(r: dict) -> str:
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_update"].items())
    return (f"{r['updates_per_s']:.0f} updates/s, p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, "
            f"CPU ms/update: {cpu}; busy cores {r['cpu_busy_cores']:.2f}; refused {r['refused']}, "
            f"chats with a reply sent twice {r['chats_with_extra_calls']}")


def spread(runs: list[dict], key: str) -> tuple[float, float, float]:
    values = [r[key] for r in runs]
    return statistics.median(values), min(values), max(values)


async def main_async(args) -> None:
    api = Api()
    await api.start()
    runs: dict[str, list[dict]] = {k: [] for k in args.setups.split(",")}
    kinds = args.setups.split(",")
    try:
        per_path = await learn_calls(api, args)
        print(f"Bot API calls naming the chat, per step of each path: {per_path}", flush=True)
        for r in range(args.rounds):
            order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
            if r % 2:
                order.reverse()
            for kind in order:
                result = await one_run(kind, api, args, per_path)
                runs[kind].append(result)
                print(f"  round {r + 1} {kind}: {line(result)}", flush=True)
    finally:
        await api.stop()

    table = []
    print()
    print(f"{'set-up':<34} {'updates/s (min-max)':>22} {'p99 ms (min-max)':>20} {'core each, est.':>16}")
    for kind, label in ((k, SETUPS[k]) for k in runs):
        ups, p99 = spread(runs[kind], "updates_per_s"), spread(runs[kind], "p99_ms")
        p50 = spread(runs[kind], "p50_ms")
        est = spread(runs[kind], "core_each_updates_per_s")
        cpu = {k: statistics.median(r["cpu_ms_per_update"][k] for r in runs[kind])
               for k in runs[kind][0]["cpu_ms_per_update"]}
        busy = statistics.median(r["cpu_busy_cores"] for r in runs[kind])
        table.append({"setup": kind, "label": label, "updates_per_s": ups, "p50_ms": p50, "p99_ms": p99,
                      "core_each_updates_per_s": est, "cpu_ms_per_update": cpu, "busy_cores": busy})
        print(f"{label:<34} {ups[0]:>7.0f} ({ups[1]:.0f}-{ups[2]:.0f}){'':>4} "
              f"{p99[0]:>7.0f} ({p99[1]:.0f}-{p99[2]:.0f})"
              f"{est[0]:>12.0f}")
        print(f"{'':<34} CPU ms/update {', '.join(f'{k} {v:.2f}' for k, v in cpu.items())}; busy cores {busy:.2f}")
    med = {row["setup"]: row["updates_per_s"][0] for row in table}
    est = {row["setup"]: row["core_each_updates_per_s"][0] for row in table}
    ratios = {}
    if {"pg1", "sqlite1"} <= set(med):
        ratios["pg1/sqlite1"] = med["pg1"] / med["sqlite1"]
        ratios["pg1/sqlite1 with a core per process (est.)"] = est["pg1"] / est["sqlite1"]
    if {"pg1", "pg3"} <= set(med):
        ratios["pg3/pg1"] = med["pg3"] / med["pg1"]
        ratios["pg3/pg1 with a core per process (est.)"] = est["pg3"] / est["pg1"]
    for name, value in ratios.items():
        print(f"{name}: {value:.2f}x")
    results = {"machine": machine_info(), "args": vars(args), "calls_per_step": per_path, "table": table,
               "ratios": ratios, "runs": runs}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    print(f"results written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=32)
    parser.add_argument("--setups", default=",".join(SETUPS), help="a subset of " + ",".join(SETUPS))
    parser.add_argument("--synchronous-commit", choices=["on", "off"],
                        help="PostgreSQL's synchronous_commit for the bench databases (default: the server's)")
    parser.add_argument("--capped", action="store_true",
                        help="keep the bot's overall 30 messages/s cap (Telegram's quota): `python -m bot` as is")
    parser.add_argument("--out", default=str(RESULTS / "stores.json"), help="where the results go")
    parser.add_argument("--quick", action="store_true", help="1 round, 200 conversations")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
        args.conversations = min(args.conversations, 200)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
