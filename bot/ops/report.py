"""The operator's report: the step events aggregated into tables, charts, a self-contained HTML page, CSV.

`collect(store, since_day, flow, flows)` reads the events page by page (a million in a few
seconds, see bench/report_events.py) and aggregates them in one pass into `Stats`; `tables()`
turns them into named tables (the CSV files, and the numbers under each chart);
`render_html()` draws the charts with matplotlib as SVG, inlined: the page needs no network
to be viewed, and reads on a phone. `funnel_png()` is the picture /stats sends. matplotlib is
imported only when a chart is drawn (`pip install -e ".[report]"`).

Definitions (per conversation, that is per random token):
- a question is *reached* when a step lands on it, *answered* when an answer is given there,
  and a conversation is *abandoned there* when its last step landed there (not an outcome);
- the *reason* is the conversation's first answer (the flow's first question);
- *time to outcome*: seconds from the conversation's first message to its first outcome.
A question that exists only in some of the flow's versions seen is labelled with them.
"""
from __future__ import annotations

import csv
import html
import io
import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from ..flow.model import tr
from ..store.base import event_pages


@dataclass
class Stats:
    since: str
    flow: str | None
    conversations: int = 0
    events: int = 0
    funnel: list[dict] = field(default_factory=list)      # flow, node, question, versions, reached, answered, abandoned
    transitions: list[dict] = field(default_factory=list)  # flow, node, choice, next, people
    reasons: dict[str, Counter] = field(default_factory=dict)  # ISO week -> reason -> conversations
    outcomes: list[dict] = field(default_factory=list)     # flow, outcome, label, conversations
    durations: list[int] = field(default_factory=list)     # seconds to the first outcome, sorted
    followups: Counter = field(default_factory=Counter)
    understood: tuple[int, int] = (0, 0)                   # (understood, descriptions)
    companies: Counter = field(default_factory=Counter)    # the company named (flows on the directory) -> conversations
    sectors: Counter = field(default_factory=Counter)      # its sector -> conversations
    unrecognised: list[tuple] = field(default_factory=list)

    @property
    def median(self) -> float | None:
        return percentile(self.durations, 50)

    @property
    def p90(self) -> float | None:
        return percentile(self.durations, 90)


def percentile(ordered: list[int], pct: float) -> float | None:
    """Nearest-rank percentile of a sorted list (the median of an even count: the lower middle
    value, an observed duration)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def since_day(since: str, today: date | None = None) -> str:
    """'30d' -> the ISO day 30 days ago (today included: 1d is today); '2026-11-01' as is; '' -> all."""
    if not since:
        return ""
    if since[:-1].isdigit() and since[-1] in "dD":
        today = today or datetime.now(timezone.utc).date()
        return (today - timedelta(days=int(since[:-1]) - 1)).isoformat()
    try:
        return date.fromisoformat(since).isoformat()
    except ValueError:
        raise ValueError(f"--since {since!r}: expected a number of days like 30d, a date like 2026-11-01, "
                         "or '' for everything") from None


def aggregate(pages, flows=None, since: str = "", flow: str | None = None, facts: bool = False) -> Stats:
    """One pass over pages of event rows, (id, *FIELDS) (a store's `events`), or with `facts`
    (id, seconds, token, FACTS as JSON text) (its `event_facts`); `flows` (a FlowSet) gives
    the labels."""
    if not facts:  # the same loop over (id, seconds, token, FACTS as a tuple)
        pages = ([(row[0], row[11], row[12], row[1:11]) for row in page] for page in pages)
    tally = _Tally(json.loads if facts else tuple)
    tally.read(pages)
    return tally.stats(_Labels(flows), since, flow)


class _Tally:
    """What one pass over the event rows gathers.

    A million rows go through here, so the loop does as little per row as it can: each
    conversation token becomes a small int the first time it is met, and the columns that take
    few values (FACTS: day, flow, version, kind, node, choice, understood, next, outcome,
    follow-up) are looked at once per distinct combination, whose "plan" holds the sets the
    row's conversation joins and what it records; per row there remain a few set adds of an
    int. Everything keyed by conversation is filled in the order the rows come, as a plain pass
    would, so ties in the tables come out in the same order."""

    def __init__(self, values_of):
        self.values_of = values_of                    # FACTS as stored -> a tuple of values
        self.ids: dict[str, int] = {}                 # token -> conversation number
        self.first_day: list[str] = []                # by conversation number
        self.last: dict[int, tuple] = {}              # conversation -> (flow, next, outcome) of its last row
        self.reason, self.time_to, self.followup = {}, {}, {}  # conversation -> ...
        self.plans: dict = {}                         # the row's FACTS -> what the row does
        self.combinations: list[tuple] = []           # the FACTS values of each plan
        self.reached, self.answered, self.edges, self.outcome_seen = {}, {}, {}, {}  # key -> conversation numbers
        self.named: dict = {}                         # (flow, node, choice) answered or read -> conversations
        self.said_rows: dict = {}                     # understood (0 or 1) -> [rows]
        self.count = 0

    def plan(self, key) -> tuple:
        values = self.values_of(key)
        self.combinations.append(values)
        day, fl, version, kind, node, choice, und, nxt, outcome, fu = values
        reach = self.reached.setdefault((fl, nxt), set()).add if nxt is not None else None
        answer = why = None
        if kind == "answer":
            answer = (self.answered.setdefault((fl, node), set()).add,
                      self.edges.setdefault((fl, node, choice, nxt), set()).add,
                      self.named.setdefault((fl, node, choice), set()).add)
            why = (fl, version, node, choice)
        elif kind == "read":  # an answer read from a description: counts where it was said, not as a step
            answer = (None, None, self.named.setdefault((fl, node, choice), set()).add)
        ended = self.outcome_seen.setdefault((fl, outcome), set()).add if outcome is not None else None
        said = self.said_rows.setdefault(und, [0]) if und is not None else None
        fu = (fl, version, node, fu) if fu is not None else None
        plan = self.plans[key] = (day, reach, answer, why, (fl, nxt, outcome), ended, said, fu)
        return plan

    def read(self, pages) -> None:
        ids, first_day, last, reason, time_to, followup = \
            self.ids, self.first_day, self.last, self.reason, self.time_to, self.followup
        get_plan, get_id, plan_of = self.plans.get, ids.get, self.plan
        for page in pages:
            self.count += len(page)
            for row in page:
                day, reach, answer, why, ends, ended, said, fu = get_plan(row[3]) or plan_of(row[3])
                t = get_id(row[2])
                if t is None:
                    t = ids[row[2]] = len(first_day)
                    first_day.append(day)
                if reach is not None:
                    reach(t)
                if answer is not None:
                    answer[2](t)
                    if why is not None:
                        answer[0](t)
                        answer[1](t)
                        if t not in reason:
                            reason[t] = why
                last[t] = ends
                if ended is not None:
                    ended(t)
                    if t not in time_to:
                        time_to[t] = row[1]
                if said is not None:
                    said[0] += 1
                if fu is not None:
                    followup[t] = fu

    def stats(self, labels: "_Labels", since: str, flow: str | None) -> Stats:
        said = sum(n for n, in self.said_rows.values())
        understood = sum(und * n for und, (n,) in self.said_rows.items())
        stats = Stats(since, flow, conversations=len(self.first_day), events=self.count,
                      understood=(understood, said), durations=sorted(self.time_to.values()),
                      followups=Counter(labels.result(*key) for key in self.followup.values()))
        stats.funnel = self._funnel(labels)
        stats.transitions = [{"flow": fl, "node": node, "choice": choice, "next": nxt, "people": len(tokens)}
                             for (fl, node, choice, nxt), tokens in sorted(self.edges.items(), key=lambda e: -len(e[1]))]
        weeks: dict[str, str] = {}
        for t, (fl, version, node, choice) in self.reason.items():
            day = self.first_day[t]
            week = weeks.get(day) or weeks.setdefault(day, "{}-W{:02d}".format(*date.fromisoformat(day).isocalendar()))
            stats.reasons.setdefault(week, Counter())[labels.choice(fl, version, node, choice)] += 1
        stats.reasons = dict(sorted(stats.reasons.items()))
        for (fl, node, choice), tokens in self.named.items():  # companies and sectors, each conversation once
            what = labels.named(fl, node)
            if what is not None:
                getattr(stats, what)[labels.entry(fl, what, choice)] += len(tokens)
        node_versions = self._versions()[0]
        stats.outcomes = sorted(({"flow": fl, "outcome": node, "label": labels.question(fl, node, node_versions[fl, node]),
                                  "conversations": len(tokens)}
                                 for (fl, node), tokens in self.outcome_seen.items()),
                                key=lambda row: -row["conversations"])
        return stats

    def _versions(self) -> tuple[dict, dict, set]:
        """The versions each node was reached in, each flow's versions, the outcomes reached."""
        node_versions, flow_versions = defaultdict(set), defaultdict(set)
        outcome_nodes = set()
        for _, fl, version, _, _, _, _, nxt, outcome, _ in self.combinations:
            flow_versions[fl].add(version)
            if nxt is not None:
                node_versions[fl, nxt].add(version)
            if outcome is not None:
                outcome_nodes.add((fl, outcome))
        return node_versions, flow_versions, outcome_nodes

    def _funnel(self, labels: "_Labels") -> list[dict]:
        """Each question reached: by how many, answered, abandoned there (its last row)."""
        node_versions, flow_versions, outcome_nodes = self._versions()
        abandoned = Counter((fl, nxt) for fl, nxt, outcome in self.last.values() if outcome is None and nxt is not None)
        funnel = []
        for key in sorted(self.reached, key=lambda k: labels.order(*k)):
            fl, node = key
            if key in outcome_nodes or labels.is_outcome(fl, node):
                continue
            versions = labels.versions_with(fl, node, flow_versions[fl]) or node_versions[key]
            tag = "" if versions >= flow_versions[fl] else " [" + ", ".join(sorted(v[:7] for v in versions)) + "]"
            funnel.append({"flow": fl, "node": node, "question": labels.question(fl, node, versions) + tag,
                           "versions": " ".join(sorted(versions)), "reached": len(self.reached[key]),
                           "answered": len(self.answered.get(key, ())), "abandoned": abandoned.get(key, 0)})
        return funnel


class _Labels:
    """Questions by their text (first line, shortened), answers by their label, from the flow
    versions the bot knows; the id when the version is not known any more."""

    def __init__(self, flows):
        self.flows = flows

    def named(self, flow: str, node: str) -> str | None:
        """`companies` at a flow's company question, `sectors` at its sector question (by their
        ids when the flow is not known)."""
        found = self._node(flow, node)
        if (found.kind if found is not None else node) == "company":
            return "companies"
        return "sectors" if node == "sector" and (found is None or self._directory(flow) is not None) else None

    def entry(self, flow: str, what: str, choice: str) -> str:
        """A company or sector by its name in the directory; `other` (a company it does not
        know) and `unknown` said so."""
        directory = self._directory(flow)
        table = (directory.companies if what == "companies" else directory.sectors) if directory else {}
        if choice in table:
            name = table[choice].name
            return name if isinstance(name, str) else name.get("fr", choice)
        return {"other": "autre (hors annuaire)", "unknown": "inconnue"}.get(choice, choice)

    def _directory(self, flow: str):
        machine = self.flows.get(flow) if self.flows is not None else None
        return machine.flow.directory if machine is not None else None

    def _node(self, flow: str, node: str, versions=()):
        if self.flows is None:
            return None
        for machine in [self.flows.get(flow, v) for v in sorted(versions)] + [self.flows.get(flow)]:
            if machine is not None and node in machine.flow.nodes:
                return machine.flow.nodes[node]
        return None

    def versions_with(self, flow: str, node: str, versions) -> set[str]:
        """Of these versions, those that have this node (empty when none of them is known)."""
        known = [self.flows.get(flow, v) for v in versions] if self.flows is not None else []
        return {m.flow.version for m in known if m is not None and node in m.flow.nodes}

    def order(self, flow: str, node: str):
        current = self.flows.get(flow) if self.flows is not None else None
        nodes = list(current.flow.nodes) if current else []
        return (flow, nodes.index(node) if node in nodes else len(nodes), node)

    def is_outcome(self, flow: str, node: str) -> bool:
        found = self._node(flow, node)
        return bool(found and found.is_outcome)

    def question(self, flow: str, node: str, versions=()) -> str:
        """A question's text (its first line), or an outcome's label (what it recommends), shortened."""
        found = self._node(flow, node, versions)
        if found is None:
            return node
        return shorten(found.name() if found.is_outcome else re.sub(r"\{[\w.]+\}", "…", tr(found.text).strip().split("\n")[0]))

    def result(self, flow: str, version: str, node: str | None, choice: str) -> str:
        """A follow-up's result by its answer's label (« C'est réglé »), not its id: the
        label at that question, else at whichever question of the flow has that answer."""
        found = self._node(flow, node, (version,)) if node else None
        if found is None or found.choice(choice) is None:
            current = self.flows.get(flow) if self.flows is not None else None
            found = next((n for n in current.flow.nodes.values() if n.choice(choice)), None) if current else None
        return self.choice(flow, version, found.id, choice) if found else choice

    def choice(self, flow: str, version: str, node: str, choice: str) -> str:
        found = self._node(flow, node, (version,))
        picked = found.choice(choice) if found else None
        return shorten(tr(picked.label), 32) if picked else choice


def shorten(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"


def prefetched(pages, depth: int = 2):
    """The same pages, the next ones read on a thread while the caller works on this one: the
    database's own work (SQLite steps its rows without the GIL; PostgreSQL answers over the
    network) overlaps the aggregation. An error in the reading is raised here, in order."""
    import queue
    import threading
    ready: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    done = object()

    def read() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        ready.put((page, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put((done, None))
        except BaseException as exc:  # handed over to the caller
            ready.put((done, exc))

    reader = threading.Thread(target=read, name="report-pages", daemon=True)
    reader.start()
    try:
        while True:
            page, error = ready.get()
            if page is done:
                if error is not None:
                    raise error
                return
            yield page
    finally:
        stop.set()


def collect(store, since: str = "30d", flow: str | None = None, flows=None, unrecognised: bool = True) -> Stats:
    """Read and aggregate a store's events (synchronous: run it off the event loop)."""
    day = since_day(since)
    if hasattr(store, "event_facts_sync"):
        stats = aggregate(prefetched(event_pages(store.event_facts_sync, day, flow)), flows, day, flow, facts=True)
    else:
        stats = aggregate(prefetched(event_pages(store.events_sync, day, flow)), flows, day, flow)
    if unrecognised:
        stats.unrecognised = store.unrecognised_sync(day, flow)
    return stats


# -- tables and CSV ------------------------------------------------------------------------------
def tables(stats: Stats) -> dict[str, tuple[list[str], list[list]]]:
    """Every table of the report, by name: (header, rows)."""
    med, p90 = stats.median, stats.p90
    ok, said = stats.understood
    return {
        "funnel": (["flow", "node", "question", "reached", "answered", "abandoned", "abandoned_pct"],
                   [[r["flow"], r["node"], r["question"], r["reached"], r["answered"], r["abandoned"],
                     round(100 * r["abandoned"] / r["reached"], 1) if r["reached"] else 0] for r in stats.funnel]),
        "transitions": (["flow", "node", "choice", "next", "people"],
                        [[r["flow"], r["node"], r["choice"], r["next"], r["people"]] for r in stats.transitions]),
        "reasons_by_week": (["week", "reason", "conversations"],
                            [[week, reason, n] for week, counts in stats.reasons.items()
                             for reason, n in counts.most_common()]),
        "outcomes": (["flow", "outcome", "label", "conversations"],
                     [[r["flow"], r["outcome"], r["label"], r["conversations"]] for r in stats.outcomes]),
        "time_to_outcome": (["conversations", "median_seconds", "p90_seconds"], [[len(stats.durations), med, p90]]),
        "followups": (["result", "conversations"], [[k, n] for k, n in stats.followups.most_common()]),
        "companies": (["company", "conversations"], [[k, n] for k, n in stats.companies.most_common()]),
        "sectors": (["sector", "conversations"], [[k, n] for k, n in stats.sectors.most_common()]),
        "understood": (["descriptions", "understood", "share_pct"],
                       [[said, ok, round(100 * ok / said, 1) if said else None]]),
        "unrecognised": (["text", "times", "last_day", "flow", "node"], _grouped(stats.unrecognised)),
    }


def _grouped(kept: list[tuple]) -> list[list]:
    """The unrecognised descriptions, the same text once with how often and when last (most frequent first)."""
    seen: dict[tuple, list] = {}
    for day, flow, node, text in kept:
        row = seen.setdefault((text.strip().lower(), flow, node), [text, 0, day, flow, node])
        row[1] += 1
        row[2] = max(row[2], day)
    return sorted(seen.values(), key=lambda row: (-row[1], row[0]))


def write_csv(stats: Stats, folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (header, rows) in tables(stats).items():
        path = folder / f"{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
        written.append(path)
    return written


# -- charts ----------------------------------------------------------------------------------------
COLOURS = {"reached": "#9ecae1", "answered": "#2171b5", "abandoned": "#de2d26", "outcome": "#31a354",
           "grey": "#bdbdbd"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"svg.hashsalt": "report", "font.size": 12, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.fonttype": "path"})
    return plt


def _axes(plt, height: float, empty: str | None):
    """A chart's figure, phone-width; with `empty`, it only says that there is nothing to draw."""
    fig, ax = plt.subplots(figsize=(6, height))
    if empty:
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes, color="#636363")
        ax.set_axis_off()
    return fig, ax


def _funnel(plt, stats: Stats):
    rows = stats.funnel
    fig, ax = _axes(plt, 1.2 + 0.55 * max(1, len(rows)), None if rows else "Aucune question atteinte sur la période")
    if not rows:
        return fig
    y = range(len(rows))
    for offset, key, name in ((-0.27, "reached", "atteinte"), (0, "answered", "répondue"),
                              (0.27, "abandoned", "abandon ici")):
        bars = ax.barh([i + offset for i in y], [r[key] for r in rows], height=0.26, color=COLOURS[key], label=name)
        ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_yticks(list(y), [shorten(r["question"], 30) for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("conversations")
    ax.legend(loc="lower right", fontsize=9, frameon=False)
    return fig


def _reasons(plt, stats: Stats):
    fig, ax = _axes(plt, 6, None if stats.reasons else "Aucun problème décrit sur la période")
    if not stats.reasons:
        return fig
    weeks = list(stats.reasons)
    reasons = [r for r, _ in sum(stats.reasons.values(), Counter()).most_common()]
    bottom = [0] * len(weeks)
    palette = plt.get_cmap("tab20").colors
    for i, reason in enumerate(reasons):
        values = [stats.reasons[w].get(reason, 0) for w in weeks]
        ax.bar([w.split("-")[-1] for w in weeks], values, bottom=bottom, label=reason, color=palette[i % len(palette)])
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("conversations")
    ax.set_xlabel("semaine")
    ax.legend(fontsize=9, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2)
    fig.tight_layout()
    return fig


def _barh(plt, labels: list[str], values: list[int], colour: str, empty: str, xlabel: str = "conversations"):
    fig, ax = _axes(plt, 1.2 + 0.45 * max(1, len(labels)), None if labels else empty)
    if not labels:
        return fig
    bars = ax.barh(range(len(labels)), values, color=colour)
    ax.bar_label(bars, padding=2, fontsize=9)
    ax.set_yticks(range(len(labels)), [shorten(label, 30) for label in labels], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    return fig


def _durations(plt, stats: Stats):
    fig, ax = _axes(plt, 3.2, None if stats.durations else "Aucune issue atteinte sur la période")
    if not stats.durations:
        return fig
    minutes = [s / 60 for s in stats.durations]
    ax.hist(minutes, bins=min(40, max(5, len(minutes) // 5)), color=COLOURS["reached"])
    for value, name, style in ((stats.median, "médiane", "-"), (stats.p90, "90e centile", "--")):
        if value is None:
            continue
        ax.axvline(value / 60, color=COLOURS["answered"], linestyle=style, label=f"{name} : {_duration(value)}")
    ax.set_xlabel("minutes entre le premier message et l'issue")
    ax.set_ylabel("conversations")
    ax.legend(frameon=False, fontsize=9)
    return fig


def _understood(plt, stats: Stats):
    ok, said = stats.understood
    fig, ax = _axes(plt, 1.6, None if said else "Aucune description tapée sur la période")
    if not said:
        return fig
    ax.barh([0], [ok], color=COLOURS["outcome"], label=f"comprises : {ok}")
    ax.barh([0], [said - ok], left=[ok], color=COLOURS["abandoned"], label=f"non comprises : {said - ok}")
    ax.set_yticks([])
    ax.set_title(f"{round(100 * ok / said)} % des {said} descriptions comprises", fontsize=11)
    ax.legend(frameon=False, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2)
    fig.tight_layout()
    return fig


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _svg(plt, fig) -> str:
    buffer = io.StringIO()
    fig.tight_layout()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def charts(stats: Stats) -> list[tuple[str, str, str]]:
    """(title, one-line explanation, SVG) of each chart, in reading order."""
    plt = _pyplot()
    out = [
        ("Parcours : chaque question", "Par question : combien de conversations l'ont atteinte, y ont répondu, "
         "et s'y sont arrêtées (abandon, ou pas encore revenues).", _svg(plt, _funnel(plt, stats))),
        ("Problèmes par semaine", "La réponse à la première question (le motif), par semaine de premier message.",
         _svg(plt, _reasons(plt, stats))),
        ("Issues atteintes", "Combien de conversations ont atteint chaque issue (canal, courrier, médiateur…).",
         _svg(plt, _barh(plt, [r["label"] for r in stats.outcomes], [r["conversations"] for r in stats.outcomes],
                         COLOURS["outcome"], "Aucune issue atteinte sur la période"))),
        ("Temps jusqu'à l'issue", "Du premier message à la première issue : médiane et 90e centile.",
         _svg(plt, _durations(plt, stats))),
        ("Suites données", "Ce que les personnes ont répondu aux relances (réglé après le courrier, médiateur…).",
         _svg(plt, _barh(plt, list(stats.followups), list(stats.followups.values()), COLOURS["answered"],
                         "Aucune réponse à une relance sur la période"))),
        ("Descriptions comprises", "Part des problèmes décrits en mots que l'assistant a su orienter.",
         _svg(plt, _understood(plt, stats))),
    ]
    if stats.companies or stats.sectors:  # the general flow was used: which companies, which sectors
        top = stats.companies.most_common(15)
        out += [("Entreprises", "Les entreprises nommées (parcours toutes entreprises), par conversation : "
                 "les 15 premières.", _svg(plt, _barh(plt, [k for k, _ in top], [n for _, n in top], COLOURS["outcome"],
                                                      "Aucune entreprise nommée sur la période"))),
                ("Secteurs", "Le secteur de chaque conversation du parcours toutes entreprises.",
                 _svg(plt, _barh(plt, [k for k, _ in stats.sectors.most_common()],
                                 [n for _, n in stats.sectors.most_common()], COLOURS["answered"],
                                 "Aucun secteur sur la période")))]
    return out


def funnel_png(stats: Stats) -> bytes:
    """The funnel as a PNG (what /stats sends in Telegram)."""
    plt = _pyplot()
    fig = _funnel(plt, stats)
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


# -- the page ----------------------------------------------------------------------------------------
_STYLE = """body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:900px;margin:auto;padding:12px}h1{font-size:1.4em}h2{font-size:1.15em;margin:1.6em 0 .2em}
.lead{color:#555;margin:.2em 0 .6em}figure{margin:0;background:#fff;border:1px solid #e5e5e5;border-radius:6px;padding:4px}
figure svg{width:100%;height:auto;display:block}.kpi{display:flex;flex-wrap:wrap;gap:8px}
.kpi div{background:#fff;border:1px solid #e5e5e5;border-radius:6px;padding:8px 12px;flex:1 1 140px}
.kpi b{display:block;font-size:1.5em}details{margin:.4em 0}table{border-collapse:collapse;font-size:.85em;width:100%}
td,th{border-bottom:1px solid #eee;padding:3px 6px;text-align:left}td.n{text-align:right}
.scroll{overflow-x:auto}"""


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f'<td class="n">{v}</td>' if isinstance(v, (int, float)) else
                                     f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def render_html(stats: Stats, title: str = "Rapport de l'assistant réclamation") -> str:
    """One self-contained page: inline CSS and SVG, no script, no link to fetch."""
    ok, said = stats.understood
    period = f"depuis le {stats.since}" if stats.since else "depuis le début"
    kpis = [("conversations", stats.conversations),
            ("arrivées à une issue", len(stats.durations)),
            ("temps médian jusqu'à l'issue", _duration(stats.median)),
            ("descriptions comprises", f"{round(100 * ok / said)} %" if said else "—")]
    table_of = tables(stats)
    parts = [f"<!doctype html><html lang=\"fr\"><head><meta charset=\"utf-8\">"
             f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
             f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body><main>",
             f"<h1>{html.escape(title)}</h1><p class=\"lead\">{html.escape(period)}"
             f"{' — flow ' + html.escape(stats.flow) if stats.flow else ''} · {stats.events} évènements</p>",
             '<div class="kpi">' + "".join(f"<div><b>{html.escape(str(v))}</b>{html.escape(k)}</div>"
                                           for k, v in kpis) + "</div>"]
    names = ["funnel", "reasons_by_week", "outcomes", "time_to_outcome", "followups", "understood", "companies",
             "sectors"]
    for (heading, lead, svg), name in zip(charts(stats), names):
        parts.append(f'<section class="chart" id="{name}"><h2>{html.escape(heading)}</h2>'
                     f'<p class="lead">{html.escape(lead)}</p><figure>{svg}</figure>'
                     f"<details><summary>Les chiffres</summary>{_table(*table_of[name])}</details></section>")
    if stats.unrecognised:
        parts.append('<section id="unrecognised"><h2>Descriptions non comprises</h2><p class="lead">Gardées 30 jours '
                     "(BOT_KEEP_UNRECOGNISED=1) pour améliorer la reconnaissance du flow.</p>"
                     f"{_table(*table_of['unrecognised'])}</section>")
    parts.append("</main></body></html>")
    return "".join(parts)


def summary_text(stats: Stats, lang: str, stored: int) -> str:
    """The /stats message: the last 30 days in one paragraph."""
    from ..locales import t
    ok, said = stats.understood
    worst = max(stats.funnel, key=lambda r: r["abandoned"], default=None)
    dropoff = f"{worst['question']} ({worst['abandoned']})" if worst and worst["abandoned"] else "—"
    return t(lang, "stats_summary", people=stats.conversations, outcomes=len(stats.durations),
             median=_duration(stats.median), understood=f"{round(100 * ok / said)} %" if said else "—",
             dropoff=dropoff, stored=stored)


# -- /stats, away from the bot's process -------------------------------------------------------------
def admin_summary(store_url: str, flows_dir: str, lang: str) -> tuple[str, bytes]:
    """The /stats paragraph and funnel picture, computed from the store at `store_url`."""
    from ..flow.files import FlowSet
    from ..stores import store_from_url
    store = store_from_url(store_url, pool=1)
    try:
        stats = collect(store, "30d", None, FlowSet.load([flows_dir])[0], False)
        return summary_text(stats, lang, store.count_sync()), funnel_png(stats)
    finally:
        store.close()


_APART = None


async def admin_summary_apart(store_url: str, flows_dir: str, lang: str) -> tuple[str, bytes]:
    """admin_summary in a process of its own: reading a million events and drawing take
    seconds of CPU, which a thread would take from the event loop too (the GIL)."""
    import asyncio
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    global _APART
    if _APART is None:
        _APART = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    return await asyncio.get_running_loop().run_in_executor(_APART, admin_summary, store_url, flows_dir, lang)
