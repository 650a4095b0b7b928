"""Finding flow files and keeping every compiled flow version the bot knows (`FlowSet`)."""
from __future__ import annotations

from pathlib import Path

from .check import load_flow
from .model import Flow
from .yamlsrc import Problem


def flow_files(paths: list[str | Path]) -> list[Path]:
    """The flow files named, and the `*.yaml` / `*.yml` files of the folders named."""
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path])
    return files


class FlowSet:
    """Compiled flows by id and version. Versions seen earlier stay usable for people mid-way."""

    def __init__(self, flows: list[Flow] = (), default: str | None = None):
        self._versions: dict[tuple[str, str], FlowMachine] = {}
        self._current: dict[str, FlowMachine] = {}
        for flow in flows:
            self.add(flow)
        self.default = default or next(iter(self._current), None)

    def add(self, flow: Flow):
        from .machine import FlowMachine  # here: `check` needs only the YAML loader
        machine = self._versions.get((flow.id, flow.version)) or FlowMachine(flow)
        self._versions[(flow.id, flow.version)] = machine
        self._current[flow.id] = machine
        return machine

    def get(self, flow_id: str, version: str | None = None):
        if version is not None:
            return self._versions.get((flow_id, version))
        return self._current.get(flow_id)

    @property
    def ids(self) -> list[str]:
        return list(self._current)

    @classmethod
    def load(cls, paths: list[str | Path], default: str | None = None) -> tuple["FlowSet", list[Problem]]:
        """Load every flow file of the given files and folders; any problem means none is used."""
        files = flow_files(paths)
        flows, problems = [], []
        for file in files:
            flow, found = load_flow(file)
            problems.extend(p for p in found if not p.warning)
            if flow:
                flows.append(flow)
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
