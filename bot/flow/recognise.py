"""Map a free-text answer to a choice, with the keywords and patterns written in the flow.

Matching ignores case and accents, treats apostrophes and punctuation as spaces, and
forgives a typo per word (two in long words). In the YAML:

    keywords: ["factur*", "deux fois", "prelevement"]   # * = any ending; phrases match in order
    patterns: ['\\b(2|deux) fois\\b']                    # regular expressions on the normalised text

A single word scores 1, a phrase of several words 2, a pattern 2. The best choice is taken
when it scores at least 2 and leads the next by at least 1; otherwise the user is asked to
confirm the likely candidates; with no hit at all they get the full list.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from .model import Choice

CONFIDENT_SCORE = 2.0
CONFIDENT_MARGIN = 1.0

_NON_WORD = re.compile(r"[^a-z0-9*]+")


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by single spaces ('Prélèvé 2 fois!' -> 'preleve 2 fois')."""
    text = unicodedata.normalize("NFKD", text.lower().replace("€", " euros "))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("œ", "oe").replace("æ", "ae")
    return _NON_WORD.sub(" ", text).strip()


def _distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count 1), stopping early past `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = ca != cb
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _allowed_typos(word: str) -> int:
    return 0 if len(word) < 5 else 1 if len(word) < 9 else 2


def _word_matches(key: str, word: str) -> bool:
    if key.endswith("*"):
        stem = key[:-1]
        if word.startswith(stem):
            return True
        head = word[:len(stem)]
        return len(word) >= len(stem) and _distance(stem, head, _allowed_typos(stem)) <= _allowed_typos(stem)
    if key == word:
        return True
    typos = _allowed_typos(key)
    return typos > 0 and _distance(key, word, typos) <= typos


@dataclass
class Hit:
    choice: str
    score: float = 0.0
    matched: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    """`choice` when sure; otherwise `candidates` to confirm (maybe empty: show the list)."""
    choice: str | None
    candidates: list[str]
    hits: list[Hit]


@lru_cache(maxsize=4096)
def _compiled_keyword(keyword: str) -> tuple[str, ...]:
    return tuple(normalise(keyword).split())


@lru_cache(maxsize=1024)
def _compiled_pattern(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def _phrase_in(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(all(_word_matches(k, w) for k, w in zip(phrase, words[i:i + n]))
               for i in range(len(words) - n + 1))


def score(text: str, choices: tuple[Choice, ...] | list[Choice]) -> list[Hit]:
    """Score every choice against the text, best first."""
    norm = normalise(text)
    words = norm.split()
    hits = []
    for choice in choices:
        hit = Hit(choice.id)
        for keyword in choice.recogniser.keywords:
            phrase = _compiled_keyword(keyword)
            if phrase and _phrase_in(words, phrase):
                hit.score += 2.0 if len(phrase) > 1 else 1.0
                hit.matched.append(keyword)
        for pattern in choice.recogniser.patterns:
            if _compiled_pattern(pattern).search(norm):
                hit.score += 2.0
                hit.matched.append(f"/{pattern}/")
        hits.append(hit)
    hits.sort(key=lambda h: -h.score)
    return hits


def recognise(text: str, choices) -> Verdict:
    hits = score(text, choices)
    scored = [h for h in hits if h.score > 0]
    if not scored:
        return Verdict(None, [], hits)
    best = scored[0]
    second = scored[1].score if len(scored) > 1 else 0.0
    if best.score >= CONFIDENT_SCORE and best.score - second >= CONFIDENT_MARGIN:
        return Verdict(best.choice, [best.choice], hits)
    close = [h.choice for h in scored if best.score - h.score < CONFIDENT_MARGIN][:2]
    return Verdict(None, close, hits)
