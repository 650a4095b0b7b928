"""`check` for the flow's `timeline:` (named delays) and `infer:` (answers read from typed text).

    timeline:
      answer_due: {delay: 30 days, basis: letter}
      mediator_from: {delay: 2 months, basis: practice, author_note: "usage, not law"}
    infer:
      - set: {hearing: "yes"}
        keywords: ["sourd", "malentendant*", "deaf"]
"""
from __future__ import annotations

import re

from ..model import Delay, Inference
from ..yamlsrc import Located
from .reader import Reader

BASES = ("law", "practice", "letter")
_DELAY = re.compile(r"^\s*(\d{1,4})\s+(day|days|month|months|year|years)\s*$")


def timeline(r: Reader, data: Located) -> dict[str, Delay]:
    out = {}
    for name, entry, what in r.entries(data, "timeline", "delay"):
        raw = r.scalar(entry, "delay", what)
        match = _DELAY.match(raw or "")
        if raw is not None and not match:
            r.err(entry.line_of("delay"), f"{what}: delay must be like \"30 days\", \"2 months\" or \"1 year\", not {raw!r}")
        basis = r.scalar(entry, "basis", what)
        if basis is not None and basis not in BASES:
            r.err(entry.line_of("basis"), f"{what}: basis must be one of {', '.join(BASES)}")
        after = r.scalar(entry, "after", what, "id", required=False)
        if match:
            unit = match.group(2) if match.group(2).endswith("s") else match.group(2) + "s"
            out[name] = Delay(name, int(match.group(1)), unit, basis or "law", after)
    for name, delay in out.items():
        seen, step = {name}, delay.after
        while step:
            if step not in out:
                r.err(data["timeline"].line_of(name), f"delay {name}: after names no delay {step!r}")
                break
            if step in seen:
                r.err(data["timeline"].line_of(name), f"delay {name}: its 'after' chain comes back to itself")
                break
            seen.add(step)
            step = out[step].after
    return out


def infer(r: Reader, data: Located) -> tuple[Inference, ...]:
    """The rules; their `set` node and choice are checked with the other conditions."""
    out = []
    for entry, line in r.items(data, "infer", "infer", "inference"):
        what = "infer"
        target = r.mapping(entry.get("set"), entry.line_of("set") or line, f"{what}: set")
        keywords = tuple(k for k, _ in r.items(entry, "keywords", what))
        if not keywords:
            r.err(line, f"{what}: needs keywords (the words that say it)")
        if target is None or len(target) != 1:
            r.err(line, f"{what}: set must name one question and its answer, like  set: {{hearing: \"yes\"}}")
            continue
        (node, choice), = target.items()
        choice = r.ident(choice, target.line_of(node), f"{what}: set.{node}")
        if choice:
            r.uses.conditions.append((str(node), [choice], target.line_of(node), what))
            out.append(Inference(str(node), choice, keywords))
    return tuple(out)
