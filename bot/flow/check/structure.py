"""`check` once everything is read: references resolve, every node is reachable and leads
to an outcome, and no path needs more taps than the flow allows."""
from __future__ import annotations

import re

from ..model import Node, Route
from ..yamlsrc import Located
from .reader import Reader, suggest

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(\.text)?\}")
TIMED = re.compile(r"\{(date|delay)\.([a-z][a-z0-9_]*)\}")  # {date.answer_due}, {delay.formal_notice}
# What a node kind costs in user actions at most (a text answer may need a confirmation tap).
TAPS = {"choice": 1, "text": 2, "info": 1, "outcome": 0}


def references(r: Reader, nodes, channels, facts, sources, documents, timeline=None) -> None:
    uses = r.uses
    for kind, used, known in (("target", uses.targets, nodes), ("channel", uses.channels, channels),
                              ("fact", uses.facts, facts), ("source", uses.sources, sources),
                              ("document", uses.documents, documents)):
        for ref, line, what in used:
            if ref not in known:
                r.err(line, f"{what}: unknown {kind} {ref!r}{suggest(ref, known)}")
    for node_id, ids, line, what in uses.conditions:
        node = nodes.get(node_id)
        if node is None:
            r.err(line, f"{what}: condition on unknown node {node_id!r}{suggest(node_id, nodes)}")
            continue
        known = {c.id for c in node.choices} | ({"continue"} if node.kind == "info" else set())
        for cid in ids:
            if cid not in known:
                r.err(line, f"{what}: node {node_id} has no choice {cid!r}{suggest(cid, known)}")
    for text, line, what in uses.texts:
        for lang_text in text.values():
            for name, _ in PLACEHOLDER.findall(lang_text):
                if name not in nodes and name != "date":
                    r.err(line, f"{what}: unknown placeholder {{{name}}} (use a node id or {{date}})")
            for kind, name in TIMED.findall(lang_text):
                if name not in (timeline or {}):
                    r.err(line, f"{what}: unknown placeholder {{{kind}.{name}}}: no {name!r} in timeline:"
                                f"{suggest(name, timeline or {})}")


def structure(r: Reader, nodes: dict[str, Node], start: str, max_taps: int, data: Located) -> None:
    """Unreachable nodes, nodes that cannot reach an outcome, and the tap limit."""
    edges = {nid: [route.target for route in node_routes(n)] for nid, n in nodes.items()}
    seen, stack = {start}, [start]
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
            r.err(node.line, f"node {nid}: unreachable from the start node {start!r}")
        elif nid not in good:
            r.err(node.line, f"node {nid}: no way from here leads to an outcome")
    if r.failed:
        return
    longest, path = longest_path(nodes, start)
    if longest > max_taps:
        r.err(data.line_of("max_taps") if "max_taps" in data else data.line,
              f"flow: a path needs {longest} taps before its outcome, more than max_taps "
              f"{max_taps}: {' > '.join(path)}")


def node_routes(node: Node) -> list[Route]:
    if node.kind == "info":
        return list(node.routes)
    return [route for choice in node.choices for route in choice.routes]


def longest_path(nodes: dict[str, Node], start: str) -> tuple[int, list[str]]:
    """The most user actions any path needs to reach an outcome, following conditions."""
    best = (0, [start])

    def walk(nid: str, answers: dict[str, str], taps: int, path: list[str]) -> None:
        nonlocal best
        node = nodes[nid]
        if node.is_outcome:
            if taps > best[0]:
                best = (taps, path)
            return
        options = ([("continue", node.routes)] if node.kind == "info"
                   else [(c.id, c.routes) for c in node.choices if c.condition.holds(answers)])
        for choice_id, routes in options:
            new_answers = {**answers, nid: choice_id}
            target = next((route.target for route in routes if route.condition.holds(new_answers)), None)
            if target and target not in path:
                walk(target, new_answers, taps + TAPS[node.kind], path + [target])

    walk(start, {}, 0, [start])
    return best
