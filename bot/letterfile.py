"""A letter's plain text as a .docx file, in memory: it opens and edits on a phone."""
from __future__ import annotations

import io

from docx import Document
from docx.shared import Pt


def docx_bytes(text: str) -> bytes:
    """One paragraph per line of `text` (blank lines kept), in a plain 11-point font."""
    document = Document()
    style = document.styles["Normal"]
    style.font.name, style.font.size = "Calibri", Pt(11)
    style.paragraph_format.space_after = Pt(0)
    for line in text.rstrip("\n").split("\n"):
        document.add_paragraph(line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
