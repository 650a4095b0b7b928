"""Which words of a message a negation covers: « ce n'est pas réglé », « je ne suis pas sourd »,
« ni donné ma carte », "it is not settled". Pure; used wherever typed text is read for its
meaning (typed answers to button questions, answers inferred from any message).

The words are normalised (lower case, no accents, as `recognise.normalise` gives them) and
cut into clauses first (a comma, « mais », a full stop end a negation's reach). In a clause:
- « ne / n' » opens a negation closed by pas, plus, jamais, rien, aucun(e), personne, guère:
  the words between them and up to REACH words after the closing one are negated;
  « ne … que » is no negation but a restriction (« remboursé que la moitié »): it reads as
  « seulement »;
- pas, jamais, rien, aucun(e), ni, sans, non, and English not, no, never, nothing, without,
  nor, n't negate the REACH words after them (« pas réglé », « ni donné ma carte »);
- « X pas » without « ne » closing the clause (spoken French: « ça convient pas », « ça marche
  pas du tout ») negates X as well.
"""
from __future__ import annotations

import re

REACH = 4  # words after the negation that it covers

_OPENERS = frozenset("pas jamais rien aucun aucune ni sans non not no never nothing without nor".split())
_CLOSERS = frozenset("pas plus jamais rien aucun aucune personne guere".split())
NEGATORS = _OPENERS | _CLOSERS | {"ne", "n", "t"}
_ENDS = frozenset("mais but et and car parce because sinon donc alors puis ou or".split())
_CLAUSE = re.compile(r"[,.;:!?\n()\[\]«»\"“”…]+|\s[-–—]\s")
# « non » / "no" first in a clause that goes on as a sentence answers the question (« non, c'est
# réglé » typed without its comma); before anything else it negates (« non réglé »).
_STARTERS = frozenset("c ce ca je j il ils elle on nous vous tout toujours merci pas rien plus "
                      "i it they we he she the thanks still".split())
_AFTER_VERB = frozenset("du encore vraiment trop bien tres non top".split())
_ENGLISH_NT = frozenset("don doesn didn isn wasn aren weren haven hasn hadn can couldn won wouldn shouldn".split())


def clauses_of(text: str) -> list[str]:
    """The text cut where a negation's reach ends (punctuation), each piece still raw."""
    return [piece for piece in _CLAUSE.split(text) if piece.strip()]


def negated(words: list[str]) -> list[bool]:
    """For each word of one clause, whether a negation covers it (see the module docstring)."""
    flags = [False] * len(words)
    i, n = 0, len(words)
    while i < n:
        word = words[i]
        if word in _ENDS:
            i += 1
            continue
        if word in ("ne", "n"):
            close = next((j for j in range(i + 1, min(n, i + 6)) if words[j] in _CLOSERS or words[j] in ("que", "qu")
                          or words[j] in _ENDS), None)
            if close is None or words[close] in _ENDS:
                i += 1
                continue
            if words[close] in ("que", "qu"):  # « ne … que »: only, not a negation
                i = close + 1
                continue
            for j in range(i + 1, close):
                flags[j] = words[j] not in NEGATORS
            i = _reach(words, flags, close)
            continue
        if word in ("non", "no") and i == 0 and (n == 1 or words[1] in _STARTERS):
            i += 1
            continue
        if word in _OPENERS or (word == "t" and i and words[i - 1] in _ENGLISH_NT):
            if word == "pas" and i and words[i - 1] not in _ENDS and not any(w in ("ne", "n") for w in words[:i]) \
                    and (i + 1 == n or words[i + 1] in _AFTER_VERB):
                flags[i - 1] = True  # « ça convient pas », « ça marche pas du tout » (not « réponse pas claire »)
            i = _reach(words, flags, i)
            continue
        i += 1
    return flags


def _reach(words: list[str], flags: list[bool], at: int) -> int:
    """Negate up to REACH words after position `at` (stopping at a clause word); the next index."""
    j = at + 1
    while j < len(words) and j <= at + REACH and words[j] not in _ENDS:
        flags[j] = words[j] not in NEGATORS  # « non, jamais »: a negation is not negated
        j += 1
    return j


# Spoken French drops « ne »: « remboursé qu'un mois », « j'ai reçu que la moitié ». A « que »
# after a past participle and before a quantity says « only »; after these words it does not.
_QUE_AFTER_NOT = frozenset("parce ce est bien pour sans avant apres depuis tandis lorsque puisque dit pense "
                           "sais crois vois dire ainsi tant autant meme plus moins aussi alors si tel telle".split())
_QUANTITY = frozenset("un une la le les des moitie partie quelques peu".split())


def restricted(words: list[str]) -> bool:
    """Whether a clause says « ne … que » (« on ne m'a remboursé que la moitié », « remboursé
    qu'un mois sur deux »): only part."""
    for i, word in enumerate(words):
        if word in ("ne", "n"):
            close = next((j for j in range(i + 1, min(len(words), i + 6))
                          if words[j] in _CLOSERS or words[j] in ("que", "qu")), None)
            if close is not None and words[close] in ("que", "qu"):
                return True
        if word in ("que", "qu") and 0 < i < len(words) - 1 and words[i - 1] not in _QUE_AFTER_NOT \
                and words[i - 1][-1:] in ("e", "i", "u", "s") and (words[i + 1] in _QUANTITY or words[i + 1].isdigit()):
            return True
    return False
