"""Draw a flow for someone who did not write it: SVG/PNG through graphviz, or Mermaid.

Graphviz pictures are written as DOT here (the `graphviz` package): questions are boxes
labelled by their text (shortened), outcomes are green rounded boxes marked as outcomes, the
start is a plain "Début" arrow, and each arrow says the answer and, in words, the condition it
needs. With `stats` (bot/ops/report.py), arrows also say how many people took them and each
question how many reached it and how many stopped there. Mermaid (.mmd) goes through
transitions' diagram extension, from a drawing machine apart from the engine's.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from transitions.extensions import GraphMachine

from ..errors import GraphError
from .machine import transitions_of
from .model import Condition, Flow, Node, Route, tr

if TYPE_CHECKING:
    from transitions.core import TransitionConfigDict

WRAP = 28  # characters per line in a box


class Stats(Protocol):
    """What the graph shows of bot/ops/report.py's Stats: rows of the funnel (node, reached,
    abandoned), transitions (node, choice, next, people) and outcomes (outcome, conversations)."""
    @property
    def funnel(self) -> Iterable[dict[str, Any]]: ...
    @property
    def transitions(self) -> Iterable[dict[str, Any]]: ...
    @property
    def outcomes(self) -> Iterable[dict[str, Any]]: ...


def draw(flow: Flow, output: str | Path, stats: Stats | None = None) -> Path:
    output = Path(output)
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "pdf", "dot", "mmd", "md"):
        raise GraphError(f"unknown picture format {output.suffix!r}: use .svg, .png, .pdf or .mmd")
    if fmt in ("mmd", "md"):
        return _mermaid(flow, output)
    if fmt != "dot" and shutil.which("dot") is None:
        raise GraphError("graphviz's `dot` program is not installed (apt-get install graphviz); "
                         f"or write a Mermaid diagram instead: -o {output.with_suffix('.mmd')}")
    graph = dot_graph(flow, stats)
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        output.write_text(graph.source, encoding="utf-8")
    else:
        output.write_bytes(graph.pipe(format=fmt))
    return output


def _wrap(text: str, width: int = WRAP, lines: int = 3) -> str:
    words, out, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    out.append(line)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][:width - 1] + "…"
    return "\n".join(out)


def condition_text(flow: Flow, condition: Condition) -> str:
    """A condition in words: « si problème = Facturation ou Résiliation, sauf si … »."""
    def part(node_id: str, ids: Iterable[str]) -> str:
        node = flow.nodes.get(node_id)
        name = _wrap(tr(node.text).split("\n")[0], 24, 1) if node else node_id
        labels = [tr(choice.label) if node and (choice := node.choice(i)) else i for i in sorted(ids)]
        return f"« {name} » = {' ou '.join(labels)}"
    said = [part(n, ids) for n, ids in condition.when]
    unless = [part(n, ids) for n, ids in condition.unless]
    text = ("si " + " et ".join(said)) if said else ""
    if unless:
        text += (", " if text else "") + "sauf si " + " ou ".join(unless)
    return text


def _options(node: Node) -> list[tuple[str, str, tuple[Route, ...]]]:
    if node.kind == "info":
        return [("continue", "Continuer", node.routes)]
    if node.kind == "company":
        return [("company", "son nom", node.routes)]
    if node.kind == "free":
        return [("typed", "ses mots", node.routes)]
    dated = [("date", "une date", node.routes)] if node.kind == "date" else []
    return [(c.id, tr(c.label), c.routes) for c in node.choices] + dated


def dot_graph(flow: Flow, stats: Stats | None = None) -> Any:  # a graphviz.Digraph
    import graphviz
    funnel = {row["node"]: row for row in stats.funnel} if stats is not None else {}
    people = {(r["node"], r["choice"], r["next"]): r["people"] for r in stats.transitions} if stats else {}
    reached = {r["outcome"]: r["conversations"] for r in stats.outcomes} if stats else {}
    graph = graphviz.Digraph(flow.id, graph_attr={"rankdir": "TB", "label": tr(flow.title), "labelloc": "t",
                                                  "fontname": "Helvetica", "fontsize": "18"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9", "color": "#555555"})
    graph.node("_start", "Début", shape="plaintext", fontsize="12")
    graph.edge("_start", flow.start, arrowsize="0.8")
    for node in flow.nodes.values():
        text = _wrap(re.sub(r"\{[\w.]+\}", "…", tr(node.text).split("\n")[0]))
        if node.is_outcome:
            label = f"Issue : {_wrap(node.name())}" + ("" if node.label else f"\n({node.id})")
            if stats is not None:
                label += f"\n{reached.get(node.id, 0)} personne(s)"
            graph.node(node.id, label, shape="box", style="rounded,filled,bold", fillcolor="#e5f5e0",
                       color="#31a354", tooltip=node.id)
            continue
        label = text
        row = funnel.get(node.id)
        if stats is not None:
            got, left = (row["reached"], row["abandoned"]) if row else (0, 0)
            share = f" ({round(100 * left / got)} %)" if got else ""
            label += f"\n{got} atteinte(s), {left} abandon(s){share}"
        graph.node(node.id, label, shape="box", style="filled", fillcolor="#f7fbff", color="#4292c6",
                   tooltip=node.id)
    for node in flow.nodes.values():
        for choice_id, choice_label, routes in _options(node):
            for route in routes:
                label = _wrap(choice_label, 22, 2)
                if not route.condition.always:
                    label += "\n" + _wrap(condition_text(flow, route.condition), 30, 4)
                if stats is not None:
                    label += f"\n{people.get((node.id, choice_id, route.target), 0)} pers."
                graph.edge(node.id, route.target, label)
    return graph


def _mermaid(flow: Flow, output: Path) -> Path:
    states = [{"name": node.id, "final": node.is_outcome} for node in flow.nodes.values()]
    transitions: list[TransitionConfigDict] = []
    for t in transitions_of(flow):
        label = t["trigger"].removeprefix("choose_") + (" [si…]" if "conditions" in t else "")
        transitions.append({"trigger": label, "source": t["source"], "dest": t["dest"]})

    class Model:
        get_graph: Callable[[], object]  # added by GraphMachine

    model = Model()
    GraphMachine(model=model, states=states, transitions=transitions, initial=flow.start,
                 auto_transitions=False, title=tr(flow.title), graph_engine="mermaid",
                 show_conditions=False, show_state_attributes=False)
    graph = model.get_graph()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(graph.source if hasattr(graph, "source") else str(graph), encoding="utf-8")
    return output
