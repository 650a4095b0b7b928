"""Prometheus metrics of one bot Application, in a registry of its own (prometheus-client, imported
only when an Application is built: the terminal chat never loads it).

Instrumented in few places: the update handler (kind, latency), the store the front end uses
(errors, conflicts), the Bot API client (messages sent, last successful call), the front end
when a step shows an outcome (by the problem the person described).
"""
from __future__ import annotations

import inspect
import time
from typing import Callable

from ..errors import Conflict, StoreUnavailable

UPDATE_KINDS = ("message", "edited_message", "callback_query", "inline_query", "channel_post", "my_chat_member")
SENDING = ("sendMessage", "sendDocument", "sendPhoto")


def update_kind(update) -> str:
    return next((name for name in UPDATE_KINDS if getattr(update, name, None)), "other")


class NullMetrics:
    """Counts nothing (the default of a front end built without an Application's metrics)."""

    def outcome(self, engine, progress) -> None:
        pass

    class _Nothing:
        def inc(self, *args) -> None:
            pass

    reminders = _Nothing()


NO_METRICS = NullMetrics()


class Metrics:
    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter("bot_updates", "Updates handled, by kind", ["kind"], registry=registry)
        self.latency = Histogram("bot_update_handling_seconds", "Time to handle one update, from its turn "
                                 "to its reply", registry=registry,
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
        self.store_errors = Counter("bot_store_errors", "Store calls that failed (database unavailable)",
                                    registry=registry)
        self.conflicts = Counter("bot_store_conflicts", "Saves refused because another process moved the "
                                 "conversation on (the update is then handled again)", registry=registry)
        self.sent = Counter("bot_messages_sent", "Messages Telegram accepted (sendMessage, sendDocument, sendPhoto)",
                            registry=registry)
        self.outcomes = Counter("bot_outcomes", "Outcomes shown, by the problem the person described",
                                ["reason"], registry=registry)
        self.reminders = Counter("bot_reminders_sent", "Follow-up reminders put in the outbox",
                                 registry=registry)
        self.api_ok_at: float | None = None  # monotonic time of the last successful Bot API call

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def timed(self, handler):
        """The update handler, counted by kind and timed."""
        async def handle(update, context):
            started = time.perf_counter()
            try:
                return await handler(update, context)
            finally:
                self.latency.observe(time.perf_counter() - started)
                self.updates.labels(update_kind(update)).inc()
        return handle

    def api_response(self, url: str, status: int) -> None:
        """Called by the Bot API client after each answer."""
        if status == 200:
            self.api_ok_at = time.monotonic()
            if url.rsplit("/", 1)[-1] in SENDING:
                self.sent.inc()

    def outcome(self, engine, progress) -> None:
        machine = engine.flows.of(progress)
        node = machine.flow.classify_node if machine else None
        self.outcomes.labels(progress.answers.get(node, "none") if node else "none").inc()


class CountedStore:
    """A store that counts its unavailability and its conflicts, then raises them as before.
    Each async method's wrapper is made once (this sits on every store call of every update)
    and looks the method up at each call."""

    def __init__(self, store, metrics: Metrics):
        self._store, self._metrics = store, metrics
        self._wrappers: dict[str, Callable] = {}

    def __getattr__(self, name):
        wrapper = self._wrappers.get(name)
        if wrapper is not None:
            return wrapper
        value = getattr(self._store, name)
        if name.startswith("_") or not callable(value) or not inspect.iscoroutinefunction(value):
            return value
        store, metrics = self._store, self._metrics

        async def counted(*args, **kwargs):
            try:
                return await getattr(store, name)(*args, **kwargs)
            except Conflict:
                metrics.conflicts.inc()
                raise
            except StoreUnavailable:
                metrics.store_errors.inc()
                raise
        self._wrappers[name] = counted
        return counted
