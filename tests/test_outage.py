"""A 5-second PostgreSQL outage under 50 people, through the webhook as Telegram delivers
(each update re-sent until it gets a 200, a bounded number of times): nothing acknowledged
is lost, each person's step is applied once the database is back, each is told once that
the answer is delayed, and the logs say the cause once, then « works again »."""
import asyncio
import json
import logging
import socket


from bot.flow.files import FlowSet
from bot.settings import Settings
from bot.store import ConversationKey
from bot.telegram.app import build_application
from bot.telegram.webhook import WebhookServer
from conftest import postgres_schema
from test_postgres import Relay
from tg import FakeTelegram, Person

PEOPLE = 50
TRIES = 40  # Telegram gives up "after a reasonable amount of attempts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def as_telegram(http, url: str, update: dict) -> list[int]:
    """POST the update until a 2xx, at most TRIES times, a pause between: the statuses seen."""
    import aiohttp
    statuses = []
    for _ in range(TRIES):
        try:
            async with http.post(url, data=json.dumps(update), headers={
                    "X-Telegram-Bot-Api-Secret-Token": "s3cret", "Content-Type": "application/json"},
                    timeout=aiohttp.ClientTimeout(total=30)) as response:
                statuses.append(response.status)
                if 200 <= response.status < 300:
                    return statuses
        except aiohttp.ClientError:
            statuses.append(0)
        await asyncio.sleep(0.5)
    return statuses


async def test_a_database_outage_loses_nothing_and_says_it_once(flow, caplog):
    import aiohttp
    caplog.set_level(logging.INFO)
    async with postgres_schema() as schema:
        relay = Relay()
        await relay.start()
        from bot.stores import PostgresStore
        store = PostgresStore(f"{relay.url()}?options=-csearch_path%3D{schema}", timeout=1)
        tg = FakeTelegram()
        app = build_application(Settings(token="123:X", reminder_every=1.0), FlowSet([flow]), store=store,
                                request=tg, rate_limiter=False)
        port = free_port()
        server = WebhookServer(app, "https://bot.example.org/hook", "s3cret", "127.0.0.1", port)
        await app.initialize()
        await app.start()
        await server.start()
        url = f"http://127.0.0.1:{port}/hook"
        people = [Person(tg, app, 6000 + i) for i in range(PEOPLE)]
        try:
            async with aiohttp.ClientSession() as http:
                for i, person in enumerate(people):
                    assert await as_telegram(http, url, {"update_id": 50_000 + i,
                                                         "message": person.message("/start")}) == [200]
                await relay.cut()
                sending = [asyncio.create_task(as_telegram(http, url, {
                    "update_id": 60_000 + i, "message": person.message("on m'a prélevé deux fois")}))
                    for i, person in enumerate(people)]
                await asyncio.sleep(5)
                await relay.start()
                statuses = await asyncio.gather(*sending)
            await asyncio.sleep(0.5)
            for person, seen in zip(people, statuses):
                assert seen[-1] == 200 and 503 in seen, seen  # refused while away, kept once back
                record = await store.load(ConversationKey.private(person.id))
                assert record.progress.answers["problem"] == "billing"
                assert [a.node for a in record.progress.path].count("problem") == 1  # applied once
                texts = [m.text for m in person.seen]
                assert sum(t.startswith("Un problème temporaire retarde ma réponse") for t in texts) == 1, texts
                assert "Quel service Cstream" in person.last_text
        finally:
            await server.stop()
            await app.stop()
            await app.shutdown()
            store.close()
            await relay.cut()
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    said = [(r.name, r.getMessage().split(":")[0].split(" ")[-1]) for r in lines]
    assert [r.levelname for r in lines if r.name == "bot.store.postgres"] == ["ERROR", "WARNING"], said
    assert [r for r in lines if r.name != "bot.store.postgres"] == [], said
    assert not any(r.exc_info for r in lines)
