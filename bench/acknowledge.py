"""Benchmark: how long Telegram waits for its 200 now that the webhook answers once the step is
kept (bot/telegram/receipts.py), on SQLite and on PostgreSQL, one process each.

    .venv/bin/python -m bench.acknowledge            # 3 rounds, the set-ups alternated
    .venv/bin/python -m bench.acknowledge --rounds 1

Each round starts `python -m bot run --webhook` fresh (bench/stores.py's Setup, with the real
overall limit of 30 messages a second: what decides the wait under load), against the canned
Bot API on loopback. 120 people each send /start then a description; the time from a POST to
its 200 is measured with 1 update at a time, then with 40 at a time (Telegram's default
max_connections for a webhook). Medians of the rounds, min-max beside.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp

from .stores import SECRET, Api, Setup

PEOPLE = 120


def update(update_id: int, person: int, text: str) -> dict:
    message = {"message_id": update_id, "date": int(time.time()), "text": text,
               "chat": {"id": person, "type": "private", "first_name": "P"},
               "from": {"id": person, "is_bot": False, "first_name": "P", "language_code": "fr"}}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


async def measure(url: str, at_once: int, first_id: int) -> list[float]:
    waited: list[float] = []
    gate = asyncio.Semaphore(at_once)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    async def post(http, item):
        async with gate:
            started = time.perf_counter()
            async with http.post(url, data=json.dumps(item), headers=headers) as response:
                assert response.status == 200, response.status
            waited.append(time.perf_counter() - started)

    async def person(http, i):
        chat = first_id + i
        await post(http, update(first_id + 2 * i, chat, "/start"))
        await post(http, update(first_id + 2 * i + 1, chat, "ma réclamation n'a jamais été traitée"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=at_once)) as http:
        await asyncio.gather(*(person(http, i) for i in range(PEOPLE)))
    return sorted(waited)


def quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))] * 1000


async def main_async(rounds: int) -> None:
    api = Api()
    await api.start()
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}
    try:
        for r in range(rounds):
            for kind in (("sqlite1", "pg1") if r % 2 == 0 else ("pg1", "sqlite1")):
                setup = Setup(kind, api, capped=True)
                await setup.start()
                try:
                    for at_once in (1, 40):
                        waited = await measure(setup.url, at_once, 1_000_000 * (r + 1) + at_once * 10_000)
                        results.setdefault((kind, at_once), []).append((quantile(waited, .5), quantile(waited, .99)))
                finally:
                    await setup.stop()
    finally:
        await api.stop()
    print(f"POST to 200 (ms), {PEOPLE} people x 2 updates, {rounds} round(s): median of the rounds [min-max]")
    for (kind, at_once), runs in sorted(results.items()):
        p50, p99 = [r[0] for r in runs], [r[1] for r in runs]
        print(f"  {kind:8} {at_once:>2} at a time: p50 {statistics.median(p50):7.1f} [{min(p50):.1f}-{max(p50):.1f}]"
              f"   p99 {statistics.median(p99):7.1f} [{min(p99):.1f}-{max(p99):.1f}]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main_async(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
