"""The conversation engine: (progress, event) -> (new progress, reply). No I/O, no Telegram.

Every public method takes the stored `Progress` and the current instant, and returns a new
`Progress` (the input is never modified) with a neutral `Reply`. Front ends (terminal,
Telegram) translate their input into these calls, through `commands.Commands`, and render
the reply.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timezone

from ..flow.files import FlowSet
from ..flow.machine import FlowMachine
from zoneinfo import ZoneInfo

from ..flow.directory import Company
from ..flow.model import COMPANY, DATE, TYPED, Choice, Flow, Node, tr
from ..flow.recognise import learning_together, normalise, recognise, understand_answer, yes_or_no
from ..locales import languages, t
from .dates import read_date
from .followup import CASE, CASE_TOKEN, QUIET, FollowUp, Show
from ..flow.route import Router, capitalised_name
from .general import OTHER, UNKNOWN, derived, general_route, lives_abroad
from .infer import infer
from .outcome import Outcomes, answers_of, fill, label_of
from .timeline import written_date, written_month
from .progress import MAX_TEXT, Answer, Inferred, Progress, new_token, question_token
from .language import written_in
from .reply import BACK, DETAIL, LANG, NEW_PROBLEM, RESTART, SHOW_LIST, Button, Reply, match_button

MAX_INPUT = 4000  # longer messages are cut before matching
NAMED = "named"   # an inferred answer's mark: the company or sector the words named (the report counts them)
VAGUE = "vague"   # pending (DATE, VAGUE): a month given for a day (« en octobre »), its day asked once
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}


def clean_text(text: str) -> str:
    """Drop zero-width, soft-hyphen and direction characters (inside a word they must not
    split it), turn control characters into spaces; collapse blank space."""
    kept = "".join("" if unicodedata.category(ch) == "Cf" else " " if unicodedata.category(ch) in _INVISIBLE else ch
                   for ch in text[:MAX_INPUT])
    return re.sub(r"\s+", " ", kept).strip()


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)



class Engine:
    def __init__(self, flows: FlowSet, keep_unrecognised: bool = False, quiet: tuple[int, int] | None = QUIET,
                 router: Router | None = None):
        """`keep_unrecognised`: descriptions the recogniser cannot route are kept 30 days for
        the flow's authors (BOT_KEEP_UNRECOGNISED=1); the welcome then says so. `quiet`: the
        hours no reminder is sent, in minutes since midnight (BOT_QUIET_HOURS; None: none).
        `router` (bot/flow/route.py): a first description about another company than the
        flow's gets that company's general route, not the flow's questions."""
        self.flows = flows
        self.router = router
        self.outcomes = Outcomes()
        self.keep_unrecognised = keep_unrecognised
        self.followup = FollowUp(flows, quiet)  # the cases followed over time: data in, data out

    # -- events --------------------------------------------------------------------------
    def start(self, flow_id: str | None = None, lang: str = "fr", now: datetime | None = None,
              token: str | None = None) -> tuple[Progress, Reply]:
        """A new conversation. Its random token (for the events) is drawn here and only here,
        the engine's one draw of randomness; pass `token` to make it deterministic."""
        default = self.flows.default
        assert default is not None  # None only when no flow is loaded
        machine = self.flows.get(flow_id or default) or self.flows.get(default)
        assert machine is not None  # the default flow is a loaded one
        flow = machine.flow
        ts = _now(now).timestamp()
        progress = Progress(flow=flow.id, version=flow.version, node=flow.start,
                            lang=lang if lang in languages() else "fr", started=ts, updated=ts,
                            token=token or new_token())
        welcome = [tr(flow.welcome, progress.lang)]
        if self.keep_unrecognised:
            welcome.append(t(progress.lang, "unrecognised_kept"))
        return self._reply(machine, progress, now, welcome)

    def current(self, progress: Progress, now: datetime | None = None,
                notice: str | None = None, before: list[str] | None = None) -> tuple[Progress, Reply]:
        """The current question again (after an unexpected input, a stale button, /aide...),
        after the notices `before` and `notice`."""
        machine, progress, notices = self._resolve(progress, now)
        return self._reply(machine, progress, now, (before or []) + notices + ([notice] if notice else []))

    def choose(self, progress: Progress, choice_id: str, token: str | None = None,
               now: datetime | None = None) -> tuple[Progress, Reply]:
        """A button press. A `token` from another question makes it stale: nothing changes."""
        if choice_id.startswith(CASE) and (token in (None, CASE_TOKEN) or token == self.token(progress)):
            return self._shown(self.followup.choose(progress, choice_id, _now(now)), now)  # its buttons
        if token is not None and token != self.token(progress):
            if self._pressed_again(progress, token, choice_id):  # answered once: nothing more to do
                return progress, Reply("again", node=progress.node)
            return self.current(progress, now, t(progress.lang, "stale"))
        if choice_id == BACK:
            return self.back(progress, now)
        if choice_id == RESTART:
            return self.restart(progress, now)
        if choice_id.startswith(LANG) and choice_id[len(LANG):] in languages():
            return self.current(progress.with_(lang=choice_id[len(LANG):]), now,
                                t(choice_id[len(LANG):], "lang_switched"))
        if choice_id == NEW_PROBLEM:  # a new conversation that starts from the words typed at the outcome
            fresh, reply = self.restart(progress, now)
            if not progress.draft:
                return fresh, reply
            fresh, reply = self.text(fresh, progress.draft, now)
            reply.notices.insert(0, t(progress.lang, "new_problem_opened"))
            return fresh, reply
        machine, progress, notices = self._resolve(progress, now)
        if notices:  # the flow changed under them: show where they now are before any answer
            return self._reply(machine, progress, now, notices)
        node = machine.flow.nodes[progress.node]
        if node.kind == "date" and progress.pending in ((DATE,), (DATE, VAGUE)):  # « le 10 décembre 2025 ? »
            if choice_id == DATE and progress.draft:
                return self._advance(machine, progress, DATE, now, [], typed=progress.draft)
            if choice_id == SHOW_LIST:
                return self._reply(machine, progress.with_(pending=None, draft=None), now, [t(progress.lang, "date_other")])
        if choice_id == SHOW_LIST and progress.pending is not None:
            progress = progress.with_(pending=None)
            return self._reply(machine, progress, now, [t(progress.lang, "full_list")])
        if node.is_outcome and choice_id.startswith(DETAIL) and \
                choice_id[len(DETAIL):] in self.outcomes.details(machine.flow, node, progress, _now(now)):
            return progress, self.outcomes.reply(machine.flow, node, progress, _now(now), self._buttons(node, progress, now),
                                                 self.token(progress), choice_id[len(DETAIL):])
        available = {"continue"} if node.kind == "info" else {UNKNOWN} if node.kind == COMPANY \
            else {c.id for c in self._choices(node, progress)}
        if choice_id not in available:
            return self._reply(machine, progress, now, [t(progress.lang, "pick_a_button")])
        return self._advance(machine, progress, choice_id, now, [])

    def text(self, progress: Progress, raw: str, now: datetime | None = None) -> tuple[Progress, Reply]:
        """A typed message: a number or label of a shown answer, or a description to recognise.
        Words clearly in another language the flow speaks get, once, the offer to go on in it."""
        other = written_in(raw or "") if not progress.lang_offer else None
        progress, reply = self._text(progress, raw, now)
        if other is None or other == progress.lang or not self._speaks(progress, other):
            return progress, reply
        progress = progress.with_(lang_offer=f"{other}:{len(progress.path)}:{progress.node}")
        reply.notices = reply.notices + [t(other, "lang_offer")]  # new lists: a reply may be a cached one's copy
        reply.buttons = reply.buttons + [Button(LANG + other, t(other, "lang_switch"))]
        return progress, reply

    def _speaks(self, progress: Progress, lang: str) -> bool:
        """Whether the flow has its texts in `lang` (French always: it is the flows' own)."""
        machine = self.flows.of(progress)
        assert machine is not None  # a progress _text resolved
        return lang in languages() and (lang == "fr" or lang in machine.flow.nodes[machine.flow.start].text)

    def _text(self, progress: Progress, raw: str, now: datetime | None = None) -> tuple[Progress, Reply]:
        machine, progress, notices = self._resolve(progress, now)
        lang = progress.lang
        node = machine.flow.nodes[progress.node]
        text = clean_text(raw or "")
        if not text:
            key = ("date_unknown" if progress.asking == "case_date" else "case_number_unclear" if progress.asking
                   else "empty_text" if node.kind in ("text", "free") else "date_unknown" if node.kind == "date"
                   else "pick_a_button")
            return self._reply(machine, progress, now, notices + [t(lang, key)])
        if progress.asking:  # the day the letter was sent, or its number (followup.py)
            return self._shown(self.followup.text(progress, text, _now(now)), now)
        if node.kind == "free":  # any words are the answer, as typed (« 12345 » is an order number)
            return self._advance(machine, progress, TYPED, now, notices, typed=text[:MAX_TEXT])
        if progress.pending == (DATE, VAGUE) and text.isascii() and text.isdigit():  # « 12 » after « en octobre »
            assert progress.draft is not None  # the month given, kept with the question (_date_typed)
            month = date.fromisoformat(progress.draft)
            text = f"{text}/{month.month}/{month.year}" if 1 <= int(text) <= 31 else text
            progress = progress.with_(pending=None)
        picked = self._picked(node, progress, text, now)
        if picked is not None:
            return self.choose(progress, picked, None, now)
        if text.isascii() and text.isdigit() and node.kind != "date" and not node.is_outcome:  # « 7 » of 3 buttons
            return self._reply(machine, progress, now, notices + [t(lang, "number_out_of_range",
                                                                    n=len(self._buttons(node, progress, now)))])
        if node.kind == "date":
            return self._date_typed(machine, progress, text, now, notices)
        if node.kind == COMPANY:
            return self._company_named(machine, progress, text, now, notices)
        on_directory = machine.flow.directory is not None and self.router is not None
        if node.id == machine.flow.classify_node and not progress.pending and on_directory:
            progress, told = self._described(machine, progress, text, now)
            if told is not None:  # not a consumer problem, or a company with its own flow (Cstream)
                told.notices[:0] = notices
                return progress, told
            if lives_abroad(text):  # « j'habite en Belgique »: what the bot covers, said once, then on
                notices = notices + [t(lang, "consumer_abroad")]
        elif node.id == machine.flow.classify_node and not progress.pending and self.router is not None:
            general = self.flows.general
            elsewhere = self._other_company(machine.flow, text, lang, general is not None)
            if elsewhere is True:  # « Spotify m'a prélevé deux fois » to the Cstream flow: the general flow's
                assert general is not None  # True only when there is one
                return self._handover(progress, general, text, now, notices)
            if elsewhere:  # no general flow loaded: the company's route in a few sentences
                return self._reply(machine, progress.with_(draft=None), now, notices + [elsewhere])
        inferred = infer(machine.flow, progress, text, asking=node.id)
        if inferred is not progress and node.kind in ("text", "choice"):
            progress = inferred
            if node.id in progress.answers and node.kind == "choice":  # they answered this very question
                return self._advance(machine, progress, progress.answers[node.id], now, notices)
        if node.is_outcome:
            return self._done(machine, progress, text, now, notices)
        if node.kind not in ("text", "choice"):
            return self._reply(machine, progress, now, notices + [t(lang, "pick_a_button")])
        if node.kind == "choice":
            return self._answered_in_words(machine, progress, text, now, notices, on_directory)
        return self._read(machine, progress, text, now, notices, on_directory)

    def _answered_in_words(self, machine: FlowMachine, progress: Progress, text: str, now: datetime | None, notices: list[str],
                           on_directory: bool) -> tuple[Progress, Reply]:
        """An answer to a button question, in the person's words; or a correction of the
        company read first (« non c'est Boulanger »)."""
        node, lang = machine.flow.nodes[progress.node], progress.lang
        corrected = self._company_corrected(machine, progress, text) if on_directory else None
        if corrected is not None:
            assert self.router is not None  # on_directory
            name = self.router.directory.companies[corrected.answers["company"]].name
            return self._reply(machine, corrected, now, notices + [t(lang, "company_corrected", name=name)])
        verdict = understand_answer(text, node.choices, lang, {c.id for c in self._choices(node, progress)})
        if verdict.choice:
            return self._advance(machine, progress, verdict.choice, now, notices)
        if verdict.candidates:
            return self._reply(machine, progress.with_(pending=tuple(verdict.candidates)), now, notices)
        return self._reply(machine, progress, now, notices + [t(lang, "pick_a_button")])

    def _picked(self, node: Node, progress: Progress, text: str, now: datetime | None) -> str | None:
        """The button words typed pick: its number or label, « oui » to « Un autre problème ? »
        or to « C'est bien ça ? », « non » to the latter (the full list)."""
        day_number = node.kind == "date" and text.isdigit() and not progress.pending  # « 3 » is the 3rd, no button
        picked = None if day_number else match_button(self._buttons(node, progress, now), text)
        if picked is None and node.is_outcome and progress.draft and yes_or_no(text) == "yes":
            picked = NEW_PROBLEM
        if picked is None and progress.pending:
            said = yes_or_no(text)
            picked = progress.pending[0] if said == "yes" and len(progress.pending) == 1 else \
                SHOW_LIST if said == "no" else None
        return picked

    def _date_typed(self, machine: FlowMachine, progress: Progress, text: str, now: datetime | None,
                    notices: list[str]) -> tuple[Progress, Reply]:
        """A date typed, read relative to today in the flow's time zone: taken, or asked about
        first (last year's, or a month alone: which day, once)."""
        today = _now(now).astimezone(ZoneInfo(machine.flow.timezone)).date()
        reading = read_date(text, today)
        if reading.day is None:
            return self._reply(machine, progress, now, notices + [t(progress.lang, f"date_{reading.problem}")])
        if reading.last_year:  # only last year's can be meant: asked before anything counts from it
            return self._reply(machine, progress.with_(pending=(DATE,), draft=reading.day.isoformat()), now, notices)
        if reading.vague == "month" and progress.pending != (DATE, VAGUE):
            return self._reply(machine, progress.with_(pending=(DATE, VAGUE), draft=reading.day.isoformat()),
                               now, notices)
        return self._advance(machine, progress, DATE, now, notices, typed=reading.day.isoformat())

    def _read(self, machine: FlowMachine, progress: Progress, text: str, now: datetime | None, notices: list[str],
              on_directory: bool) -> tuple[Progress, Reply]:
        """A description typed at a free-text question: its kind taken, or offered to confirm
        (understood), or the full list shown (not understood); `Reply.understood` says which."""
        node = machine.flow.nodes[progress.node]
        verdict = recognise(text, self._read_against(machine.flow, node), {c.id for c in self._choices(node, progress)})
        kept = text[:MAX_TEXT]
        candidates = verdict.candidates or (  # on the directory: the kind the words lean to most, to confirm
            [verdict.hits[0].choice] if on_directory and verdict.hits and verdict.hits[0].score > 0 else [])
        if verdict.choice:
            progress, reply = self._advance(machine, progress, verdict.choice, now, notices, typed=kept)
        else:
            progress, reply = self._reply(machine, progress.with_(pending=tuple(candidates) or None, draft=kept), now,
                                          notices + ([] if candidates else [t(progress.lang, "not_understood")]))
        reply.understood = bool(verdict.choice or candidates)
        return progress, reply

    def _described(self, machine: FlowMachine, progress: Progress, text: str,
                   now: datetime | None) -> tuple[Progress, Reply | None]:
        """A first description to a flow on the directory: the company and sector it names are
        kept as answers (their questions skipped); a company with a flow of its own (Cstream) is
        handed to that flow; words that are no consumer problem get one line on what the bot
        does (Reply). Otherwise (progress with what was read, None): the problem is recognised."""
        assert self.router is not None and machine.flow.directory is not None  # on_directory (_text)
        found = self.router.route(text)
        words = normalise(text).split()
        company = self.router.company(words, [], text) if found.problem == "none" else \
            self.router.directory.companies.get(found.company)
        if found.problem == "none" and company is None and not any(w.isdigit() for w in words):
            return progress, self._reply(machine, progress, now, [t(progress.lang, "not_a_problem")])[1]
        own = self._own_flow(company, words, text)
        if own is not None and own != machine.flow.id:
            return self._handover(progress, own, text, now, [])
        if company is not None and company.market != "FR":  # Swisscom, Bell: the French route is not theirs
            route = general_route(self.router.directory, company, progress.lang, tr(machine.flow.title, progress.lang))
            return progress, self._reply(machine, progress, now, [route])[1]
        step, known = len(progress.path), progress.answers
        node = next(n.id for n in machine.flow.nodes.values() if n.kind == COMPANY)
        read = []
        said = company.id if company is not None else (OTHER if found.company not in ("unknown", "-") else None)
        if said and node not in known:
            read.append((node, said, step, NAMED))
        sector = company.sector if company is not None else (found.sector if found.sector not in ("unknown", "-")
                                                              else self.router.sector(words, []))
        if sector in machine.flow.directory.sectors and "sector" not in known:
            read.append(("sector", sector, step, NAMED))
        return (progress.with_(inferred=progress.inferred + tuple(read)) if read else progress), None

    def _company_named(self, machine: FlowMachine, progress: Progress, text: str, now: datetime | None,
                       notices: list[str]) -> tuple[Progress, Reply]:
        """An answer to « Quelle entreprise ? »: a directory id, `unknown`, or `other` for a
        company the directory does not know (its name is what was typed, kept as the answer's
        text; events and reports only ever see `other`)."""
        words = normalise(text).split()
        said = self.router.company_answer(text) if self.router is not None else None
        if said is None and (0 < len(words) <= 4 or capitalised_name(text)):  # « c'est marqué Eco Renov France… »
            said = OTHER
        if said is None:
            return self._reply(machine, progress, now, notices + [t(progress.lang, "company_not_understood")])
        company = self.router.directory.companies.get(said) if self.router is not None else None
        said = said if company is not None or said == UNKNOWN else OTHER
        problem = progress.texts.get(machine.flow.classify_node or "", "")
        own = self._own_flow(company, words, text)
        if own is not None and own != machine.flow.id:  # « Cstream »: its own flow, from the problem typed
            return self._handover(progress, own, problem or text, now, notices)
        progress, reply = self._advance(machine, progress, said, now, notices, typed=text[:MAX_TEXT])
        reply.understood = True
        return progress, reply

    def _company_corrected(self, machine: FlowMachine, progress: Progress, text: str) -> Progress | None:
        """`progress` with another company, when words not understood at a question name one
        (« non, c'est la Redoute ») and the first was read from the description, not answered."""
        node = next(n.id for n in machine.flow.nodes.values() if n.kind == COMPANY)
        read = [e for e in progress.inferred if len(e) == 4 and e[0] == node and e[3:] == (NAMED,)]
        if not read or len(normalise(text).split()) > 6:  # a short correction, not an answer naming it
            return None
        assert self.router is not None  # on_directory (_answered_in_words)
        said = self.router.company_answer(text)
        company = self.router.directory.companies.get(said or "")
        if not read or company is None or company.id == read[0][1]:
            return None
        kept = tuple(e for e in progress.inferred if e[0] not in (node, "sector"))
        step = read[0][2]
        return progress.with_(inferred=kept + ((node, company.id, step, NAMED), ("sector", company.sector, step, NAMED)))

    def _own_flow(self, company: Company | None, words: list[str], text: str) -> str | None:
        """The loaded flow a company has of its own (Cstream): the company's, or one of its
        activities' when the words are of that activity's sector (« mon abonnement Cdiscount
        en streaming »), or when they name it anywhere."""
        if self.router is None:
            return None
        directory = self.router.directory
        for cid, entry in directory.companies.items():
            if entry.flow and self.flows.get(entry.flow) and self.router.names(words, text, cid):
                return entry.flow
        if company is None:
            return None
        if company.flow and self.flows.get(company.flow):
            return company.flow
        for cid in company.activities.values():
            other = directory.companies.get(cid)
            if other and other.flow and self.flows.get(other.flow) and self.router.sector(words, []) == other.sector:
                return other.flow
        return None

    def _handover(self, progress: Progress, flow_id: str, text: str, now: datetime | None,
                  notices: list[str]) -> tuple[Progress, Reply]:
        """A new conversation in another flow, started from the words typed (a case still
        followed goes along)."""
        fresh, _ = self.start(flow_id, progress.lang, now, token=progress.token)
        if progress.case is not None and progress.case.open:
            fresh = fresh.with_(case=progress.case)
        fresh, reply = self.text(fresh, text, now) if text else self.current(fresh, now)
        machine = self.flows.get(flow_id)
        assert machine is not None  # a loaded flow's id (_own_flow, FlowSet.general)
        title = tr(machine.flow.title, progress.lang)
        reply.notices[:0] = notices + [t(progress.lang, "handover", flow=title)]
        return fresh, reply

    def _other_company(self, flow: Flow, text: str, lang: str, general: bool = False) -> str | bool | None:
        """When the words name a company this flow is not about (not its own, Cstream, nor the
        company it belongs to, Cdiscount, unless the words are of another sector: « ma commande
        Cdiscount », a parcel, is no Cstream problem): True when a `general` flow can take it,
        else the company's general route in a few sentences."""
        assert self.router is not None  # asked only with a router (_text)
        found = self.router.route(text)
        words = normalise(text).split()
        named = found.company
        if found.problem == "none" and len(words) <= 3:  # « SFR », « SFR ?? »: a name alone is a complaint here
            company = self.router.company(words, [], text)
            named = company.id if company else named
        company = self.router.directory.companies.get(named)
        if company is None or company.flow == flow.id:
            return None
        own = [c.id for c in self.router.directory.companies.values() if c.flow == flow.id]
        if any(self.router.names(words, text, c) for c in own):  # « l'appli cstrem sur mon iphone »: ours
            return None
        if company.sector == "tech-product" and found.problem not in ("defect", "delivery", "sales"):
            return None  # « la tablette Samsung » where the account is blocked: the device is not the problem
        ours = [self.router.directory.companies[c] for c in company.activities.values()
                if c in self.router.directory.companies]
        if any(c.flow == flow.id for c in ours):  # Cdiscount: Cstream's unless the words are of another sector
            said = self.router.sector(words, [])  # (the bank is how the money was taken, not another purchase)
            if said in ("unknown", "bank") + tuple(c.sector for c in ours if c.flow == flow.id):
                return None
        return True if general else general_route(self.router.directory, company, lang, tr(flow.title, lang), text)

    def _done(self, machine: FlowMachine, progress: Progress, text: str, now: datetime | None,
              notices: list[str]) -> tuple[Progress, Reply]:
        """Words typed once the outcome is given: one line and its buttons, not the whole outcome
        again. Words that describe a problem (« et SFR aussi… ») are offered as a new
        conversation that starts from them (kept in `draft` until then)."""
        lang, flow = progress.lang, machine.flow
        asked = flow.nodes.get(flow.classify_node) if flow.classify_node else None
        verdict = recognise(text, self._read_against(flow, asked), {c.id for c in asked.choices}) \
            if asked is not None else None
        new = verdict is not None and bool(verdict.choice or verdict.candidates)
        progress = progress.with_(draft=text[:MAX_TEXT] if new else None)
        node = flow.nodes[progress.node]
        return progress, Reply("done", t(lang, "outcome_new" if new else "outcome_done"), notices=notices,
                               buttons=self._buttons(node, progress, now), token=self.token(progress), node=node.id)

    def back(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        """Return to where the person came from (their own answers, not the file's order)."""
        machine, progress, notices = self._resolve(progress, now)
        lang = progress.lang
        if progress.asking:
            progress = progress.with_(asking=None)
        elif progress.pending is not None:
            progress = progress.with_(pending=None, draft=None, inferred=_before(progress.inferred, len(progress.path)))
        elif not progress.path:
            return self._reply(machine, progress, now, notices + [t(lang, "nothing_to_undo")])
        else:
            progress = progress.with_(node=progress.path[-1].node, path=progress.path[:-1], pending=None,
                                      draft=None, updated=_now(now).timestamp(),
                                      inferred=_before(progress.inferred, len(progress.path) - 1))
        return self._reply(machine, progress, now, notices + [t(lang, "went_back")])

    def restart(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        """A new conversation; a case still followed goes along (its reminders stay)."""
        fresh, reply = self.start(progress.flow, progress.lang, now)
        if progress.case is not None and progress.case.open:
            fresh = fresh.with_(case=progress.case)
        reply.notices.insert(0, t(progress.lang, "restarted"))
        return fresh, reply

    def summary(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        """Where the person is and what they answered so far, with the current question's buttons."""
        machine, progress, notices = self._resolve(progress, now)
        lang, flow = progress.lang, machine.flow
        node_now = flow.nodes[progress.node]
        lines: list[tuple[str | None, str]]
        lines = [(flow.nodes[a.node].name(lang),  # what was asked in a few words, and the answer
                  label_of(flow.nodes[a.node], a.choice, lang, a.text) if a.choice == DATE
                  else a.text or label_of(flow.nodes[a.node], a.choice, lang)) for a in progress.path]
        status = "summary_done" if node_now.is_outcome else "summary_now"
        return progress, Reply(
            kind="summary", text=t(lang, "summary_title"), notices=notices,
            sections=lines or [(None, t(lang, "summary_empty"))],
            typed=tuple(i for i, answer in enumerate(progress.path) if answer.text),
            facts=[t(lang, status, text=node_now.name(lang) if node_now.is_outcome else node_now.first_line(lang))],
            buttons=self.followup.buttons(progress) if progress.asking else self._buttons(node_now, progress, now),
            token=self.token(progress),
            expects_text=node_now.kind in ("text", "free", "date", COMPANY) or bool(progress.pending), node=progress.node)

    def help(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        return self.current(progress, now, t(progress.lang, "help"))

    def warm_up(self, now: datetime | None = None) -> None:
        """Render every node once (loads the public-holiday calendar, compiles the recognisers),
        so that the first person served does not pay for it. Call it before serving."""
        with learning_together():  # the models learn from nearly the same examples
            for flow_id in self.flows.ids:
                machine = self.flows.get(flow_id)
                assert machine is not None  # one of its ids
                for node in machine.flow.nodes.values():
                    self._reply(machine, Progress(flow_id, machine.flow.version, node.id), now, [])
                    if node.kind == "text":
                        recognise("warm up", self._read_against(machine.flow, node))
            if self.router is not None:
                self.router.route("warm up")  # the problem kinds' model

    @staticmethod
    def _pressed_again(progress: Progress, token: str, choice: str) -> bool:
        """Whether a press is the one that made the last step, pressed again (answered once)."""
        if not progress.path:
            return False
        last = progress.path[-1]
        before = progress.with_(node=last.node, path=progress.path[:-1], pending=None, draft=None)
        return last.choice == choice and question_token(before) == token

    @staticmethod
    def token(progress: Progress) -> str:
        """Identifies the question on screen: a press carrying another token is stale."""
        return question_token(progress)

    # -- the follow-up: followup.py decides, the engine shows -------------------------------
    def remind(self, progress: Progress, now: datetime) -> tuple[Progress, Reply] | None:
        """The latest reminder due by `now`, as its question (followup.py: `due`); None when
        none is. Someone mid-way through another conversation keeps their place: the question
        comes with one button that takes them to it."""
        due = self.followup.due(progress, now)
        if due is None:
            return None
        moved, reply = self.current(due.moved, now, None, list(due.notices))
        if due.kept is None:
            return moved, reply
        return due.kept, Reply("case", reply.text, notices=reply.notices + [t(progress.lang, "reminder_busy")],
                               buttons=[Button(CASE + "answer", t(progress.lang, "case_answer"))],
                               token=CASE_TOKEN, node=progress.node)

    def case_view(self, progress: Progress, now: datetime) -> tuple[Progress, Reply]:
        """/suivi: the case followed."""
        return self._shown(self.followup.view(progress, now), now)

    def reminders_view(self, progress: Progress, now: datetime) -> tuple[Progress, Reply]:
        """/rappels: the reminders to come."""
        return self._shown(self.followup.reminders_view(progress, now), now)

    def case_file(self, progress: Progress, now: datetime) -> tuple[Progress, Reply]:
        """The case as a file for the mediator's form."""
        return self._shown(self.followup.summary_file(progress, now), now)

    def stop_case(self, progress: Progress, now: datetime, why: str = "stopped") -> tuple[Progress, Reply]:
        """No more reminders for this case (/suivi's button, or Telegram said they blocked the bot)."""
        return self._shown(self.followup.stop(progress, now, why), now)

    def _shown(self, result: tuple[Progress, Reply] | Show, now: datetime | None) -> tuple[Progress, Reply]:
        """A follow-up answer as a reply: `Show` is the current question after its notices."""
        if isinstance(result, Show):
            return self.current(result.progress, now, result.notice, list(result.before))
        return result

    # -- internals -----------------------------------------------------------------------
    def _resolve(self, progress: Progress, now: datetime | None) -> tuple[FlowMachine, Progress, list[str]]:
        """The machine for this progress; moves it to the current flow version if needed."""
        machine = self.flows.get(progress.flow, progress.version)
        if machine and progress.node in machine.flow.nodes:
            return machine, progress, []
        machine = self.flows.get(progress.flow)
        if machine is None:
            fresh, _ = self.start(None, progress.lang, now)
            machine = self.flows.get(fresh.flow)
            assert machine is not None  # start() began a loaded flow
            return machine, fresh, [t(progress.lang, "flow_gone")]
        flow = machine.flow
        node = flow.start
        path: list[Answer] = []
        for answer in progress.path:  # replay the answers while they still fit
            here = Progress(flow.id, "", node, tuple(path), inferred=progress.inferred)
            known = answers_of(flow, here.with_(path=here.path + (answer,)), now) \
                if flow.routes_on_dates or flow.directory is not None else {**here.answers, node: answer.choice}
            kind = flow.nodes[node].kind
            fits = answer.node == node and (answer.choice == "continue" if kind == "info"
                                            else bool(answer.choice) if kind == COMPANY
                                            else kind == "date" and answer.choice == DATE and bool(answer.text)
                                            or any(c.id == answer.choice for c in self._choices(flow.nodes[node], here)))
            target = fits and machine.step(node, answer.choice, known)
            if not target:
                break
            path.append(answer)
            node = self._skip_known(machine, target, known)
        same = node == progress.node and len(path) == len(progress.path)
        # A confirmation still stands only if the choices it offers still exist.
        pending = progress.pending if same and progress.pending and \
            all(flow.nodes[node].choice(c) for c in progress.pending) else None
        moved = progress.with_(version=flow.version, node=node, path=tuple(path), pending=pending,
                               draft=progress.draft if same else None)
        return machine, moved, [] if same else [t(progress.lang, "flow_changed")]

    def _advance(self, machine: FlowMachine, progress: Progress, choice_id: str, now: datetime | None,
                 notices: list[str], typed: str | None = None) -> tuple[Progress, Reply]:
        node = machine.flow.nodes[progress.node]
        typed = (typed or progress.draft) if node.kind == "text" else typed if node.kind in ("date", COMPANY, "free") else None
        if node.kind == COMPANY:  # the company's sector, unless the words already said one
            assert machine.flow.directory is not None  # a company question: a flow on the directory
            company = machine.flow.directory.companies.get(choice_id)
            if company is not None and "sector" not in progress.answers:
                progress = progress.with_(inferred=progress.inferred + (("sector", company.sector, len(progress.path), NAMED),))
        answers = {**progress.answers, node.id: choice_id}
        if machine.flow.routes_on_dates or machine.flow.directory is not None:
            # `next` may test a delay counted from a date given (this one), or the company's route
            given = progress.with_(path=progress.path + (Answer(node.id, choice_id, typed),))
            answers = {**answers_of(machine.flow, given, now), node.id: choice_id}
        target = machine.step(node.id, choice_id, answers)
        if target is None:
            return self._reply(machine, progress, now, notices + [t(progress.lang, "pick_a_button")])
        if self._closes_case(machine.flow, progress, target) and progress.pending != (choice_id,):
            # Closing a case drops every reminder, the mediator's last day included: asked first.
            return self._reply(machine, progress.with_(pending=(choice_id,)), now, notices)
        target = self._skip_known(machine, target, answers)
        new = progress.with_(node=target, path=progress.path + (Answer(node.id, choice_id, typed),),
                             pending=None, draft=None, updated=_now(now).timestamp())
        new = self.followup.answered(machine.flow, new, node.id, choice_id, target, _now(now))
        new, reply = self._reply(machine, new, now, notices)
        reply.answer = label_of(node, choice_id, progress.lang, typed)
        if machine.flow.followup and node.id in machine.flow.followup.asks:
            reply.followup = choice_id
        return new, reply

    def _reply(self, machine: FlowMachine, progress: Progress, now: datetime | None,
               notices: list[str]) -> tuple[Progress, Reply]:
        flow, lang, now = machine.flow, progress.lang, _now(now)
        node = flow.nodes[progress.node]
        if progress.asking:  # a follow-up question is waiting for its answer
            progress, reply = self.followup.ask(progress, f"case_ask_{progress.asking[5:]}", now)
            reply.notices[:0] = notices
            return progress, reply
        token, buttons = self.token(progress), self._buttons(node, progress, now)
        if node.is_outcome:
            reply = self.outcomes.reply(flow, node, progress, now, buttons, token)
            told = self.followup.notice(flow, node.id, progress)
            if told:
                notices = notices + [told]
        elif progress.pending == (DATE, VAGUE) and node.kind == "date" and progress.draft:
            day = date.fromisoformat(progress.draft)
            reply = Reply("confirm", t(lang, "date_vague", month=written_month(day, lang),
                                       day=written_date(day, lang)),
                          buttons=buttons, token=token, node=node.id, expects_text=True, days=True)
        elif progress.pending == (DATE,) and node.kind == "date" and progress.draft:
            day = date.fromisoformat(progress.draft)
            reply = Reply("confirm", t(lang, "date_last_year", day=written_date(day, lang),
                                       this_year=written_date(day.replace(year=day.year + 1), lang)),
                          buttons=buttons, token=token, node=node.id, expects_text=True)
        elif progress.pending:
            ask = (t(lang, "close_confirm", label=buttons[0].label) if self._confirms_closing(progress)
                   else t(lang, "confirm", label=buttons[0].label) if len(progress.pending) == 1
                   else t(lang, "confirm_many"))
            reply = Reply("confirm", ask, buttons=buttons, token=token, node=node.id, expects_text=True)
        else:
            reply = Reply(node.kind, fill(tr(node.text, lang), flow, progress, now, advise=True), buttons=buttons,
                          token=token, node=node.id, expects_text=node.kind in ("text", "free", "date", COMPANY),
                          days=node.kind == "date")
        reply.notices[:0] = notices
        return progress, reply

    @staticmethod
    def _closes_case(flow: Flow, progress: Progress, target: str | None) -> bool:
        """Whether going to `target` from a reminder's question would close an open case."""
        follow, case = flow.followup, progress.case
        return bool(follow and case and case.open and target in follow.closes and progress.node in follow.asks)

    def _confirms_closing(self, progress: Progress) -> bool:
        """Whether the confirmation on screen is the one asked before closing the case."""
        if not progress.pending or len(progress.pending) != 1:
            return False
        machine = self.flows.of(progress)
        assert machine is not None  # a progress _resolve gave
        choice = progress.pending[0]
        return self._closes_case(machine.flow, progress,
                                 machine.step(progress.node, choice, {**progress.answers, progress.node: choice}))

    @staticmethod
    def _skip_known(machine: FlowMachine, node_id: str, answers: dict[str, str]) -> str:
        """Past the questions already answered by what the person typed (`infer:`)."""
        seen = set()
        while node_id in answers and node_id not in seen and machine.flow.nodes[node_id].kind in ("choice", COMPANY):
            seen.add(node_id)
            node_id = machine.step(node_id, answers[node_id], answers) or node_id
        return node_id

    def _read_against(self, flow: Flow, node: Node) -> tuple[Choice, ...]:
        """The choices words typed at a free-text question are read against: the node's own,
        or, at the first question of a flow on the directory, the router's kinds of problem.
        Those learn from the same examples, plus `none`'s; read restricted to the node's
        choices they give the same answers (tests/test_directory.py), and one model is kept,
        not two (about 0.5 s of start-up and 4.5 MB less)."""
        if self.router is not None and flow.directory is not None and node.id == flow.classify_node \
                and {c.id for c in node.choices} <= self.router.kinds:
            return self.router.problems
        return node.choices

    def _choices(self, node: Node, progress: Progress) -> list[Choice]:
        """The choices shown: those whose condition holds (on the directory, `levels` too)."""
        answers = progress.answers
        if any(not c.condition.always for c in node.choices):
            machine = self.flows.of(progress)
            answers = derived(machine.flow, answers) if machine is not None else answers
        return [c for c in node.choices if c.condition.holds(answers)]

    def _buttons(self, node: Node, progress: Progress, now: datetime | None = None) -> list[Button]:
        """The buttons shown at this point, in order (what a typed number or label refers to)."""
        lang = progress.lang
        offered, _, where = progress.lang_offer.partition(":")  # the offer to go on in another language,
        offer = ([Button(LANG + offered, t(offered, "lang_switch"))]  # where it was made, while unanswered
                 if offered and offered != lang and where == f"{len(progress.path)}:{node.id}" else [])
        return self._question_buttons(node, progress, now) + offer

    def _question_buttons(self, node: Node, progress: Progress, now: datetime | None = None) -> list[Button]:
        lang = progress.lang
        asked_by_reminder = machine_flow_asks(self.flows, progress, node.id)
        controls = [Button(BACK, t(lang, "back"))] if (progress.path or progress.pending is not None) \
            and not asked_by_reminder else []
        if node.kind == "info":
            return [Button("continue", t(lang, "continue"))] + controls
        if node.kind == COMPANY:
            return [Button(UNKNOWN, t(lang, "company_unknown"))] + controls
        if node.is_outcome:
            machine = self.flows.of(progress)
            assert machine is not None  # a progress _resolve gave
            details = self.outcomes.details(machine.flow, node, progress, _now(now))
            offer = self.followup.buttons(progress, _now(now)) if self.followup.offers(machine.flow, node.id, progress) else []
            new = [Button(NEW_PROBLEM, t(lang, "new_problem"))] if progress.draft else []  # see _done
            return (new + [Button(DETAIL + d, t(lang, f"detail_{d}")) for d in details]
                    + offer + controls + [Button(RESTART, t(lang, "restart"))])
        if progress.pending == (DATE,) and node.kind == "date" and progress.draft:
            day = written_date(date.fromisoformat(progress.draft), lang)
            return [Button(DATE, t(lang, "date_yes", day=day)), Button(SHOW_LIST, t(lang, "date_no"))] + controls
        if progress.pending == (DATE, VAGUE) and node.kind == "date" and progress.draft:
            day = written_date(date.fromisoformat(progress.draft), lang)
            return ([Button(DATE, t(lang, "date_vague_keep", day=day))]
                    + [Button(c.id, tr(c.label, lang)) for c in self._choices(node, progress)] + controls)
        if progress.pending:
            return ([Button(c, label_of(node, c, lang)) for c in progress.pending]
                    + [Button(SHOW_LIST, t(lang, "close_no" if self._confirms_closing(progress) else "show_list"))]
                    + controls)
        return [Button(c.id, tr(c.label, lang)) for c in self._choices(node, progress)] + controls


def machine_flow_asks(flows: FlowSet, progress: Progress, node_id: str) -> bool:
    """Whether this node is a follow-up reminder's question (no « Retour » there: it was not
    reached from the previous question)."""
    machine = flows.of(progress)
    return bool(machine and machine.flow.followup and node_id in machine.flow.followup.asks)


def _before(inferred: tuple[Inferred, ...], step: int) -> tuple[Inferred, ...]:
    """The inferences read before answer number `step` (older records carry no step: kept)."""
    return tuple(entry for entry in inferred if len(entry) < 3 or entry[2] < step)

