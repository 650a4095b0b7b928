"""`check` for the flow's `timeline:` (named delays) and `infer:` (answers read from typed text).

    timeline:
      answer_due: {delay: 30 days, basis: letter, kind: company}     # the company's date
      mediator_from: {delay: 2 months, basis: practice, kind: start, author_note: "usage, not law"}
      mediator_until: {delay: 1 year, basis: law, kind: deadline}    # the person must act by it
    infer:
      - set: {hearing: "yes"}
        keywords: ["sourd", "malentendant*", "deaf"]
"""
from __future__ import annotations

import re
from typing import cast, get_args

from ..model import Basis, Condition, Delay, DelayKind, DelayUnit, Inference
from ..yamlsrc import Located
from .reader import Reader

BASES: tuple[Basis, ...] = get_args(Basis)
KINDS: tuple[DelayKind, ...] = get_args(DelayKind)  # the person's deadline, a start date, the company's date
_DELAY = re.compile(r"^\s*(\d{1,4})\s+(day|days|week|weeks|month|months|year|years|minute|minutes|second|seconds)\s*$")


def unit_of(match: re.Match[str]) -> DelayUnit:
    """The unit a `_DELAY` match names, in the plural ("1 month": months)."""
    unit = match.group(2)
    return cast(DelayUnit, unit if unit.endswith("s") else unit + "s")  # _DELAY matches no other unit


def timeline(r: Reader, data: Located) -> dict[str, Delay]:
    out = {}
    for name, entry, what in r.entries(data, "timeline", "delay"):
        raw = r.scalar(entry, "delay", what)
        match = _DELAY.match(raw or "")
        if raw is not None and not match:
            r.err(entry.line_of("delay"),
                  f"{what}: delay must be like \"30 days\", \"8 weeks\", \"2 months\" or \"1 year\", not {raw!r}")
        basis = r.scalar(entry, "basis", what)
        if basis is not None and basis not in BASES:
            r.err(entry.line_of("basis"), f"{what}: basis must be one of {', '.join(BASES)}")
        kind = r.scalar(entry, "kind", what, required=False)
        if kind is None:
            r.err(entry.line, f"{what}: missing 'kind': deadline (the person must act by it), "
                              f"start (from it on) or company (the company's date)")
        elif kind not in KINDS:
            r.err(entry.line_of("kind"), f"{what}: kind must be deadline (the person must act by it), "
                                         f"start (from it on) or company (the company's date), not {kind!r}")
        after = r.scalar(entry, "after", what, "id", required=False)
        start = r.scalar(entry, "from", what, "id", required=False)
        nearer = r.scalar(entry, "nearer_than", what, "id", required=False)
        if after and start:
            r.err(entry.line_of("from"), f"{what}: give 'after' or 'from', not both")
        if nearer and not start:
            r.err(entry.line_of("nearer_than"), f"{what}: nearer_than needs 'from' (a date question)")
        if start:
            r.uses.date_starts.append((start, entry.line_of("from"), what))
        step = entry.get("step")  # on the directory: the wait of the company's route step N, or of all
        if step is not None and not (step == "all" or isinstance(step, int) and not isinstance(step, bool)
                                     and 1 <= step <= 9):
            r.err(entry.line_of("step"), f"{what}: step must be a step number (1: the first written complaint) "
                                         f"or all (every step's wait added up), not {step!r}")
            step = None
        if step is not None and "directory" not in data:
            r.err(entry.line_of("step"), f"{what}: step needs the directory (directory: true at the top)")
        if match:  # a basis or kind not in BASES, KINDS is an error above: the flow is not used
            out[name] = Delay(name, int(match.group(1)), unit_of(match), cast(Basis, basis or "law"), after, start, nearer,
                              cast(DelayKind, kind if kind in KINDS else "company"), step if isinstance(step, int) else None,
                              step == "all")
    for name, delay in out.items():
        if delay.nearer_than and delay.nearer_than not in out:
            r.err(data["timeline"].line_of(name), f"delay {name}: nearer_than names no delay {delay.nearer_than!r}")
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


def tap_limits(r: Reader, data: Located) -> tuple[tuple[Condition, int], ...]:
    """`tap_limits:` a higher tap limit on the paths whose answers match (`when`/`unless`)."""
    out = []
    for entry, line in r.items(data, "tap_limits", "tap_limits", "tap_limit"):
        limit = entry.get("max_taps")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            r.err(line, "tap_limits: max_taps must be a whole number")
            continue
        cond = r.condition(entry, "tap_limits")
        if cond.always:
            r.err(line, "tap_limits: needs when or unless (for every path, set max_taps)")
            continue
        out.append((cond, limit))
    return tuple(out)


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
