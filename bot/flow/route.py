"""Which company, sector and problem a first message speaks of (`python -m bot classify --route`).

- The company: the directory's aliases, as whole words (longest first: « orange bleue » is the
  gym, not the operator); a misspelling of a long alias (one letter, two from nine letters)
  when the word is no common word; never fuzzily for a short alias (« free », « sncb »), so
  SNCB stays SNCB. A company outside France is found as itself, with its country.
- The sector: the company's; else the sector whose words the message holds most (« ma box »:
  telecom, « mon colis »: delivery); else unknown.
- The problem: the directory's problem kinds (problems.yaml), recognised like a flow's
  free-text question, with the Cstream flow's examples lent to the same kinds. An ignored
  cancellation followed by a charge is `cancellation`. `none` (not a consumer problem) makes
  company and sector `-`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from rapidfuzz.distance import Levenshtein

from .directory import Company, Directory
from .model import Choice, Recogniser
from .recognise import OFF_TOPIC_IDS, STOP_WORDS, model_for, normalise, recognise
from .yamlsrc import Problem

if TYPE_CHECKING:
    from .files import FlowSet

NOT_A_PROBLEM = "none"
# Below this much evidence (recognise.py: the positive lifts of the words for a kind), a first
# message is no consumer problem. On the labelled dev half and the sets written for the
# directory, 2.5 turned four chats into `none` and no problem; 4 lost « stop Cstream merci »,
# and 3 lost terse problems (« remboursement ? », « SAV nul »: 2.6)
ROUTE_EVIDENCE = 2.5
LONGEST_ALIAS = 4  # words
FUZZY_WORDS = 150  # a misspelt name is looked for in the first words (a name said exactly, anywhere)
# Words a misspelt company name must never be read from (« orage » is no « orange »).
COMMON = frozenset("""orage large parti partie party dossier banque compte contre encore toujours jamais
    chose choses livre livres ordre offre offres forfait merci bonjour service services client clients
    commande commandes cartes carte rapide rapport depuis facture factures enfin autre autres alors
    quand comme apres avant notre votre leurs entre lettre heure heures""".split())


# Before a common word that is a company's name, these make it the company (« le conseiller
# orange », « mon espace abonné free », « prélevé deux fois par free »)
_AS_A_COMPANY = ("chez", "par", "via", "avec", "conseiller", "conseillere", "client", "cliente", "abonne",
                 "abonnee", "compte", "espace")


@dataclass(frozen=True)
class Route:
    company: str          # a directory slug, `unknown` or `-`
    sector: str           # a sector slug, `unknown` or `-`
    problem: str          # a problem kind, or `none`
    country: str = "FR"
    why: list[str] = field(default_factory=list, compare=False)
    listed: str = ""      # the kind `classify --route` prints when `problem` is a finer one (withdrawal: cancel)

    @property
    def column(self) -> str:
        """The problem as the twelve kinds of `classify --route` name it."""
        return self.listed or self.problem

    def line(self) -> str:
        return f"{self.company}\t{self.sector}\t{self.column}"


class Router:
    def __init__(self, directory: Directory, lent: tuple[Choice, ...] = ()):
        """`lent`: a flow's free-text question choices whose keywords and examples the same
        problem kinds borrow (the Cstream flow's)."""
        self.directory = directory
        self.exact: dict[tuple[str, ...], Company] = {}
        # misspellings looked for: by the alias's word count and first letter (a typo seldom
        # changes it), so that a long letter costs a few comparisons per word, not one per alias
        self.fuzzy: dict[tuple[int, str], list[tuple[str, Company]]] = {}
        for company in directory.companies.values():
            for alias, short in company.aliases:
                self.exact[tuple(alias.split())] = company
                # misspelt: long names only, every word of them long (« la poste » ~ « la pose » never)
                if not short and alias not in company.capitals and len(alias) >= 6 and min(map(len, alias.split())) >= 4:
                    self.fuzzy.setdefault((alias.count(" ") + 1, alias[0]), []).append((alias, company))
        self.starts = frozenset(alias[0] for alias in self.exact)  # the first words of the aliases
        by_id = {c.id: c for c in lent}
        self.problems = tuple(merged_choice(c, by_id.get(c.id)) for c in directory.problems)
        self.kinds = frozenset(c.id for c in self.problems)
        self.sector_words = {sid: tuple(tuple(normalise(k).split()) for k in sector.keywords)
                             for sid, sector in directory.sectors.items()}

    def company(self, words: list[str], why: list[str], text: str = "", only: Company | None = None) -> Company | None:
        """The longest alias named, exactly or misspelt (« cdisount stream » is Cstream, not
        Cdiscount: the two-word alias is looked for before the one-word ones). An alias that is a
        common word too (« orange », « free ») names the company only written with a capital in
        `text`, or beside its sector's words (« ma livebox orange »)."""
        return next((company for _, company in self._named_in(words, why, text, only)), None)

    def counterpart(self, words: list[str], why: list[str], text: str, problem: str) -> Company | None:
        """The company the complaint is against, when several are named: not the brand of the
        device (« un iPhone acheté sur Leboncoin »: Leboncoin), nor the carrier of a parcel bought
        elsewhere (« colis Vinted perdu par Mondial Relay »: Vinted), unless it is the only one.
        Otherwise the first named (« Free m'a prélevé deux fois sur mon compte La Banque Postale »:
        Free), the longest alias first where two start at the same word."""
        first: dict[str, tuple[int, Company]] = {}
        for at, company in self._named_in(words, why, text):
            first.setdefault(company.id, (at, company))
        # (a stable sort: at one word, the longest alias stays first)
        found = [company for _, company in sorted(first.values(), key=lambda named: named[0])]
        if len(found) > 1:
            kept = [c for c in found if c.sector != "tech-product"] or found
            if problem in ("delivery", "defect", "withdrawal", "other"):
                kept = [c for c in kept if c.sector != "delivery"] or kept
            if kept[0] is not found[0]:
                why.append(f"company: {kept[0].id}, not {found[0].id} (the brand or the carrier)")
            return kept[0]
        return found[0] if found else None

    def _named_in(self, words: list[str], why: list[str], text: str = "",
                  only: Company | None = None) -> Iterator[tuple[int, Company]]:
        """Every company named, with the word it starts at, longest aliases first (see `company`);
        a company named again further on is not said again (a long letter names it 30 times)."""
        long = [len(w) >= 3 for w in words[:FUZZY_WORDS]]  # every word of a misspelt alias has 3 letters or more
        said_at: dict[str, int] = {}  # company -> the first word it was yielded at
        for size in range(LONGEST_ALIAS, 0, -1):
            for i in range(len(words) - size + 1):
                if words[i] not in self.starts:
                    continue
                found = self.exact.get(tuple(words[i:i + size]))
                if found is None or (only is not None and found is not only) \
                        or said_at.get(found.id, i + 1) <= i:  # `only`: is this one named anywhere?
                    continue
                said = " ".join(words[i:i + size])
                if said in found.capitals and not self._named_as_such(said, found, words, text):
                    why.append(f"company: « {said} » here is a common word, not {found.id}")
                    continue
                why.append(f"company: « {said} » is an alias of {found.id}")
                said_at[found.id] = i
                yield i, found
            for i in range(min(len(words), FUZZY_WORDS) - size + 1):
                if not all(long[i:i + size]):
                    continue
                said = " ".join(words[i:i + size])
                if len(said) < 5 or (size == 1 and said in COMMON):
                    continue
                for alias, company in self.fuzzy.get((size, said[0]), ()):
                    allowed = 2 if len(alias) >= 9 else 1
                    if (only is not None and company is not only) or abs(len(alias) - len(said)) > allowed \
                            or said == alias or said_at.get(company.id, i + 1) <= i:  # (named exactly: found above)
                        continue
                    if Levenshtein.distance(said, alias, score_cutoff=allowed) <= allowed:
                        why.append(f"company: « {said} » reads as {company.id} ({alias}, misspelt)")
                        said_at[company.id] = i
                        yield i, company

    def names(self, words: list[str], text: str, company_id: str) -> bool:
        """Whether the words name this company anywhere (exactly or misspelt), not only first."""
        target = self.directory.companies.get(company_id)
        return target is not None and self.company(words, [], text, only=target) is not None

    def _named_as_such(self, alias: str, company: Company, words: list[str], text: str) -> bool:
        capitalised = any(normalise(w) == alias and w[:1].isupper() for w in re.findall(r"[\w'-]+", text)) \
            or re.search(rf"\b{re.escape(alias)}\s*\+", text.lower()) is not None  # « canal+ »
        joined = f" {' '.join(words)} "
        beside = any(f" {' '.join(k)} " in joined for k in self.sector_words.get(company.sector, ())) \
            or any(f" {w} {alias} " in joined for w in _AS_A_COMPANY)  # « prélevé par free »
        return capitalised or beside

    def sector(self, words: list[str], why: list[str]) -> str:
        joined = f" {' '.join(words)} "
        counts = {sid: sum(len(k) * joined.count(f" {' '.join(k)} ") for k in keys)  # « fournisseur d electricite »
                  for sid, keys in self.sector_words.items()}                         # weighs three
        best = max(counts.values(), default=0)
        leaders = [sid for sid, n in counts.items() if n == best]
        if best == 0 or len(leaders) > 1:
            why.append("sector: no sector's words" if best == 0 else f"sector: a tie between {', '.join(leaders)}")
            return "unknown"
        why.append(f"sector: {leaders[0]} ({best} of its words)")
        return leaders[0]

    def _weakly(self, text: str, problem: str) -> bool:
        """Whether the words speak too little for `problem` to take a first message for a
        consumer problem: less than ROUTE_EVIDENCE (a flow shows its list below OFF_TOPIC_EVIDENCE)."""
        model = model_for(self.problems)
        return model.evidence(model.features(text), model.ids.index(problem)) < ROUTE_EVIDENCE

    def company_answer(self, text: str) -> str | None:
        """A typed answer to « Quelle entreprise ? »: « Bouygues », « c'est Free » give its slug,
        « je ne sais pas » gives `unknown`; None when nothing is recognised."""
        words = normalise(text).split()
        if _DONT_KNOW.search(" ".join(words)):
            return "unknown"
        found = self.company(words, [], text)
        if found is not None:
            return found.id
        return _named(text) or (words[-1] if len(words) == 1 and len(words[0]) >= 3 else None)

    def route(self, text: str) -> Route:
        why: list[str] = []
        verdict = recognise(text, self.problems)
        # The kind the words speak for most, even when a flow would ask to confirm it; `none`
        # only when it is that kind (nothing here is shown to a person: the flow confirms).
        problem = verdict.choice or (verdict.hits[0].choice if verdict.hits and verdict.hits[0].score > 0
                                     else NOT_A_PROBLEM)
        if not verdict.choice and problem not in OFF_TOPIC_IDS and self._weakly(text, problem):
            # the kind it leans to, but hardly a word speaks for it (« quelle heure est-il »: « heure »)
            why.append(f"problem: none (too little speaks for {problem})")
            problem = NOT_A_PROBLEM
        else:
            why.append(f"problem: {problem}" + (" (sure)" if verdict.choice else " (most likely)"))
        if problem == NOT_A_PROBLEM:
            return Route("-", "-", NOT_A_PROBLEM, why=why)
        listed = self.directory.counts_as.get(problem, "")
        if listed:
            why.append(f"problem: {problem} counts as {listed}")
        words = normalise(text).split()
        company = self.counterpart(words, why, text, problem)
        if company is None:
            named = _named(text)
            why.append(f"company: « {named} » is named, not in the directory" if named else "company: none named")
            return Route(named or "unknown", self.sector(words, why), problem, why=why, listed=listed)
        sector = company.sector
        why.append(f"sector: {company.id}'s ({sector})")
        return Route(company.id, sector, problem, company.country, why, listed)


_DONT_KNOW = re.compile(r"\b(je (ne )?sais (pas|plus)|j sais pas|aucune idee|sais pas|not sure|don t know|no idea)\b")
# « chez Zoomtel », « via Hopla », « avec Kiloo »: a name after these, capitalised, is a company's.
_UPPER = "[A-ZÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŒÆ]"  # a capital, accented ones too (« Énergir »)
_NAME_WORD = rf"{_UPPER}[\w&'.-]*[^\W_]"  # ends on a letter or digit (« Intermarché », « Canal+ » as Canal)
_NAMED = re.compile(rf"\b(?i:chez|via|avec|aupr[eè]s de|de chez|with|from)\s+({_NAME_WORD}(?:\s+{_NAME_WORD})?)")
_NOT_NAMES = frozenset("je j il elle on nous vous ils elles moi lui eux le la les un une mon ma mes leur ce "
                       "cette monsieur madame paris france internet".split())


def unlisted_name(text: str) -> str | None:
    """The name of a company the directory does not know, as written: after « chez », « via »,
    « avec »; the subject of « … m'a », « … me », « … ne » (« Sixt m'a débité 250 € »); else a
    capitalised name inside a sentence (« Mon compte Hello Bank est bloqué »), not a place
    (« à Genève ») nor a common abbreviation (« SAV », « SMS »)."""
    return named_as_typed(text) or _subject_name(text) or capitalised_name(text, places=False)


def _named(text: str) -> str | None:
    """`unlisted_name`, normalised (lowercase, hyphens): the company column."""
    found = unlisted_name(text)
    return "-".join(normalise(found).split()) if found else None


# « Sixt m'a débité », « PostFinance me refuse », « Bpost ne livre pas »: an unknown word
# starting a sentence, before what a company does to the person
_SUBJECT = re.compile(rf"(?:^|[.!?]\s+)({_NAME_WORD}(?:\s+{_NAME_WORD})?)\s+(?:m['’]|me |ne |n['’]|nous )")
# words that start a sentence before « m'a », « ne »: people, pronouns, times
_OPENERS = frozenset("personne rien aucun aucune chacun tout maman papa mamie papi hier aujourd demain "
                     "ca cela ceci celui celle quelqu son sa ses notre votre".split())
_STOP_NAMES = _NOT_NAMES | _OPENERS | STOP_WORDS
_ARTICLES = frozenset(("le", "la", "les", "l"))
# capitalised, yet no company: abbreviations people write in capitals
_ABBREVIATIONS = frozenset("sav sms gsm tv ok rib iban pdf cb tva ttc ht rdv mdr lol ps nb wifi adsl vdsl "
                           "ko svp stp mp dm pv ar lrar urgent help aide sim puk pin rgpd cgv cgu ue eu".split())
# before a place (« à Genève », « dans le Cantal ») or a law (« la loi Hamon »), not a company
_PLACE = re.compile(r"\b(?:à|a|au|aux|en|vers|pour|depuis|sur|dans(?: le| la| les| l')?|loi|article|décret|decret)\s*$",
                    re.IGNORECASE)


def _subject_name(text: str) -> str | None:
    for match in _SUBJECT.finditer(text):
        name = normalise(match.group(1)).split()
        if name and name[0] not in _STOP_NAMES and " ".join(name) not in COMMON:
            return match.group(1)
    return None


_CAPITALISED = re.compile(rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,3}}")
_MODEL_NUMBER = re.compile(r"(?:\s+\S*\d\S*)+$")
_QUOTED = re.compile(r"«[^»]*»|\"[^\"]*\"|“[^”]*”")


def capitalised_name(text: str, places: bool = True) -> str | None:
    """A run of capitalised words that is no common word (« c'est marqué Eco Renov France sur
    le bon de commande »: « Eco Renov France »); the sentence's first word only with another.
    `places=False`: not after « à », « en », « pour »… (« à Genève »), nor an abbreviation."""
    quoted = [m.span() for m in _QUOTED.finditer(text)] if not places else []
    for match in _CAPITALISED.finditer(text):
        found = match.group()
        first, _, rest = found.partition(" ")
        before = text[max(0, match.start() - 24):match.start()]  # (a window: a long text stays linear)
        starts = match.start() == 0 or before.rstrip().endswith((".", "!", "?"))
        if starts and not (rest and normalise(first) in _ARTICLES):
            found = rest  # « Bonjour », « Mon colis »; an article stays: « La Redoute »
        plain = " ".join(w for w in normalise(found).split() if w not in _ARTICLES)
        if not places and (_PLACE.search(before) or plain in _ABBREVIATIONS
                           or any(a < match.start() < b for a, b in quoted)):  # « PAY*SRV 0800 »: a label
            continue
        found = _MODEL_NUMBER.sub("", found)  # « Dyson V15 »: Dyson
        words = normalise(found).split()
        if words and (words[0] not in _NOT_NAMES or (len(words) > 1 and words[0] in _ARTICLES)) \
                and " ".join(words) not in COMMON:
            return found
    return None


def named_as_typed(text: str) -> str | None:
    """The name of a company the directory does not know, as written (« chez Zoomtel »:
    « Zoomtel »)."""
    for match in _NAMED.finditer(text):
        name = normalise(match.group(1)).split()
        if name and name[0] not in _NOT_NAMES:
            return match.group(1)
    return None


def merged_choice(own: Choice, lent: Choice | None) -> Choice:
    """`own` with `lent`'s keywords, patterns and examples added (the same kind, said elsewhere),
    each once: a flow lent its directory's kinds, then another flow's, would otherwise learn
    the directory's examples twice."""
    if lent is None:
        return own
    mine, theirs = own.recogniser, lent.recogniser
    return Choice(own.id, own.label, own.routes, recogniser=Recogniser(
        _joined(mine.keywords, theirs.keywords), _joined(mine.patterns, theirs.patterns),
        _joined(mine.examples, theirs.examples)))


def _joined(mine: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, ...]:
    """`mine`, then those of `theirs` not in it yet, each once, in order."""
    have = set(mine)
    return mine + tuple(x for x in dict.fromkeys(theirs) if x not in have)


def load_router(folder: str | Path, flows: FlowSet) -> tuple[Router | None, list[Problem]]:
    """The router of a flows folder's directory (`folder/directory`), its problem kinds lent
    the examples of the flow the directory names (`from_flow`); (None, problems) when the
    directory is missing or does not check."""
    from .directory import load_directory
    general = flows.get(flows.general) if flows.general else None
    attached = general.flow.directory if general else None
    directory, problems = (attached, []) if attached is not None else load_directory(Path(folder) / "directory")
    if directory is None:
        return None, problems
    machine = flows.get(directory.from_flow) if directory.from_flow else None
    lent = machine.flow.nodes[machine.flow.classify_node].choices if machine and machine.flow.classify_node else ()
    return Router(directory, lent), problems
