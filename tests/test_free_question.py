"""A `free` question: any words are its answer, kept as typed and quoted where the flow says."""
from bot.engine import Engine
from bot.flow.check import load_flow_text
from bot.flow.files import FlowSet
from conftest import NOW

FLOW = """\
schema: 1
id: order
title: "Commande"
welcome: "Bienvenue."
start: kind
sources:
  guide: {title: "Guide", url: https://example.org/guide, verified: 2026-11-27}
nodes:
  kind:
    type: choice
    text: "Quel souci ?"
    choices:
      - {id: late, label: "En retard", next: number}
      - {id: broken, label: "Cassé", next: number}
  number:
    type: free
    text: "Quel est le numéro de commande ?"
    label: "Numéro de commande"
    next: done
  done:
    type: outcome
    label: "Écrire au vendeur"
    text: "Commande {number} ({kind}) : écrivez au vendeur en citant « {number.text} »."
"""


def engine() -> Engine:
    flow, problems = load_flow_text(FLOW, "order.yaml")
    assert flow is not None and not problems, problems
    return Engine(FlowSet([flow]))


def test_any_words_answer_a_free_question_and_are_quoted_in_the_outcome():
    bot = engine()
    progress, reply = bot.start(now=NOW)
    progress, reply = bot.choose(progress, "late", reply.token, NOW)
    assert reply.kind == "free" and reply.expects_text and reply.text == "Quel est le numéro de commande ?"
    progress, reply = bot.text(progress, "12345", NOW)  # a number is words here, never a button's rank
    assert reply.kind == "outcome" and reply.answer == "12345"
    assert reply.text.startswith("Commande 12345 (En retard) : écrivez au vendeur en citant « 12345 »")
    _, summary = bot.summary(progress, NOW)
    assert ("Numéro de commande", "12345") in summary.sections


def test_an_empty_answer_to_a_free_question_is_asked_again():
    bot = engine()
    progress, reply = bot.start(now=NOW)
    progress, reply = bot.choose(progress, "broken", reply.token, NOW)
    progress, reply = bot.text(progress, "   ", NOW)
    assert progress.node == "number" and reply.notices and reply.kind == "free"


def test_check_and_graph_know_a_free_question(tmp_path):
    from bot.flow.graph import draw
    flow, _ = load_flow_text(FLOW, "order.yaml")
    drawn = draw(flow, tmp_path / "order.mmd").read_text("utf-8")
    assert "number --> done: typed" in drawn  # where any words lead
    _, problems = load_flow_text(FLOW.replace("    next: done\n", "", 1), "order.yaml")
    assert any("missing 'next'" in p.message for p in problems)
