"""Plain-text rendering of a Reply, for the terminal (and logs of scripted sessions)."""
from __future__ import annotations

from .messages import msg
from .reply import Reply, card_lines

def render_text(reply: Reply, lang: str = "fr", numbered: bool = True) -> str:
    out: list[str] = []
    out.extend(reply.notices)
    if reply.answer:
        out.append(f"✔ {reply.answer}")
    if reply.text:
        out.append(reply.text)
    for title, text in reply.sections:
        out.append(f"{title} : {text}" if title else text)
    if reply.now:
        out.append(reply.now)
    for card in reply.cards:
        lines = []
        for role, text in card_lines(card):
            if role == "title":
                lines.append(text + (f" ({msg(lang, 'unchecked')})" if card.unchecked else ""))
            else:
                lines.append(f"   {'ℹ️ ' if role == 'note' else ''}{text}")
        out.append("\n".join(lines))
    if reply.facts:
        out.append("\n".join(f"• {fact}" for fact in reply.facts))
    if reply.document:
        out.append(f"──── {reply.document.title} ({reply.document.filename}) ────\n"
                   f"{reply.document.content.rstrip()}\n────")
    if reply.sources:
        out.append(f"{msg(lang, 'sources')} :\n" + "\n".join(f"  - {s}" for s in reply.sources))
    if reply.footer:
        out.append(reply.footer)
    if reply.buttons:
        out.append("\n".join(f"  {i}. {b.label}" if numbered else f"  [{b.label}]"
                             for i, b in enumerate(reply.buttons, 1)))
    return "\n\n".join(part for part in out if part)
