"""The conversation engine: (progress, event) -> (new progress, reply). No I/O, no Telegram.

Every public method takes the stored `Progress` and the current instant, and returns a new
`Progress` (the input is never modified) with a neutral `Reply`. Front ends (terminal,
Telegram) only translate their input into these calls and render the reply.
"""
from __future__ import annotations

import re
import threading
import unicodedata
import zlib
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from .flow.hours import describe_moment, open_status
from .flow.loader import PLACEHOLDER, load_flow
from .flow.machine import FlowMachine
from .flow.model import Channel, Flow, Node, tr
from .flow.recognise import normalise, recognise
from .flow.yamlsrc import Problem
from .messages import msg
from .progress import MAX_TEXT, Progress
from .reply import BACK, RESTART, SHOW_LIST, Attachment, Button, ContactCard, Reply

MAX_INPUT = 4000  # longer messages are cut before matching
_INVISIBLE = {"Cc", "Cf", "Co", "Cs", "Cn"}


def clean_text(text: str) -> str:
    """Drop control, zero-width and direction characters; collapse blank space."""
    kept = "".join(" " if unicodedata.category(ch) in _INVISIBLE and ch not in "\n" else ch
                   for ch in text[:MAX_INPUT])
    return re.sub(r"\s+", " ", kept).strip()


class FlowSet:
    """Compiled flows by id and version. Versions seen earlier stay usable for people mid-way."""

    def __init__(self, flows: list[Flow] = (), default: str | None = None):
        self._versions: dict[tuple[str, str], FlowMachine] = {}
        self._current: dict[str, FlowMachine] = {}
        for flow in flows:
            self.add(flow)
        self.default = default or next(iter(self._current), None)

    def add(self, flow: Flow) -> FlowMachine:
        machine = self._versions.get((flow.id, flow.version)) or FlowMachine(flow)
        self._versions[(flow.id, flow.version)] = machine
        self._current[flow.id] = machine
        return machine

    def get(self, flow_id: str, version: str | None = None) -> FlowMachine | None:
        if version is not None:
            return self._versions.get((flow_id, version))
        return self._current.get(flow_id)

    @property
    def ids(self) -> list[str]:
        return list(self._current)

    @classmethod
    def load(cls, paths: list[str | Path], default: str | None = None) -> tuple["FlowSet", list[Problem]]:
        """Load every `*.yaml` in the given files and folders; problems mean nothing loads."""
        files: list[Path] = []
        for path in map(Path, paths):
            files.extend(sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml")) if path.is_dir() else [path])
        flows, problems = [], []
        for file in files:
            flow, found = load_flow(file)
            problems.extend(found)
            if flow:
                flows.append(flow)
        ids = [f.id for f in flows]
        for flow in flows:
            if ids.count(flow.id) > 1:
                problems.append(Problem(flow.path, 1, f"flow id {flow.id!r} is used by several files"))
        if not files:
            problems.append(Problem(", ".join(map(str, paths)), 0, "no flow file (*.yaml) found"))
        if default and default not in ids:
            problems.append(Problem(", ".join(map(str, paths)), 0, f"default flow {default!r} not found"))
        return cls(flows, default), problems


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(timezone.utc)


class Engine:
    def __init__(self, flows: FlowSet):
        self.flows = flows
        self.warmed = threading.Event()
        self._outcomes: dict[tuple, Reply] = {}
        self._typed: dict[tuple, bool] = {}

    # -- events --------------------------------------------------------------------------
    def start(self, flow_id: str | None = None, lang: str = "fr", now: datetime | None = None,
              notices: list[str] | None = None) -> tuple[Progress, Reply]:
        machine = self.flows.get(flow_id or self.flows.default) or self.flows.get(self.flows.default)
        flow = machine.flow
        ts = _now(now).timestamp()
        progress = Progress(flow=flow.id, version=flow.version, node=flow.start,
                            lang=lang if lang in flow.langs else "fr", started=ts, updated=ts)
        reply = self._render(machine, progress, _now(now))
        reply.notices[:0] = (notices or []) + [tr(flow.welcome, progress.lang)]
        return progress, reply

    def current(self, progress: Progress, now: datetime | None = None,
                notice: str | None = None) -> tuple[Progress, Reply]:
        """The current question again (after an unexpected input, a stale button, /aide...)."""
        machine, progress, notices = self._resolve(progress, now)
        reply = self._render(machine, progress, _now(now))
        reply.notices[:0] = notices + ([notice] if notice else [])
        return progress, reply

    def choose(self, progress: Progress, choice_id: str, token: str | None = None,
               now: datetime | None = None) -> tuple[Progress, Reply]:
        """A button press. A `token` from another question makes it stale: nothing changes."""
        if token is not None and token != self.token(progress):
            return self.current(progress, now, msg(progress.lang, "stale"))
        if choice_id == BACK:
            return self.back(progress, now)
        if choice_id == RESTART:
            return self.restart(progress, now)
        machine, progress, notices = self._resolve(progress, now)
        if notices:  # the flow changed under them: show where they now are before any answer
            return self._reply(machine, progress, now, notices)
        if choice_id == SHOW_LIST and progress.pending is not None:
            progress = progress.with_(pending=None)
            return self._reply(machine, progress, now, [msg(progress.lang, "full_list")])
        node = machine.flow.nodes[progress.node]
        available = {"continue"} if node.kind == "info" else {c.id for c in self._choices(node, progress)}
        if choice_id not in available:
            return self._reply(machine, progress, now, [msg(progress.lang, "pick_a_button")])
        return self._advance(machine, progress, choice_id, now, [])

    def text(self, progress: Progress, raw: str, now: datetime | None = None) -> tuple[Progress, Reply]:
        """A typed message: a number or label of a shown answer, or a description to recognise."""
        machine, progress, notices = self._resolve(progress, now)
        lang = progress.lang
        node = machine.flow.nodes[progress.node]
        text = clean_text(raw or "")
        if not text:
            key = "empty_text" if node.kind == "text" else "pick_a_button"
            return self._reply(machine, progress, now, notices + [msg(lang, key)])
        picked = self._match_button(self._buttons(node, progress), text)
        if picked is not None:
            return self.choose(progress, picked, None, now)
        if node.kind != "text":
            key = "outcome_done" if node.is_outcome else "pick_a_button"
            return self._reply(machine, progress, now, notices + [msg(lang, key)])
        allowed = {c.id for c in self._choices(node, progress)}
        verdict = recognise(text, node.choices, allowed)
        kept = text[:MAX_TEXT]
        if verdict.choice:
            return self._advance(machine, progress, verdict.choice, now, notices, typed=kept)
        if verdict.candidates:
            progress = progress.with_(pending=tuple(verdict.candidates), draft=kept)
            return self._reply(machine, progress, now, notices)
        progress = progress.with_(pending=None, draft=kept)
        return self._reply(machine, progress, now, notices + [msg(lang, "not_understood")])

    def back(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        """Return to where the user came from (their own history, not the file's order)."""
        machine, progress, notices = self._resolve(progress, now)
        lang = progress.lang
        if progress.pending is not None:
            progress = progress.with_(pending=None, draft=None)
            return self._reply(machine, progress, now, notices + [msg(lang, "went_back")])
        if not progress.path:
            return self._reply(machine, progress, now, notices + [msg(lang, "nothing_to_undo")])
        last = progress.path[-1]
        progress = progress.with_(node=last[0], path=progress.path[:-1], pending=None, draft=None,
                                  updated=_now(now).timestamp())
        return self._reply(machine, progress, now, notices + [msg(lang, "went_back")])

    def restart(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        fresh, reply = self.start(progress.flow, progress.lang, now)
        fresh = fresh.with_(last_update=progress.last_update, rev=progress.rev)
        reply.notices.insert(0, msg(progress.lang, "restarted"))
        return fresh, reply

    def summary(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        """Where the user is and what they answered so far, with the current question's buttons."""
        machine, progress, notices = self._resolve(progress, now)
        lang, flow = progress.lang, machine.flow
        node_now = flow.nodes[progress.node]
        lines = []
        for entry in progress.path:
            node = flow.nodes[entry[0]]
            answer = entry[2] if len(entry) > 2 else self._label(node, entry[1], lang)
            lines.append((_first_line(tr(node.text, lang)), answer))
        status = "summary_done" if node_now.is_outcome else "summary_now"
        return progress, Reply(
            kind="summary", text=msg(lang, "summary_title"), notices=notices,
            sections=lines or [(None, msg(lang, "summary_empty"))],
            facts=[msg(lang, status, text=_first_line(tr(node_now.text, lang)))],
            buttons=self._buttons(node_now, progress), token=self.token(progress),
            expects_text=node_now.kind == "text" or bool(progress.pending), node=progress.node)

    def help(self, progress: Progress, now: datetime | None = None) -> tuple[Progress, Reply]:
        return self.current(progress, now, msg(progress.lang, "help"))

    def warm_up(self, now: datetime | None = None) -> None:
        """Do once, at start-up, the work a first conversation would otherwise pay for
        (loading the public-holiday calendar, compiling recognisers), so that it never
        stalls the event loop in the middle of serving people."""
        for flow_id in self.flows.ids:
            machine = self.flows.get(flow_id)
            for node in machine.flow.nodes.values():
                progress = Progress(flow_id, machine.flow.version, node.id)
                self._render(machine, progress, _now(now))
                if node.kind == "text":
                    recognise("warm up", node.choices)
        self.warmed.set()

    # -- internals -----------------------------------------------------------------------
    def token(self, progress: Progress) -> str:
        """Identifies the question on screen: a press carrying another token is stale."""
        key = f"{progress.flow}:{progress.node}:{len(progress.path)}:{progress.pending}"
        return format(zlib.crc32(key.encode()) & 0xFFFFFF, "x")

    def _resolve(self, progress: Progress, now) -> tuple[FlowMachine, Progress, list[str]]:
        """The machine for this progress; moves it to the current flow version if needed."""
        machine = self.flows.get(progress.flow, progress.version)
        if machine and progress.node in machine.flow.nodes:
            return machine, progress, []
        machine = self.flows.get(progress.flow)
        if machine is None:
            fresh, _ = self.start(None, progress.lang, now)
            return self.flows.get(fresh.flow), fresh.with_(last_update=progress.last_update,
                                                           rev=progress.rev), [msg(progress.lang, "flow_gone")]
        flow = machine.flow
        node, path = flow.start, []
        for entry in progress.path:  # replay the answers while they still fit
            current = flow.nodes[node]
            choice_ok = entry[1] == "continue" if current.kind == "info" else \
                any(c.id == entry[1] for c in self._choices(current, Progress(flow.id, "", node, tuple(path))))
            if entry[0] != node or not choice_ok:
                break
            target = machine.step(node, entry[1], {**{e[0]: e[1] for e in path}, node: entry[1]})
            if target is None:
                break
            path.append(tuple(entry))
            node = target
        same = node == progress.node and len(path) == len(progress.path)
        moved = progress.with_(version=flow.version, node=node, path=tuple(path),
                               pending=progress.pending if same else None,
                               draft=progress.draft if same else None)
        return machine, moved, [] if same else [msg(progress.lang, "flow_changed")]

    def _advance(self, machine: FlowMachine, progress: Progress, choice_id: str, now,
                 notices: list[str], typed: str | None = None) -> tuple[Progress, Reply]:
        node = machine.flow.nodes[progress.node]
        typed = typed or progress.draft
        target = machine.step(node.id, choice_id, {**progress.answers, node.id: choice_id})
        if target is None:
            return self._reply(machine, progress, now, notices + [msg(progress.lang, "pick_a_button")])
        entry = (node.id, choice_id, typed) if typed and node.kind == "text" else (node.id, choice_id)
        new = progress.with_(node=target, path=progress.path + (entry,), pending=None, draft=None,
                             updated=_now(now).timestamp())
        new_progress, reply = self._reply(machine, new, now, notices)
        reply.answer = self._label(node, choice_id, progress.lang)
        return new_progress, reply

    def _reply(self, machine, progress, now, notices) -> tuple[Progress, Reply]:
        reply = self._render(machine, progress, _now(now))
        reply.notices[:0] = notices
        return progress, reply

    @staticmethod
    def _choices(node: Node, progress: Progress):
        answers = progress.answers
        return [c for c in node.choices if c.condition.holds(answers)]

    @staticmethod
    def _label(node: Node, choice_id: str, lang: str) -> str:
        if choice_id == "continue":
            return msg(lang, "continue")
        choice = node.choice(choice_id)
        return tr(choice.label, lang) if choice else choice_id

    @staticmethod
    def _match_button(buttons: list[Button], text: str) -> str | None:
        """'2' picks the second button; a label typed in full (accents, case aside) picks it."""
        if text.isascii() and text.isdigit() and 1 <= int(text) <= len(buttons):
            return buttons[int(text) - 1].id
        wanted = normalise(text)
        for button in buttons:
            if wanted and normalise(button.label) == wanted:
                return button.id
        return None

    def _buttons(self, node: Node, progress: Progress) -> list[Button]:
        """The buttons shown at this point, in order (what a typed number or label refers to)."""
        lang = progress.lang
        controls = [Button(BACK, msg(lang, "back"))] if progress.path or progress.pending is not None else []
        if node.kind == "info":
            return [Button("continue", msg(lang, "continue"))] + controls
        if node.is_outcome:
            return controls + [Button(RESTART, msg(lang, "restart"))]
        if progress.pending:
            return ([Button(c, self._label(node, c, lang)) for c in progress.pending]
                    + [Button(SHOW_LIST, msg(lang, "show_list"))] + controls)
        return [Button(c.id, tr(c.label, lang)) for c in self._choices(node, progress)] + controls

    def _render(self, machine: FlowMachine, progress: Progress, now: datetime) -> Reply:
        flow, lang = machine.flow, progress.lang
        node = flow.nodes[progress.node]
        text = self._fill(tr(node.text, lang), flow, progress, now)
        token, buttons = self.token(progress), self._buttons(node, progress)
        if node.kind == "info":
            return Reply("info", text, buttons=buttons, token=token, node=node.id)
        if node.kind in ("choice", "text"):
            if progress.pending:
                ask = (msg(lang, "confirm", label=buttons[0].label) if len(progress.pending) == 1
                       else msg(lang, "confirm_many"))
                return Reply("confirm", ask, buttons=buttons, token=token, node=node.id, expects_text=True)
            return Reply(node.kind, text, buttons=buttons, token=token, node=node.id,
                         expects_text=node.kind == "text")
        return self._outcome_cached(flow, node, progress, now, text, buttons, token)

    def _outcome_cached(self, flow: Flow, node: Node, progress: Progress, now: datetime, text: str,
                        buttons: list[Button], token: str) -> Reply:
        """Outcomes are the costly replies (hours, cards, letter) and many people share the
        same answers: keep each for the minute it was computed in (open-now changes by the
        minute), per flow version, answers and language. Typed texts are part of the key only
        where the outcome shows them."""
        key = (flow.id, flow.version, node.id, len(progress.path), progress.lang,
               tuple(sorted(progress.answers.items())), int(now.timestamp() // 60),
               tuple(sorted(progress.texts.items())) if self._shows_typed(flow, node) else ())
        cached = self._outcomes.get(key)
        if cached is None:
            cached = self._outcome(flow, node, progress, now, text, buttons, token)
            self._outcomes[key] = cached
            if len(self._outcomes) > 2048:
                self._outcomes.pop(next(iter(self._outcomes)))
        return replace(cached, notices=list(cached.notices))  # callers add notices, never share

    def _shows_typed(self, flow: Flow, node: Node) -> bool:
        key = (flow.id, flow.version, node.id)
        shows = self._typed.get(key)
        if shows is None:
            texts = [node.text] + [s.text for s in node.sections]
            if node.document:
                texts += [p.text for p in flow.documents[node.document].parts]
            shows = self._typed[key] = any(typed for text in texts for value in text.values()
                                           for _, typed in PLACEHOLDER.findall(value))
        return shows

    def _outcome(self, flow: Flow, node: Node, progress: Progress, now: datetime, text: str,
                 buttons: list[Button], token: str) -> Reply:
        lang, answers = progress.lang, progress.answers
        sections = [(tr(s.title, lang) or None, self._fill(tr(s.text, lang), flow, progress, now))
                    for s in node.sections if s.condition.holds(answers)]
        channels = [flow.channels[ref.id] for ref in node.channels if ref.condition.holds(answers)]
        states = {c.id: open_status(c.hours, now, flow.timezone, flow.holiday_country)
                  for c in channels if c.hours}
        cards = [self._card(channel, states.get(channel.id), now, lang) for channel in channels]
        facts = [flow.facts[ref.id] for ref in node.facts if ref.condition.holds(answers)]
        fact_lines = [tr(f.text, lang) + (f" ({msg(lang, 'unchecked')})" if f.status == "unchecked" else "")
                      for f in facts]
        source_ids = list(dict.fromkeys([c.source for c in channels] + [f.source for f in facts]))
        sources = []
        for sid in source_ids:
            source = flow.sources[sid]
            line = f"{source.title}, {msg(lang, 'verified', date=source.verified.strftime('%d/%m/%Y'))}"
            sources.append(line + (f" : {source.url}" if source.url else ""))
        document = None
        if node.document:
            doc = flow.documents[node.document]
            body = "\n\n".join(self._fill(tr(p.text, lang), flow, progress, now)
                               for p in doc.parts if p.condition.holds(answers))
            document = Attachment(tr(doc.title, lang), doc.filename, body + "\n")
        return Reply("outcome", text, sections=sections, now=self._now_line(channels, states, now, lang),
                     cards=cards, facts=fact_lines, sources=sources, document=document,
                     footer=msg(lang, "come_back"), buttons=buttons, token=token, node=node.id)

    @staticmethod
    def _card(channel: Channel, state, now: datetime, lang: str) -> ContactCard:
        status = None
        if state is not None:
            if state.open:
                status = msg(lang, "open_until", time=describe_moment(state.until, now, lang).removeprefix("à ").removeprefix("at "))
            elif state.next_open:
                status = msg(lang, "closed_until", when=describe_moment(state.next_open, now, lang))
            else:
                status = msg(lang, "closed")
        return ContactCard(
            name=tr(channel.name, lang), kind=channel.kind, how=tr(channel.how, lang),
            details=channel.details, url=channel.url, email=channel.email,
            hours=tr(channel.hours.label, lang) if channel.hours else None,
            status=status, note=tr(channel.note, lang) or None,
            unchecked=channel.status == "unchecked")

    @staticmethod
    def _now_line(channels: list[Channel], states: dict, now: datetime, lang: str) -> str | None:
        """The first listed channel open right now; else the one that opens first."""
        soonest = None
        for channel in channels:
            state = states.get(channel.id)
            if state is None:
                continue
            if state.open:
                until = describe_moment(state.until, now, lang)
                return msg(lang, "now_open", name=tr(channel.name, lang),
                           until=("jusqu'" + until if lang == "fr" else "until " + until.removeprefix("at ")))
            if state.next_open and (soonest is None or state.next_open < soonest[1]):
                soonest = (channel, state.next_open)
        if soonest is None:
            return None
        return msg(lang, "now_closed", name=tr(soonest[0].name, lang),
                   when=describe_moment(soonest[1], now, lang))

    def _fill(self, text: str, flow: Flow, progress: Progress, now: datetime) -> str:
        """Replace {node} with the answer's label, {node.text} with what was typed, {date}."""
        lang, answers, texts = progress.lang, progress.answers, progress.texts

        def value(match: re.Match) -> str:
            name, typed = match.group(1), match.group(2)
            if name == "date":
                local = now.astimezone(ZoneInfo(flow.timezone))
                return f"{local.day} {msg(lang, 'months')[local.month - 1]} {local.year}"
            if typed and name in texts:
                return texts[name]
            if name in answers and name in flow.nodes:
                choice = flow.nodes[name].choice(answers[name])
                if choice and choice.says:
                    return tr(choice.says, lang)
                return self._label(flow.nodes[name], answers[name], lang)
            return "[…]"

        return PLACEHOLDER.sub(value, text)


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]
