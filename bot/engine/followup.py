"""Following a complaint over time: the case, its reminders' dates, and what each step does.

Pure like the rest of the engine: the clock is a parameter. A case lives in the person's
progress record (`Progress.case`); the store keeps, beside it and in the same transaction,
one row per reminder still to come (`schedule`), which the front end reads when due. When a
reminder is due, `remind` puts its question (a choice question of the flow's `nodes:`) with
the answers that led to the case; the answers lead on through the flow as usual.

A reminder falls at the date of its timeline entry (`at`), counted from the day the letter
was sent, minus its `before`, at the time of day the case was opened, moved out of the
quiet hours (21:00-09:00 by default: to 09:00). Of the dates already past when the case is
opened (a letter sent weeks ago), the latest is asked at once. If several came due while the
bot was down, only the latest is asked, once, saying it is late; none whose deadline is over
(« il reste un mois » a year late). Someone mid-way through another conversation keeps their
place: the reminder comes with a button to its question.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from ..flow.files import FlowSet
from ..flow.model import DATE, Flow, Reminder, tr
from ..flow.recognise import yes_or_no
from ..locales import t
from ..settings import QUIET  # the default quiet hours (BOT_QUIET_HOURS)
from .dates import read_date
from .outcome import fill, label_of, send_day
from .progress import Case, LogEntry, Progress, question_token
from .reply import Attachment, Button, Reply, match_button
from .general import derived, route_parts, timeline_of
from .timeline import SUB_DAY, add_delay, closed_advice, due_dates, send_day_words, written_date

CASE = "_case:"        # button ids of the follow-up: _case:today, _case:date, _case:no, _case:stop...
CASE_TOKEN = "case"    # the token of /suivi's and /rappels' buttons: valid whatever question is on screen
LATE = timedelta(hours=1)  # a reminder sent later than this after its time says it is late
MAX_NUMBER = 40


def quiet_until(moment: datetime, quiet: tuple[int, int] | None, tz: ZoneInfo) -> datetime | None:
    """When the quiet hours around `moment` end (None: it is not in quiet hours)."""
    if not quiet or quiet[0] == quiet[1]:
        return None
    local = moment.astimezone(tz)
    minutes, (start, end) = local.hour * 60 + local.minute, quiet
    inside = (minutes >= start or minutes < end) if start > end else start <= minutes < end
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if start > end and minutes >= start else local.date()
    return datetime.combine(day, time(end // 60, end % 60), tz)


def case_dates(flow: Flow, case: Case) -> dict[str, date]:
    """The timeline's dates for this case: counted from the day the letter was sent, and from
    the dates given at the flow's date questions on the way to it (the debit's day)."""
    assert flow.followup is not None  # a case's reminders are those of its flow's follow-up
    sent = date.fromisoformat(case.sent)
    given = {a.node: date.fromisoformat(a.text) for a in case.answers
             if a.choice == DATE and a.text and a.node in flow.nodes and flow.nodes[a.node].kind == "date"}
    return due_dates(timeline_of(flow, case.choices), sent, {**given, flow.followup.date: sent})


def planned(flow: Flow, case: Case, quiet: tuple[int, int] | None) -> list[tuple[Reminder, datetime]]:
    """Every reminder of the flow for this case with its time (aware), in the flow's order; a
    reminder whose condition does not hold on the case's answers, or whose date is unknown
    (the debit's day not given), is left out."""
    follow, tz = flow.followup, ZoneInfo(flow.timezone)
    if follow is None or not case.sent:
        return []
    opened = datetime.fromtimestamp(case.opened, tz)
    dates, choices = case_dates(flow, case), derived(flow, case.choices)
    out, timeline = [], timeline_of(flow, choices)
    for reminder in follow.reminders:
        delay = timeline.get(reminder.at)
        if delay is None or reminder.at not in dates or not reminder.condition.holds(choices):
            continue
        if delay.unit in SUB_DAY and not delay.after:  # test flows: seconds after the case opened
            due = opened + timedelta(seconds=delay.amount * SUB_DAY[delay.unit])
        else:
            day = dates[reminder.at]
            if reminder.before:
                day = add_delay(day, -reminder.before[0], reminder.before[1])
            due = datetime.combine(day, opened.timetz().replace(tzinfo=None), tz)
        out.append((reminder, quiet_until(due, quiet, tz) or due))
    return out


def _origin(flow: Flow, reminder: Reminder) -> str | None:
    """The date a reminder's timeline entry counts from (the letter's, a date question's)."""
    name, seen = reminder.at, set()
    while name in flow.timeline and name not in seen:
        seen.add(name)
        delay = flow.timeline[name]
        if delay.start or not delay.after:
            return delay.start
        name = delay.after
    return None


def pending(flow: Flow, case: Case | None, quiet: tuple[int, int] | None) -> list[tuple[Reminder, datetime]]:
    """The reminders still to come for an open case."""
    if case is None or not case.open:
        return []
    return [(r, due) for r, due in planned(flow, case, quiet) if r.id not in case.done]


@dataclass(frozen=True)
class Show:
    """A follow-up answer that is the current question again, after notices: the engine
    renders it (`Engine.current`), as it renders every question."""
    progress: Progress
    notice: str | None = None
    before: tuple[str, ...] = ()


@dataclass(frozen=True)
class Due:
    """A reminder come due: the progress moved to its question, the notices above it, and, when
    the person is mid-way through another conversation, the progress that keeps their place."""
    moved: Progress
    notices: tuple[str, ...]
    kept: Progress | None = None


class FollowUp:
    """The follow-up of cases (`engine.followup`): pure data in, data out. What it shows is a
    (progress, reply) of its own (/suivi, /rappels, the follow-up's questions) or a `Show` the
    engine renders; it knows the flows, never the engine."""

    def __init__(self, flows: FlowSet, quiet: tuple[int, int] | None = QUIET):
        self.flows = flows
        self.quiet = quiet

    # -- what the store keeps ------------------------------------------------------------
    def schedule(self, progress: Progress | None) -> list[tuple[str, float]]:
        """(reminder id, epoch seconds) of each reminder to come: the store's rows for this
        conversation, written with the step that changed them."""
        if progress is None or progress.case is None or not progress.case.open:
            return []
        flow = self._flow(progress)
        return [(r.id, due.timestamp()) for r, due in pending(flow, progress.case, self.quiet)] if flow else []

    def quiet_until(self, progress: Progress, now: datetime) -> datetime | None:
        flow = self._flow(progress)
        return quiet_until(now, self.quiet, ZoneInfo(flow.timezone)) if flow else None

    # -- offering to follow, at an outcome -----------------------------------------------
    def offers(self, flow: Flow, node_id: str, progress: Progress) -> bool:
        follow, case = flow.followup, progress.case
        if follow is None or node_id not in follow.opens + follow.opens_sent or progress.asking:
            return False
        if case is None:
            return True
        if case.open:  # one case at a time, unless nothing is left to remind of it
            return not pending(flow, case, self.quiet)
        return not (case.state == "declined" and case.outcome == node_id and case.reason == self._reason(flow, progress))

    def buttons(self, progress: Progress, now: datetime | None = None) -> list[Button]:
        """The follow-up's buttons: while it asks something, its way out; at an outcome, the
        offer (« Je l'envoie aujourd'hui », or the day the post next opens, unless the outcome
        is about a letter already sent)."""
        lang = progress.lang
        if progress.asking == "case_date" and progress.draft:  # a date that can only be last year's
            written = written_date(date.fromisoformat(progress.draft), lang)
            return [Button(CASE + "sent_last_year", t(lang, "date_yes", day=written)),
                    Button(CASE + "cancel", t(lang, "case_cancel"))]
        if progress.asking == "case_date":
            return [Button(CASE + "cancel", t(lang, "case_cancel"))]
        if progress.asking == "case_number":
            return [Button(CASE + "skip", t(lang, "case_skip"))]
        offer = [Button(CASE + "date", t(lang, "case_sent_on")), Button(CASE + "no", t(lang, "case_no"))]
        flow = self._flow(progress)
        if flow is None:
            return offer
        assert flow.followup is not None and now is not None  # an outcome's offer: offers() held; the engine gives the time
        if progress.node in flow.followup.opens_sent:
            return offer
        day, today = send_day(flow, now), self._today(flow, now)
        label = t(lang, "case_today") if day == today else t(lang, "case_send_later", when=send_day_words(day, today, lang))
        return [Button(CASE + "today", label)] + offer

    def notice(self, flow: Flow, node_id: str, progress: Progress) -> str | None:
        """At an outcome that opens cases, while one is followed: say so (no second case)."""
        case = progress.case
        if flow.followup is None or node_id not in flow.followup.opens or case is None or not case.open \
                or not pending(flow, case, self.quiet):
            return None
        sent = written_date(date.fromisoformat(case.sent), progress.lang)
        same = case.reason == self._reason(flow, progress)
        return t(progress.lang, "case_open_same" if same else "case_open_other", sent=sent)

    # -- the person's answers --------------------------------------------------------------
    def choose(self, progress: Progress, choice: str, now: datetime) -> tuple[Progress, Reply] | Show:
        lang, what = progress.lang, choice[len(CASE):]
        flow = self._flow(progress)
        machine_node = flow.nodes.get(progress.node) if flow else None
        if what in ("today", "date", "no"):
            if flow is None or machine_node is None or not self.offers(flow, progress.node, progress):
                return Show(progress, t(lang, "case_nothing_to_do"))
            if what == "no":
                declined = Case("", progress.node, self._reason(flow, progress), "", now.timestamp(), state="declined")
                return Show(progress.with_(case=declined), t(lang, "case_declined"))
            if what == "date":  # (words typed at the outcome, kept in `draft`, are no date: dropped)
                return self.ask(progress.with_(asking="case_date", draft=None), "case_ask_date", now)
            assert flow.followup is not None  # offers() held
            if progress.node in flow.followup.opens_sent:  # the letter is already sent: its day is asked
                return Show(progress, t(lang, "case_nothing_to_do"))
            return self._open(flow, progress, send_day(flow, now), now)
        if what == "cancel" and progress.asking == "case_date":
            return Show(progress.with_(asking=None, draft=None), t(lang, "case_declined"))
        if what == "sent_last_year" and progress.asking == "case_date" and progress.draft and flow is not None:
            return self._open(flow, progress.with_(asking=None, draft=None), date.fromisoformat(progress.draft), now)
        if what == "skip" and progress.asking == "case_number":
            return self.view(progress.with_(asking=None), now)
        if what == "stop":
            return self.stop(progress, now)
        if what == "file":
            return self.summary_file(progress, now)
        if what == "list":
            return self.reminders_view(progress, now)
        if what.startswith("drop:"):
            return self._drop(progress, what[len("drop:"):], now)
        if what == "answer":
            return self._back_to_reminder(progress, now)
        return Show(progress, t(lang, "case_nothing_to_do"))

    def text(self, progress: Progress, text: str, now: datetime) -> tuple[Progress, Reply] | Show:
        """A typed answer to a follow-up question: the day the letter was sent, or its number."""
        lang, flow = progress.lang, self._flow(progress)
        picked = None if progress.asking == "case_date" and text.strip().isdigit() else \
            match_button(self.buttons(progress), text)  # at the date prompt, « 3 » is the 3rd
        if picked is None and progress.asking == "case_date" and progress.draft and yes_or_no(text) == "yes":
            picked = CASE + "sent_last_year"
        if picked is not None:
            return self.choose(progress, picked, now)
        if progress.asking == "case_date":
            assert flow is not None  # Engine._text resolved the flow before handing over
            reading = read_date(text, self._today(flow, now))
            if reading.day is None:
                return self.ask(progress.with_(draft=None), f"date_{reading.problem}", now)
            if reading.last_year:  # « le 10 décembre » on 7 December: last year's, confirmed first
                day = reading.day
                return self.ask(progress.with_(draft=day.isoformat()), "date_last_year", now,
                                 day=written_date(day, lang), this_year=written_date(day.replace(year=day.year + 1), lang))
            return self._open(flow, progress.with_(asking=None, draft=None), reading.day, now)
        number = re.sub(r"\s+", " ", text).strip()
        # A registered-mail number is mostly digits (« 1A 123 456 7890 1 »): « le 3 novembre » is not one
        if len(number) > MAX_NUMBER or not re.fullmatch(r"[A-Za-z0-9 .\-/]{4,}", number) \
                or len(re.findall(r"\d", number)) < 5:
            return self.ask(progress, "case_number_unclear", now)
        assert progress.case is not None  # its number is asked once it is opened (_open)
        case = replace(progress.case, number=number)
        return self.view(progress.with_(asking=None, case=case), now, t(lang, "case_number_kept"))

    def _open(self, flow: Flow, progress: Progress, sent: date, now: datetime) -> tuple[Progress, Reply] | Show:
        assert flow.followup is not None  # a case is opened where offers() held
        case = Case(secrets.token_hex(4), progress.node, self._reason(flow, progress), sent.isoformat(),
                    now.timestamp(), log=(LogEntry(sent.isoformat(), "sent", progress.node),),
                    answers=progress.path, inferred=progress.inferred)
        late = self._late(flow, case, now)
        if late is not None:  # its last date is over (the mediator's year): no case, the route that remains
            reminder, day = late
            notice = t(progress.lang, "case_late", sent=written_date(sent, progress.lang),
                       what=tr(reminder.label, progress.lang) or reminder.id, day=written_date(day, progress.lang))
            return Show(progress.with_(asking=None, node=flow.followup.late, pending=None), notice)
        past = [r for r, due in sorted(planned(flow, case, self.quiet), key=lambda item: item[1]) if due < now]
        # Dates already past: the latest is asked at once (« Avez-vous reçu une réponse ? »), unless
        # its deadline itself is over (then any earlier question is as stale); the others are folded in.
        keep = past[-1].id if past and not self._over(flow, case, past[-1], now) else None
        past_ids = [r.id for r in past]
        case = replace(case, done=tuple(rid for rid in past_ids if rid != keep))
        progress = progress.with_(case=case, asking="case_number")
        key = ("case_opened_later" if sent > self._today(flow, now) else "case_opened_ask_number"
               if pending(flow, case, self.quiet) else "case_opened_all_past")
        progress, reply = self.ask(progress, key, now, sent=written_date(sent, progress.lang))
        reply.opened = True
        return progress, reply

    def _late(self, flow: Flow, case: Case, now: datetime) -> tuple[Reminder, date] | None:
        """The flow's last reminder date (the mediator's last day) when it is already over for a
        letter sent on `case.sent` and the flow has an outcome for that (`followup.late`)."""
        assert flow.followup is not None  # called by _open
        if not flow.followup.late:
            return None
        dates = [(self._at_date(flow, case, r), r) for r, _ in planned(flow, case, None)]
        dated = [(day, r) for day, r in dates if day is not None]
        if not dated:
            return None
        day, reminder = max(dated, key=lambda item: item[0])
        return (reminder, day) if day < self._today(flow, now) else None

    def ask(self, progress: Progress, key: str, now: datetime, **values: object) -> tuple[Progress, Reply]:
        return progress, Reply("case", t(progress.lang, key, **values), buttons=self.buttons(progress),
                               token=question_token(progress), expects_text=True, node=progress.node,
                               days=progress.asking == "case_date")

    def stop(self, progress: Progress, now: datetime, why: str = "stopped") -> tuple[Progress, Reply] | Show:
        case = progress.case
        if case is None or not case.open:
            return Show(progress, t(progress.lang, "case_none"))
        today = self._today(self._flow(progress), now).isoformat()
        case = replace(case, state="stopped", log=case.log + (LogEntry(today, why),))
        return Show(progress.with_(case=case), t(progress.lang, "case_stopped"))

    def _drop(self, progress: Progress, rid: str, now: datetime) -> tuple[Progress, Reply] | Show:
        case, flow = progress.case, self._flow(progress)
        if case is None or not case.open or flow is None or rid not in {r.id for r, _ in pending(flow, case, self.quiet)}:
            return self.reminders_view(progress, now)
        today = self._today(flow, now).isoformat()
        case = replace(case, done=case.done + (rid,), log=case.log + (LogEntry(today, "dropped", rid),))
        return self.reminders_view(progress.with_(case=case), now, t(progress.lang, "case_reminder_dropped"))

    def _unanswered(self, flow: Flow, progress: Progress) -> Reminder | None:
        """The latest reminder sent whose question was left unanswered (and is not on screen)."""
        case = progress.case
        if case is None or not case.open or flow.followup is None:
            return None
        answered = set()
        for _, kind, a, _ in reversed(case.log):
            if kind == "answer":
                answered.add(a)
            elif kind == "reminder":
                reminder = flow.followup.reminder(a)
                if reminder is not None and reminder.ask in answered:
                    break  # answered: the reminders before it are behind the person
                if reminder is not None and progress.node != reminder.ask:
                    return reminder
            elif kind in ("closed", "stopped"):
                break
        return None

    def _back_to_reminder(self, progress: Progress, now: datetime) -> tuple[Progress, Reply] | Show:
        flow = self._flow(progress)
        reminder = self._unanswered(flow, progress) if flow else None
        if reminder is None:
            return Show(progress, t(progress.lang, "case_nothing_to_do"))
        assert flow is not None and progress.case is not None  # _unanswered found a reminder of the case
        return Show(progress.with_(version=flow.version, node=reminder.ask, path=progress.case.answers,
                                                  pending=None, draft=None, asking=None))

    # -- a reminder comes due --------------------------------------------------------------
    def due(self, progress: Progress, now: datetime) -> Due | None:
        """The latest reminder due by `now` (those due before it are folded into it), for the
        engine to ask (`Engine.remind`); None when none is due (cancelled, answered, or the
        flow dropped it)."""
        flow = self._flow(progress)
        case = progress.case
        if flow is None or case is None:  # nothing pending
            return None
        due = [(r, when) for r, when in pending(flow, case, self.quiet) if when <= now]
        # Reminders counted from the same date (the letter's, the debit's) fold into the latest of
        # them; one whose deadline passed while the bot was down makes the earlier ones as stale.
        # Reminders counted from another date are asked in their turn, never dropped.
        groups: dict[str | None, list[tuple[Reminder, datetime]]] = {}
        for item in due:
            groups.setdefault(_origin(flow, item[0]), []).append(item)
        live = [max(items, key=lambda item: item[1]) for items in groups.values()]
        live = [item for item in live if not self._over(flow, case, item[0], now)]
        if not live:
            return None
        reminder, when = max(live, key=lambda item: item[1])
        today = self._today(flow, now).isoformat()
        case = replace(case, done=case.done + tuple(r.id for r, _ in groups[_origin(flow, reminder)]),
                       log=case.log + (LogEntry(today, "reminder", reminder.id),))
        moved = progress.with_(version=flow.version, node=reminder.ask, path=case.answers, pending=None, draft=None, asking=None,
                               case=case, updated=now.timestamp(), inferred=case.inferred or progress.inferred)
        notices = [t(progress.lang, "reminder_intro")]
        if now - when > LATE and when.timestamp() > case.opened:  # not for a date already past at opening
            local = when.astimezone(ZoneInfo(flow.timezone))
            notices.append(t(progress.lang, "reminder_late_today", time=f"{local.hour}:{local.minute:02d}")
                           if local.date() == self._today(flow, now) else
                           t(progress.lang, "reminder_late", day=written_date(local.date(), progress.lang)))
        # Mid-way through another conversation: their place is kept; the reminder's question
        # is shown with one button that takes them to it (/suivi offers it too).
        return Due(moved, tuple(notices), progress.with_(case=case) if self._busy(flow, progress) else None)

    @staticmethod
    def _busy(flow: Flow, progress: Progress) -> bool:
        """Whether the person is mid-way through a conversation (answers given, no outcome yet)."""
        node, case = flow.nodes.get(progress.node), progress.case
        assert flow.followup is not None  # called with a reminder due (due)
        if progress.node in flow.followup.asks and case is not None and case.log and case.log[-1].what == "reminder":
            return True  # another reminder's question is on screen, unanswered: it is not taken away
        return bool(progress.path) and node is not None and not node.is_outcome and \
            progress.node not in flow.followup.asks and not progress.asking

    def answered(self, flow: Flow, progress: Progress, node_id: str, choice: str, target: str,
                 now: datetime) -> Progress:
        """After an answer: a reminder's question answered goes in the case's log; reaching a
        node of `closes` closes the case."""
        case, follow = progress.case, flow.followup
        if follow is None or case is None or not case.open:
            return progress
        today = self._today(flow, now).isoformat()
        if node_id in follow.asks:
            case = replace(case, log=case.log + (LogEntry(today, "answer", node_id, choice),))
        if target in follow.closes:
            case = replace(case, state="closed", log=case.log + (LogEntry(today, "closed"),))
        return progress.with_(case=case)

    # -- what the person sees: /suivi, /rappels, the file for the mediator ------------------
    def view(self, progress: Progress, now: datetime, notice: str | None = None) -> tuple[Progress, Reply] | Show:
        lang, case, flow = progress.lang, progress.case, self._flow(progress)
        if case is None or case.state in ("declined",) or flow is None:
            return Show(progress, t(lang, "case_none"))
        lines: list[tuple[str | None, str]]
        lines = [(t(lang, "case_reason"), self._reason_label(flow, case, lang)),
                 (t(lang, "case_sent"), written_date(date.fromisoformat(case.sent), lang)
                  + (f" — {t(lang, 'case_number', number=case.number)}" if case.number else ""))]
        today = self._today(flow, now)
        for day, label, kind in self._dated(flow, case, lang):
            advice = closed_advice(day, flow.holiday_country, lang) if kind == "deadline" and day >= today else None
            lines.append((written_date(day, lang), f"{label}. {advice}" if advice else label))
        lines.append((None, t(lang, "case_history")))
        facts = [t(lang, f"case_state_{case.state}")]
        upcoming = [(r, due) for r, due in pending(flow, case, self.quiet) if due > now and not self._over(flow, case, r, now)]
        if upcoming:
            facts.append(t(lang, "case_next_reminder", when=self._when(upcoming[0][1], flow, lang)))
        elif case.open:
            facts.append(t(lang, "case_all_past"))
        buttons = [Button(CASE + "answer", t(lang, "case_answer"))] if self._unanswered(flow, progress) else []
        buttons.append(Button(CASE + "file", t(lang, "case_file")))
        if case.open:
            buttons += [Button(CASE + "list", t(lang, "case_reminders")), Button(CASE + "stop", t(lang, "case_stop"))]
        return progress, Reply("case", t(lang, "case_title"), notices=[notice] if notice else [],
                               sections=[*lines, *self._log_lines(flow, case, lang)], facts=facts,
                               buttons=buttons, token=CASE_TOKEN, node=progress.node)

    def reminders_view(self, progress: Progress, now: datetime, notice: str | None = None) -> tuple[Progress, Reply] | Show:
        lang, case, flow = progress.lang, progress.case, self._flow(progress)
        upcoming = sorted(((r, due) for r, due in pending(flow, case, self.quiet)
                           if due > now and not self._over(flow, case, r, now)), key=lambda item: item[1]) \
            if flow and case else []
        if not upcoming:
            return Show(progress, t(lang, "reminders_none"), (notice,) if notice else ())
        assert flow is not None and case is not None  # reminders to come: a case, its flow loaded
        lines: list[tuple[str | None, str]]  # the cast: planned() keeps only the reminders whose date is known
        lines = [(self._when(due, flow, lang), t(lang, "reminder_about", what=tr(r.label, lang) or r.id,
                                                 day=written_date(cast(date, self._at_date(flow, case, r)), lang))
                  if r.before else tr(r.label, lang) or r.id)  # ahead of its date: say which date
                 for r, due in upcoming]
        days = [written_date(due.astimezone(ZoneInfo(flow.timezone)).date(), lang) for _, due in upcoming]
        buttons = [Button(f"{CASE}drop:{r.id}", t(lang, "reminder_drop", day=day) if days.count(day) == 1
                          else t(lang, "reminder_drop_which", day=day, what=tr(r.label, lang) or r.id))
                   for (r, _), day in zip(upcoming, days)]  # two the same day: each named
        buttons.append(Button(CASE + "stop", t(lang, "case_stop")))
        return progress, Reply("case", t(lang, "reminders_title"), notices=[notice] if notice else [],
                               sections=lines, buttons=buttons, token=CASE_TOKEN, node=progress.node)

    def summary_file(self, progress: Progress, now: datetime) -> tuple[Progress, Reply] | Show:
        """The case for the mediator's form, always in French (the form is in French)."""
        case, flow = progress.case, self._flow(progress)
        if case is None or not case.sent or flow is None:
            return Show(progress, t(progress.lang, "case_none"))
        fr = "fr"
        lines = [t(fr, "file_title", flow=tr(flow.title, fr)),
                 t(fr, "file_made", day=written_date(self._today(flow, now), fr)), "",
                 f"{t(fr, 'case_reason')} : {self._reason_label(flow, case, fr)}",
                 *self._route_lines(flow, case),
                 f"{t(fr, 'case_sent')} : {written_date(date.fromisoformat(case.sent), fr)}"
                 + (f" ({t(fr, 'case_number', number=case.number)})" if case.number else ""), "",
                 t(fr, "file_answers")]
        asked = Progress(flow.id, flow.version, progress.node, case.answers, inferred=case.inferred or ())
        for answer in case.answers:
            node = flow.nodes.get(answer.node)
            if node is not None:
                said = answer.text if answer.text and node.kind == "text" else label_of(node, answer.choice, fr, answer.text)
                text = tr(node.text, fr)  # the question (its label when it asks none: « Problème »)
                question = question_of(text) if "?" in text.strip().splitlines()[0] else node.name(fr)
                lines.append(f"- {fill(question, flow, asked, now, fr)} → {said}")
        on_path = {a.node for a in case.answers}
        for node_id, choice, *_ in case.inferred or ():  # read from the description (« j'ai appelé 3 fois »)
            node = flow.nodes.get(node_id)
            if node is not None and node_id not in on_path and node.kind == "choice" and node_id != "sector" \
                    and choice != "unknown" and "?" in tr(node.text, fr):  # « prélevé » says no more than that
                lines.append(f"- {fill(question_of(tr(node.text, fr)), flow, asked, now, fr)} → "
                             f"{label_of(node, choice, fr)}")
        lines += ["", t(fr, "file_log")] + [f"- {day} : {text}" for day, text in self._log_lines(flow, case, fr)]
        dates = [(written_date(day, fr), label) for day, label, _ in self._dated(flow, case, fr)]
        if dates:
            lines += ["", t(fr, "file_dates")] + [f"- {day} : {label}" for day, label in dates]
        content = "\n".join(lines) + "\n"
        reply = Reply("case", t(progress.lang, "file_intro"), buttons=[Button(CASE + "list", t(progress.lang, "case_reminders"))]
                      if case.open else [], token=CASE_TOKEN, node=progress.node,
                      document=Attachment(t(progress.lang, "file_name_title"), "dossier-mediateur.txt", content))
        return progress, reply

    @staticmethod
    def _route_lines(flow: Flow, case: Case) -> list[str]:
        """On a flow for any company: the company and the mediator the file is for."""
        if flow.directory is None:
            return []
        route = route_parts(flow, case.choices, {a.node: a.text for a in case.answers if a.text}, "fr")
        return [f"{t('fr', 'file_company')} : {route['addressee']}", f"{t('fr', 'file_mediator')} : {route['mediator_name']}"]

    # -- helpers -----------------------------------------------------------------------------
    def _flow(self, progress: Progress) -> Flow | None:
        machine = self.flows.get(progress.flow)
        return machine.flow if machine else None

    @staticmethod
    def _today(flow: Flow | None, now: datetime) -> date:
        return now.astimezone(ZoneInfo(flow.timezone if flow else "Europe/Paris")).date()

    @staticmethod
    def _reason(flow: Flow, progress: Progress) -> str:
        return progress.answers.get(flow.start, "")

    @staticmethod
    def _reason_label(flow: Flow, case: Case, lang: str) -> str:
        node = flow.nodes.get(flow.start)
        return label_of(node, case.reason, lang) if node and case.reason else "—"

    def _dated(self, flow: Flow, case: Case, lang: str) -> list[tuple[date, str, str]]:
        """The case's dates (each reminder's timeline date) with what falls due and whose date
        it is (the timeline entry's kind), in date order."""
        found = [(self._at_date(flow, case, r), tr(r.label, lang), flow.timeline[r.at].kind)
                 for r, _ in planned(flow, case, None) if r.label]
        return sorted((day, label, kind) for day, label, kind in found if day is not None)

    def _over(self, flow: Flow, case: Case, reminder: Reminder | None, now: datetime) -> bool:
        """A reminder that comes ahead of a deadline (`before`) whose deadline is over."""
        if reminder is None or not reminder.before:
            return False
        day = self._at_date(flow, case, reminder)
        return day is not None and day < self._today(flow, now)

    @staticmethod
    def _at_date(flow: Flow, case: Case, reminder: Reminder) -> date | None:
        return case_dates(flow, case).get(reminder.at)



    @staticmethod
    def _when(moment: datetime, flow: Flow, lang: str) -> str:
        local = moment.astimezone(ZoneInfo(flow.timezone))
        return t(lang, "reminder_when", day=written_date(local.date(), lang), time=f"{local.hour}:{local.minute:02d}")

    def _log_lines(self, flow: Flow, case: Case, lang: str) -> list[tuple[str, str]]:
        out = []
        for day, kind, a, b in case.log:
            shown = written_date(date.fromisoformat(day), lang)
            if kind == "answer" and a in flow.nodes:
                text = t(lang, "log_answer", answer=label_of(flow.nodes[a], b, lang))
            elif kind in ("reminder", "dropped"):
                reminder = flow.followup.reminder(a) if flow.followup else None
                text = t(lang, f"log_{kind}", what=tr(reminder.label, lang) if reminder else a)
            else:
                text = t(lang, f"log_{kind}")
            out.append((shown, text))
        return out


def question_of(text: str) -> str:
    """A question's first sentence (up to its first question mark), for the summary."""
    first = text.strip().splitlines()[0]
    return first[:first.index("?") + 1] if "?" in first else first


__all__ = ["CASE", "CASE_TOKEN", "Due", "FollowUp", "QUIET", "Show", "pending", "planned", "quiet_until"]
