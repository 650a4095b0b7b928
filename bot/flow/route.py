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
from .recognise import normalise, recognise
from .yamlsrc import Problem

if TYPE_CHECKING:
    from .files import FlowSet

NOT_A_PROBLEM = "none"
LONGEST_ALIAS = 4  # words
FUZZY_WORDS = 150  # a misspelt name is looked for in the first words (a name said exactly, anywhere)
# Words a misspelt company name must never be read from (« orage » is no « orange »).
COMMON = frozenset("""orage large parti partie party dossier banque compte contre encore toujours jamais
    chose choses livre livres ordre offre offres forfait merci bonjour service services client clients
    commande commandes cartes carte rapide rapport depuis facture factures enfin autre autres alors
    quand comme apres avant notre votre leurs entre lettre heure heures""".split())


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
        self.sector_words = {sid: tuple(tuple(normalise(k).split()) for k in sector.keywords)
                             for sid, sector in directory.sectors.items()}

    def company(self, words: list[str], why: list[str], text: str = "", only: Company | None = None) -> Company | None:
        """The longest alias named, exactly or misspelt (« cdisount stream » is Cstream, not
        Cdiscount: the two-word alias is looked for before the one-word ones). An alias that is a
        common word too (« orange », « free ») names the company only written with a capital in
        `text`, or beside its sector's words (« ma livebox orange »)."""
        return next(self._named_in(words, why, text, only), None)

    def counterpart(self, words: list[str], why: list[str], text: str, problem: str) -> Company | None:
        """The company the complaint is against, when several are named: not the brand of the
        device (« un iPhone acheté sur Leboncoin »: Leboncoin), nor the carrier of a parcel bought
        elsewhere (« colis Vinted perdu par Mondial Relay »: Vinted), unless it is the only one."""
        found = []
        for company in self._named_in(words, why, text):
            if company not in found:
                found.append(company)
        if len(found) > 1:
            kept = [c for c in found if c.sector != "tech-product"] or found
            if problem in ("delivery", "defect", "withdrawal", "other"):
                kept = [c for c in kept if c.sector != "delivery"] or kept
            if kept[0] is not found[0]:
                why.append(f"company: {kept[0].id}, not {found[0].id} (the brand or the carrier)")
            return kept[0]
        return found[0] if found else None

    def _named_in(self, words: list[str], why: list[str], text: str = "", only: Company | None = None) -> Iterator[Company]:
        """Every company named, longest aliases first (see `company`)."""
        long = [len(w) >= 3 for w in words[:FUZZY_WORDS]]  # every word of a misspelt alias has 3 letters or more
        for size in range(LONGEST_ALIAS, 0, -1):
            for i in range(len(words) - size + 1):
                if words[i] not in self.starts:
                    continue
                found = self.exact.get(tuple(words[i:i + size]))
                if found is None or (only is not None and found is not only):  # `only`: is this one named anywhere?
                    continue
                said = " ".join(words[i:i + size])
                if said in found.capitals and not self._named_as_such(said, found, words, text):
                    why.append(f"company: « {said} » here is a common word, not {found.id}")
                    continue
                why.append(f"company: « {said} » is an alias of {found.id}")
                yield found
            for i in range(min(len(words), FUZZY_WORDS) - size + 1):
                if not all(long[i:i + size]):
                    continue
                said = " ".join(words[i:i + size])
                if len(said) < 5 or (size == 1 and said in COMMON):
                    continue
                for alias, company in self.fuzzy.get((size, said[0]), ()):
                    allowed = 2 if len(alias) >= 9 else 1
                    if (only is not None and company is not only) or abs(len(alias) - len(said)) > allowed \
                            or said == alias:  # (named exactly: found above)
                        continue
                    if Levenshtein.distance(said, alias, score_cutoff=allowed) <= allowed:
                        why.append(f"company: « {said} » reads as {company.id} ({alias}, misspelt)")
                        yield company

    def names(self, words: list[str], text: str, company_id: str) -> bool:
        """Whether the words name this company anywhere (exactly or misspelt), not only first."""
        target = self.directory.companies.get(company_id)
        return target is not None and self.company(words, [], text, only=target) is not None

    def _named_as_such(self, alias: str, company: Company, words: list[str], text: str) -> bool:
        capitalised = any(normalise(w) == alias and w[:1].isupper() for w in re.findall(r"[\w'-]+", text)) \
            or re.search(rf"\b{re.escape(alias)}\s*\+", text.lower()) is not None  # « canal+ »
        joined = f" {' '.join(words)} "
        beside = any(f" {' '.join(k)} " in joined for k in self.sector_words.get(company.sector, ()))
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
_NAMED = re.compile(r"\b(?i:chez|via|avec|aupr[eè]s de|de chez|with|from)\s+([A-Z][\w&'.-]*[A-Za-z0-9](?:\s+[A-Z][\w&'.-]*)?)")
_NOT_NAMES = frozenset("je j il elle on nous vous ils elles moi lui eux le la les un une mon ma mes leur ce "
                       "cette monsieur madame paris france internet".split())


def _named(text: str) -> str | None:
    """The name of a company the directory does not know, normalised (lowercase, hyphens)."""
    found = named_as_typed(text)
    return "-".join(normalise(found).split()) if found else None


_CAPITALISED = re.compile(r"\b[A-Z][\w&'.-]*[A-Za-z0-9](?:\s+[A-Z][\w&'.-]*[A-Za-z0-9]){0,3}")


def capitalised_name(text: str) -> str | None:
    """A run of capitalised words that is no common word (« c'est marqué Eco Renov France sur
    le bon de commande »: « Eco Renov France »); the sentence's first word only with another."""
    for match in _CAPITALISED.finditer(text):
        found = match.group()
        if match.start() == 0 or text[:match.start()].rstrip().endswith((".", "!", "?")):
            found = found.split(None, 1)[1] if " " in found else ""  # « Bonjour », « Mon colis »
        if found and normalise(found).split()[0] not in _NOT_NAMES and normalise(found) not in COMMON:
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
