"""A cProfile of one run, as CPU per update per component (bench/peer.py --profile).

Each function's own time goes to the component of the file it is in; the time of built-ins and
C functions (json, sqlite3, str methods...) goes to the component of whoever called them. The
profiler slows every Python call alike (about 1.5-2x), so the shares are what to read, and the
µs are profiled µs.
"""
from __future__ import annotations

import pstats

# (component, what a file path contains), first match wins
RULES = [
    ("parse (JSON to Update)", ("bot/telegram/incoming.py", ":de_json", ":_de_json", ":de_list", ":de_json_decrypted",
                                "telegram/_update.py", "telegram/_message.py", "telegram/_callbackquery.py",
                                "telegram/_user.py", "telegram/_chat.py", "telegram/_messageentity.py")),
    ("metrics", ("bot/ops/metrics.py", "prometheus_client")),
    ("events", ("bot/ops/events.py",)),
    ("recogniser", ("bot/flow/recognise.py", "bot/flow/route.py", "rapidfuzz")),
    ("outcome rendering", ("bot/engine/outcome.py", "bot/engine/nowline.py", "bot/flow/hours.py", "bot/telegram/render.py",
                           "bot/locales", "bot/engine/timeline.py", "bot/flow/calendar.py", "holidays")),
    ("engine", ("bot/engine/", "bot/flow/", "transitions/")),
    ("conversation step", ("bot/conversation.py", "bot/lru.py")),
    ("store commit", ("bot/store/", "sqlite3", "json/encoder.py")),
    ("outbox and send planning", ("bot/telegram/send.py",)),
    ("Bot API calls (canned)", ("telegram/_bot.py", "telegram/ext/_extbot.py", "telegram/request/", "bench/canned.py",
                                "json/decoder.py", "telegram/_inline", "telegram/_reply", "_telegramobject.py")),
    ("pickle persistence", ("_picklepersistence.py", "_basepersistence.py", "pickle", "copy.py")),
    ("dispatch (PTB, front end, handlers)", ("telegram/ext/", "bot/telegram/", "bench/peer.py", "telegram/_utils/")),
    ("event loop", ("asyncio/", "selectors.py", "contextvars")),
]


def component(key: tuple) -> str | None:
    """None for a built-in (its time goes to its callers)."""
    path, _, name = key
    if path == "~" or path.startswith("<"):
        return None
    where = f"{path}:{name}"
    for label, needles in RULES:
        if any(n in where for n in needles):
            return label
    return "other"


def shares(path: str) -> tuple[dict[str, float], float]:
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = {}

    def add(key: tuple, seconds: float, depth: int = 0) -> None:
        label = component(key)
        if label is not None or depth > 3:
            totals[label or "other"] = totals.get(label or "other", 0.0) + seconds
            return
        callers = stats[key][4]
        spent = sum(c[2] for c in callers.values()) or 1.0
        if not callers:
            totals["other"] = totals.get("other", 0.0) + seconds
        for caller, info in callers.items():
            add(caller, seconds * info[2] / spent, depth + 1)

    for key, (_, _, own, _, _) in stats.items():
        add(key, own)
    return totals, sum(totals.values())


def report(path: str, updates: int) -> None:
    totals, whole = shares(path)
    for label, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"  {label:28s} {seconds / updates * 1e6:7.1f} µs  {100 * seconds / whole:5.1f} %")
