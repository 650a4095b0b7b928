"""The operator's report: its numbers match scripted conversations exactly; it opens in a browser.

The scripted conversations run on the tiny flow of tests/tiny.py (and a next version of it),
so the numbers and labels asserted here are its own, never the real flows' wording."""
import io
import os
import re
import shutil
import subprocess
from datetime import timedelta

import pytest

from bot.console import run_console
from bot.engine import Engine
from bot.flow.check import load_flow_text
from bot.flow.files import FlowSet
from bot.ops.events import events_of
from bot.ops.report import aggregate, collect, render_html, tables, write_csv
from bot.store import ConversationKey
from bot.store.base import event_pages
from bot.stores import SQLiteStore
from conftest import NOW
from tiny import TINY

SAID = "une salade de fruits"  # taken at once: « Fruits »
ODD = "zorglub quintessence farfelue"


class Clock:
    """A minute passes at each step."""
    def __init__(self):
        self.now = NOW - timedelta(minutes=1)

    def __call__(self):
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """The tiny flow, and a next version where the question `shape` was renamed `shape_v2`;
    each also written to a folder of its own (for the commands' BOT_FLOWS)."""
    folders = tmp_path_factory.mktemp("v1"), tmp_path_factory.mktemp("v2")
    texts = TINY, re.sub(r"\bshape\b", "shape_v2", TINY)
    for folder, text in zip(folders, texts):
        (folder / "tiny.yaml").write_text(text, "utf-8")
    (v1, p1), (v2, p2) = (load_flow_text(text, "tiny.yaml") for text in texts)
    assert not p1 and not p2 and v1.version != v2.version and "shape_v2" in v2.nodes, (p1, p2)
    return v1, v2, folders[0]


def scripted(store, v1, v2):
    """A: to an outcome; B: stops at `colour`; C: not understood, stops; D: crosses versions."""
    def chat(flow_set, name, lines, clock):
        run_console(Engine(flow_set), store, ConversationKey.console(name), stdin=io.StringIO("".join(
            line + "\n" for line in lines)), stdout=io.StringIO(), clock=clock)
    old, new = FlowSet([v1]), FlowSet([v2])
    chat(old, "a", [SAID, "1", "1", "2", "2"], Clock())     # fruit, small, red, long, sour -> done
    chat(old, "b", [SAID, "1"], Clock())                    # stops at colour
    chat(old, "c", [ODD], Clock())                          # not understood, stops at topic
    d = Clock()
    chat(old, "d", [SAID, "1", "1"], d)                     # reaches `shape` (version 1), leaves
    chat(new, "d", ["2", "2"], d)                           # back after the edit: `shape_v2`, sour, done


def test_the_report_counts_scripted_conversations_exactly(tmp_path, versions):
    v1, v2, _ = versions
    store = SQLiteStore(tmp_path / "p.sqlite3")
    scripted(store, v1, v2)
    stats = collect(store, "", None, FlowSet([v1, v2]))
    store.close()
    funnel = {row["node"]: (row["reached"], row["answered"], row["abandoned"]) for row in stats.funnel}
    assert funnel == {"topic": (4, 3, 1), "size": (3, 3, 0), "colour": (3, 2, 1),
                      "shape": (2, 1, 0), "shape_v2": (1, 1, 0), "taste": (2, 2, 0)}
    labels = {row["node"]: row["question"] for row in stats.funnel}
    assert labels["shape"].endswith(f"[{v1.version[:7]}]") and labels["shape_v2"].endswith(f"[{v2.version[:7]}]")
    assert labels["size"] == "Question B : quelle taille ?"  # in every version: no tag
    assert stats.conversations == 4
    assert [(r["outcome"], r["conversations"]) for r in stats.outcomes] == [("done", 2)]
    assert stats.durations == [300, 420] and (stats.median, stats.p90) == (300, 420)
    assert stats.understood == (3, 4)
    assert [dict(c) for c in stats.reasons.values()] == [{"Fruits": 3}]
    edges = {(r["node"], r["choice"], r["next"]): r["people"] for r in stats.transitions}
    assert edges[("colour", "red", "shape")] == 2 and ("colour", "red", "shape_v2") not in edges
    assert edges[("shape_v2", "long", "taste")] == 1 and edges[("taste", "sour", "done")] == 2
    assert edges[("shape_v2", "long", "taste")] == 1 and edges[("topic", "fruit", "size")] == 3


def test_follow_up_results_and_csv(tmp_path, engine):
    store = SQLiteStore(tmp_path / "p.sqlite3")
    key = ConversationKey.console("f")
    progress, reply = engine.start(now=NOW)
    record = store.save_sync(key, progress, 0, events=events_of(None, progress, reply, NOW))
    for result in ("no_answer", "settled"):
        store.save_sync(key, progress, record.rev, events=events_of(progress, progress, reply, NOW, followup=result))
        record = store.load_sync(key)
    stats = aggregate(event_pages(store.events_sync))
    assert stats.followups == {"settled": 1}  # a person's latest answer to the follow-ups
    written = write_csv(stats, tmp_path / "csv")
    assert {p.name for p in written} >= {"funnel.csv", "outcomes.csv", "followups.csv", "understood.csv"}
    assert (tmp_path / "csv" / "followups.csv").read_text().splitlines() == ["result,conversations", "settled,1"]
    store.close()


def test_report_command_writes_html_and_csv(cli, tmp_path, versions):
    v1, v2, v1_folder = versions
    store = SQLiteStore(tmp_path / "data" / "progress.sqlite3")
    scripted(store, v1, v2)
    store.close()
    code, out, err = cli("report", "--since", "", "-o", tmp_path / "r.html", "--csv", tmp_path / "csv")
    assert code == 0, err
    page = (tmp_path / "r.html").read_text("utf-8")
    assert "4 conversations" in out and "<svg" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page) and "<script" not in page  # self-contained
    assert (tmp_path / "csv" / "funnel.csv").read_text().count("\n") == 7  # header and six questions, taste among them
    code, out, err = cli("graph", "tiny", "--stats", "--since", "", "-o", tmp_path / "g.dot",
                         env={"BOT_FLOWS": str(v1_folder)})
    assert code == 0, err
    dot = (tmp_path / "g.dot").read_text("utf-8")
    assert "4 atteinte(s), 1 abandon(s) (25 %)" in dot and "Issue :" in dot and "3 pers." in dot


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_report_draws_its_charts_in_a_real_browser(tmp_path, versions):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from matplotlib.image import imread
    v1, v2, _ = versions
    store = SQLiteStore(tmp_path / "p.sqlite3")
    scripted(store, v1, v2)
    page = render_html(collect(store, "", None, FlowSet([v1, v2])))
    store.close()
    charts = re.findall(r'<section class="chart".*?</section>', page, re.S)
    assert len(charts) == 6 and all(c.count("<path") > 10 for c in charts)  # each chart has drawn marks
    (tmp_path / "r.html").write_text(page, "utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=430,3000", (tmp_path / "r.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = imread(str(shot))[..., :3]
    assert pixels.std() > 0.05  # not blank
    blue = ((abs(pixels[..., 0] - 0x21 / 255) < 0.06) & (abs(pixels[..., 1] - 0x71 / 255) < 0.06)
            & (abs(pixels[..., 2] - 0xb5 / 255) < 0.06))
    green = ((abs(pixels[..., 0] - 0x31 / 255) < 0.06) & (abs(pixels[..., 1] - 0xa3 / 255) < 0.06)
             & (abs(pixels[..., 2] - 0x54 / 255) < 0.06))
    assert blue.sum() > 200 and green.sum() > 200  # the funnel's bars and the outcomes' bars were painted
    shutil.copy(shot, os.environ.get("REPORT_SCREENSHOT", tmp_path / "kept.png"))


def test_tables_are_the_charts_numbers(tmp_path, versions):
    v1, v2, _ = versions
    store = SQLiteStore(tmp_path / "p.sqlite3")
    scripted(store, v1, v2)
    stats = collect(store, "", None, FlowSet([v1, v2]))
    store.close()
    header, rows = tables(stats)["funnel"]
    assert header[:6] == ["flow", "node", "question", "reached", "answered", "abandoned"]
    assert rows[0][:6] == ["tiny", "topic", "Question A : fruits ou légumes ?", 4, 3, 1] and rows[0][6] == 25.0


def _plain_aggregate(pages):
    """The report's numbers computed the plain way, row by row with tuple keys and sets of
    tokens (what `aggregate` did before it was made faster): the reference it must match."""
    from collections import Counter, defaultdict
    reached, answered, edges = defaultdict(set), defaultdict(set), defaultdict(set)
    last, first_day, reason, time_to, followup, outcome_seen = {}, {}, {}, {}, {}, defaultdict(set)
    said = understood = count = 0
    for page in pages:
        count += len(page)
        for _, day, fl, version, kind, node, choice, und, nxt, outcome, fu, secs, token in page:
            first_day.setdefault(token, day)
            if nxt is not None:
                reached[fl, nxt].add(token)
            if kind == "answer":
                answered[fl, node].add(token)
                edges[fl, node, choice, nxt].add(token)
                reason.setdefault(token, (fl, version, node, choice))
            last[token] = (fl, nxt, outcome)
            if outcome is not None:
                outcome_seen[fl, outcome].add(token)
                time_to.setdefault(token, secs)
            if und is not None:
                said, understood = said + 1, understood + und
            if fu is not None:
                followup[token] = fu
    abandoned = Counter((fl, nxt) for fl, nxt, outcome in last.values() if outcome is None and nxt is not None)
    weeks = Counter((first_day[token], why) for token, why in reason.items())
    return {"events": count, "conversations": len(first_day), "understood": (understood, said),
            "durations": sorted(time_to.values()), "followups": list(Counter(followup.values()).items()),
            "reached": {k: len(v) for k, v in reached.items() if k not in outcome_seen},
            "answered": {k: len(v) for k, v in answered.items()}, "abandoned": dict(abandoned),
            "edges": [(k, len(v)) for k, v in sorted(edges.items(), key=lambda e: -len(e[1]))],
            "outcomes": [(k, len(v)) for k, v in sorted(outcome_seen.items(), key=lambda e: -len(e[1]))],
            "reasons": list(weeks.items())}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_fast_aggregation_matches_the_plain_one(seed):
    """Random events (several flows, versions, outcomes, follow-ups, interleaved conversations,
    in pages): every number, and the order of ties, as the plain computation gives them."""
    import random
    from collections import Counter
    rng = random.Random(seed)
    nodes = ["problem", "service", "contacted", "hearing", "write_now", None]
    rows = [(i + 1, f"2026-{rng.randint(10, 12)}-{rng.randint(10, 28)}", rng.choice(["cstream", "cstream", "other"]),
             rng.choice(["v1", "v2"]), rng.choice(["start", "answer", "answer", "stay"]), rng.choice(nodes),
             rng.choice(["a", "b", None]), rng.choice([None, None, 0, 1]), rng.choice(nodes),
             rng.choice([None] * 6 + ["write_now", "mediator"]), rng.choice([None] * 8 + ["settled", "mediator"]),
             rng.randint(0, 5000), f"t{rng.randint(0, 800)}") for i in range(8000)]
    pages = [rows[i:i + 700] for i in range(0, len(rows), 700)]
    want, stats = _plain_aggregate(pages), aggregate(pages)
    assert (stats.events, stats.conversations, stats.understood) == (want["events"], want["conversations"],
                                                                    want["understood"])
    assert stats.durations == want["durations"] and list(stats.followups.items()) == want["followups"]
    assert {(r["flow"], r["node"]): r["reached"] for r in stats.funnel} == want["reached"]
    assert all(r["answered"] == want["answered"].get((r["flow"], r["node"]), 0) and
               r["abandoned"] == want["abandoned"].get((r["flow"], r["node"]), 0) for r in stats.funnel)
    assert [((r["flow"], r["node"], r["choice"], r["next"]), r["people"]) for r in stats.transitions] == want["edges"]
    assert [((r["flow"], r["outcome"]), r["conversations"]) for r in stats.outcomes] == want["outcomes"]
    by_week = Counter()
    for (day, (_fl, _version, _node, choice)), n in want["reasons"]:
        from datetime import date
        by_week["{}-W{:02d}".format(*date.fromisoformat(day).isocalendar()), choice] += n
    assert {(week, reason): n for week, counts in stats.reasons.items() for reason, n in counts.items()} == \
        dict(by_week)


def test_outcomes_and_follow_up_results_are_named_by_their_labels(tmp_path, versions):
    """What each outcome recommends (« Fin Tiny »), and a follow-up answer's label (« Acide »,
    the label of that answer at its question), never their ids."""
    v1, v2, _ = versions
    engine = Engine(FlowSet([v1]))
    store = SQLiteStore(tmp_path / "p.sqlite3")
    scripted(store, v1, v2)
    key = ConversationKey.console("f")
    progress, reply = engine.start(now=NOW)
    record = store.save_sync(key, progress, 0, events=events_of(None, progress, reply, NOW))
    asked = progress.with_(node="taste")
    store.save_sync(key, asked, record.rev, events=events_of(progress, asked, reply, NOW, followup="sour"))
    stats = collect(store, "", None, FlowSet([v1, v2]))
    store.close()
    assert [r["label"] for r in stats.outcomes] == ["Fin Tiny"]
    assert dict(stats.followups) == {"Acide": 1}
