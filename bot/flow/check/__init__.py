"""Read a flow file, report every problem as `file:line: message`, and build the `Flow`.

`load_flow(path)` returns (flow or None, problems). A flow with an error is never used:
`python -m bot check` prints the problems and the bot refuses to start; warnings are printed
and do not stop it. One module per part of the file: reader.py (values), content.py
(sources, facts, channels, documents), nodes.py, structure.py (references, paths).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from ..model import LANGS, Flow
from ..yamlsrc import Located, Problem, load_located
from . import content
from . import timeline as timed
from .followup import check_references as check_followup, followup as read_followup
from .nodes import nodes as read_nodes
from .reader import Reader
from .structure import PLACEHOLDER, ROUTE, TIMED, longest_path, references, structure

SCHEMA_VERSIONS = (1,)


def load_flow(path: str | Path) -> tuple[Flow | None, list[Problem]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(str(path), 0, f"cannot read the file: {exc}")]
    return load_flow_text(text, str(path))


def load_flow_text(text: str, filename: str = "<flow>") -> tuple[Flow | None, list[Problem]]:
    data, problems = load_located(text, filename)
    if data is None:
        return None, problems
    if not isinstance(data, Located):
        return None, problems + [Problem(filename, 1, "a flow file must be a mapping (id:, title:, nodes: ...)")]
    reader = Reader(filename)
    reader.problems.extend(problems)
    flow = _build(reader, data, hashlib.sha256(text.encode()).hexdigest()[:12], filename)
    found = sorted(reader.problems, key=lambda p: p.line)
    return (None if reader.failed else flow), found


def _build(r: Reader, data: Located, version: str, path: str) -> Flow | None:
    r.mapping(data, 1, "flow", "flow")
    schema = data.get("schema")
    if schema not in SCHEMA_VERSIONS:
        r.err(data.line_of("schema"), f"flow: schema must be one of {SCHEMA_VERSIONS} (this file says {schema!r})")
    flow_id = r.scalar(data, "id", "flow", "id")
    title = r.scalar(data, "title", "flow", "text")
    welcome = r.scalar(data, "welcome", "flow", "text", required=False) or title
    start = r.scalar(data, "start", "flow")
    max_taps = data.get("max_taps", 6)
    if not isinstance(max_taps, int) or isinstance(max_taps, bool) or max_taps < 1:
        r.err(data.line_of("max_taps"), "flow: max_taps must be a whole number")
        max_taps = 6
    sources, facts = content.sources(r, data), content.facts(r, data)
    channels, documents = content.channels(r, data), content.documents(r, data)
    nodes = read_nodes(r, data)
    delays, infer = timed.timeline(r, data), timed.infer(r, data)
    tap_limits = timed.tap_limits(r, data)
    follow = read_followup(r, data)
    uses_directory = data.get("directory", False)
    if not isinstance(uses_directory, bool):
        r.err(data.line_of("directory"), "flow: directory is true (the flow uses flows/directory) or false")
        uses_directory = False
    if not uses_directory and any(n.kind == "company" for n in nodes.values()):
        r.err(data.line_of("nodes"), "flow: a company question needs the directory (directory: true at the top)")
    references(r, nodes, channels, facts, sources, documents, delays, follow, uses_directory)
    check_followup(r, follow, nodes, delays, data)
    classify = r.scalar(data, "classify", "flow", required=False)
    if classify is None:
        classify = next((n.id for n in nodes.values() if n.kind == "text"), None)
    elif classify not in nodes or nodes[classify].kind != "text":
        r.err(data.line_of("classify"), f"flow: classify must name a text question, not {classify!r}")
    if start and start not in nodes:
        r.err(data.line_of("start"), f"flow: start node {start!r} does not exist")
    elif start and not r.failed:
        structure(r, nodes, start, max_taps, data, tap_limits, follow.asks if follow else ())
    if r.failed or not (flow_id and title and start):
        return None
    assert schema is not None and welcome is not None  # schema is in SCHEMA_VERSIONS (r.failed otherwise); title is set
    langs = tuple(sorted({lang for text, _, _ in r.uses.texts for lang in text}, key=LANGS.index))
    return Flow(
        id=flow_id, title=title, version=version, schema=schema, start=start, max_taps=max_taps,
        timezone=r.scalar(data, "timezone", "flow", required=False) or "Europe/Paris",
        holiday_country=r.scalar(data, "holidays", "flow", required=False) or "FR",
        welcome=welcome, nodes=nodes, channels=channels, sources=sources, facts=facts,
        documents=documents, path=path, classify_node=classify, langs=langs, timeline=delays, infer=infer,
        tap_limits=tap_limits, followup=follow, uses_directory=uses_directory)


__all__ = ["PLACEHOLDER", "ROUTE", "TIMED", "load_flow", "load_flow_text", "longest_path"]
