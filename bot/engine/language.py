"""Which language typed words are in, from their most frequent words: enough to quote only
French in a French letter, and to offer English to someone who writes it."""
from __future__ import annotations

from ..flow.recognise import normalise

# Frequent words of each language (normalised: no accents, apostrophes split).
FRENCH = frozenset("je j me m mon ma mes le la les l un une des de du d et est pas ne n que qu qui on a au "
                   "aux sur pour avec ce ca c il elle plus mais deux fois depuis suis ai veux mois".split())
ENGLISH = frozenset("i my me the a an is was to and of it in on have has not for but with this that "
                    "can t don cannot twice since am want month".split())


def in_french(text: str) -> bool:
    """Whether typed words read as French rather than English (a letter to a French company
    quotes nothing in another language)."""
    words = normalise(text).split()
    return sum(w in FRENCH for w in words) >= sum(w in ENGLISH for w in words)


def written_in(text: str) -> str | None:
    """'en' or 'fr' when the words clearly are (two words only that language has, none only
    the other has); None when too short or mixed to tell (« video », « ok », « 3 »)."""
    words = normalise(text).split()
    french = sum(w in FRENCH and w not in ENGLISH for w in words)
    english = sum(w in ENGLISH and w not in FRENCH for w in words)
    if english >= 2 and not french:
        return "en"
    if french >= 2 and not english:
        return "fr"
    return None
