"""Read a flow file, report every problem as `file:line: message`, and build the `Flow`.

`load_flow(path)` returns (flow or None, problems). A flow with problems is never used:
`python -m bot check` prints them and the bot refuses to start.
"""
from __future__ import annotations

import difflib
import hashlib
import re
from datetime import date, datetime
from pathlib import Path

from .hours import HoursError, parse_hours
from .model import (ALWAYS, LANGS, Channel, Choice, Condition, Document, Fact,
                    Flow, Node, Recogniser, Ref, Route, Section, Source, Text)
from .yamlsrc import Located, LocatedList, Problem, load_located

SCHEMA_VERSIONS = (1,)
ID = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)(\.text)?\}")
NODE_KINDS = ("choice", "text", "info", "outcome")
CHANNEL_KINDS = ("phone", "chat", "social", "postal", "web", "email", "accessibility")
STATUSES = ("checked", "unchecked", "correction")
# What a node kind costs in user actions at most (a text answer may need a confirmation tap).
TAPS = {"choice": 1, "text": 2, "info": 1, "outcome": 0}

FIELDS = {
    "flow": {"schema", "id", "title", "start", "max_taps", "timezone", "holidays", "welcome",
             "sources", "facts", "channels", "documents", "nodes", "classify"},
    "choice": {"type", "text", "choices"},
    "text": {"type", "text", "choices"},
    "info": {"type", "text", "next"},
    "outcome": {"type", "text", "sections", "channels", "facts", "document"},
    "option": {"id", "label", "says", "next", "when", "unless", "keywords", "patterns", "examples"},
    "route": {"next", "when", "unless"},
    "section": {"title", "text", "when", "unless"},
    "ref": {"id", "when", "unless"},
    "source": {"title", "url", "verified"},
    "fact": {"text", "source", "verified", "status"},
    "channel": {"kind", "name", "how", "details", "url", "email", "hours", "note", "source",
                "verified", "status"},
    "document": {"title", "filename", "parts"},
}


class _Checker:
    """Collects problems while turning the located YAML data into model objects."""

    def __init__(self, filename: str):
        self.file = filename
        self.problems: list[Problem] = []

    def err(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    # -- small readers -------------------------------------------------------------------
    def mapping(self, value, line: int, what: str) -> Located | None:
        if isinstance(value, Located):
            return value
        self.err(line, f"{what} must be a mapping (key: value lines)")
        return None

    def fields(self, data: Located, kind: str, what: str) -> None:
        allowed = FIELDS[kind]
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.err(data.line_of(key), f"{what}: unknown field {key!r}{hint}")

    def entries(self, items: LocatedList, kind: str, what: str):
        """The mappings of a YAML list, each with its fields checked against FIELDS[kind]."""
        for i, item in enumerate(items):
            entry = self.mapping(item, items.line_of(i), what)
            if entry is not None:
                self.fields(entry, kind, what)
                yield entry

    def word(self, data: Located, key: str, what: str, required: bool = True) -> str | None:
        value = data.get(key)
        line = data.line_of(key)
        if value is None:
            if required:
                self.err(data.line, f"{what}: missing {key!r}")
            return None
        if isinstance(value, bool):
            self.err(line, f"{what}: {key} was read as the YAML boolean {str(value).lower()}; "
                           f"put the word in quotes, e.g. {key}: \"{'oui' if value else 'non'}\"")
            return None
        if not isinstance(value, (str, int, float)):
            self.err(line, f"{what}: {key} must be a single word or sentence")
            return None
        return str(value)

    def ident(self, value, line: int, what: str) -> str | None:
        if isinstance(value, bool):
            self.err(line, f"{what}: id was read as the YAML boolean {str(value).lower()}; "
                           "put it in quotes, e.g. id: \"no\"")
            return None
        if not isinstance(value, str) or not ID.match(value):
            self.err(line, f"{what}: id {value!r} must be lower-case letters, digits and _ "
                           "(starting with a letter, 24 characters at most)")
            return None
        return value

    def text(self, data: Located, key: str, what: str, required: bool = True) -> Text | None:
        value = data.get(key)
        line = data.line_of(key)
        if value is None:
            if required:
                self.err(data.line, f"{what}: missing {key!r} (the French text)")
            return None
        if isinstance(value, bool):
            self.err(line, f"{what}: {key} was read as the YAML boolean {str(value).lower()}; "
                           "put the text in quotes")
            return None
        if isinstance(value, (str, int, float)):
            return {"fr": str(value).strip()}
        if isinstance(value, Located):
            out = {}
            for lang, val in value.items():
                if lang not in LANGS:
                    self.err(value.line_of(lang), f"{what}: unknown language {lang!r} (use fr or en)")
                elif isinstance(val, bool) or not isinstance(val, (str, int, float)):
                    self.err(value.line_of(lang), f"{what}: {key}.{lang} must be text in quotes")
                else:
                    out[lang] = str(val).strip()
            if not out.get("fr"):
                self.err(value.line, f"{what}: missing French text ({key}.fr)")
                return None
            return out
        self.err(line, f"{what}: {key} must be text, or a mapping with fr: and en:")
        return None

    def day(self, data: Located, key: str, what: str) -> date | None:
        value = data.get(key)
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        if value is None:
            self.err(data.line, f"{what}: missing {key!r} (the date it was last checked, like 2026-11-27)")
        else:
            self.err(data.line_of(key), f"{what}: {key} must be a date like 2026-11-27, not {value!r}")
        return None

    def id_list(self, data: Located, key: str, what: str) -> list[tuple[str, int]]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, LocatedList):
            self.err(data.line_of(key), f"{what}: {key} must be a list")
            return []
        out = []
        for i, item in enumerate(value):
            ident = self.ident(item, value.line_of(i), f"{what}: {key}")
            if ident:
                out.append((ident, value.line_of(i)))
        return out

    def condition(self, data: Located, what: str) -> Condition:
        parts = {}
        for key in ("when", "unless"):
            value = data.get(key)
            if value is None:
                parts[key] = ()
                continue
            cond = self.mapping(value, data.line_of(key), f"{what}: {key}")
            items = []
            for node_id, ids in (cond or {}).items():
                ids_list = ids if isinstance(ids, list) else [ids]
                checked = [self.ident(v, cond.line_of(node_id), f"{what}: {key}.{node_id}") for v in ids_list]
                items.append((str(node_id), frozenset(c for c in checked if c)))
                self._conditions.append((str(node_id), [c for c in checked if c], cond.line_of(node_id), what))
            parts[key] = tuple(items)
        return Condition(parts["when"], parts["unless"]) if (parts["when"] or parts["unless"]) else ALWAYS

    # -- sections of the file ------------------------------------------------------------
    def routes(self, owner: Located, what: str) -> tuple[Route, ...]:
        value = owner.get("next")
        line = owner.line_of("next")
        if value is None:
            self.err(owner.line, f"{what}: missing 'next' (the node it leads to)")
            return ()
        if isinstance(value, str):
            self._targets.append((value, line, what))
            return (Route(value, ALWAYS, line),)
        if not isinstance(value, LocatedList) or not value:
            self.err(line, f"{what}: next must be a node id, or a list of  - when: ... next: node")
            return ()
        routes = []
        for entry in self.entries(value, "route", f"{what}: next"):
            target = self.word(entry, "next", f"{what}: next")
            if target:
                self._targets.append((target, entry.line_of("next"), what))
                routes.append(Route(target, self.condition(entry, what), entry.line))
        if routes and not routes[-1].condition.always:
            self.err(value.line_of(len(value) - 1),
                     f"{what}: the last 'next' entry must have no condition, so that there is always a way on")
        return tuple(routes)

    def choices(self, node: Located, node_id: str, kind: str) -> tuple[Choice, ...]:
        raw = node.get("choices")
        what = f"node {node_id}"
        if not isinstance(raw, LocatedList) or not raw:
            self.err(node.line_of("choices"), f"{what}: a {kind} question needs a list of choices")
            return ()
        seen = set()
        out = []
        for option in self.entries(raw, "option", f"{what}: choice"):
            cid = self.ident(option.get("id"), option.line_of("id"), f"{what}: choice")
            if cid is None:
                continue
            cwhat = f"{what}: choice {cid}"
            if cid in seen:
                self.err(option.line_of("id"), f"{what}: duplicate choice id {cid!r}")
            seen.add(cid)
            label = self.text(option, "label", cwhat)
            keywords, patterns = self.strings(option, "keywords", cwhat), self.strings(option, "patterns", cwhat)
            for pattern, line in patterns:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    self.err(line, f"{cwhat}: pattern {pattern!r} is not a valid regular expression ({exc})")
            examples = self.strings(option, "examples", cwhat)
            recogniser = Recogniser(tuple(k for k, _ in keywords), tuple(p for p, _ in patterns),
                                    tuple(e for e, _ in examples))
            routes = self.routes(option, cwhat)
            out.append(Choice(cid, label or {"fr": cid}, routes, self.condition(option, cwhat),
                              recogniser, option.line, self.text(option, "says", cwhat, required=False)))
        if kind == "text" and all(c.recogniser.empty for c in out):
            self.err(node.line, f"{what}: a text question needs keywords, patterns or examples on its choices")
        return tuple(out)

    def strings(self, data: Located, key: str, what: str) -> list[tuple[str, int]]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, LocatedList):
            self.err(data.line_of(key), f"{what}: {key} must be a list")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                self.err(value.line_of(i), f"{what}: {key} entries must be text in quotes")
            else:
                out.append((str(item), value.line_of(i)))
        return out

    def sections(self, data: Located, key: str, what: str) -> tuple[Section, ...]:
        raw = data.get(key)
        if raw is None:
            return ()
        if not isinstance(raw, LocatedList):
            self.err(data.line_of(key), f"{what}: {key} must be a list")
            return ()
        out = []
        for part in self.entries(raw, "section", f"{what}: {key}"):
            text = self.text(part, "text", f"{what}: {key}")
            if text:
                self._texts.append((text, part.line_of("text"), what))
                out.append(Section(text, self.condition(part, what), self.text(part, "title", what, False)))
        return tuple(out)

    def node(self, node_id: str, raw, line: int) -> Node | None:
        what = f"node {node_id}"
        data = self.mapping(raw, line, what)
        if data is None:
            return None
        kind = self.word(data, "type", what)
        if kind is None:
            return None
        if kind not in NODE_KINDS:
            self.err(data.line_of("type"), f"{what}: unknown type {kind!r} (use {', '.join(NODE_KINDS)})")
            return None
        self.fields(data, kind, what)
        text = self.text(data, "text", what) or {"fr": ""}
        self._texts.append((text, data.line_of("text"), what))
        if kind in ("choice", "text"):
            return Node(node_id, kind, text, choices=self.choices(data, node_id, kind), line=line)
        if kind == "info":
            return Node(node_id, kind, text, routes=self.routes(data, what), line=line)
        channel_refs, fact_refs = self.refs(data, "channels", what), self.refs(data, "facts", what)
        self._channel_refs.extend((ref, line, what) for ref, _, line in channel_refs)
        self._fact_refs.extend((ref, line, what) for ref, _, line in fact_refs)
        channels = [Ref(ref, cond) for ref, cond, _ in channel_refs]
        facts = [Ref(ref, cond) for ref, cond, _ in fact_refs]
        document = self.word(data, "document", what, required=False)
        if document:
            self._document_refs.append((document, data.line_of("document"), what))
        return Node(node_id, kind, text, sections=self.sections(data, "sections", what),
                    channels=tuple(channels), facts=tuple(facts),
                    document=document, line=line)

    def refs(self, data: Located, key: str, what: str) -> list[tuple[str, Condition, int]]:
        """A list of ids, each maybe written as  - id: x  when: {...}  to show it conditionally."""
        raw = data.get(key)
        if raw is None:
            return []
        if not isinstance(raw, LocatedList):
            self.err(data.line_of(key), f"{what}: {key} must be a list")
            return []
        out = []
        for i, item in enumerate(raw):
            line = raw.line_of(i)
            if isinstance(item, Located):
                self.fields(item, "ref", f"{what}: {key}")
                ref, cond = self.ident(item.get("id"), item.line_of("id"), f"{what}: {key}"), self.condition(item, what)
            else:
                ref, cond = self.ident(item, line, f"{what}: {key}"), ALWAYS
            if ref:
                out.append((ref, cond, line))
        return out

    def status(self, data: Located, what: str) -> str:
        status = self.word(data, "status", what) or "unchecked"
        if status not in STATUSES:
            self.err(data.line_of("status"), f"{what}: status must be one of {', '.join(STATUSES)}")
        return status

    def source_ref(self, data: Located, what: str) -> str:
        source = self.word(data, "source", what) or ""
        if source:
            self._source_refs.append((source, data.line_of("source"), what))
        return source

    def build(self, data: Located, version: str, path: str) -> Flow | None:
        self._targets, self._conditions, self._texts = [], [], []
        self._channel_refs, self._fact_refs, self._source_refs, self._document_refs = [], [], [], []
        self.fields(data, "flow", "flow")
        schema = data.get("schema")
        if schema not in SCHEMA_VERSIONS:
            self.err(data.line_of("schema"),
                     f"flow: schema must be one of {SCHEMA_VERSIONS} (this file says {schema!r})")
        flow_id = self.ident(data.get("id"), data.line_of("id"), "flow")
        title = self.text(data, "title", "flow")
        welcome = self.text(data, "welcome", "flow", required=False) or title
        start = self.word(data, "start", "flow")
        max_taps = data.get("max_taps", 6)
        if not isinstance(max_taps, int) or isinstance(max_taps, bool) or max_taps < 1:
            self.err(data.line_of("max_taps"), "flow: max_taps must be a whole number")
            max_taps = 6

        sources = {}
        for sid, raw in self.section(data, "sources"):
            what = f"source {sid}"
            entry = self.mapping(raw, data["sources"].line_of(sid), what)
            if entry is not None:
                self.fields(entry, "source", what)
                sources[sid] = Source(sid, self.word(entry, "title", what) or sid,
                                      self.word(entry, "url", what, required=False),
                                      self.day(entry, "verified", what) or date.min)
        facts = {}
        for fid, raw in self.section(data, "facts"):
            what = f"fact {fid}"
            entry = self.mapping(raw, data["facts"].line_of(fid), what)
            if entry is not None:
                self.fields(entry, "fact", what)
                text = self.text(entry, "text", what) or {"fr": ""}
                self._texts.append((text, entry.line_of("text"), what))
                facts[fid] = Fact(fid, text, self.source_ref(entry, what),
                                  self.day(entry, "verified", what) or date.min, self.status(entry, what))
        channels = {}
        for cid, raw in self.section(data, "channels"):
            channel = self.channel(cid, raw, data["channels"].line_of(cid))
            if channel:
                channels[cid] = channel
        documents = {}
        for did, raw in self.section(data, "documents"):
            what = f"document {did}"
            entry = self.mapping(raw, data["documents"].line_of(did), what)
            if entry is not None:
                self.fields(entry, "document", what)
                parts = self.sections(entry, "parts", what)
                if not parts:
                    self.err(entry.line, f"{what}: needs parts (a list of  - text: ...)")
                documents[did] = Document(did, self.text(entry, "title", what) or {"fr": did},
                                          self.word(entry, "filename", what) or f"{did}.txt", parts)
        nodes = {}
        for nid, raw in self.section(data, "nodes", required=True):
            node = self.node(nid, raw, data["nodes"].line_of(nid))
            if node:
                nodes[nid] = node

        self.references(nodes, channels, facts, sources, documents)
        classify = self.word(data, "classify", "flow", required=False)
        if classify is None:
            classify = next((n.id for n in nodes.values() if n.kind == "text"), None)
        elif classify not in nodes or nodes[classify].kind != "text":
            self.err(data.line_of("classify"), f"flow: classify must name a text question, not {classify!r}")
        if start and start not in nodes:
            self.err(data.line_of("start"), f"flow: start node {start!r} does not exist")
        elif start and not self.problems:
            self.structure(nodes, start, max_taps, data)
        if self.problems or not (flow_id and title and start):
            return None
        langs = tuple(sorted({lang for text, _, _ in self._texts for lang in text}, key=LANGS.index))
        return Flow(
            id=flow_id, title=title, version=version, schema=schema, start=start, max_taps=max_taps,
            timezone=self.word(data, "timezone", "flow", required=False) or "Europe/Paris",
            holiday_country=self.word(data, "holidays", "flow", required=False) or "FR",
            welcome=welcome, nodes=nodes, channels=channels, sources=sources, facts=facts,
            documents=documents, path=path, classify_node=classify, langs=langs)

    def section(self, data: Located, key: str, required: bool = False):
        value = data.get(key)
        if value is None:
            if required:
                self.err(data.line, f"flow: missing {key!r}")
            return []
        if not isinstance(value, Located):
            self.err(data.line_of(key), f"flow: {key} must be a mapping of id: ...")
            return []
        out = []
        for key_id, raw in value.items():
            if self.ident(key_id, value.line_of(key_id), f"{key}"):
                out.append((key_id, raw))
        return out

    def channel(self, cid: str, raw, line: int) -> Channel | None:
        what = f"channel {cid}"
        entry = self.mapping(raw, line, what)
        if entry is None:
            return None
        self.fields(entry, "channel", what)
        kind = self.word(entry, "kind", what) or "web"
        if kind not in CHANNEL_KINDS:
            self.err(entry.line_of("kind"), f"{what}: kind must be one of {', '.join(CHANNEL_KINDS)}")
        hours = None
        if "hours" in entry:
            try:
                hours = parse_hours(entry["hours"])
            except HoursError as exc:
                self.err(entry.line_of("hours"), f"{what}: {exc}")
        details = tuple(s for s, _ in self.strings(entry, "details", what))
        return Channel(cid, kind, self.text(entry, "name", what) or {"fr": cid},
                       self.text(entry, "how", what) or {"fr": ""}, self.source_ref(entry, what),
                       self.day(entry, "verified", what) or date.min, self.status(entry, what),
                       hours, details, self.word(entry, "url", what, required=False),
                       self.word(entry, "email", what, required=False),
                       self.text(entry, "note", what, required=False))

    def references(self, nodes, channels, facts, sources, documents) -> None:
        for target, line, what in self._targets:
            if target not in nodes:
                self.err(line, f"{what}: unknown target {target!r}{_suggest(target, nodes)}")
        for ref, line, what in self._channel_refs:
            if ref not in channels:
                self.err(line, f"{what}: unknown channel {ref!r}{_suggest(ref, channels)}")
        for ref, line, what in self._fact_refs:
            if ref not in facts:
                self.err(line, f"{what}: unknown fact {ref!r}{_suggest(ref, facts)}")
        for ref, line, what in self._source_refs:
            if ref not in sources:
                self.err(line, f"{what}: unknown source {ref!r}{_suggest(ref, sources)}")
        for ref, line, what in self._document_refs:
            if ref not in documents:
                self.err(line, f"{what}: unknown document {ref!r}{_suggest(ref, documents)}")
        for node_id, ids, line, what in self._conditions:
            node = nodes.get(node_id)
            if node is None:
                self.err(line, f"{what}: condition on unknown node {node_id!r}{_suggest(node_id, nodes)}")
                continue
            known = {c.id for c in node.choices} | ({"continue"} if node.kind == "info" else set())
            for cid in ids:
                if cid not in known:
                    self.err(line, f"{what}: node {node_id} has no choice {cid!r}{_suggest(cid, known)}")
        placeholders = set(nodes) | {"date"}
        for text, line, what in self._texts:
            for lang_text in text.values():
                for name, _ in PLACEHOLDER.findall(lang_text):
                    if name not in placeholders:
                        self.err(line, f"{what}: unknown placeholder {{{name}}} (use a node id or {{date}})")

    def structure(self, nodes: dict[str, Node], start: str, max_taps: int, data: Located) -> None:
        """Unreachable nodes, nodes that cannot reach an outcome, and the tap limit."""
        edges = {nid: [r.target for r in _node_routes(n)] for nid, n in nodes.items()}
        seen, stack = {start}, [start]
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        for nid, node in nodes.items():
            if nid not in seen:
                self.err(node.line, f"node {nid}: unreachable from the start node {start!r}")
        good = {nid for nid, n in nodes.items() if n.is_outcome}
        changed = True
        while changed:
            changed = False
            for nid, targets in edges.items():
                if nid not in good and any(t in good for t in targets):
                    good.add(nid)
                    changed = True
        for nid, node in nodes.items():
            if nid not in good and nid in seen:
                self.err(node.line, f"node {nid}: no way from here leads to an outcome")
        if self.problems:
            return
        longest, path = longest_path(nodes, start)
        if longest > max_taps:
            self.err(data.line_of("max_taps") if "max_taps" in data else data.line,
                     f"flow: a path needs {longest} taps before its outcome, more than max_taps "
                     f"{max_taps}: {' > '.join(path)}")


def _node_routes(node: Node) -> list[Route]:
    if node.kind == "info":
        return list(node.routes)
    return [r for c in node.choices for r in c.routes]


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
            target = next((r.target for r in routes if r.condition.holds(new_answers)), None)
            if target and target not in path:
                walk(target, new_answers, taps + TAPS[node.kind], path + [target])

    walk(start, {}, 0, [start])
    return best


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    checker = _Checker(filename)
    checker.problems.extend(problems)
    flow = checker.build(data, version, filename)
    ordered = sorted(checker.problems, key=lambda p: p.line)
    return (flow if not ordered else None), ordered
