"""Engine replies as Telegram messages: HTML (every dynamic text escaped), inline buttons."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape as _escape

from ..engine.followup import CASE
from ..engine.reply import DETAIL, Reply, card_lines
from ..locales import t

LIMIT = 3900  # Telegram allows 4096 characters; keep room for the echo of an answer

def escape(text: str, quote: bool = False) -> str:
    """Telegram's HTML needs <, > and & escaped in text; quotes only inside attributes."""
    return _escape(text, quote=quote)


def unlinked(text: str) -> str:
    """A person's own words, escaped, with a zero-width space after the dots and at-signs
    inside words and after a scheme's colon, so that Telegram turns no address into a link."""
    return re.sub(r"((?<=\w)[.@](?=\w)|:(?=//))", "\\1\u200b", escape(text))


@dataclass
class OutMessage:
    """A message as the Bot API takes it: HTML text and rows of inline buttons (plain dicts)."""
    html: str
    buttons: list[list[dict]] = field(default_factory=list)

    @property
    def markup(self) -> dict | None:
        return {"inline_keyboard": self.buttons} if self.buttons else None


def button(label: str, data: str | None = None, url: str | None = None) -> dict:
    return {"text": label, "url": url} if url else {"text": label, "callback_data": data}


def callback_data(token: str, owner: int, choice: str) -> str:
    """'<question token>:<owner user id>:<choice id>' (at most 64 bytes, as Telegram requires)."""
    return f"{token}:{owner}:{choice}"[:64]


def parse_callback(data: str | None) -> tuple[str, int, str] | None:
    if not data:
        return None
    parts = data.split(":", 2)  # the choice may hold a colon ("_detail:letter")
    if len(parts) != 3 or not parts[0] or not parts[2]:
        return None
    try:
        return parts[0], int(parts[1]), parts[2]
    except ValueError:
        return None


_HTML = {"title": "<b>{}</b>", "status": "<b>{}</b>", "note": "<i>{}</i>"}


def _card(card, lang: str) -> str:
    lines = []
    for role, text in card_lines(card):
        if role == "url":
            lines.append(f'<a href="{escape(text, quote=True)}">{escape(text)}</a>')
        else:
            lines.append(_HTML.get(role, "{}").format(escape(text)))
    if card.unchecked:
        lines[0] += f" <i>({escape(t(lang, 'unchecked'))})</i>"
    return "\n".join(lines)


def blocks_of(reply: Reply, lang: str, compact: bool = False) -> list[str]:
    """The reply as HTML blocks, in reading order. `compact` (groups) keeps the essentials."""
    blocks = [f"<i>{escape(n)}</i>" for n in reply.notices]
    if reply.text:
        blocks.append(f"<b>{escape(reply.text)}</b>" if reply.kind == "summary" else escape(reply.text))
    if reply.kind == "summary":
        blocks.append("\n".join((f"• {escape(q)} → " if q else "")
                                + (f"« {unlinked(a)} »" if i in reply.typed else f"<b>{escape(a)}</b>" if q else escape(a))
                                for i, (q, a) in enumerate(reply.sections)))
    else:
        colon = t(lang, "colon")  # « Problème : » in French, "Problem:" in English
        blocks += [f"<b>{escape(title)}{colon}</b> {escape(s)}" if title else escape(s) for title, s in reply.sections]
    if reply.now:
        blocks.append(f"<b>{escape(reply.now)}</b>")
    if compact:
        return blocks + [escape(f) for f in reply.facts if reply.kind == "summary"] + \
            ([f"<i>{escape(reply.footer)}</i>"] if reply.footer else [])
    blocks += [_card(c, lang) for c in reply.cards]
    if reply.facts:
        blocks.append("\n".join(f"• {escape(f)}" for f in reply.facts))
    if reply.document and reply.kind == "detail":  # the letter, to copy and paste
        blocks.append(f"<pre>{escape(reply.document.content.rstrip())}</pre>")
    if reply.sources:
        blocks.append(f"<i>{escape(t(lang, 'sources') + t(lang, 'colon'))}\n"
                      + "\n".join(f"– {escape(s)}" for s in reply.sources) + "</i>")
    if reply.footer:
        blocks.append(f"<b>{escape(reply.footer)}</b>")
    return blocks


def pack(blocks: list[str], limit: int = LIMIT) -> list[str]:
    """Join blocks into as few messages as fit Telegram's length limit."""
    messages, current = [], ""
    for block in blocks:
        while len(block) > limit:  # a single huge block: cut it (never happens with sane flows)
            if current:
                messages.append(current)
                current = ""
            messages.append(block[:limit])
            block = block[limit:]
        if current and len(current) + 2 + len(block) > limit:
            messages.append(current)
            current = block
        else:
            current = f"{current}\n\n{block}" if current else block
    if current:
        messages.append(current)
    return messages


def render(reply: Reply, lang: str, owner: int, compact: bool = False,
           extra: list[dict] | None = None) -> list[OutMessage]:
    """Messages to send; the buttons go on the last one. An outcome is two: what to do and
    its dates, then what is reachable now with the buttons. Compact (an outcome in a group)
    leaves out the details: they are for a private chat."""
    blocks = blocks_of(reply, lang, compact)
    cut = len(reply.notices) + 1 if reply.kind == "outcome" and reply.now and reply.text else len(blocks)
    texts = (pack(blocks[:cut]) + pack(blocks[cut:])) or ["…"]
    rows = [[button(b.label, callback_data(reply.token or "", owner, b.id))] for b in reply.buttons
            if not (compact and b.id.startswith((DETAIL, CASE)))]
    rows += [[button] for button in extra or []]
    out = [OutMessage(text) for text in texts]
    out[-1].buttons = rows
    return out
