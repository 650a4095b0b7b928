"""`check` once everything is read: references resolve, every node is reachable and leads
to an outcome, and no path needs more taps than the flow allows."""
from __future__ import annotations

import re
from typing import Callable, Collection, overload

from ..model import DATE_STATES, Channel, Condition, Delay, Document, Fact, Followup, Node, Route, Source, tr
from ..yamlsrc import Located
from .reader import Reader, suggest

# {node}, {node.text}, and with what a letter shows when nobody said it: {debit_when|date} -> « [date] »
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(\.text)?(?:\|([^{}|]*))?\}")
# {date}: the letter's date; {send_day}: « aujourd'hui », « dès demain matin »…; {amount}: the first sum of
# money the person typed (« 12,99 € »); {letter_number}: the followed letter's registered-mail number.
BUILT_IN = ("date", "send_day", "amount", "letter_number")
TIMED = re.compile(r"\{(date|delay)\.([a-z][a-z0-9_]*)\}")  # {date.answer_due}, {delay.formal_notice}
# A flow on the directory (`directory: true`): what its route says of the company named, built by
# bot/engine/general.py: {route.company} « SFR », « la SNCF »; {route.first} whom to write first
# (« au service clients »); {route.then} the later steps; {route.mediator} the mediator sentence...
ROUTE = re.compile(r"\{route\.([a-z_]+)\}")
ROUTE_PARTS = ("company", "company_of", "first", "wait", "then", "mediator", "mediator_name", "address",
               "address_lines", "phone", "fact", "sector", "contact", "abroad", "after", "addressee", "write_to",
               "letter_next", "facts")
# What a node kind costs in user actions at most (a text answer may need a confirmation tap; a
# date given as a month, « en octobre », is asked which day).
TAPS = {"choice": 1, "text": 2, "free": 2, "info": 1, "date": 2, "company": 2, "outcome": 0}


def references(r: Reader, nodes: dict[str, Node], channels: dict[str, Channel], facts: dict[str, Fact],
               sources: dict[str, Source], documents: dict[str, Document], timeline: dict[str, Delay] | None = None,
               followup: Followup | None = None, directory: bool = False) -> None:
    uses = r.uses
    case_date = followup.date if followup else None
    for kind, used, known in (("target", uses.targets, nodes), ("channel", uses.channels, channels),
                              ("fact", uses.facts, facts), ("source", uses.sources, sources),
                              ("document", uses.documents, documents)):
        for ref, line, what in used:
            if ref not in known:
                r.err(line, f"{what}: unknown {kind} {ref!r}{suggest(ref, known)}")
    for node_id, line, what in uses.date_starts:
        if node_id != case_date and (node_id not in nodes or nodes[node_id].kind != "date"):
            r.err(line, f"{what}: from must name a date question, not {node_id!r} (or the followup's date)")
    for node_id, ids, line, what in uses.conditions:
        node = nodes.get(node_id)
        if node_id == case_date:  # the day the letter was sent: `date` once the person gave it
            for cid in ids:
                if cid != "date":
                    r.err(line, f"{what}: {node_id} (the followup's date) can only be tested for 'date', not {cid!r}")
            continue
        if node is None and timeline and node_id in timeline and timeline[node_id].start:
            for cid in ids:  # a delay counted from a date: unknown, passed, nearer or open
                if cid not in DATE_STATES:
                    r.err(line, f"{what}: delay {node_id} is {', '.join(DATE_STATES)}, not {cid!r}")
            continue
        if node is None and directory and node_id == "levels":  # derived from the company's route
            for cid in ids:
                if cid not in ("one", "two"):
                    r.err(line, f"{what}: levels (the written steps before the mediator) is one or two, not {cid!r}")
            continue
        if node is None:
            r.err(line, f"{what}: condition on unknown node {node_id!r}{suggest(node_id, nodes)}")
            continue
        if node.kind == "company":  # any company's id (`when: {company: vinted}`)
            continue
        offered = {choice for choice, _ in node.options()}
        for cid in ids:
            if cid not in offered:
                r.err(line, f"{what}: node {node_id} has no choice {cid!r}{suggest(cid, offered)}")
    for text, line, what in uses.texts:
        for lang_text in text.values():
            for name, _, _ in PLACEHOLDER.findall(lang_text):
                if name not in nodes and name not in (*BUILT_IN, case_date):
                    r.err(line, f"{what}: unknown placeholder {{{name}}} (use a node id, {{date}}, {{send_day}}, "
                                "{amount} or {letter_number})")
            for name in ROUTE.findall(lang_text):
                if not directory:
                    r.err(line, f"{what}: {{route.{name}}} needs the directory (directory: true at the top)")
                elif name not in ROUTE_PARTS:
                    r.err(line, f"{what}: unknown placeholder {{route.{name}}}{suggest(name, ROUTE_PARTS)}")
            for kind, name in TIMED.findall(lang_text):
                if name not in (timeline or {}):
                    r.err(line, f"{what}: unknown placeholder {{{kind}.{name}}}: no {name!r} in timeline:"
                                f"{suggest(name, timeline or {})}")


def structure(r: Reader, nodes: dict[str, Node], start: str, max_taps: int, data: Located,
              tap_limits: tuple[tuple[Condition, int], ...] = (), roots: Collection[str] = ()) -> None:
    """Unreachable nodes, nodes that cannot reach an outcome, and the tap limit. `roots`: the
    follow-up's questions, reached by a reminder rather than from the start."""
    edges = {nid: [route.target for route in node_routes(n)] for nid, n in nodes.items()}
    seen = {start} | {nid for nid in roots if nid in nodes}
    stack = list(seen)
    while stack:
        for nxt in edges[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    good = {nid for nid, n in nodes.items() if n.is_outcome}
    changed = True
    while changed:
        changed = False
        for nid, targets in edges.items():
            if nid not in good and any(target in good for target in targets):
                good.add(nid)
                changed = True
    for nid, node in nodes.items():
        if nid not in seen:
            r.err(node.line, f"node {nid}: unreachable from the start node {start!r}"
                             + (" or a followup reminder" if roots else ""))
        elif nid not in good:
            r.err(node.line, f"node {nid}: no way from here leads to an outcome")
    named: dict[str, str] = {}
    for nid, node in nodes.items():
        if node.is_outcome and node.label is not None:
            other = named.setdefault(tr(node.label), nid)
            if other != nid:
                r.err(node.line, f"node {nid}: label {tr(node.label)!r} is also {other}'s; "
                                 "give each outcome its own (the graph and the report tell them apart by it)")
    if r.failed:
        return

    def allowed(answers: dict[str, str]) -> int:
        return next((n for cond, n in tap_limits if cond.holds(answers)), max_taps)

    over, path, limit = longest_path(nodes, start, allowed)
    if over > 0:
        where = "max_taps" if limit == max_taps else "tap_limits"
        r.err(data.line_of(where) if where in data else data.line,
              f"flow: a path needs {limit + over} taps before its outcome, more than "
              f"{'max_taps' if limit == max_taps else 'its tap_limits'} {limit}: {' > '.join(path)}")


def node_routes(node: Node) -> list[Route]:
    return [route for _, routes in node.options() for route in routes]


Limit = Callable[[dict[str, str]], int]  # the tap limit of a path with these answers


@overload
def longest_path(nodes: dict[str, Node], start: str, allowed: None = None) -> tuple[int, list[str]]: ...
@overload
def longest_path(nodes: dict[str, Node], start: str, allowed: Limit) -> tuple[int, list[str], int]: ...


def longest_path(nodes: dict[str, Node], start: str,
                 allowed: Limit | None = None) -> tuple[int, list[str]] | tuple[int, list[str], int]:
    """The most user actions any path needs to reach an outcome, following conditions; with
    `allowed(answers)` (the tap limit of a path), the path most over its limit instead, as
    (taps over the limit, path, its limit)."""
    if allowed is not None:
        worst = (-10 ** 6, [start], 0)

        def judge(taps: int, answers: dict[str, str], path: list[str]) -> None:
            nonlocal worst
            limit = allowed(answers)
            if taps - limit > worst[0]:
                worst = (taps - limit, path, limit)
        _walk(nodes, start, judge)
        return worst
    best = (0, [start])

    def longest(taps: int, answers: dict[str, str], path: list[str]) -> None:
        nonlocal best
        if taps > best[0]:
            best = (taps, path)
    _walk(nodes, start, longest)
    return best


def _walk(nodes: dict[str, Node], start: str, seen_outcome: Callable[[int, dict[str, str], list[str]], None]) -> None:

    def walk(nid: str, answers: dict[str, str], taps: int, path: list[str]) -> None:
        node = nodes[nid]
        if node.is_outcome:
            seen_outcome(taps, answers, path)
            return
        options = [(cid, routes) for cid, routes in node.options()
                   if (c := node.choice(cid)) is None or c.condition.holds(answers)]
        for choice_id, routes in options:
            new_answers = {**answers, nid: choice_id}
            target = next((route.target for route in routes if route.condition.holds(new_answers)), None)
            if target and target not in path:
                walk(target, new_answers, taps + TAPS[node.kind], path + [target])

    walk(start, {}, 0, [start])
