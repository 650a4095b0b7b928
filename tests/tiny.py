"""A tiny flow of its own, for the tests of mechanics (buttons, edits, groups, /oublier...):
they assert its texts, never the wording of the real flows (flows/cstream.yaml).

    topic (typed words or a button) -> size -> colour -> shape -> taste -> done (an outcome)

Typed at « Question A », « une salade de fruits » is taken as « Fruits » and « une soupe de
légumes » as « Légumes »; words it does not know bring the list. `tiny_flows(folder)` writes
it there and loads it as the bot loads its flows (checked: it must load without a problem).
"""
from pathlib import Path

from bot.flow.files import FlowSet

TINY = """\
schema: 1
id: tiny
title: {fr: "Parcours Tiny", en: "Tiny flow"}
welcome: {fr: "Bienvenue dans le parcours Tiny.", en: "Welcome to the Tiny flow."}
start: topic

sources:
  guide:
    title: "Guide Tiny"
    url: https://tiny.example.org/guide
    verified: 2026-11-27

channels:
  line:
    kind: phone
    name: "Ligne Tiny : 01 02 03 04 05"
    how: "Appelez la ligne Tiny."
    short: "la ligne Tiny"
    grammar: f
    hours: {mon-fri: "09:00-19:00", holidays: closed}
    status: checked
    source: guide
    verified: 2026-11-27
  form:
    kind: web
    name: "Formulaire Tiny"
    how: "Remplissez le formulaire Tiny."
    url: https://tiny.example.org/formulaire
    status: checked
    source: guide
    verified: 2026-11-27

facts:
  rule:
    text: "Règle Tiny : une réponse sous trente jours."
    source: guide
    status: checked
    verified: 2026-11-27

documents:
  letter:
    title: "Lettre Tiny"
    filename: lettre-tiny.docx
    parts:
      - text: "Objet : Lettre Tiny, taille {size}"
      - text: "Mes mots : « {topic.text} »"

nodes:
  topic:
    type: text
    label: "Sujet"
    text: {fr: "Question A : fruits ou légumes ?", en: "Question A: fruit or vegetables?"}
    choices:
      - id: fruit
        label: "Fruits"
        keywords: ["fruit*", "salade de fruits"]
        next: size
      - id: vegetable
        label: "Légumes"
        keywords: ["legume*", "soupe de legumes"]
        next: size
      - id: other
        label: "Autre chose"
        next: size

  size:
    type: choice
    label: "Taille"
    text: "Question B : quelle taille ?"
    choices:
      - {id: small, label: "Petit", says: "petite", next: colour}
      - {id: big, label: "Grand", says: "grande", next: colour}

  colour:
    type: choice
    label: "Couleur"
    text: "Question C : quelle couleur ?"
    choices:
      - {id: red, label: "Rouge", next: shape}
      - {id: green, label: "Vert", next: shape}

  shape:
    type: choice
    label: "Forme"
    text: "Question D : quelle forme ?"
    choices:
      - {id: round, label: "Rond", next: taste}
      - {id: long, label: "Long", next: taste}

  taste:
    type: choice
    label: "Goût"
    text: "Question E : quel goût ?"
    choices:
      - {id: sweet, label: "Sucré", next: done}
      - {id: sour, label: "Acide", next: done}

  done:
    type: outcome
    label: "Fin Tiny"
    text: "Issue Tiny : appelez la ligne Tiny."
    sections:
      - title: "Préparez Tiny"
        detail: channels
        text: "Votre ticket Tiny."
      - text: "Plan B Tiny : remplissez le formulaire."
    channels: [line, form]
    facts: [rule]
    document: letter
"""


def tiny_flows(folder: Path) -> FlowSet:
    """The tiny flow alone, written to folder/tiny.yaml and loaded as the bot loads its flows."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    flows, problems = FlowSet.load([folder])
    assert not problems, problems
    return flows
