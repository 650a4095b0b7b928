"""Acknowledged means kept: the bot process (webhook mode, SQLite) is SIGKILLed right after it
answered 200 to a burst of updates; every update it acknowledged is applied, and every person
gets their reply once a new process runs. Updates are delivered as Telegram does: re-sent
while they get no 2xx, a bounded number of times, never again after one."""
import asyncio
import json
import sqlite3
import time

import pytest

from harness import BotProcess, Emulator, free_port, missing_tools

pytestmark = pytest.mark.e2e
PEOPLE = 120
TRIES = 30
SECRET = "s3cret-e2e"


def update(update_id: int, person: int, text: str) -> dict:
    message = {"message_id": update_id, "date": int(time.time()), "text": text,
               "chat": {"id": person, "type": "private", "first_name": f"P{person}"},
               "from": {"id": person, "is_bot": False, "first_name": f"P{person}", "language_code": "fr"}}
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


def test_a_kill_right_after_the_200s_loses_no_acknowledged_update(tmp_path):
    aiohttp = pytest.importorskip("aiohttp")
    missing = missing_tools()
    if missing:
        pytest.skip(missing)
    emulator = Emulator()
    port = free_port()
    env = {"BOT_WEBHOOK_PORT": str(port), "BOT_WEBHOOK_SECRET": SECRET,
           "BOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook"}
    process = BotProcess(emulator, tmp_path, webhook=True, extra_env=env)
    acknowledged: list[dict] = []
    waited: list[float] = []  # seconds from the POST to its 200 (the step committed)
    given_up: list[dict] = []
    url = f"http://127.0.0.1:{port}/hook"

    async def deliver(http, item: dict) -> None:
        for _ in range(TRIES):
            try:
                sent = time.perf_counter()
                async with http.post(url, data=json.dumps(item), timeout=aiohttp.ClientTimeout(total=30),
                                     headers={"X-Telegram-Bot-Api-Secret-Token": SECRET,
                                              "Content-Type": "application/json"}) as response:
                    if 200 <= response.status < 300:
                        waited.append(time.perf_counter() - sent)
                        acknowledged.append(item)
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            await asyncio.sleep(0.5)
        given_up.append(item)

    async def person(http, i: int) -> None:
        await deliver(http, update(100_000 + 2 * i, 20_000 + i, "/start"))
        await deliver(http, update(100_001 + 2 * i, 20_000 + i, "ma réclamation n'a jamais été traitée"))

    async def drive():
        nonlocal process
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=40)) as http:
            everyone = [asyncio.create_task(person(http, i)) for i in range(PEOPLE)]
            while len(acknowledged) < PEOPLE // 2:
                await asyncio.sleep(0.001)
            process.kill()  # right after its 200s, in the middle of the burst
            killed_after = len(acknowledged)
            process = await asyncio.to_thread(BotProcess, emulator, tmp_path, True, env)
            await asyncio.wait_for(asyncio.gather(*everyone), 120)
            return killed_after

    try:
        killed_after = asyncio.run(drive())
        deadline = time.time() + 30  # the new process shows what the killed one saved but never sent
        while time.time() < deadline:
            with sqlite3.connect(tmp_path / "progress.sqlite3") as db:
                waiting = db.execute("SELECT COUNT(*) FROM progress WHERE outbox != '[]'").fetchone()[0]
            if not waiting:
                break
            time.sleep(0.5)
        with sqlite3.connect(tmp_path / "progress.sqlite3") as db:
            rows = {key: (json.loads(data), json.loads(outbox))
                    for key, data, outbox in db.execute("SELECT key, data, outbox FROM progress")}
    finally:
        process.stop()
        emulator.stop()
    lost = []
    for item in acknowledged:
        chat, text = item["message"]["chat"]["id"], item["message"]["text"]
        data, outbox = rows.get(f"private:{chat}", (None, None))
        if data is None or (not text.startswith("/") and [a[:2] for a in data["path"]] != [["problem", "requests"]]):
            lost.append(item["update_id"])
    waited.sort()
    print(f"\n{PEOPLE * 2} updates, killed after {killed_after} acknowledged; lost {len(lost)}; "
          f"POST to 200: p50 {waited[len(waited) // 2] * 1000:.1f} ms, p99 {waited[int(len(waited) * .99)] * 1000:.1f} ms, "
          f"max {waited[-1] * 1000:.1f} ms (40 connections at once, as Telegram's default max_connections)")
    assert given_up == [] and 0 < killed_after < PEOPLE * 2
    assert lost == [], lost
    assert all(outbox == [] for _, outbox in rows.values())  # every reply shown
