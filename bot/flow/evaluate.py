"""How well the free-text question is understood: cross-validation on the flow's own examples,
and accuracy on an external labelled file (label<TAB>message, `a|b` when both are right).

A message counts as right when the reason first offered (taken, or first to confirm) is one of
its labels; "none" (or the `other` choice) is right when nothing is offered and the list shown.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .model import Choice
from .recognise import OFF_TOPIC_IDS, Model

if TYPE_CHECKING:
    from .route import Router

NONE = "none"


@dataclass
class Report:
    labels: list[str]
    total: int = 0
    right: int = 0
    sure: int = 0            # taken without a confirmation step
    sure_wrong: int = 0      # taken without confirmation, and wrong
    confusion: dict[tuple[str, str], int] = field(default_factory=dict)
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # (expected, got, text)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0

    def add(self, expected: tuple[str, ...], got: str, sure: bool, text: str) -> None:
        ok = got in expected
        self.total += 1
        self.right += ok
        self.sure += sure
        self.sure_wrong += sure and not ok
        key = (expected[0], got)
        self.confusion[key] = self.confusion.get(key, 0) + 1
        if not ok:
            self.wrong.append(("|".join(expected), got, text))

    def lines(self, title: str, show_wrong: int = 0) -> list[str]:
        out = [f"{title}: {self.accuracy:.1%} right ({self.right}/{self.total}); "
               f"{self.sure} taken without confirmation, {self.sure_wrong} of them wrong"]
        labels = self.labels + sorted({g for _, g in self.confusion} - set(self.labels))
        width = max(len("expected \\ got"), *(len(x) for x in labels)) + 1
        cell = _column_width(labels)
        out.append("  " + "expected \\ got".ljust(width) + " ".join(x[:cell].rjust(cell) for x in labels))
        for e in labels:
            if not any(k[0] == e for k in self.confusion):
                continue
            cells = [self.confusion.get((e, g), 0) for g in labels]
            out.append(f"  {e:<{width}}" + " ".join((str(c) if c else ".").rjust(cell) for c in cells))
        for expected, got, text in self.wrong[:show_wrong]:
            out.append(f"  ✗ {expected} → {got}: {text[:110]}")
        return out


def _column_width(labels: list[str]) -> int:
    """The narrowest column (6 at least) at which every label's head is still its own:
    « cancel » and « cancellation » need 7 (« cancel », « cancell »)."""
    width = 6
    while len({x[:width] for x in labels}) < len(labels) and width < max(map(len, labels)):
        width += 1
    return width


def _label(choice_id: str | None) -> str:
    return NONE if choice_id is None or choice_id in OFF_TOPIC_IDS else choice_id


def _predict(model: Model, text: str) -> tuple[str, bool]:
    feats = model.features(text)
    choice, candidates = model.decide(model.probabilities(feats), None, feats)
    top = choice or (candidates[0] if candidates else None)
    return _label(top), choice is not None


def labels_of(choices: tuple[Choice, ...]) -> list[str]:
    out = [c.id for c in choices if c.id not in OFF_TOPIC_IDS]
    return out + [NONE]


def cross_validate(choices: tuple[Choice, ...], folds: int = 5) -> Report:
    """Each example is recognised by a model built without its fold (keywords and patterns kept)."""
    report = Report(labels_of(choices))
    pairs = [(i, n) for i, c in enumerate(choices) for n in range(len(c.recogniser.examples))]
    for fold in range(folds):
        held = frozenset((i, n) for i, n in pairs if n % folds == fold)
        if not held:
            continue
        model = Model(choices, skip=held)
        for i, n in sorted(held):
            text = choices[i].recogniser.examples[n]
            got, sure = _predict(model, text)
            report.add((_label(choices[i].id),), got, sure, text)
    return report


def read_tsv(path: str | Path) -> list[tuple[tuple[str, ...], str]]:
    items = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, _, text = line.partition("\t")
        items.append((tuple(label.strip().split("|")), text.strip()))
    return items


def evaluate(choices: tuple[Choice, ...], items: Iterable[tuple[tuple[str, ...], str]]) -> Report:
    model = Model(choices)
    report = Report(labels_of(choices))
    for expected, text in items:
        got, sure = _predict(model, text)
        report.add(tuple(_label(e) for e in expected), got, sure, text)
    return report


ROUTE_COLUMNS = ("company", "sector", "problem", "message")


def read_route_tsv(path: str | Path, half: str | None = None) -> list[tuple[tuple[str, ...], ...]]:
    """Lines of company, sector, problem (each maybe `a|b`: either counts) and message; a first
    line naming the columns is skipped. `half`: 'dev' keeps the even lines (0, 2, …),
    'held-out' the odd ones, so that one file gives a part to build on and a part to judge by."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) != 4:
            raise ValueError(f"expected {len(ROUTE_COLUMNS)} tab-separated columns: {line[:60]!r}")
        if tuple(c.strip() for c in cells) == ROUTE_COLUMNS:
            continue
        rows.append(tuple(tuple(c.strip().split("|")) for c in cells[:3]) + ((cells[3].strip(),),))
    if half is not None:
        rows = rows[0 if half == "dev" else 1::2]
    return rows


def route_report(router: Router, rows: list[tuple[tuple[str, ...], ...]], title: str, show_wrong: int = 0) -> list[str]:
    """Accuracy of each of company, sector and problem, and the problem's confusion matrix."""
    right = [0, 0, 0]
    problems = Report(sorted({p for row in rows for p in row[2]} | {"none"}))
    wrong = []
    for company, sector, problem, (text,) in rows:
        got = router.route(text)
        hits = [got.company in company, got.sector in sector, got.column in problem]
        right = [r + h for r, h in zip(right, hits)]
        problems.add(problem, got.column, True, text)
        if not all(hits):
            wrong.append(f"  ✗ {'/'.join(company)} {'/'.join(sector)} {'/'.join(problem)} → {got.line()}: {text[:100]}")
    n = len(rows) or 1
    out = [f"{title}: {len(rows)} messages; company {right[0] / n:.1%}, sector {right[1] / n:.1%}, "
           f"problem {right[2] / n:.1%}"]
    out += problems.lines("  problem", 0)[1:]
    return out + wrong[:show_wrong]
