"""A letter's plain text as a .docx file, in memory: it opens and edits on a phone.

A4 paper with 2.5 cm margins, the French language (spelling and hyphenation), paragraphs
justified (Word leaves a paragraph's last line, and so the one-line ones, ragged: addresses
and the date stay as they are).

python-docx (and lxml under it, about 7 MB) is imported when a first letter is made, not
when the bot starts: most processes serve for hours before anyone asks for one."""
from __future__ import annotations

import io
import re


def docx_bytes(text: str, language: str = "fr-FR") -> bytes:
    """One paragraph per line of `text` (blank lines kept), in a plain 11-point font."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    document = Document()
    for section in document.sections:
        section.page_width, section.page_height = Cm(21), Cm(29.7)
        section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = Cm(2.5)
    style = document.styles["Normal"]
    style.font.name, style.font.size = "Calibri", Pt(11)
    style.paragraph_format.space_after = Pt(0)
    style.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    defaults = document.styles.element.find(qn("w:docDefaults"))
    for run_properties in [style.element.get_or_add_rPr()] + (
            defaults.findall(f"{qn('w:rPrDefault')}/{qn('w:rPr')}") if defaults is not None else []):
        lang = run_properties.find(qn("w:lang"))
        if lang is None:
            lang = OxmlElement("w:lang")
            run_properties.append(lang)
        for attribute in ("w:val", "w:eastAsia", "w:bidi"):
            lang.set(qn(attribute), language)
    document.core_properties.language = language
    for line in text.rstrip("\n").split("\n"):
        document.add_paragraph(_no_break(line) if language.startswith("fr") else line)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _no_break(line: str) -> str:
    """French spacing that never breaks: a no-break space before « : ; ? ! » and « € », and
    inside « … » (a line never starts with a colon or a euro sign)."""
    line = re.sub(r" ([:;?!€»])", "\u00a0\\1", line)
    return re.sub(r"« ", "«\u00a0", line)
