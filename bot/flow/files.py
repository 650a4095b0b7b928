"""Finding flow files and keeping every compiled flow version the bot knows (`FlowSet`)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol

from .check import load_flow
from .directory import Directory, load_directory
from .model import COMPANY, Flow
from .route import merged_choice
from .yamlsrc import Problem

if TYPE_CHECKING:
    from .machine import FlowMachine

SECTOR_NODE = "sector"  # on the directory: the question whose choices are the sectors (skipped when known)
Directories = dict[str, tuple[Directory | None, list[Problem]]]  # a folder's directory, as load_directory gives it


def load_flow_file(path: str | Path, directories: Directories | None = None) -> tuple[Flow | None, list[Problem]]:
    """`load_flow`, and for a flow that says `directory: true` the directory of its folder
    (`<folder>/directory`) attached and checked against it: every kind of problem is a choice of
    its text question, every sector a choice of its `sector` question. `directories` caches the
    folders read (one load for every flow of a folder)."""
    flow, problems = load_flow(path)
    if flow is None or not flow.uses_directory:
        return flow, problems
    folder, cache = str(Path(path).parent / "directory"), directories if directories is not None else {}
    if folder not in cache:
        cache[folder] = load_directory(folder)
    directory, found_problems = cache[folder]
    problems = problems + [p for p in found_problems if not p.warning]
    if directory is None:
        return None, problems + [Problem(flow.path, 1, f"flow {flow.id!r}: its directory {folder} does not load")]
    wrong = _against(flow, directory)
    return (None if wrong else lend(replace(flow, directory=directory))), problems + wrong


def lend(flow: Flow, other: Flow | None = None) -> Flow:
    """A flow on the directory, its text question's choices recognised with the words and
    examples of the directory's kinds of the same id (problems.yaml), and of the flow those
    lend from (`from_flow`: the Cstream flow), when given."""
    assert flow.directory is not None and flow.classify_node is not None  # a flow on the directory, checked by _against
    theirs = {c.id: c for c in other.nodes[other.classify_node].choices} if other and other.classify_node else {}
    kinds = {k.id: merged_choice(k, theirs.get(k.id)) for k in flow.directory.problems}
    node = flow.nodes[flow.classify_node]
    choices = tuple(replace(c, recogniser=merged_choice(c, kinds[c.id]).recogniser) if c.id in kinds else c
                    for c in node.choices)
    return replace(flow, nodes={**flow.nodes, node.id: replace(node, choices=choices)})


def _against(flow: Flow, directory: Directory) -> list[Problem]:
    """What a flow on the directory must hold for the directory's answers to be its own."""
    out = []
    if not any(n.kind == COMPANY for n in flow.nodes.values()):
        out.append(Problem(flow.path, 1, "a flow on the directory asks which company: add a node of type company"))
    classify = flow.nodes.get(flow.classify_node or "")
    have = {c.id for c in classify.choices} if classify else set()
    for kind in directory.problems:
        if kind.id != "none" and kind.id not in have:
            out.append(Problem(flow.path, classify.line if classify else 1,
                               f"node {flow.classify_node}: no choice {kind.id!r} (a kind of problem of the directory)"))
    sector = flow.nodes.get(SECTOR_NODE)
    if sector is None or sector.kind != "choice":
        out.append(Problem(flow.path, 1, "a flow on the directory has a choice question `sector` (skipped when "
                                         "the company or the words tell it)"))
    else:
        have = {c.id for c in sector.choices}
        for sid in directory.sectors:
            if sid not in have:
                out.append(Problem(flow.path, sector.line, f"node sector: no choice {sid!r} (a sector of the directory)"))
    return out


def flow_files(paths: list[str | Path]) -> list[Path]:
    """The flow files named, and the `*.yaml` / `*.yml` files of the folders named."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path])
    return files


class Versioned(Protocol):
    """What `FlowSet.of` reads of a conversation's progress (bot/engine/progress.py)."""
    @property
    def flow(self) -> str: ...
    @property
    def version(self) -> str: ...


class FlowSet:
    """Compiled flows by id and version. Versions seen earlier stay usable for people mid-way."""

    def __init__(self, flows: Iterable[Flow] = (), default: str | None = None):
        self._versions: dict[tuple[str, str], FlowMachine] = {}
        self._current: dict[str, FlowMachine] = {}
        for flow in flows:
            self.add(flow)
        # the default: the one named, else the flow on the directory (any company), else the first
        self.default = default or self.general or next(iter(self._current), None)

    def add(self, flow: Flow) -> FlowMachine:
        from .machine import FlowMachine  # here: `check` needs only the YAML loader
        machine = self._versions.get((flow.id, flow.version)) or FlowMachine(flow)
        self._versions[(flow.id, flow.version)] = machine
        self._current[flow.id] = machine
        return machine

    def get(self, flow_id: str, version: str | None = None) -> FlowMachine | None:
        if version is not None:
            return self._versions.get((flow_id, version))
        return self._current.get(flow_id)

    def of(self, progress: Versioned) -> FlowMachine | None:
        """The machine a conversation (its `flow` and `version`) runs on: its version's, else its
        flow's current one (a version no longer loaded); None for a flow not loaded."""
        return self.get(progress.flow, progress.version) or self.get(progress.flow)

    @property
    def general(self) -> str | None:
        """The id of the flow on the directory (any company), if one is loaded."""
        return next((i for i, m in self._current.items() if m.flow.directory is not None), None)

    @property
    def ids(self) -> list[str]:
        return list(self._current)

    @classmethod
    def load(cls, paths: list[str | Path], default: str | None = None) -> tuple["FlowSet", list[Problem]]:
        """Load every flow file of the given files and folders; any problem means none is used."""
        files = flow_files(paths)
        flows: list[Flow] = []
        problems: list[Problem] = []
        directories: Directories = {}
        for file in files:
            flow, found = load_flow_file(file, directories)
            problems.extend(p for p in found if not p.warning)
            if flow:
                flows.append(flow)
        by_id = {f.id: f for f in flows}  # a flow on the directory also borrows the words of its `from_flow`
        flows = [lend(f, by_id[f.directory.from_flow]) if f.directory is not None and f.directory.from_flow in by_id
                 else f for f in flows]
        ids = [f.id for f in flows]
        for flow in flows:
            if ids.count(flow.id) > 1:
                problems.append(Problem(flow.path, 1, f"flow id {flow.id!r} is used by several files"))
        where = ", ".join(map(str, paths))
        if not files:
            problems.append(Problem(where, 0, "no flow file (*.yaml) found"))
        if default and default not in ids:
            problems.append(Problem(where, 0, f"default flow {default!r} not found"))
        return cls(flows, default), problems
