"""The peer's stream: CPU per update against a plain ConversationHandler bot, on its own terms.

    .venv/bin/python -m bench.peer                  # 5 rounds, the contenders alternated (~3 minutes)
    .venv/bin/python -m bench.peer --rounds 1       # a smoke run
    .venv/bin/python -m bench.peer --profile        # where an update's CPU goes, component by component
    .venv/bin/python -m bench.peer --store          # the store alone: a cached load, a save, the outbox marked shown

The flow: 10 questions, 8 with buttons (2 to 4 options) and 2 answered in free text (q4, q8),
then an outcome that echoes every answer, the typed texts included. Per chat, 11 updates:
/start, 8 button presses, 2 typed answers (« free text answer for qN from <chat id> »); the
chats interleaved round-robin; 500 chats measured after 20 warm-up chats.

Contenders, each in a process of its own, the order rotating every round:
- peer: python-telegram-bot's ConversationHandler, one state per question, PicklePersistence at
  its defaults, as PTB's examples write it; one update at a time;
- ours-1: this bot on the same flow (flows as YAML), SQLite with the shipped durability
  settings, every step committed with its outbox and events before its reply; one at a time;
- ours-32: the same, 32 updates in flight (its production setting);
- floor: bare PTB, one handler that sends one message per update: what parsing, dispatching
  and one Bot API call cost.
Each starts from the update's JSON bytes (parsing timed); the Bot API answers canned JSON in
process. CPU per update is the whole process's CPU (user + system, every thread: getrusage)
over the measured run, divided by the updates; latency is from the bytes to the update handled.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOKEN = "123:bench"
QUESTIONS = 10
FREE = (4, 8)  # the questions answered in free text
CHATS, WARM_UP, FIRST_CHAT = 500, 20, 2_000_000_000


def options(q: int) -> list[str]:
    """The button ids of question q: 2, 3 or 4 of them."""
    return [f"o{k}" for k in range(1, 2 + q % 3 + 1)]


def flow_yaml() -> str:
    """The flow for this bot: the same questions, texts and outcome as the peer's."""
    lines = ["schema: 1", "id: peer", 'title: "Peer"', 'welcome: "Bonjour."', "start: q1", "max_taps: 12", "nodes:"]
    for q in range(1, QUESTIONS + 1):
        nxt = f"q{q + 1}" if q < QUESTIONS else "done"
        if q in FREE:
            lines += [f"  q{q}:", "    type: free", f'    text: "Question {q} : écrivez votre réponse."', f"    next: {nxt}"]
            continue
        lines += [f"  q{q}:", "    type: choice", f'    text: "Question {q} : choisissez."', "    choices:"]
        lines += [f'      - {{id: {o}, label: "Réponse {o} à {q}", next: {nxt}}}' for o in options(q)]
    echo = " ; ".join(f"{q} : {{q{q}}}" for q in range(1, QUESTIONS + 1))
    lines += ["  done:", "    type: outcome", '    label: "Fin"', f'    text: "Vos réponses : {echo}."']
    return "\n".join(lines) + "\n"


# -- the stream ---------------------------------------------------------------------------------
def _user(chat: int) -> dict:
    return {"id": chat, "is_bot": False, "first_name": "U", "language_code": "fr"}


def _message(chat: int, n: int, text: str) -> dict:
    message = {"message_id": n, "date": int(time.time()), "text": text, "from": _user(chat),
               "chat": {"id": chat, "type": "private", "first_name": "U"}}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"message": message}


def _press(chat: int, n: int, data: str) -> dict:
    return {"callback_query": {"id": f"{chat}-{n}", "chat_instance": str(chat), "data": data, "from": _user(chat),
                               "message": {"message_id": n, "date": int(time.time()), "text": "Question ?",
                                           "chat": {"id": chat, "type": "private", "first_name": "U"},
                                           "from": {"id": 777, "is_bot": True, "first_name": "Bot"}}}}


def chat_updates(chat: int, bot: str) -> list[dict]:
    """One chat's 11 updates, with the callback data `bot` expects (ours: token:user:choice)."""
    rng = random.Random(chat)
    picks = {q: rng.choice(options(q)) for q in range(1, QUESTIONS + 1) if q not in FREE}
    updates, engine, progress = [_message(chat, 1, "/start")], None, None
    if bot == "ours":
        from bot.engine import Engine
        engine = Engine(ours_flows())
        progress, _ = engine.start("peer")
    for q in range(1, QUESTIONS + 1):
        n = q + 1
        if q in FREE:
            text = f"free text answer for q{q} from {chat}"
            updates.append(_message(chat, n, text))
            if engine:
                progress, _ = engine.text(progress, text)
            continue
        data = picks[q]
        if engine:
            token = engine.token(progress)
            progress, _ = engine.choose(progress, picks[q], token)
            data = f"{token}:{chat}:{picks[q]}"
        updates.append(_press(chat, n, data))
    if engine:
        assert progress.node == "done", progress.node
    return updates


def stream(bot: str, chats: int, first: int) -> list[bytes]:
    """Round-robin over the chats: step 1 of all, then step 2 of all...; JSON bytes."""
    convs = [chat_updates(first + i, bot) for i in range(chats)]
    ordered = [u for step in zip(*convs) for u in step]
    return [json.dumps({"update_id": first + i, **u}).encode() for i, u in enumerate(ordered, 1)]


_FLOWS = None


def ours_flows():
    global _FLOWS
    if _FLOWS is None:
        from bot.flow.files import FlowSet
        folder = Path(tempfile.mkdtemp(prefix="peer-flow-"))
        (folder / "peer.yaml").write_text(flow_yaml(), "utf-8")
        _FLOWS, problems = FlowSet.load([folder], "peer")
        assert not problems, problems
    return _FLOWS


# -- the contenders -------------------------------------------------------------------------------
def build_peer(workdir: Path):
    """PTB's ConversationHandler as its examples write it: one state per question."""
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import (Application, CallbackQueryHandler, CommandHandler, ContextTypes, ConversationHandler,
                              MessageHandler, PicklePersistence, filters)
    from bench.canned import CannedRequest

    def keyboard(q: int) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup([[InlineKeyboardButton(f"Réponse {o} à {q}", callback_data=o)] for o in options(q)])

    async def ask(message, q: int) -> int:
        if q > QUESTIONS:
            return ConversationHandler.END
        if q in FREE:
            await message.reply_text(f"Question {q} : écrivez votre réponse.")
        else:
            await message.reply_text(f"Question {q} : choisissez.", reply_markup=keyboard(q))
        return q

    async def done(message, data: dict) -> int:
        echo = " ; ".join(f"{q} : {data[q]}" for q in range(1, QUESTIONS + 1))
        await message.reply_text(f"Vos réponses : {echo}.")
        return ConversationHandler.END

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data.clear()
        return await ask(update.message, 1)

    def pressed(q: int):
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
            query = update.callback_query
            await query.answer()
            context.user_data[q] = f"Réponse {query.data} à {q}"
            await query.edit_message_text(f"Question {q} : choisissez.\n\n✔ {context.user_data[q]}")
            return await (done(query.message, context.user_data) if q == QUESTIONS else ask(query.message, q + 1))
        return handler

    def typed(q: int):
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
            context.user_data[q] = update.message.text
            return await (done(update.message, context.user_data) if q == QUESTIONS else ask(update.message, q + 1))
        return handler

    states = {q: [MessageHandler(filters.TEXT & ~filters.COMMAND, typed(q))] if q in FREE
              else [CallbackQueryHandler(pressed(q))] for q in range(1, QUESTIONS + 1)}
    handler = ConversationHandler(entry_points=[CommandHandler("start", start)], states=states,
                                  fallbacks=[CommandHandler("start", start)], name="peer", persistent=True)
    request = CannedRequest()
    app = (Application.builder().token(TOKEN).request(request).get_updates_request(request)
           .persistence(PicklePersistence(filepath=str(workdir / "peer.pickle"))).build())
    app.add_handler(handler)
    return app


def build_floor():
    """Bare PTB: one handler, one message sent per update."""
    from telegram.ext import Application, TypeHandler
    from telegram import Update
    from bench.canned import CannedRequest

    async def reply(update: Update, context) -> None:
        await context.bot.send_message(update.effective_chat.id, "ok")

    request = CannedRequest()
    app = Application.builder().token(TOKEN).request(request).get_updates_request(request).build()
    app.add_handler(TypeHandler(Update, reply))
    return app


def build_ours(workdir: Path):
    from bench.canned import CannedRequest
    from bot.settings import Settings
    from bot.stores import SQLiteStore
    from bot.telegram.app import build_application
    settings = Settings(token=TOKEN, data_dir=workdir, flows=workdir / "no-directory")
    return build_application(settings, ours_flows(), store=SQLiteStore(workdir / "progress.sqlite3"),
                             rate_limiter=False, request=CannedRequest())


async def measure(bot: str, in_flight: int) -> dict:
    from telegram import Update
    workdir = Path(tempfile.mkdtemp(prefix="peer-"))
    who = "ours" if bot.startswith("ours") else bot
    warm = stream(who, WARM_UP, FIRST_CHAT)
    raw = stream(who, CHATS, FIRST_CHAT + WARM_UP)
    app = build_ours(workdir) if who == "ours" else build_peer(workdir) if who == "peer" else build_floor()
    await app.initialize()
    if who == "ours":
        from bot.telegram.incoming import parse_update

        async def one(data: bytes) -> None:
            update = parse_update(data, app.bot)  # as its webhook does
            await app.update_processor.process_update(update, app.process_update(update))
    else:
        async def one(data: bytes) -> None:
            await app.process_update(Update.de_json(json.loads(data), app.bot))  # PTB's own parse
    latencies: list[float] = []

    async def timed(data: bytes) -> None:
        start = time.perf_counter()
        await one(data)
        latencies.append(time.perf_counter() - start)

    async def run(updates: list[bytes]) -> None:
        if in_flight == 1:
            for data in updates:
                await timed(data)
            return
        window, running = asyncio.Semaphore(in_flight), set()
        for data in updates:
            await window.acquire()
            task = asyncio.create_task(timed(data))
            running.add(task)
            task.add_done_callback(lambda t: (running.discard(t), window.release()))
        while running:
            await asyncio.wait(set(running))

    await run(warm)
    latencies.clear()
    gc.collect()
    profiler = None
    if os.environ.get("PEER_PROFILE"):
        import cProfile
        profiler = cProfile.Profile()
        profiler.enable()
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    await run(raw)
    after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(os.environ["PEER_PROFILE"])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    latencies.sort()
    n = len(raw)
    if who == "ours":  # the peer is not shut down: its persistence's final flush is not what is measured
        await app.shutdown()
    return {"bot": bot, "updates": n, "cpu_us": cpu / n * 1e6, "per_s": n / elapsed,
            "p50_ms": statistics.median(latencies) * 1000, "p99_ms": latencies[int(n * 0.99) - 1] * 1000}


# -- the store alone ------------------------------------------------------------------------------
async def store_costs(n: int = 3000) -> dict[str, float]:
    """CPU µs per operation on the SQLite store, 500 conversations in turn, as a step uses them:
    a cached load; a save of the step with its outbox and one event; the outbox marked shown."""
    from bot.engine import Engine
    from bot.store import ConversationKey
    from bot.stores import SQLiteStore
    store = SQLiteStore(Path(tempfile.mkdtemp(prefix="peer-store-")) / "progress.sqlite3")
    engine = Engine(ours_flows())
    progress, _ = engine.start("peer")
    outbox = ({"method": "sendMessage", "params": {"chat_id": 1, "text": "Question 1 : choisissez." * 4}},)
    event = {"day": "2026-12-07", "flow": "peer", "version": "v", "kind": "answer", "node": "q1", "choice": "o1",
             "understood": None, "next": "q2", "outcome": None, "followup": None, "seconds": 3, "token": "t"}
    keys = [ConversationKey.private(FIRST_CHAT + i) for i in range(500)]
    for key in keys:
        await store.save(key, progress, 0, (1,), outbox)
    costs = {}
    for what in ("load", "load+save", "load+save+mark"):
        before = resource.getrusage(resource.RUSAGE_SELF)
        for i in range(n):
            key = keys[i % len(keys)]
            record = await store.load(key)
            if what == "load":
                continue
            saved = await store.save(key, progress, record.rev, record.seen, outbox, (event,))
            if what == "load+save+mark":
                await store.delivered(key, saved.rev, 5)
        after = resource.getrusage(resource.RUSAGE_SELF)
        costs[what] = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) / n * 1e6
    store.close()
    return {"load": costs["load"], "save": costs["load+save"] - costs["load"],
            "mark": costs["load+save+mark"] - costs["load+save"]}


# -- rounds, alternated ---------------------------------------------------------------------------
CONTENDERS = {"peer": 1, "ours-1": 1, "ours-32": 32, "floor": 1}


def one_run(bot: str, profile: str | None = None) -> dict:
    env = {**os.environ, **({"PEER_PROFILE": profile} if profile else {})}
    done = subprocess.run([sys.executable, "-m", "bench.peer", "--worker", bot], capture_output=True, text=True,
                          env=env, cwd=Path(__file__).resolve().parent.parent, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{bot} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float], digits: int = 0) -> str:
    med, low, high = (f"{v:.{digits}f}" for v in (statistics.median(values), min(values), max(values)))
    return f"{med} [{low}–{high}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", help="comma-separated contenders (default: all)")
    parser.add_argument("--profile", action="store_true", help="profile ours-1 and the peer once, by component")
    parser.add_argument("--store", action="store_true", help="the store alone: CPU per load, save and mark")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.store:
        for what, us in asyncio.run(store_costs()).items():
            print(f"{what}: {us:.0f} µs CPU")
        return
    if args.worker:
        print(json.dumps(asyncio.run(measure(args.worker, CONTENDERS[args.worker]))))
        return
    if args.profile:
        from bench.components import report
        for bot in ("ours-1", "peer", "floor"):
            path = f"/tmp/peer-{bot}.prof"
            result = one_run(bot, path)
            print(f"{bot}: {result['cpu_us']:.0f} µs per update (profiled)")
            report(path, result["updates"])
        return
    names = args.only.split(",") if args.only else list(CONTENDERS)
    results: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for bot in order:
            result = one_run(bot)
            results[bot].append(result)
            print(f"round {r + 1} {bot}: {result['cpu_us']:.0f} µs CPU/update, {result['per_s']:.0f} updates/s, "
                  f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms", flush=True)
    print("\n| contender | CPU µs per update | updates/s | p50 ms | p99 ms |\n| --- | --- | --- | --- | --- |")
    for bot, runs in results.items():
        print(f"| {bot} | {spread([x['cpu_us'] for x in runs])} | {spread([x['per_s'] for x in runs])} | "
              f"{spread([x['p50_ms'] for x in runs], 2)} | {spread([x['p99_ms'] for x in runs], 2)} |")
    if "peer" in results and "ours-1" in results:
        ratios = [o["cpu_us"] / p["cpu_us"] for o, p in zip(results["ours-1"], results["peer"])]
        p99 = [o["p99_ms"] / p["p99_ms"] for o, p in zip(results["ours-1"], results["peer"])]
        print(f"\nours-1 / peer, CPU per update (each round's pair): {spread(ratios, 2)}; p99: {spread(p99, 2)}")


if __name__ == "__main__":
    main()
