"""Understand a typed answer: which choice a free-text description means, and which button a
typed answer to a button question names.

Free text (`recognise`): each choice of a `type: text` question may carry, in the flow,

    keywords: ["factur*", "deux fois", "prelevement"]   # * = any ending
    patterns: ['\\b(2|deux) fois\\b']                    # regular expressions on the normalised text
    examples: ["on m'a prélevé deux fois ce mois-ci"]    # how people really describe it

The text is cut into clauses (a clause the person sets aside, "je ne veux pas résilier mais…",
counts for nothing; what comes before "mais mon vrai problème c'est…" counts little), written
SMS forms are spelled out ("g", "pk", "tjs", "jcomprend"), names are dropped ("je m'appelle…"),
and each word becomes a feature: lower case, no accents, a light French/English stem, and a
typo forgiven against the words the flow knows (one typo from five letters, two from nine; a
shorter word such as "fais" is never taken for "frais"). A pattern that matches is a feature too.

A naive Bayes model is learnt from the examples, the keywords (each a small example of its own)
and the patterns of each choice. Examples on the `other` choice teach what is off-topic: when
it wins, or when nothing the flow knows is in the text, the person gets the full list. The
best choice is taken when it is clearly ahead; otherwise the two likeliest are offered to
confirm. `explain` shows which words, keywords, patterns and examples weighed.

Button questions (`understand_answer`): yes/no in their usual forms, a choice named loosely
by its label, its keywords or its examples.

Everything is pure Python plus rapidfuzz for string distance; every cache is bounded.
"""
from __future__ import annotations

import math
import re
import sys
import unicodedata
from bisect import bisect_right
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

from rapidfuzz.distance import OSA
from rapidfuzz.process import extractOne

from ..lru import LRU, Memo
from ..yamlio import safe_load
from .model import Choice
from .negation import clauses_of, negated, restricted

# -- decision thresholds (probabilities of the model) -------------------------------------
SURE = 0.90          # the best choice is taken at this probability...
SURE_MARGIN = 0.45   # ...and this far ahead of the next
SECOND = 0.12        # a second candidate is offered to confirm from this probability
EVIDENCE = 6.0       # ...and only when the words for it weigh this much (one vague word: confirm)
OFF_TOPIC_EVIDENCE = 2.0  # below this, nothing in the text speaks for any reason: show the list
OFF_TOPIC_IDS = frozenset({"other", "none"})   # the choice that means "none of these"

# -- model settings ------------------------------------------------------------------------
ALPHA = 0.3          # additive smoothing of the word counts
KEYWORD_WEIGHT = 4.0  # a keyword counts as that many occurrences in its choice
PATTERN_WEIGHT = 4.0  # a pattern likewise
PHRASE_WORD_SHARE = 0.25  # each word of a keyword phrase counts this share of a keyword alone
MAX_WORDS = 120      # words of a message read (the first ones: the problem comes first)
MAX_FUZZY = 32       # unknown words of a message looked up for a typo
MAX_CHARS = MAX_WORDS * 12  # characters of a message read (enough for MAX_WORDS words)


# ==========================================================================================
# Normalisation
# ==========================================================================================

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff\u180e\u034f]")  # zero-width, soft hyphen
_NON_WORD = re.compile(r"[^a-z0-9*]+")


_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def _normalise(text: str) -> str:
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFKD", text.lower().replace("€", " euros "))
    text = _COMBINING.sub("", text)
    text = text.replace("œ", "oe").replace("æ", "ae").replace("ß", "ss")
    return _NON_WORD.sub(" ", text).strip()


_normalise_cached = lru_cache(maxsize=2048)(_normalise)


def normalise(text: str) -> str:
    """Lower case, no accents, words separated by single spaces ('Prélèvé 2 fois!' -> 'preleve 2 fois').

    Zero-width characters and soft hyphens vanish without splitting the word they sit in.
    """
    return _normalise_cached(text) if len(text) <= 256 else _normalise(text)


# ==========================================================================================
# Words: written forms, stop words, stems
# ==========================================================================================

_WORDS = safe_load((Path(__file__).with_name("words.yaml")).read_text(encoding="utf-8"))
_SPELLED: dict[str, str] = _WORDS["spelled"]   # written forms spelled out (words.yaml)
_STOP = frozenset(_WORDS["stop"])              # words that say nothing of the problem
STOP_WORDS = _STOP

# Kept although short: they carry meaning in complaints.
_KEEP_SHORT = frozenset({"pas", "non", "no", "not", "rien", "plus", "sans", "bug", "tv", "2", "3"})

_SUFFIXES = tuple(sorted(_WORDS["suffixes"], key=len, reverse=True))


_SUFFIX_SET = frozenset(_SUFFIXES)
_SUFFIX_LENGTHS = tuple(sorted({len(s) for s in _SUFFIXES}, reverse=True))


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """A light stem: 'prélèvement', 'prélevé', 'prélever' -> 'prelev'; 'factures' -> 'factur'."""
    n = len(word)
    if n <= 4 or not word.isalpha():
        return word
    for length in _SUFFIX_LENGTHS:   # the longest ending that leaves at least 4 letters
        if n - length >= 4 and word[-length:] in _SUFFIX_SET:
            return word[:-length]
    return word


_ELIDED = {"q": ("qu",), "l": ("l",), "d": ("d",), "m": ("m",), "t": ("t",), "s": ("s",), "j": ("j",),
           "n": ("n",), "c": ("c",)}
_J_CONSONANT = re.compile(r"^j([bcdfghjklmnpqrstvwxz][a-z]{2,})$")


def _spell_out(words: list[str]) -> list[str]:
    """Written SMS forms spelled out, 'jtombe' -> 'je tombe', names after 'je m'appelle' dropped."""
    out: list[str] = []
    skip_name = 0
    for at, word in enumerate(words):
        if skip_name:
            skip_name -= 1
            if word not in ("et", "je", "j", "mon", "ma", "mais", "depuis", "mes"):
                continue
        spelled = _SPELLED.get(word)
        if spelled is not None and not (spelled.startswith(word + " ") and words[at + 1:at + 2] == spelled.split()[1:2]):
            # (« c est » stays « c est », not « c est est »)
            out.extend(spelled.split())
            continue
        m = _J_CONSONANT.match(word) if word[0] == "j" else None
        if m and word not in ("jpeg", "jpg"):
            out.extend(("je", m.group(1)))
            continue
        out.append(word)
        # "je m'appelle Anne Dupont", "my name is ...": a name is not a problem.
        if len(out) >= 2 and ((out[-2] == "m" and out[-1] in ("appelle", "appel", "apelle"))
                              or (out[-2] == "name" and out[-1] == "is")
                              or (out[-2] == "nom" and out[-1] in ("est", "c"))):
            del out[-1]
            if out[-1] == "m":
                del out[-1]
            skip_name = 2
    return out


def _learn_words(raw: str, surface: set[str], prefixes: dict[str, str], shortest: int) -> list[str]:
    """The words of a keyword, label or example, spelled out; records them in `surface` and
    its `stem*` prefixes (of at least `shortest` letters) in `prefixes`."""
    words, found = _keyword_words(raw)
    words = _spell_out(words)
    surface.update(words)
    prefixes.update((p, stem(p)) for p in found if len(p) >= shortest)
    return words


# ==========================================================================================
# Clauses: what the person sets aside, what they say matters most
# ==========================================================================================

_CLAUSE_SPLIT = re.compile(r"[.;:!?\n()\[\]«»\"“”…]+|,|\s[-–—]\s")
_CONTRAST = re.compile(r"\b(?:mais|but|par contre|en revanche|cependant|sauf que|however)\b")
# A clause that opens by setting something aside: its words count for nothing.
_SET_ASIDE = re.compile(
    r"^(?:(?:bon|alors|enfin|non|bref|oui|ok)\s+)*(?:"
    r"(?:je|j)\s+(?:ne\s+|n\s+)?(?:veux|voudrais|souhaite|cherche|demande|conteste|reclame|parle)\s+pas\b"
    r"|(?:ce\s+)?(?:n\s+)?est\s+pas\s+(?:un|une|que|qu|ma|mon|mes|le|la|les|l|du|de|d|des|pour|vraiment|juste|seulement|tant)\b"
    r"|c\s+est\s+pas\s+(?:un|une|que|qu|ma|mon|mes|le|la|les|l|du|de|d|des|pour|vraiment|juste|seulement|tant)\b"
    r"|pas\s+besoin\b|(?:je\s+)?n\s+ai\s+(?:aucun|pas\s+de)\s+(?:probleme|souci)\b|rien\s+a\s+voir\s+avec\b"
    r"|(?:i\s+)?(?:do\s+not|don\s+t)\s+want\b|it\s+is\s+not\s+(?:a|the|my|about)\b|not\s+(?:a|about)\b"
    r")")
# A clause that says "the real problem is...": what came before counts little.
_FOCUS = re.compile(r"\b(?:vrai|vrais|veritable|seul|principal|gros)\s+(?:probleme|souci|soucis)\b"
                    r"|\b(?:mon|le)\s+(?:probleme|souci)\s+(?:c\s+est|est)\b|\bsurtout\b|\ben fait\b"
                    r"|\b(?:real|main|actual)\s+(?:problem|issue)\b")
BEFORE_CONTRAST = 0.6   # weight of a clause followed by "mais..."
BEFORE_FOCUS = 0.15     # weight of what comes before "mon vrai problème c'est..."


Clause = tuple[float, list[str], str]  # (weight, spelled-out words, why the weight)


def clauses(text: str) -> list[Clause]:
    """The clauses of a message: (weight, spelled-out words, why the weight)."""
    raw = _INVISIBLE.sub("", text[:MAX_CHARS]).lower()
    pieces: list[str] = []
    for part in _CLAUSE_SPLIT.split(raw):
        norm = normalise(part)
        if not norm:
            continue
        pos = 0
        for m in _CONTRAST.finditer(norm):
            pieces.append(norm[pos:m.start()].strip())
            pos = m.start()
        pieces.append(norm[pos:].strip())
    out: list[list[Any]] = []  # [weight, words, why]: a later clause may lower the weight
    read = 0
    for piece in pieces:
        if read >= MAX_WORDS:
            break
        words = _spell_out(piece.split()[:MAX_WORDS - read])
        if not words:
            continue
        read += len(words)
        body = " ".join(w for w in words if w not in ("mais", "but"))
        if _FOCUS.search(body):
            for earlier in out:
                earlier[0] *= BEFORE_FOCUS
                earlier[2] = earlier[2] or "before the real problem"
            out.append([1.0, words, ""])
        elif _SET_ASIDE.match(body):
            # « c'est pas la facture c'est que je n'arrive plus à me connecter »: without a
            # comma, the second « c'est » starts what the person does mean
            turn = next((i for i in range(3, len(words) - 2) if words[i:i + 2] == ["c", "est"]), None)
            out.append([0.0, words[:turn], "set aside"])
            if turn is not None:
                out.append([1.0, words[turn:], ""])
        else:
            if words[0] in ("mais", "but") and out and out[-1][0] > BEFORE_CONTRAST:
                out[-1][0] = BEFORE_CONTRAST
                out[-1][2] = out[-1][2] or "before 'mais'"
            out.append([1.0, words, ""])
    return [(w, words, why) for w, words, why in out]


# ==========================================================================================
# Typo tolerance against the words a model knows (deletion neighbourhoods, rapidfuzz check)
# ==========================================================================================

def _allowed_typos(word: str) -> int:
    return 0 if len(word) < 5 else 1 if len(word) < 9 else 2


class _Speller:
    """Finds the known word a typed word was meant to be, within its typo allowance.

    rapidfuzz compares the typed word with the known words of its first letter (a typo seldom
    changes it) and of a length it allows: 5 to 9 letters for one typo (typed words of 5 to 8
    letters), 7 or more for two (9 letters or more); or it is two first letters swapped. The
    first known word, in alphabetical order, at the fewest typos wins. Lists, not an index of
    every one-letter deletion: about 3 MB less for the bot's two models, at about 7 µs more per
    unknown word (19 µs against 12; each looked up once: `cache`).
    """

    def __init__(self, words: Iterable[str]):
        self.words = frozenset(sys.intern(w) for w in words if len(w) >= 5 and w.isalpha())
        self.short: dict[str, list[str]] = {}  # first letter -> known words of 5 to 9 letters
        self.long: dict[str, list[str]] = {}   # first letter -> known words of 7 letters or more
        for word in sorted(self.words):
            if len(word) <= 9:
                self.short.setdefault(word[0], []).append(word)
            if len(word) >= 7:
                self.long.setdefault(word[0], []).append(word)
        self.cache: Memo[str, str | None] = Memo(4096)

    def correct(self, word: str) -> str | None:
        typos = _allowed_typos(word)
        if typos == 0 or not word.isalpha():
            return None
        found: str | None | Literal[False] = self.cache.get(word, False)  # False: not looked up yet
        if found is not False:
            return found
        best = None
        if typos == 1:
            near = extractOne(word, self.short.get(word[0], ()), scorer=OSA.distance, score_cutoff=1)
            swapped = word[1] + word[0] + word[2:]
            best = near[0] if near is not None else swapped if swapped in self.words else None
        else:
            near = extractOne(word, self.long.get(word[0], ()), scorer=OSA.distance, score_cutoff=2)
            if near is not None and near[1] <= _allowed_typos(near[0]):
                best = near[0]
        self.cache.put(word, best)
        return best


# ==========================================================================================
# The model of one question
# ==========================================================================================

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


@dataclass
class Feature:
    """One feature of a message: the word as typed, what it was read as, its weight."""
    word: str
    feature: str
    weight: float
    how: str = ""  # "typo of x", "pattern", "set aside"...


def _presence(feats: Sequence[Feature]) -> dict[str, float]:
    """Each feature once, at the highest weight it was seen with."""
    out: dict[str, float] = {}
    for f in feats:
        if f.weight > out.get(f.feature, 0.0):
            out[f.feature] = f.weight
    return out


def _keyword_words(keyword: str) -> tuple[list[str], set[str]]:
    """The words of a keyword, and which of them were written with a * (any ending)."""
    words: list[str] = []
    prefixes: set[str] = set()
    for word in normalise(keyword.replace("*", " * ")).split():
        if word == "*":
            if words:
                prefixes.add(words[-1])
            continue
        words.append(word)
    return words, prefixes


KeywordDoc = tuple[int, list[str], str | None]  # (choice index, the keyword's words, its phrase if several)
ExampleClauses = tuple[int, int, str, list[Clause]]  # (choice index, example index, the example, its clauses)


class Model:
    """Naive Bayes over word stems and patterns, learnt from a question's choices.

    `skip` holds (choice index, example index) pairs left out: cross-validation uses it.
    """

    def __init__(self, choices: tuple[Choice, ...], skip: frozenset[tuple[int, int]] = frozenset()):
        self.choices = choices
        self.ids = [c.id for c in choices]
        # what a pattern's match starts with (`required_text`): looked for once per text, each
        # pattern then searched only where one of its own is there
        starts = {raw: required_text(raw) for c in choices for raw in c.recogniser.patterns}
        self.needs = tuple(sorted({text for found in starts.values() if found for text in found}))
        indices = {raw: frozenset(map(self.needs.index, found)) for raw, found in starts.items() if found}
        self.patterns = [(i, n, raw, re.compile(raw), indices.get(raw))
                         for i, c in enumerate(choices) for n, raw in enumerate(c.recogniser.patterns)]
        # The letters a pattern spells out ('prelev' in '(prelev|debit)\w*'): a typed word
        # that starts with none of them, and is known nowhere else, cannot matter to a pattern.
        self.literals = frozenset(w for _, _, raw, _, _ in self.patterns
                                  for w in re.findall(r"[a-z]{2,}", re.sub(r"\\[a-zA-Z]", " ", raw)))
        self.prefixes: dict[str, str] = {}  # 'factur' (from factur*) -> its feature
        # Keywords of several words are phrases: a feature of their own when found in order.
        self.phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        keyword_docs, example_clauses, surface = self._sources(skip)
        self.longest_prefix = max(map(len, self.prefixes), default=0)
        self.literals_by_start: dict[str, list[str]] = {}
        for literal in self.literals:
            self.literals_by_start.setdefault(literal[:2], []).append(literal)
        self.speller = _Speller(surface)
        self.known_surface = frozenset(surface)
        self.cache: Memo[str, tuple[str | None, str, str]] = Memo(4096)  # word -> (feature, how, what patterns see)
        self._last: tuple[str, list[Feature]] | None = None  # the last text read and its features
        self.vocab: frozenset[str] | None = None   # None while learning: every word is a feature
        self._train(keyword_docs, example_clauses)

    def _sources(self, skip: frozenset[tuple[int, int]]) -> tuple[list[KeywordDoc], list[ExampleClauses], set[str]]:
        """What the model learns from: each keyword's words (and its phrase, a keyword of
        several words), each example not skipped cut into clauses, and every word seen (the
        speller's vocabulary). Fills `prefixes` and `phrases` on the way."""
        surface: set[str] = set()
        keyword_docs: list[tuple[int, list[str], str | None]] = []
        for i, c in enumerate(self.choices):
            for keyword in c.recogniser.keywords:
                words = _learn_words(keyword, surface, self.prefixes, 4)
                phrase = None
                if len(words) > 1:
                    keys = tuple(stem(w) for w in words)
                    phrase = f'"{" ".join(words)}"'
                    entries = self.phrases.setdefault(keys[0], [])
                    if (keys, phrase) not in entries:
                        entries.append((keys, phrase))
                keyword_docs.append((i, words, phrase))
        examples = [(i, n, ex) for i, c in enumerate(self.choices)
                    for n, ex in enumerate(getattr(c.recogniser, "examples", ()))
                    if (i, n) not in skip]
        example_clauses = [(i, n, ex, _example_clauses(ex)) for i, n, ex in examples]
        for *_, cls in example_clauses:
            for _, words, _ in cls:
                surface.update(words)
        return keyword_docs, example_clauses, surface

    def _train(self, keyword_docs: list[KeywordDoc], example_clauses: list[ExampleClauses]) -> None:
        """The features' weights per choice (keywords, patterns, examples), then their
        smoothed log-probabilities."""
        k = len(self.choices)
        counts: list[dict[str, float]] = [{} for _ in range(k)]

        def add(i: int, feature: str, weight: float) -> None:
            counts[i][feature] = counts[i].get(feature, 0.0) + weight

        for i, words, phrase in keyword_docs:
            # the words of a phrase count a little on their own, the phrase itself fully
            for w in words:
                f = self._stem_of(w)
                if f:
                    add(i, f, KEYWORD_WEIGHT * (PHRASE_WORD_SHARE if phrase else 1.0))
            if phrase:
                add(i, phrase, KEYWORD_WEIGHT)
        for i, _, raw, _, _ in self.patterns:
            add(i, f"/{raw}/", PATTERN_WEIGHT)
        for i, _, _, cls in example_clauses:
            for feature, weight in self._presence_of(cls).items():
                add(i, feature, weight)
        self._examples = [(i, ex) for i, _, ex, _ in example_clauses]  # their features: see `nearest`
        self._example_feats: list[tuple[int, str, dict[str, float], float]] | None = None
        self.vocab = frozenset(f for c in counts for f in c)
        v = len(self.vocab) or 1
        self.trained = [bool(c) for c in counts]
        totals = [sum(c.values()) for c in counts]
        self.logp: dict[str, tuple[float, ...]] = {}
        unseen = [math.log(ALPHA / (totals[i] + ALPHA * v)) if self.trained[i] else 0.0 for i in range(k)]
        for f in self.vocab:  # (a feature a choice never had shares that choice's one float: most do)
            self.logp[f] = tuple(math.log((counts[i][f] + ALPHA) / (totals[i] + ALPHA * v))
                                 if self.trained[i] and f in counts[i] else unseen[i] for i in range(k))

    def _presence_of(self, cls: list[Clause]) -> dict[str, float]:
        """An example's features: a word counts once per example (presence, not frequency)."""
        feats: dict[str, float] = {}
        for feat in self._features(cls):
            if feat.weight > 0:
                feats[feat.feature] = max(feats.get(feat.feature, 0.0), feat.weight)
        return feats

    # -- features --------------------------------------------------------------------------
    def _stem_of(self, word: str) -> str | None:
        if word in _STOP or (len(word) < 3 and word not in _KEEP_SHORT and not word.isdigit()):
            return None
        return stem(word)

    def _word(self, word: str, fuzzy_budget: list[int]) -> tuple[str | None, str, str]:
        """What a typed word is read as: (feature or None, how, the word patterns see).

        Patterns see the word as corrected, or "_" for a word that no pattern nor keyword
        nor example could be about (regular expressions then run on a short text)."""
        found = self.cache.get(word)
        if found is not None:
            return found
        feature = self._stem_of(word)
        how, seen = "", word
        if feature is not None and word not in self.known_surface and self.vocab is not None and feature not in self.vocab:
            for elided in _ELIDED.get(word[0], ()):  # 'lappli', 'jouvre', 'mavaient': a lost apostrophe
                rest = word[len(elided):]
                if word.startswith(elided) and len(rest) >= 3 and rest in self.known_surface:
                    feature, how, seen = self._stem_of(rest), f"l'apostrophe: {elided}'{rest}", rest
                    break
            else:
                for n in range(min(len(word) - 1, self.longest_prefix), 3, -1):
                    if word[:n] in self.prefixes:
                        feature, how = self.prefixes[word[:n]], f"{word[:n]}*"
                        break
                else:
                    if fuzzy_budget[0] <= 0:   # not cached: it was not looked up for a typo
                        return None, "", self._pattern_word(word)
                    fuzzy_budget[0] -= 1
                    known = self.speller.correct(word)
                    if known is not None:
                        feature, how, seen = self._stem_of(known), f"typo of {known}", known
                    else:
                        seen = self._pattern_word(word)
        if feature is not None and self.vocab is not None and feature not in self.vocab:
            feature = None   # a word the flow does not know weighs nothing
        found = (feature, how, seen)
        self.cache.put(word, found)
        return found

    def _pattern_word(self, word: str) -> str:
        if len(word) <= 2 or not word.isalpha() or word in _STOP or word in self.known_surface:
            return word
        for literal in self.literals_by_start.get(word[:2], ()):
            if word.startswith(literal):
                return word
        return "_"

    def _features(self, cls: list[Clause], budget: int = MAX_FUZZY) -> list[Feature]:
        fuzzy_budget = [budget]
        out: list[Feature] = []
        texts: list[str] = []       # what patterns see, clause by clause
        starts: list[int] = []
        weights: list[float] = []
        at = 0
        read, cache, phrases = self._word, self.cache, self.phrases  # (locals: this runs for every example)
        for weight, words, why in cls:
            keys: list[str] = []
            seen: list[str] = []
            for word in words:
                feature, how, pattern_word = cache.get(word) or read(word, fuzzy_budget)
                keys.append(feature or stem(word))
                if pattern_word != "_" or not seen or seen[-1] != "_":
                    seen.append(pattern_word)
                if feature is not None:
                    out.append(Feature(word, feature, weight, how or why))
            for j, key in enumerate(keys):
                if key in phrases:
                    for phrase_keys, phrase in phrases[key]:
                        if tuple(keys[j:j + len(phrase_keys)]) == phrase_keys:
                            out.append(Feature(" ".join(words[j:j + len(phrase_keys)]), phrase, weight, "phrase"))
            text = " ".join(seen)
            if len(text) > 1:
                texts.append(text)
                starts.append(at)
                weights.append(weight)
                at += len(text) + 1
        if texts:  # all the clauses at once, a line each: one search per pattern
            text = "\n".join(texts)
            # while learning: the matches in an example another model read too
            learnt = _LEARNT.setdefault(text, {}) if _LEARNT is not None and self.vocab is None else None
            present = {i for i, needed in enumerate(self.needs) if needed in text}
            for _, _, raw, pattern, needs in self.patterns:
                best = None
                found = learnt.get(raw) if learnt is not None else None
                if found is None and needs is not None and needs.isdisjoint(present):
                    found = _NONE  # none of the texts it starts with is there: no search
                if found is None:
                    found = tuple((m.start(), m.group(0)) for m in pattern.finditer(text)) or _NONE
                    if learnt is not None:
                        learnt[raw] = found
                for at, group in found:
                    w = weights[bisect_right(starts, at) - 1]
                    if best is None or w > best[0]:
                        best = (w, group)
                if best is not None:
                    out.append(Feature(best[1], f"/{raw}/", best[0], "pattern"))
        return out

    def features(self, text: str) -> list[Feature]:
        """The features of a text, read-only. The last text's are kept: a first description is
        read by the router, then by the general flow's question, with this one model."""
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        found = self._features(clauses(text))
        self._last = (text, found)
        return found

    # -- scoring ---------------------------------------------------------------------------
    def probabilities(self, feats: list[Feature]) -> list[float] | None:
        """The probability of each choice given the features (None: nothing known in the text)."""
        k = len(self.choices)
        scores = [0.0] * k
        seen = False
        for feature, weight in _presence(feats).items():
            row = self.logp.get(feature)
            if row is None or weight <= 0:
                continue
            seen = True
            for i in range(k):
                scores[i] += weight * row[i]
        if not seen:
            return None
        live = [s for s, t in zip(scores, self.trained) if t]
        top = max(live)
        exp = [math.exp(s - top) if t else 0.0 for s, t in zip(scores, self.trained)]
        total = sum(exp)
        return [e / total for e in exp]

    def contributions(self, feats: Sequence[Feature], i: int) -> list[tuple[float, Feature]]:
        """How much each feature pushed towards choice i (against the other choices on average)."""
        out = []
        live = [j for j, t in enumerate(self.trained) if t]
        best = _presence(feats)
        done = set()
        for f in feats:
            row = self.logp.get(f.feature)
            if row is None or f.weight <= 0 or f.feature in done or f.weight < best[f.feature]:
                continue
            done.add(f.feature)
            others = [row[j] for j in live if j != i]
            lift = f.weight * (row[i] - sum(others) / max(1, len(others)))
            out.append((lift, f))
        out.sort(key=lambda x: -x[0])
        return out

    def nearest(self, feats: list[Feature], i: int, n: int = 2) -> list[tuple[float, str]]:
        """The examples of choice i closest to the features (cosine similarity)."""
        vec: dict[str, float] = {}
        for f in feats:
            if f.weight > 0:
                vec[f.feature] = vec.get(f.feature, 0.0) + f.weight
        norm = math.sqrt(sum(w * w for w in vec.values())) or 1.0
        if self._example_feats is None:  # worked out the first time `explain` asks (memory: not kept for routing)
            self._example_feats = []
            for j, ex in self._examples:
                known = self._presence_of(clauses(ex))
                self._example_feats.append((j, ex, known, math.sqrt(sum(w * w for w in known.values())) or 1.0))
        sims = []
        for j, ex, ex_feats, ex_norm in self._example_feats:
            if j != i:
                continue
            dot = sum(w * ex_feats.get(f, 0.0) for f, w in vec.items())
            if dot > 0:
                sims.append((dot / norm / ex_norm, ex))
        sims.sort(key=lambda x: -x[0])
        return sims[:n]

    def keywords_in(self, feats: Sequence[Feature], i: int) -> list[str]:
        """The keywords of choice i whose every word is in the text."""
        present = {f.feature for f in feats if f.weight > 0}
        out = []
        for keyword in self.choices[i].recogniser.keywords:
            words, _ = _keyword_words(keyword)
            stems = [s for s in (self._stem_of(w) for w in _spell_out(words)) if s]
            if stems and all(s in present for s in stems):
                out.append(keyword)
        return out

    def evidence(self, feats: Sequence[Feature], i: int) -> float:
        """How much the text speaks for choice i: the sum of its words' positive lifts."""
        return sum(lift for lift, _ in self.contributions(feats, i) if lift > 0)

    def decide(self, probs: list[float] | None, allowed: set[str] | None,
               feats: Sequence[Feature] = ()) -> tuple[str | None, list[str]]:
        if probs is None:
            return None, []
        if sum(self.trained) < 2:  # nothing to compare against (a small flow): count the keywords
            return self._by_keywords(feats, allowed)
        ranked = sorted(range(len(probs)), key=lambda i: -probs[i])
        ranked = [i for i in ranked if self.trained[i]]
        if not ranked or self.ids[ranked[0]] in OFF_TOPIC_IDS:
            return None, []
        ranked = [i for i in ranked if self.ids[i] not in OFF_TOPIC_IDS
                  and (allowed is None or self.ids[i] in allowed)]
        if not ranked:
            return None, []
        best = ranked[0]
        if feats and self.evidence(feats, best) < OFF_TOPIC_EVIDENCE:
            return None, []
        second = probs[ranked[1]] if len(ranked) > 1 else 0.0
        if (probs[best] >= SURE and probs[best] - second >= SURE_MARGIN
                and self.evidence(feats, best) >= EVIDENCE):
            return self.ids[best], [self.ids[best]]
        close = [self.ids[best]] + [self.ids[i] for i in ranked[1:2] if probs[i] >= SECOND]
        return None, close


    def _by_keywords(self, feats: Sequence[Feature], allowed: set[str] | None) -> tuple[str | None, list[str]]:
        """A phrase found counts 2, a single word 1: taken at 2, confirmed at 1."""
        scores = []
        for i, choice in enumerate(self.choices):
            if allowed is None or choice.id in allowed:
                found = self.keywords_in(feats, i)
                scores.append((sum(2 if " " in k.strip() else 1 for k in found), choice.id))
        scores = sorted((s for s in scores if s[0] > 0), reverse=True)
        if not scores:
            return None, []
        if scores[0][0] >= 2 and (len(scores) == 1 or scores[0][0] - scores[1][0] >= 1):
            return scores[0][1], [scores[0][1]]
        return None, [cid for _, cid in scores[:2]]


_SPECIAL = frozenset("\\()[].*+?{}|^$")
_QUANTIFIERS = frozenset("?*+{")


def _outside_classes(raw: str) -> Iterator[tuple[int, str, int]]:
    """Each character of a pattern that is not escaped nor in a class, with the depth of groups
    it is in; ValueError when a class does not close."""
    depth, i = 0, 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            end = raw.find("]", i + 2)
            if end < 0:
                raise ValueError(raw)
            i = end + 1
            continue
        depth -= ch == ")"
        yield i, ch, depth
        depth += ch == "("
        i += 1


def _top_level(raw: str) -> list[str] | None:
    """`raw` cut at each `|` outside classes and groups; None when a group or class does not close."""
    parts, start, depth = [], 0, 0
    try:
        for i, ch, depth in _outside_classes(raw):
            if ch == "|" and depth == 0:
                parts.append(raw[start:i])
                start = i + 1
    except ValueError:
        return None
    return parts + [raw[start:]] if depth == 0 else None


def _group(raw: str) -> str | None:
    """What is inside the group `raw` starts with, or None when it does not close."""
    try:
        return next((raw[1:i] for i, ch, depth in _outside_classes(raw) if ch == ")" and depth == 0), None)
    except ValueError:
        return None


def _leading_text(branch: str) -> tuple[str, ...] | None:
    """The texts one of which a match of `branch` starts with, or None when there is no telling."""
    branch = re.sub(r"^(?:\(\?[a-zA-Z]+\))*(?:\\b)?", "", branch)
    if branch.startswith("("):
        inner = _group(branch)
        if inner is None or inner.startswith("?") or branch[len(inner) + 2:][:1] in _QUANTIFIERS:
            return None  # an optional or special group: nothing it must start with
        found: list[str] = []
        for alternative in _top_level(inner) or [""]:
            start = _leading_text(alternative)
            if start is None:
                return None
            found.extend(start)
        return tuple(found)
    text = ""
    for i, ch in enumerate(branch):
        after = branch[i + 1:i + 2]
        if ch in _SPECIAL or (after and after in _QUANTIFIERS):
            break
        text += ch
    return (text,) if text else None


@lru_cache(maxsize=None)
def required_text(raw: str) -> tuple[str, ...] | None:
    """Texts one of which is in every text the pattern matches (what each branch starts with),
    or None when there is no telling: a pattern whose texts are absent is not run (about two
    thirds of the patterns' cost while learning)."""
    branches = _top_level(raw)
    if branches is None or re.search(r"\(\?[a-zA-Z]*[^s)]", raw):  # (?i), (?x)…: texts would differ
        return None
    found: list[str] = []
    for branch in branches:
        start = _leading_text(branch)
        if start is None:
            return None
        found.extend(start)
    return tuple(dict.fromkeys(found))


_MODELS: LRU[int, Model] = LRU(64)


# The matches of each pattern in each example, shared by the models learning inside
# `learning_together()` (Engine.warm_up): a flow on the directory and the router learn from
# nearly the same examples and patterns (about a quarter of a second each). None outside it.
_LEARNT: dict[str, dict[str, tuple[tuple[int, str], ...]]] | None = None  # example's text -> pattern -> matches
_CUT: dict[str, list[Clause]] | None = None  # example's text -> its clauses (read, never changed)
_NONE: tuple[tuple[int, str], ...] = ()


@contextmanager
def learning_together() -> Iterator[None]:
    global _LEARNT, _CUT
    _LEARNT, _CUT = {}, {}
    try:
        yield
    finally:
        _LEARNT = _CUT = None


def _example_clauses(text: str) -> list[Clause]:
    """An example's clauses, cut once for every model learning together."""
    if _CUT is None:
        return clauses(text)
    found = _CUT.get(text)
    if found is None:
        found = _CUT[text] = clauses(text)
    return found


def model_for(choices: tuple[Choice, ...]) -> Model:
    """One model per question (a node's choices tuple lives as long as its flow); at most 64 kept."""
    model = _MODELS.get(id(choices))
    if model is None or model.choices is not choices:
        model = _MODELS.put(id(choices), Model(choices))
    return model


def _hits(model: Model, feats: list[Feature], probs: list[float] | None,
          allowed: set[str] | None) -> list[Hit]:
    hits = []
    for i, choice in enumerate(model.choices):
        if allowed is not None and choice.id not in allowed:
            continue
        p = probs[i] if probs else 0.0
        matched = []
        if probs and p >= 0.05:
            matched = [f"{f.word}" if f.word == f.feature or f.how == "pattern" else f"{f.word}→{f.feature}"
                       for lift, f in model.contributions(feats, i)[:6] if lift > 0.5]
        hits.append(Hit(choice.id, round(p, 3), matched))
    hits.sort(key=lambda h: -h.score)
    return hits


def score(text: str, choices: tuple[Choice, ...], allowed: set[str] | None = None) -> list[Hit]:
    """Score the choices (those in `allowed`, if given) against the text, best first."""
    model = model_for(tuple(choices))
    feats = model.features(text)
    return _hits(model, feats, model.probabilities(feats), allowed)


def recognise(text: str, choices: tuple[Choice, ...], allowed: set[str] | None = None) -> Verdict:
    """The choice a description means, or candidates to confirm, or none (show the list)."""
    model = model_for(tuple(choices))
    feats = model.features(text)
    probs = model.probabilities(feats)
    choice, candidates = model.decide(probs, allowed, feats)
    return Verdict(choice, candidates, _hits(model, feats, probs, allowed))


def explain(text: str, choices: tuple[Choice, ...], allowed: set[str] | None = None) -> list[str]:
    """Why `recognise` decides what it does, as lines to print."""
    model = model_for(tuple(choices))
    cls = clauses(text)
    feats = model._features(cls)
    probs = model.probabilities(feats)
    choice, candidates = model.decide(probs, allowed, feats)
    lines = []
    for weight, words, why in cls:
        if weight < 1:
            lines.append(f"  clause counted x{weight:.2f} ({why}): {' '.join(words)}")
    assert model.vocab is not None  # set once the model has learnt (Model.__init__)
    read = [f"{f.word}→{f.feature}" + (f" ({f.how})" if f.how and f.how != "pattern" else "")
            for f in feats if f.feature in model.vocab and f.weight > 0 and not f.feature.startswith("/")]
    lines.append("  words read: " + (", ".join(read) if read else "none the flow knows"))
    if probs is None:
        return lines
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i])
    for i in ranked[:3]:
        if probs[i] < 0.01:
            continue
        lines.append(f"  {model.ids[i]}: probability {probs[i]:.2f}")
        pushes = [f"{f.word}{'' if f.word == f.feature else '→' + f.feature} +{lift:.1f}"
                  if f.how != "pattern" else f"pattern {f.feature} ({f.word!r}) +{lift:.1f}"
                  for lift, f in model.contributions(feats, i)[:8] if lift > 0.3]
        if pushes:
            lines.append("    for it: " + ", ".join(pushes))
        kws = model.keywords_in(feats, i)
        if kws:
            lines.append("    keywords: " + ", ".join(kws[:8]))
        for sim, ex in model.nearest(feats, i):
            lines.append(f"    like the example ({sim:.2f}): {ex[:100]}")
    return lines


# ==========================================================================================
# Typed answers to button questions
# ==========================================================================================

# Usual ways of saying yes and no, normalised; they apply to the choices whose id is yes / no.
YES_FORMS, NO_FORMS = tuple(_WORDS["yes"]), tuple(_WORDS["no"])
_YES_NO = sorted([(tuple(f.split()), "yes") for f in YES_FORMS] + [(tuple(f.split()), "no") for f in NO_FORMS],
                 key=lambda x: -len(x[0]))
ANSWER_SURE = 1.0      # an answer is taken at this score...
ANSWER_MARGIN = 0.5    # ...this far ahead of the next choice
ANSWER_MIN = 0.3       # below this, nothing matches
YES_NO_SCORE = 3.0     # a yes/no form at the start of the answer
YES_NO_WORDS = {"yes": {"oui", "yes"}, "no": {"non", "no"}}  # a label opening with one of these says yes or no


def choice_label(choice: Choice, lang: str) -> str:
    return choice.label.get(lang) or choice.label.get("fr") or next(iter(choice.label.values()), "")


def _answer_words(text: str) -> list[str]:
    return _spell_out(normalise(text).split()[:MAX_WORDS])


NOT = "~"  # a stem a negation covers is read as NOT + stem: « pas réglé » is not « réglé »


def _polar_words(text: str) -> tuple[list[str], list[bool]]:
    """The spelled-out words of an answer with, for each, whether a negation covers it; « ne …
    que » (only part) adds the word « seulement »."""
    words, flags = [], []
    for piece in clauses_of(text[:MAX_CHARS]):
        clause = _spell_out(normalise(piece).split())
        if not clause:
            continue
        words += clause
        flags += negated(clause)
        if restricted(clause):
            words.append("seulement")
            flags.append(False)
    return words[:MAX_WORDS], flags[:MAX_WORDS]


def yes_or_no(text: str) -> str | None:
    """'yes' or 'no' when the answer opens with one of their usual forms ('ouais', 'pas encore', 'nope')."""
    words = _answer_words(text)
    # "je ne sais pas" is neither; "ben oui", "euh non" are.
    while words and words[0] in ("ben", "bah", "beh", "euh", "heu", "bon", "alors", "hmm", "hum", "eh", "well", "oh"):
        words = words[1:]
    for form, answer in _YES_NO:
        if tuple(words[:len(form)]) == form:
            if answer == "yes" and re.search(r"\b(?:mais|but) (?:non|no|not|pas)\b", " ".join(words)):
                return None  # « oui mais non », "yes but no": neither
            return answer
    return None


Phrase = tuple[tuple[str, ...], str, tuple[str, ...]]  # (stems, shown as, all words)


class _AnswerIndex:
    """The words of a button question's choices: labels (every language), keywords, examples."""

    def __init__(self, choices: tuple[Choice, ...]):
        self.choices = choices
        self.phrases: list[list[Phrase]] = []
        self.prefixes: dict[str, str] = {}
        surface: set[str] = set()
        for c in choices:
            phrases = []
            texts = [(t, "label") for t in c.label.values()]
            texts += [(k, "keyword") for k in c.recogniser.keywords]
            texts += [(e, "example") for e in c.recogniser.examples]
            for raw, kind in texts:
                _learn_words(raw, surface, self.prefixes, 3)
                words, flags = _polar_words(raw.replace("*", ""))
                stems = tuple(NOT + s if no else s for s, no in ((self._stem(w), f) for w, f in zip(words, flags)) if s)
                if stems or len(words) >= 2:  # « plus d'un an »: no telling word, but a phrase in order
                    phrases.append((stems, f"{kind} {raw!r}",
                                    tuple(NOT + stem(w) if no else stem(w) for w, no in zip(words, flags))))
            self.phrases.append(phrases)
        self.vocab = [frozenset(s for stems, _, _ in phrases for s in stems) for phrases in self.phrases]
        self.plain = frozenset(s.lstrip(NOT) for v in self.vocab for s in v)
        self.speller = _Speller(surface)
        self.known = frozenset(surface)

    @staticmethod
    def _stem(word: str) -> str | None:
        """A telling word's stem; None for a function word, or one that only tells inside a
        phrase ('pas' alone says nothing: "je ne sais pas" is not "non, pas encore")."""
        if (word in _STOP and word not in ("non", "oui")) or word in ("pas", "plus", "ne", "n"):
            return None
        return stem(word)

    def read(self, words: list[str], flags: list[bool]) -> tuple[list[str], list[str]]:
        """The telling stems of an answer (NOT + stem where a negation covers it), and every
        word's stem in order (for phrases)."""
        out, keys = [], []
        for word, no in zip(words[:MAX_FUZZY], flags):
            s = self._stem(word)
            if s is None:
                keys.append(NOT + stem(word) if no else stem(word))
                continue
            if word not in self.known and s not in self.plain:
                for n in range(len(word), 2, -1):
                    if word[:n] in self.prefixes:
                        s = self.prefixes[word[:n]]
                        break
                else:
                    known = self.speller.correct(word)
                    if known is not None:
                        s = self._stem(known) or s
            out.append(NOT + s if no else s)
            keys.append(out[-1])
        return out, keys


_ANSWER_INDEXES: LRU[int, _AnswerIndex] = LRU(256)


def _answer_index(choices: tuple[Choice, ...]) -> _AnswerIndex:
    index = _ANSWER_INDEXES.get(id(choices))
    if index is None or index.choices is not choices:
        index = _ANSWER_INDEXES.put(id(choices), _AnswerIndex(choices))
    return index


def understand_answer(text: str, choices: tuple[Choice, ...], lang: str = "fr",
                      allowed: set[str] | None = None) -> Verdict:
    """Which button a typed answer to a `type: choice` question names.

    Yes/no in their usual forms pick the choices whose id is "yes" / "no"; otherwise the words
    of the answer are matched (accents, case and a typo aside) against each choice's label in
    every language (`lang` first), its keywords and its examples. A word shared by several
    choices weighs little ("oui" in "Oui, par téléphone" and "Oui, sur les réseaux sociaux"),
    a word or phrase only one choice has weighs much. Sure: `choice` set. Unsure: `choice`
    None and the two best `candidates`. Nothing matches: no candidates.
    """
    choices = tuple(choices)
    index = _answer_index(choices)
    live = [i for i, c in enumerate(choices) if allowed is None or c.id in allowed]
    hits = [Hit(choices[i].id) for i in live]
    if not live:
        return Verdict(None, [], hits)
    tokens, keys = index.read(*_polar_words(text))
    said = yes_or_no(text)
    n = len(live)
    df: dict[str, int] = {}
    for i in live:
        for s in index.vocab[i]:
            df[s] = df.get(s, 0) + 1
    present = set(tokens)
    bigrams = set(zip(tokens, tokens[1:]))
    # « non » where no choice is called `no`: the one choice whose label opens with « Non » (« Non,
    # toujours rien »), if only one does; « oui » likewise.
    opening = {i for i in live if said is not None and
               normalise(choice_label(choices[i], lang)).partition(" ")[0] in YES_NO_WORDS[said]}
    labelled = next(iter(opening)) if len(opening) == 1 and not any(choices[i].id == said for i in live) else None
    for hit, i in zip(hits, live):
        choice = choices[i]
        if said is not None and (choice.id == said or i == labelled):
            hit.score += YES_NO_SCORE
            hit.matched.append(f"{said}: {text.strip()[:20]!r}")
        matched = present & index.vocab[i]
        for s in sorted(matched):
            weight = math.log(n / df[s]) if n > 1 else 1.0
            if weight > 0:
                hit.score += weight
                hit.matched.append(s)
        best_bonus, best_why = _phrase_bonus(index.phrases[i], present, keys, bigrams)
        if best_bonus:
            hit.score += best_bonus
            hit.matched.append(best_why)
        # the choice's label in the person's language first, at equal score
        hit.score = round(hit.score, 3) + (0.001 if lang in choice.label else 0.0)
    # A choice whose own words the answer negates (« ce n'est pas réglé » against « Oui, c'est
    # réglé ») is ruled out: one choice left is the answer, two are offered to confirm.
    denied = {choices[i].id for i in live
              if any(s.startswith(NOT) and s[1:] in index.vocab[i] and s not in index.vocab[i] for s in present)}
    if denied and len(denied) < n:
        return _without_denied(hits, denied)
    return _answer_verdict(hits)


def _phrase_bonus(phrases: list[Phrase], present: set[str], keys: list[str], bigrams: set[tuple[str, str]]) -> tuple[float, str]:
    """The best of a choice's phrases (label, keywords, examples) found in the answer: whole
    (1.0 a label or keyword, 0.8 an example) or by its word pairs (0.3 each), and which."""
    best_bonus, best_why = 0.0, ""
    for stems, shown, sequence in phrases:
        if shown.startswith("label") and stems:
            whole = set(stems) <= present          # the label's telling words, in any order
        else:                                       # a keyword or example: its words in order
            whole = any(tuple(keys[j:j + len(sequence)]) == sequence for j in range(len(keys)))
        if whole:
            bonus = 1.0 if shown.startswith(("keyword", "label")) else 0.8
        else:
            bonus = 0.3 * len(set(zip(stems, stems[1:])) & bigrams)
        if bonus > best_bonus:
            best_bonus, best_why = bonus, shown
    return best_bonus, best_why


def _without_denied(hits: list[Hit], denied: set[str]) -> Verdict:
    """The verdict once the choices the answer negates are ruled out: one left is the answer;
    of several, the best when sure, else two to confirm."""
    left = sorted((h for h in hits if h.choice not in denied), key=lambda h: -h.score)
    hits = left + [h for h in hits if h.choice in denied]
    if len(left) == 1 or (left[0].score >= ANSWER_SURE and left[0].score - left[1].score >= ANSWER_MARGIN):
        return Verdict(left[0].choice, [left[0].choice], hits)
    return Verdict(None, [h.choice for h in left[:2]] if len(left) == 2 or left[0].score >= ANSWER_MIN else [], hits)


def _answer_verdict(hits: list[Hit]) -> Verdict:
    """The best choice when sure (ANSWER_SURE, ahead by ANSWER_MARGIN), else the two best to
    confirm, else nothing."""
    hits.sort(key=lambda h: -h.score)
    scored = [h for h in hits if h.score >= ANSWER_MIN]
    if not scored:
        return Verdict(None, [], hits)
    best = scored[0]
    second = scored[1].score if len(scored) > 1 else 0.0
    if best.score >= ANSWER_SURE and best.score - second >= ANSWER_MARGIN:
        return Verdict(best.choice, [best.choice], hits)
    return Verdict(None, [h.choice for h in scored[:2]], hits)
