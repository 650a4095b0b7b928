"""`check` for the nodes: questions and their choices (with recognisers and conditional
`next`), information steps, and outcomes (sections, channels, facts, document)."""
from __future__ import annotations

import re
from typing import get_args

from ..model import ALWAYS, Choice, Detail, Node, NodeKind, Recogniser, Ref, Route, Section
from ..yamlsrc import Located, LocatedList, YamlValue
from .reader import Reader, Use

NODE_KINDS: tuple[NodeKind, ...] = get_args(NodeKind)
# What the recogniser's patterns see: lower case, no accents, words split by single spaces.
_ESCAPE = re.compile(r"\\.")
_NEVER_SEEN = re.compile(r"[A-Z'’-]|[^\x00-\x7f]")


def nodes(r: Reader, data: Located) -> dict[str, Node]:
    out = {}
    for nid, raw, line in r.named(data, "nodes", required=True):
        node = _node(r, nid, raw, line)
        if node:
            out[nid] = node
    return out


def _node(r: Reader, node_id: str, raw: YamlValue, line: int) -> Node | None:
    what = f"node {node_id}"
    data = r.mapping(raw, line, what)
    if data is None:
        return None
    kind = r.scalar(data, "type", what)
    if kind is None:
        return None
    if kind not in NODE_KINDS:
        r.err(data.line_of("type"), f"{what}: unknown type {kind!r} (use {', '.join(NODE_KINDS)})")
        return None
    r.mapping(data, line, what, kind)
    parts: tuple[Section, ...] = ()
    if kind == "outcome" and isinstance(data.get("text"), list):  # conditional parts, joined
        parts = sections(r, data, "text", what)
        if not parts or not all(p.detail == "next" and p.title is None for p in parts):
            r.err(data.line_of("text"), f"{what}: a text in parts is a list of  - text: ...  maybe with when/unless")
        text = parts[0].text if parts else {"fr": ""}
    else:
        text = r.scalar(data, "text", what, "text") or {"fr": ""}
        r.uses.texts.append((text, data.line_of("text"), what))
    label = r.scalar(data, "label", what, "text", required=False)
    if kind in ("choice", "text"):
        return Node(node_id, kind, text, choices=_choices(r, data, node_id, kind), line=line, label=label)
    if kind in ("info", "company", "free"):  # Continue, any company's name, or any words lead to `next`
        return Node(node_id, kind, text, routes=routes(r, data, what), line=line, label=label)
    if kind == "date":  # a date typed leads to `next`; its choices are buttons for who cannot give one
        choices = _choices(r, data, node_id, kind)
        if any(c.id == "date" for c in choices):
            r.err(line, f"{what}: 'date' is the answer of a date typed: give the choice another id")
        return Node(node_id, kind, text, choices=choices, routes=routes(r, data, what), line=line, label=label)
    document = r.scalar(data, "document", what, required=False)
    if document:
        r.uses.documents.append((document, data.line_of("document"), what))
    return Node(node_id, kind, text, sections=sections(r, data, "sections", what),
                channels=_refs(r, data, "channels", what, r.uses.channels),
                facts=_refs(r, data, "facts", what, r.uses.facts), document=document, line=line, parts=parts,
                label=label)


def routes(r: Reader, owner: Located, what: str) -> tuple[Route, ...]:
    """`next: node`, or a list of  - when: {...} next: node  ending with one without condition."""
    value, line = owner.get("next"), owner.line_of("next")
    if value is None:
        r.err(owner.line, f"{what}: missing 'next' (the node it leads to)")
        return ()
    if isinstance(value, str):
        r.uses.targets.append((value, line, what))
        return (Route(value, ALWAYS, line),)
    entries = r.items(owner, "next", f"{what}: next", "route") if isinstance(value, list) else []
    if not entries:
        r.err(line, f"{what}: next must be a node id, or a list of  - when: ... next: node")
        return ()
    out = []
    for entry, entry_line in entries:
        target = r.scalar(entry, "next", f"{what}: next")
        if target:
            r.uses.targets.append((target, entry.line_of("next"), what))
            out.append(Route(target, r.condition(entry, what), entry_line))
    if out and not out[-1].condition.always:
        r.err(entries[-1][1], f"{what}: the last 'next' entry must have no condition, so that there is always a way on")
    return tuple(out)


def _choices(r: Reader, node: Located, node_id: str, kind: str) -> tuple[Choice, ...]:
    what = f"node {node_id}"
    entries = r.items(node, "choices", f"{what}: choice", "option")
    if not entries:
        r.err(node.line_of("choices"), f"{what}: a {kind} question needs a list of choices")
        return ()
    seen, out = set(), []
    for option, _ in entries:
        cid = r.ident(option.get("id"), option.line_of("id"), f"{what}: choice")
        if cid is None:
            continue
        cwhat = f"{what}: choice {cid}"
        if cid in seen:
            r.err(option.line_of("id"), f"{what}: duplicate choice id {cid!r}")
        seen.add(cid)
        recogniser = _recogniser(r, option, cwhat)
        label = r.scalar(option, "label", cwhat, "text")
        out.append(Choice(cid, label or {"fr": cid}, routes(r, option, cwhat), r.condition(option, cwhat),
                          recogniser, option.line, r.scalar(option, "says", cwhat, "text", required=False)))
    if kind == "text" and all(c.recogniser.empty for c in out):
        r.err(node.line, f"{what}: a text question needs keywords, patterns or examples on its choices")
    return tuple(out)


def _recogniser(r: Reader, option: Located, what: str) -> Recogniser:
    keywords = r.items(option, "keywords", what)
    patterns = r.items(option, "patterns", what)
    for pattern, line in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            r.err(line, f"{what}: pattern {pattern!r} is not a valid regular expression ({exc})")
            continue
        if _NEVER_SEEN.search(_ESCAPE.sub("", pattern)):
            r.warn(line, f"{what}: pattern {pattern!r} can never match: patterns see the text in lower "
                         "case, without accents, apostrophes or hyphens (write 'j ai preleve', not \"J'ai prélevé\")")
    examples = r.items(option, "examples", what)
    return Recogniser(tuple(k for k, _ in keywords), tuple(p for p, _ in patterns), tuple(e for e, _ in examples))


def sections(r: Reader, data: Located, key: str, what: str) -> tuple[Section, ...]:
    """Paragraphs of an outcome (`sections`) or a document (`parts`), each maybe conditional."""
    out = []
    for part, _ in r.items(data, key, f"{what}: {key}", "section"):
        text = r.scalar(part, "text", f"{what}: {key}", "text")
        if text:
            r.uses.texts.append((text, part.line_of("text"), what))
            said, unsaid = (tuple(k for k, _ in r.items(part, key, what)) for key in ("said", "unsaid"))
            out.append(Section(text, r.condition(part, what), r.scalar(part, "title", what, "text", False),
                               _detail(r, part, what) or "next", said, unsaid))
    return tuple(out)


DETAILS: tuple[Detail, ...] = get_args(Detail)


def _detail(r: Reader, data: Located, what: str) -> Detail | None:
    """Which detail of an outcome shows this part (the outcome message itself stays short)."""
    value = r.scalar(data, "detail", what, required=False)
    if value is not None and value not in DETAILS:
        r.err(data.line_of("detail"), f"{what}: detail must be one of {', '.join(DETAILS)}")
        return None
    return value


def _refs(r: Reader, data: Located, key: str, what: str, uses: list[Use]) -> tuple[Ref, ...]:
    """A list of ids, each maybe written as  - id: x  when: {...}  to show it conditionally."""
    value = data.get(key)
    if value is None:
        return ()
    if not isinstance(value, LocatedList):  # every list read from YAML is one
        r.err(data.line_of(key), f"{what}: {key} must be a list")
        return ()
    out = []
    for i, item in enumerate(value):
        line = value.line_of(i)
        if isinstance(item, Located):
            r.mapping(item, line, f"{what}: {key}", "ref")
            ref, cond = r.ident(item.get("id"), item.line_of("id"), f"{what}: {key}"), r.condition(item, what)
            detail = _detail(r, item, what)
        else:
            ref, cond, detail = r.ident(item, line, f"{what}: {key}"), ALWAYS, None
        if ref:
            uses.append((ref, line, what))
            out.append(Ref(ref, cond, detail))
    return tuple(out)

