"""The anonymous event of each handled step, computed the same way by every front end.

`events_of(before, after, reply, now)` compares the progress before and after a step
and returns the events to save with it (`store.save(..., events=...)`, same transaction).
An event holds the day (no finer time), the flow and version, the node it happened at, the
choice taken, whether a typed description was understood, the node reached, the outcome
reached, a follow-up result, the seconds since the conversation started, and the
conversation's random token. Never a user id, a chat id or what was typed: the token is kept
only in the progress record, so once that record is erased nothing links the events to
anyone. The one exception is opt-in (BOT_KEEP_UNRECOGNISED=1): a description the recogniser
could not route rides along as `text`, which the store keeps apart, under the conversation
key (so /oublier erases it), for 30 days.
"""
from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from ..engine import Progress, Reply
from ..engine.engine import NAMED

EventKind = Literal["start", "answer", "back", "stay", "read"]
KINDS: tuple[EventKind, ...] = get_args(EventKind)  # stay: help, summary, a question repeated, not
# understood...; read: the company and sector a description named (the general flow's skipped questions)


def event(progress: Progress, now: datetime, kind: EventKind, node: str | None, next_node: str,
          choice: str | None = None, understood: bool | None = None, outcome: str | None = None,
          followup: str | None = None) -> dict:
    return {"day": now.date().isoformat(), "flow": progress.flow, "version": progress.version, "kind": kind,
            "node": node, "choice": choice, "understood": understood, "next": next_node, "outcome": outcome,
            "followup": followup, "seconds": max(0, int(now.timestamp() - progress.started)),
            "token": progress.token}


def events_of(before: Progress | None, after: Progress | None, reply: Reply | None, now: datetime,
              keep_text: bool = False, followup: str | None = None) -> list[dict]:
    """The events of one step: `before` the stored progress (None: none), `after` the progress
    to save (None: nothing saved, no event), `reply` what the engine answered and decided (its
    kind says whether an outcome was reached, `understood` whether words typed were read:
    what was typed is never stored, unless `keep_text` and the recogniser could not route
    it). `followup` is a follow-up's result ('settled', 'mediator'...) when the step answered one."""
    if after is None or not after.token:
        return []
    known = set() if before is None or before.token != after.token else {e[:2] for e in before.inferred}
    read = [event(after, now, "read", entry[0], after.node, entry[1])  # the company and sector named
            for entry in after.inferred if entry[3:] == (NAMED,) and tuple(entry[:2]) not in known]
    if followup is None and reply is not None:
        followup = reply.followup
    read_now = reply.understood if reply is not None else None
    outcome = after.node if reply is not None and reply.kind == "outcome" else None
    out: list[dict] = []
    if before is None or before.token != after.token:  # a new conversation (first message, /recommencer)
        first = after.path[0].node if after.path else after.node
        out.append(event(after, now, "start", None, first, outcome=outcome if not after.path else None))
        before = after.with_(node=first, path=(), pending=None, draft=None)
    grown = len(after.path) - len(before.path)
    if grown > 0 and after.path[:len(before.path)] == before.path:
        for i, answer in enumerate(after.path[len(before.path):]):
            last = i == grown - 1
            reached = after.node if last else after.path[len(before.path) + i + 1].node
            said = read_now if answer.text is not None and last else None  # the words just read
            out.append(event(after, now, "answer", answer.node, reached, answer.choice,
                             understood=said, outcome=outcome if last else None,
                             followup=followup if last else None))
        return out + read
    if grown < 0:
        out.append(event(after, now, "back", before.node, after.node))
        return out
    understood = read_now  # candidates offered: understood; the full list shown: not
    if out and understood is None and followup is None:
        return out + read  # a start: no second event for the same step
    item = event(after, now, "stay", after.node, after.node, understood=understood, outcome=outcome,
                 followup=followup)
    if understood is False and keep_text:
        item["text"] = after.draft
    out.append(item)
    return out + read
