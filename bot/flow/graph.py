"""Draw a flow with transitions' diagram extension: SVG/PNG through graphviz, or Mermaid.

The drawing machine is built apart from the one the engine runs, with the same states and
transitions (plus outcomes marked final), so drawing never touches live conversations.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from transitions.extensions import GraphMachine

from ..errors import GraphError
from .machine import transitions_of
from .model import Flow, tr


def draw(flow: Flow, output: str | Path) -> Path:
    output = Path(output)
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("svg", "png", "pdf", "dot", "mmd", "md"):
        raise GraphError(f"unknown picture format {output.suffix!r}: use .svg, .png, .pdf or .mmd")
    engine = "mermaid" if fmt in ("mmd", "md") else "graphviz"
    if engine == "graphviz" and fmt != "dot" and shutil.which("dot") is None:
        raise GraphError("graphviz's `dot` program is not installed (apt-get install graphviz); "
                         f"or write a Mermaid diagram instead: -o {output.with_suffix('.mmd')}")
    states = [{"name": node.id, "final": node.is_outcome} for node in flow.nodes.values()]
    transitions = []
    for t in transitions_of(flow):
        label = t["trigger"].removeprefix("choose_") + (" [si…]" if "conditions" in t else "")
        transitions.append({"trigger": label, "source": t["source"], "dest": t["dest"]})

    class Model:
        pass

    model = Model()
    GraphMachine(model=model, states=states, transitions=transitions, initial=flow.start,
                 auto_transitions=False, title=tr(flow.title), graph_engine=engine,
                 show_conditions=False, show_state_attributes=False)
    graph = model.get_graph()
    output.parent.mkdir(parents=True, exist_ok=True)
    if engine == "mermaid":
        output.write_text(graph.source if hasattr(graph, "source") else str(graph), encoding="utf-8")
    elif fmt == "dot":
        output.write_text(graph.source, encoding="utf-8")
    else:
        graph.draw(str(output), format=fmt, prog="dot")
    return output
