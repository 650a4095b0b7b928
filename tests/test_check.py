"""`check` rejects broken flows with the file, the line and a message a flow author can act on."""
import pytest

from bot.flow.check import load_flow_text
from conftest import DEMO, FLOWS, ROOT

BASE = """\
schema: 1
id: demo
title: Démo
start: ask
sources:
  law:
    title: Code
    verified: 2026-11-27
channels:
  phone:
    kind: phone
    name: Téléphone
    how: Appelez
    hours: {mon-fri: "09:00-18:00"}
    source: law
    verified: 2026-11-27
    status: checked
nodes:
  ask:
    type: choice
    text: Alors ?
    choices:
      - id: "yes"
        label: Oui
        next: done
      - id: other
        label: Autre
        next: done
  done:
    type: outcome
    text: Voilà {ask}
    channels: [phone]
"""


def edit(line: int, new: str) -> str:
    """BASE with line `line` (1-based) replaced by `new` (which may hold several lines)."""
    lines = BASE.splitlines()
    lines[line - 1] = new
    return "\n".join(lines) + "\n"


def test_base_flow_is_valid():
    flow, problems = load_flow_text(BASE, "demo.yaml")
    assert problems == [] and flow.id == "demo"


BROKEN = [
    ("unknown target", edit(25, "        next: don"), 25, "unknown target 'don' (did you mean 'done'?)"),
    ("unreachable node", BASE + "  orphan:\n    type: outcome\n    text: Seul\n", 33, "unreachable from the start node"),
    ("no way to an outcome", edit(28, "        next: loop") + "  loop:\n    type: info\n    text: Encore\n    next: loop\n",
     33, "no way from here leads to an outcome"),
    ("duplicate node id", BASE + "  done:\n    type: outcome\n    text: Bis\n", 33, "duplicate key 'done'"),
    ("duplicate choice id", edit(26, '      - id: "yes"'), 26, "duplicate choice id 'yes'"),
    ("missing French text", edit(21, "    text: {en: \"Well?\"}"), 21, "missing French text"),
    ("malformed hours", edit(14, '    hours: {mon-fri: "9h-18h"}'), 14, "malformed hours '9h-18h'"),
    ("boolean id", edit(23, "      - id: yes"), 23, "id was read as the YAML boolean true"),
    ("boolean label", edit(24, "        label: no"), 24, "label was read as the YAML boolean false"),
    ("unsafe tag", edit(21, '    text: !!python/object/apply:os.system ["echo hi"]'), 21, "unsafe or unknown YAML tag"),
    ("misspelt field", edit(24, "        lable: Oui"), 24, "unknown field 'lable' (did you mean 'label'?)"),
    ("unknown channel", edit(32, "    channels: [phon]"), 32, "unknown channel 'phon'"),
    ("unknown node type", edit(20, "    type: question"), 20, "unknown type 'question'"),
    ("condition on unknown choice", edit(27, "        label: Autre\n        when: {ask: maybe}"), 28, "node ask has no choice 'maybe'"),
    ("unknown source", edit(15, "    source: loi"), 15, "unknown source 'loi'"),
    ("bad verified date", edit(16, "    verified: yesterday"), 16, "verified must be a date"),
    ("YAML syntax", edit(21, "    text: [Alors"), 21, "a flow sequence that starts here"),
    ("bad pattern", edit(20, "    type: text") .replace("        label: Autre\n", "        label: Autre\n        patterns: ['(oups']\n"),
     28, "is not a valid regular expression"),
    ("tap limit", edit(4, "start: ask\nmax_taps: 1").replace("        next: done\n      - id: other",
                                                          "        next: more\n      - id: other")
     + "  more:\n    type: choice\n    text: Et ?\n    choices:\n      - id: ok\n        label: OK\n        next: done\n",
     5, "a path needs 2 taps before its outcome, more than max_taps 1: ask > more > done"),
    ("conditional next without default", edit(25, "        next:\n          - when: {ask: other}\n            next: done"),
     26, "the last 'next' entry must have no condition"),
    ("bad id", edit(26, "      - id: Other"), 26, "id 'Other' must be lower-case letters"),
    ("missing start node", edit(4, "start: begin"), 4, "start node 'begin' does not exist"),
    ("unknown placeholder", edit(31, "    text: Voilà {service}"), 31, "unknown placeholder {service}"),
    ("bad status", edit(17, "    status: sure"), 17, "status must be one of checked, unchecked, correction"),
    ("from a choice question", edit(4, "start: ask\ntimeline:\n  refund: {delay: 8 weeks, from: ask, basis: law, kind: deadline}"),
     6, "from must name a date question, not 'ask'"),
    ("tap limit of some paths", edit(4, "start: ask\nmax_taps: 3\ntap_limits:\n  - when: {ask: \"yes\"}\n    max_taps: 1")
     .replace("        next: done\n      - id: other", "        next: extra\n      - id: other")
     + "  extra:\n    type: choice\n    text: Et ?\n    choices:\n      - id: ok\n        label: OK\n        next: done\n",
     6, "a path needs 2 taps before its outcome, more than its tap_limits 1: ask > extra > done"),
]


DATED = BASE.replace("""  done:
    type: outcome""", """  when:
    type: date
    text: Quel jour ?
    choices:
      - id: unknown
        label: Je ne sais plus
        next: done
    next: done
  done:
    type: outcome""").replace("        next: done\n      - id: other", "        next: when\n      - id: other").replace(
    "start: ask", "start: ask\ntimeline:\n  answer_due: {delay: 30 days, basis: letter, kind: company}\n"
    "  refund: {delay: 8 weeks, from: when, nearer_than: answer_due, basis: law, kind: deadline}")


def test_a_date_question_and_a_delay_counted_from_it_are_valid():
    flow, problems = load_flow_text(DATED.replace("    text: Voilà {ask}", """    text:
      - when: {refund: nearer}
        text: "D'abord la banque, jusqu'au {date.refund} inclus."
      - text: "Écrivez."
      - when: {when: unknown}
        text: "Au plus vite."
"""), "demo.yaml")
    assert problems == [], problems
    assert flow.nodes["when"].kind == "date" and flow.timeline["refund"].start == "when"
    assert [o for o, _ in flow.nodes["when"].options()] == ["unknown", "date"]
    assert len(flow.nodes["done"].parts) == 3


def test_a_condition_on_a_delay_from_a_date_names_its_states():
    flow, problems = load_flow_text(DATED.replace("    text: Voilà {ask}", """    text:
      - when: {refund: soon}
        text: "Vite."
"""), "demo.yaml")
    assert flow is None and any("delay refund is unknown, passed, nearer, open, not 'soon'" in p.message
                                for p in problems), problems


@pytest.mark.parametrize("name, text, line, message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_flow_is_rejected_with_line_and_message(name, text, line, message):
    flow, problems = load_flow_text(text, "demo.yaml")
    assert flow is None
    found = [(p.line, p.message) for p in problems]
    assert any(p.line == line and message in p.message for p in problems), found
    assert all(str(p).startswith("demo.yaml:") for p in problems)


def test_each_kind_of_mistake_gets_its_own_message():
    """The checker names what is wrong, rather than one message for every broken flow."""
    firsts = {load_flow_text(text, "demo.yaml")[1][0].message.split(":")[-1] for _, text, _, _ in BROKEN}
    assert len(firsts) == len(BROKEN)


def test_check_command_passes_on_shipped_flows(cli):
    code, out, err = cli("check", FLOWS)
    assert code == 0, out + err
    assert "cstream.yaml: ok" in out


def test_check_command_prints_file_line_message_and_fails(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit(25, "        next: don"), encoding="utf-8")
    code, out, _ = cli("check", bad)
    assert code == 1
    assert f"{bad}:25: node ask: choice yes: unknown target 'don'" in out  # the message names the node


def test_an_unclosed_quote_is_reported_where_it_opens(cli, tmp_path):
    bad = tmp_path / "quote.yaml"
    bad.write_text(edit(21, '    text: "Alors ?'), encoding="utf-8")
    code, out, _ = cli("check", bad)
    assert code == 1 and out.startswith(f"{bad}:21: YAML syntax error: the quote opened on this line is not closed")


def test_a_pattern_that_can_never_match_is_a_warning(cli, tmp_path):
    flow = edit(20, "    type: text").replace("        label: Autre\n",
                                               "        label: Autre\n        patterns: ['Prélevé', '\\bdeux\\b']\n")
    path = tmp_path / "dead.yaml"
    path.write_text(flow, encoding="utf-8")
    code, out, _ = cli("check", path)
    warnings = [line for line in out.splitlines() if "warning:" in line]
    assert code == 0 and len(warnings) == 1  # '\\bdeux\\b' is fine
    assert warnings[0].startswith(f"{path}:28: warning: node ask: choice other: pattern 'Prélevé' can never match")


def test_the_authoring_guide_example_is_the_test_fixture_and_valid():
    import re
    guide = (ROOT / "flows" / "README.md").read_text(encoding="utf-8")
    example = re.search(r"Save this as.*?```yaml\n(.*?)```", guide, re.S).group(1)
    assert example == DEMO.read_text(encoding="utf-8")  # tests/data/demo.yaml is the guide's example
    flow, problems = load_flow_text(example, "demo.yaml")
    assert problems == [] and flow.id == "demo" and set(flow.nodes) == {"problem", "contacted", "call", "write"}


TIMELINE = "timeline:\n  answer_due: {delay: 30 days, basis: letter, kind: company}\n"


@pytest.mark.parametrize("extra,line,message", [
    ("timeline:\n  answer_due: {delay: 30 dayz, basis: letter, kind: company}\n", 41, 'delay must be like "30 days"'),
    ("timeline:\n  answer_due: {delay: 30 days, basis: habit, kind: company}\n", 41, "basis must be one of law, practice, letter"),
    ("timeline:\n  a: {delay: 1 day, basis: law, kind: start, after: b}\n  b: {delay: 1 day, basis: law, kind: start, after: a}\n", 41,
     "its 'after' chain comes back to itself"),
    ("timeline:\n  answer_due: {delay: 30 days, basis: letter, kind: company, after: nothing}\n", 41, "after names no delay 'nothing'"),
    ("timeline:\n  answer_due: {delay: 30 days, basis: letter}\n", 41, "missing 'kind': deadline (the person must act by it)"),
    ("timeline:\n  answer_due: {delay: 30 days, basis: letter, kind: theirs}\n", 41, "kind must be deadline"),
    ("infer:\n  - set: {hearing: \"yes\"}\n    keywords: [sourd]\n", 41, "condition on unknown node 'hearing'"),
    ("infer:\n  - set: {ask: maybe}\n    keywords: [sourd]\n", 41, "node ask has no choice 'maybe'"),
    ("infer:\n  - set: {ask: \"yes\"}\n", 40, "needs keywords"),
])
def test_timeline_and_infer_are_checked(extra, line, message):
    flow, problems = load_flow_text(BASE + extra, "demo.yaml")
    assert flow is None
    assert any(message in p.message for p in problems), problems


def test_date_placeholders_must_name_a_timeline_entry():
    text = BASE.replace("text: Voilà {ask}", "text: Voilà, jusqu'au {date.answer_du} inclus") + TIMELINE
    flow, problems = load_flow_text(text, "demo.yaml")
    assert flow is None and "no 'answer_du' in timeline: (did you mean 'answer_due'?)" in problems[0].message
    text = BASE.replace("text: Voilà {ask}", "text: Voilà, jusqu'au {date.answer_due} inclus") + TIMELINE
    flow, problems = load_flow_text(text, "demo.yaml")
    assert flow is not None and flow.timeline["answer_due"].amount == 30


def test_outcome_details_and_channel_grammar_are_checked():
    flow, problems = load_flow_text(BASE.replace("    channels: [phone]", "    channels:\n      - id: phone\n"
                                                 "        detail: letterz"), "demo.yaml")
    assert flow is None and "detail must be one of letter, channels, next, sources" in problems[0].message
    flow, problems = load_flow_text(BASE.replace("    status: checked", "    status: checked\n    grammar: n"), "demo.yaml")
    assert flow is None and "grammar must be one of m, f, mpl, fpl" in problems[0].message


def test_check_needs_neither_the_state_machine_library_nor_the_engine():
    """`python -m bot check` is for flow authors: it loads YAML and the checker only."""
    import subprocess
    import sys
    code = ("import sys; from bot.cli import main; code = main(['check', 'flows']); "
            "print(code, 'transitions' in sys.modules, 'bot.engine' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=FLOWS.parent, check=True)
    assert out.stdout.split()[-3:] == ["0", "False", "False"], out.stdout + out.stderr
