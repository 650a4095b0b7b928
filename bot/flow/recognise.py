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


@lru_cache(maxsize=8192)
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


@lru_cache(maxsize=200_000)
def _word_matches(key: str, word: str) -> bool:
    """Whether a text word matches a keyword word (exact, `stem*`, or within the typo allowance).

    Cached: the same words come back message after message.
    """
    if key.endswith("*"):
        stem = key[:-1]
        if word.startswith(stem):
            return True
        typos = _allowed_typos(stem)
        head = word[:len(stem)]
        if typos == 0 or len(word) < len(stem) or len(set(stem) ^ set(head)) > 2 * typos:
            return False
        return _distance(stem, head, typos) <= typos
    if key == word:
        return True
    typos = _allowed_typos(key)
    if typos == 0 or abs(len(key) - len(word)) > typos or len(set(key) ^ set(word)) > 2 * typos:
        return False
    return _distance(key, word, typos) <= typos


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


class _Index:
    """The keywords of one question, compiled once: phrases as word tuples, patterns compiled,
    and a memo of which keyword words each text word matches (words recur across messages)."""

    def __init__(self, choices):
        self.choices = choices
        self.phrases = [[tuple(normalise(k).split()) for k in c.recogniser.keywords] for c in choices]
        self.patterns = [[re.compile(p) for p in c.recogniser.patterns] for c in choices]
        self.tokens = sorted({t for phrases in self.phrases for phrase in phrases for t in phrase})
        # Phrases by their first word: only those whose first word occurs are ever checked.
        self.by_first: dict[str, list[tuple[int, str, tuple[str, ...]]]] = {}
        for i, (choice, phrases) in enumerate(zip(choices, self.phrases)):
            for keyword, phrase in zip(choice.recogniser.keywords, phrases):
                if phrase:
                    self.by_first.setdefault(phrase[0], []).append((i, keyword, phrase))
        self._memo: dict[str, frozenset[str]] = {}

    def matches(self, word: str) -> frozenset[str]:
        found = self._memo.get(word)
        if found is None:
            found = frozenset(t for t in self.tokens if _word_matches(t, word))
            if len(self._memo) < 50_000:
                self._memo[word] = found
        return found


_INDEXES: dict[int, _Index] = {}


def _index(choices: tuple[Choice, ...]) -> _Index:
    """One index per question (a node's choices tuple lives as long as its flow)."""
    index = _INDEXES.get(id(choices))
    if index is None or index.choices is not choices:
        if len(_INDEXES) > 256:
            _INDEXES.clear()
        index = _INDEXES[id(choices)] = _Index(choices)
    return index


def score(text: str, choices: tuple[Choice, ...], allowed: set[str] | None = None) -> list[Hit]:
    """Score the choices (those in `allowed`, if given) against the text, best first."""
    index = _index(tuple(choices))
    norm = normalise(text)
    words = norm.split()[:200]
    at: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        for token in index.matches(word):
            at.setdefault(token, []).append(i)
    hits = [Hit(choice.id) for choice in index.choices]
    for first, starts in at.items():
        for i, keyword, phrase in index.by_first.get(first, ()):
            if any(all(start + j in at.get(t, ()) for j, t in enumerate(phrase[1:], 1)) for start in starts):
                hits[i].score += 2.0 if len(phrase) > 1 else 1.0
                hits[i].matched.append(keyword)
    for hit, choice, patterns in zip(hits, index.choices, index.patterns):
        for raw, pattern in zip(choice.recogniser.patterns, patterns):
            if pattern.search(norm):
                hit.score += 2.0
                hit.matched.append(f"/{raw}/")
    if allowed is not None:
        hits = [hit for hit in hits if hit.choice in allowed]
    hits.sort(key=lambda h: -h.score)
    return hits


def recognise(text: str, choices: tuple[Choice, ...], allowed: set[str] | None = None) -> Verdict:
    hits = score(text, choices, allowed)
    scored = [h for h in hits if h.score > 0]
    if not scored:
        return Verdict(None, [], hits)
    best = scored[0]
    second = scored[1].score if len(scored) > 1 else 0.0
    if best.score >= CONFIDENT_SCORE and best.score - second >= CONFIDENT_MARGIN:
        return Verdict(best.choice, [best.choice], hits)
    close = [h.choice for h in scored if best.score - h.score < CONFIDENT_MARGIN][:2]
    return Verdict(None, close, hits)
