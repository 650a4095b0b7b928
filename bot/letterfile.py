"""A letter's plain text as a .docx file, in memory: it opens and edits on a phone.

python-docx (and lxml under it, about 7 MB) is imported when a first letter is made, not
when the bot starts: most processes serve for hours before anyone asks for one."""
from __future__ import annotations

import io


def docx_bytes(text: str) -> bytes:
    """One paragraph per line of `text` (blank lines kept), in a plain 11-point font."""
    from docx import Document
    from docx.shared import Pt

    document = Document()
    style = document.styles["Normal"]
    style.font.name, style.font.size = "Calibri", Pt(11)
    style.paragraph_format.space_after = Pt(0)
    for line in text.rstrip("\n").split("\n"):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
