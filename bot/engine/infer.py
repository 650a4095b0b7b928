"""Answers read from anything the person types (the flow's `infer:` rules): « je suis sourde »
in a description answers the hearing question, which is then not asked."""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from ..flow.model import Flow
from ..flow.negation import NEGATORS, clauses_of, negated
from ..flow.recognise import normalise
from .progress import Progress


@lru_cache(maxsize=8192)
def _wanted(keyword: str) -> tuple[list[str], bool]:
    return normalise(keyword.rstrip("*")).split(), keyword.endswith("*")


@lru_cache(maxsize=1024)
def _rule_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern for a rule's keywords, over the normalised words joined by single spaces:
    each keyword a whole word, a `prefix*` or a phrase, as `says` reads it."""
    parts = []
    for keyword in keywords:
        wanted, prefix = _wanted(keyword)
        if wanted:
            parts.append(" ".join(map(re.escape, wanted)) + (r"\S*" if prefix else ""))
    return re.compile(r"(?<!\S)(?:" + "|".join(parts) + r")(?!\S)") if parts else re.compile(r"(?!x)x")


def says(text: str, keyword: str, words: list[str] | None = None) -> bool:
    """Whether the normalised words of `text` (or `words`, already normalised) hold `keyword`
    (a word, `prefix*`, or a phrase)."""
    words = normalise(text).split() if words is None else words
    wanted, prefix = _wanted(keyword)
    if not wanted:
        return False
    for i in range(len(words) - len(wanted) + 1):
        head, last = words[i:i + len(wanted) - 1], words[i + len(wanted) - 1]
        if head == wanted[:-1] and (last.startswith(wanted[-1]) if prefix else last == wanted[-1]):
            return True
    return False


def _affirmed(pattern: re.Pattern[str], words: list[str], flags: list[bool]) -> bool:
    """Whether a keyword is said, not denied: « je ne suis pas sourd » or « ni donné ma carte »
    do not say « sourd » or « ma carte »; a keyword that holds a negation itself (« sans mon
    accord ») is read as written."""
    joined = " ".join(words)
    for match in pattern.finditer(joined):
        first = joined.count(" ", 0, match.start())
        if not flags[first] or any(w in NEGATORS for w in match.group().split()):
            return True
    return False


def infer(flow: Flow, progress: Progress, text: str, asking: str | None = None) -> Progress:
    """`progress` with what `text` tells, by the flow's rules (unchanged when it tells nothing).
    The question being asked (`asking`) is answered by its own choices' words, not by a rule:
    « prélèvement » typed in answer to « Comment ? » means the direct debit, whatever a rule
    reading descriptions makes of the word; nor is a question already answered."""
    known = {entry[0] for entry in progress.inferred} | {a.node for a in progress.path} | {asking}
    step = len(progress.path)
    found, pieces = [], [(words, negated(words)) for words in (normalise(p).split() for p in clauses_of(text)) if words]
    for rule in flow.infer:
        if rule.node not in known and any(_affirmed(_rule_pattern(rule.keywords), words, flags)
                                          for words, flags in pieces):
            known.add(rule.node)
            found.append((rule.node, rule.choice, step))
    if not found:
        return progress
    return progress.with_(inferred=progress.inferred + tuple(found))


def said_in(texts: Iterable[str], keywords: tuple[str, ...]) -> bool:
    """Whether any of `texts` (what the person typed) says one of `keywords`, not denied:
    « on m'a prélevé deux fois » says « deux fois »; « pas deux fois » does not."""
    pattern = _rule_pattern(tuple(keywords))
    for text in texts:
        for words in (normalise(p).split() for p in clauses_of(text)):
            if words and _affirmed(pattern, words, negated(words)):
                return True
    return False
