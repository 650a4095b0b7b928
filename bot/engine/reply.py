"""What the engine answers, described neutrally: each front end renders it its own way."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..flow.recognise import normalise

# Control buttons the engine adds; flow ids never start with "_".
BACK, RESTART, SHOW_LIST = "_back", "_restart", "_list"
NEW_PROBLEM = "_new"  # at an outcome: a new conversation from the words just typed
LANG = "_lang:"       # "_lang:en": go on in that language (offered to someone who writes it)
DETAIL = "_detail:"  # "_detail:letter" opens an outcome's detail, and leaves the person where they are
ERASE, KEEP = "_erase", "_keep"  # the answers to /oublier's confirmation
FORGET_TOKEN = "forget"          # the token of that confirmation (it belongs to no question)


# What a reply is: a question of its node's kind, or one the engine says on its own.
ReplyKind = Literal["choice", "text", "free", "info", "date", "company", "outcome",  # a node's question or outcome
                    "done",      # words typed after the outcome: one line and its buttons
                    "detail",    # an outcome's detail (the letter, the contacts...)
                    "confirm",   # « C'est bien ça ? » and other questions before an answer is taken
                    "summary",   # /recap
                    "forget",    # /oublier's confirmation
                    "notice",    # a sentence alone (/aide, /quitter...)
                    "case",      # the follow-up: a case's view or its questions
                    "again"]     # a press made twice: the first one answered, nothing to show


@dataclass(frozen=True)
class Button:
    id: str
    label: str


@dataclass(frozen=True)
class ContactCard:
    name: str
    kind: str
    how: str
    url: str | None = None
    email: str | None = None
    details: tuple[str, ...] = ()
    hours: str | None = None      # "lun.-ven. 8h30-21h ; ..."
    status: str | None = None     # "Ouvert maintenant, jusqu'à 21h"
    note: str | None = None
    unchecked: bool = False


ICONS = {"phone": "📞", "chat": "💬", "social": "📱", "postal": "✉️", "web": "🌐",
         "email": "📧", "accessibility": "🧏"}


def card_lines(card: ContactCard) -> list[tuple[str, str]]:
    """A card's lines in reading order, as (role, text): each front end styles the roles.
    Roles: title, detail, url, how, hours, status, note."""
    lines = [("title", f"{ICONS.get(card.kind, '•')} {card.name}")]
    lines += [("detail", d) for d in card.details if d not in card.name]
    lines += [(role, value) for role, value in (("url", card.url), ("detail", card.email), ("how", card.how),
                                                ("hours", card.hours and f"🕘 {card.hours}"),
                                                ("status", card.status), ("note", card.note)) if value]
    return lines


@dataclass(frozen=True)
class Attachment:
    """A letter: its plain text; front ends that send files make a .docx of it when the
    filename says so."""
    title: str
    filename: str
    content: str

    @property
    def docx(self) -> bool:
        return self.filename.endswith(".docx")


@dataclass
class Reply:
    kind: ReplyKind
    text: str = ""
    notices: list[str] = field(default_factory=list)   # said before the content
    sections: list[tuple[str | None, str]] = field(default_factory=list)
    now: str | None = None         # the channel to use right now
    cards: list[ContactCard] = field(default_factory=list)
    facts: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)
    token: str | None = None       # identifies the question the buttons belong to
    expects_text: bool = False
    days: bool = False             # a date is asked: a bare number typed is a day, never a button
    document: Attachment | None = None
    footer: str | None = None      # said last: how to come back
    node: str | None = None
    answer: str | None = None      # the label of the answer just taken (front ends echo it)
    typed: tuple[int, ...] = ()    # summary: the sections whose answer is the person's own words
    followup: str | None = None    # the answer given to a follow-up reminder's question (for the events)
    # What the engine decided at this step, for the events and the conversation's rules:
    understood: bool | None = None  # words typed to describe the problem (or name the company) were
                                    # read (True: an answer taken or offered) or not (False); None: none read
    opened: bool = False            # a case starts being followed (its reminders planned)


def match_button(buttons: list[Button], text: str) -> str | None:
    """'2' picks the second button; a label typed in full (accents, case aside) picks it."""
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(buttons):
        return buttons[int(text) - 1].id
    wanted = normalise(text)
    return next((b.id for b in buttons if wanted and normalise(b.label) == wanted), None)
