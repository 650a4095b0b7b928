"""`check` for the flow's `followup:` section: which outcomes offer to follow the case, the
reminders (a timeline entry each, counted from the day the letter was sent, and the choice
question asked then), and the nodes that close the case.

    followup:
      date: letter_sent            # the day the letter was sent: {letter_sent}, `from: letter_sent`
      opens: [write_now]           # outcomes that offer « Je l'envoie aujourd'hui » / « … le… »
      opens_sent: [wait_answer]    # outcomes about a letter already sent: « Je l'ai envoyée le… »
      late: too_late               # shown when the letter given is past the last reminder's date
      reminders:
        - id: answer_due
          at: answer_due           # a timeline entry
          ask: check_answer        # a choice question of `nodes:`
          label: "la réponse de Cdiscount est attendue"
        - id: last_month
          at: mediator_until
          before: 1 month
          ask: check_last_month
        - id: bank
          at: bank_refund_until    # counted from a date question: only when that date was given
          before: 7 days
          when: {paid_how: debit}  # on the answers that led to the case
          ask: check_bank
      closes: [case_settled]
"""
from __future__ import annotations

from datetime import date

from ..calendar import add_delay, due_dates
from ..model import Delay, Followup, Node, Reminder
from ..yamlsrc import Located
from .reader import Reader, suggest
from .timeline import _DELAY, unit_of


def followup(r: Reader, data: Located) -> Followup | None:
    """Read the section; its references are checked by `check_references` once nodes are read."""
    if data.get("followup") is None:
        return None
    entry = r.mapping(data.get("followup"), data.line_of("followup"), "followup", "followup")
    if entry is None:
        return None
    name = r.scalar(entry, "date", "followup", "id")
    opens = tuple(v for v, _ in r.items(entry, "opens", "followup"))
    opens_sent = tuple(v for v, _ in r.items(entry, "opens_sent", "followup")) if "opens_sent" in entry else ()
    late = r.scalar(entry, "late", "followup", "id", required=False)
    closes = tuple(v for v, _ in r.items(entry, "closes", "followup"))
    if not opens:
        r.err(entry.line, "followup: opens must list the outcomes after which the bot offers to follow the case")
    reminders, seen = [], set()
    for number, (item, line) in enumerate(r.items(entry, "reminders", "followup", "reminder"), 1):
        rid = r.scalar(item, "id", f"followup reminder #{number}", "id")
        what = f"followup reminder {rid or f'#{number}'}"
        at = r.scalar(item, "at", what, "id")
        ask = r.scalar(item, "ask", what, "id")
        label = r.scalar(item, "label", what, "text")
        if label:
            r.uses.texts.append((label, item.line_of("label"), what))
        before = None
        raw = r.scalar(item, "before", what, required=False)
        if raw is not None:
            match = _DELAY.match(raw)
            if not match:
                r.err(item.line_of("before"), f"{what}: before must be like \"1 month\" or \"15 days\", not {raw!r}")
            else:
                before = (int(match.group(1)), unit_of(match))
        if rid in seen:
            r.err(line, f"{what}: a second reminder with this id")
        elif rid and at and ask:
            seen.add(rid)
            reminders.append((Reminder(rid, at, ask, before, label, r.condition(item, what)), line))
    if not reminders:
        r.err(entry.line, "followup: needs reminders (at least one)")
    if not name:
        return None
    found = Followup(name, opens, tuple(rem for rem, _ in reminders), closes, opens_sent, late)
    r.followup_lines = {"entry": entry, "reminders": dict((rem.id, line) for rem, line in reminders)}
    return found


def check_references(r: Reader, found: Followup | None, nodes: dict[str, Node], timeline: dict[str, Delay],
                     data: Located) -> None:
    if found is None:
        return
    entry, lines = r.followup_lines["entry"], r.followup_lines["reminders"]
    if found.date in nodes:
        r.err(entry.line_of("date"), f"followup: date {found.date!r} is a node id; choose another name")
    for key, listed in (("opens", found.opens), ("opens_sent", found.opens_sent),
                        ("late", (found.late,) if found.late else ())):
        for nid in listed:
            if nid not in nodes or not nodes[nid].is_outcome:
                r.err(entry.line_of(key), f"followup: {key} must name outcomes, not {nid!r}"
                                          f"{'' if nid in nodes else suggest(nid, nodes)}")
    for nid in found.closes:
        if nid not in nodes:
            r.err(entry.line_of("closes"), f"followup: closes names no node {nid!r}{suggest(nid, nodes)}")
    for rem in found.reminders:
        line = lines[rem.id]
        if rem.at not in timeline:
            r.err(line, f"followup reminder {rem.id}: at names no timeline entry {rem.at!r}{suggest(rem.at, timeline)}")
        elif rem.before and timeline[rem.at].start and timeline[rem.at].start != found.date:
            pass  # counted from a date the person gave (the debit's day): it comes if that date was given
        elif rem.before and timeline[rem.at].unit not in ("minutes", "seconds"):
            sample = date(2000, 1, 1)
            day = due_dates(timeline, sample, {found.date: sample}).get(rem.at)
            if day is not None and add_delay(day, -rem.before[0], rem.before[1]) <= sample:
                r.err(line, f"followup reminder {rem.id}: before ({rem.before[0]} {rem.before[1]}) reaches back to "
                            f"the day the letter is sent or earlier: it would never be sent")
        if rem.ask not in nodes or nodes[rem.ask].kind != "choice":
            r.err(line, f"followup reminder {rem.id}: ask must name a choice question, not {rem.ask!r}"
                        f"{'' if rem.ask in nodes else suggest(rem.ask, nodes)}")
