"""The letters: what the person already said is written in, nothing else is made up, and the
Word file is a French A4 letter."""
import io

import pytest

from bot.engine import Engine
from bot.engine.reply import DETAIL
from bot.flow.files import FlowSet
from bot.letterfile import docx_bytes
from conftest import NOW, paris


@pytest.fixture()
def bot(flow):
    return Engine(FlowSet([flow]))


def letter_at(engine, description, *answers, now=NOW):
    """The letter of the outcome reached from `description` then `answers` (button ids; text
    with a space is typed)."""
    progress, reply = engine.start(now=now)
    progress, reply = engine.text(progress, description, now)
    for answer in answers:
        if " " in answer:
            progress, reply = engine.text(progress, answer, now)
        else:
            progress, reply = engine.choose(progress, answer, reply.token, now)
    assert reply.kind == "outcome", reply.text
    return engine.choose(progress, DETAIL + "letter", reply.token, now)[1].document.content


def test_a_double_debit_letter_writes_in_the_day_the_twice_and_the_amount(bot):
    content = letter_at(bot, "Bonjour, on m'a prélevé deux fois 12,99 € ce mois-ci, merci d'avance",
                        "video", "no", "no", "le 3 novembre")
    assert "Le mardi 3 novembre 2026, j'ai constaté un double prélèvement de 12,99 €" in content
    assert "soit 12,99 €." in content and "[un double prélèvement /" not in content
    assert "« on m'a prélevé deux fois 12,99 € ce mois-ci »" in content  # no « Bonjour », no « merci »
    assert "conditions générales de vente" in content and "contrat d'abonnement" in content  # its basis


def test_what_was_not_said_stays_a_placeholder(bot):
    content = letter_at(bot, "on m'a prélevé deux fois", "video", "no", "no", "unknown")
    assert "Le [date], j'ai constaté un double prélèvement de [...] €" in content  # « Je ne sais plus »: no date
    other = letter_at(bot, "le montant prélevé est faux, 15 euros au lieu de 9,99", "video", "no", "no", "unknown")
    assert "un montant de 15 € au lieu de [...] €" in other and "double prélèvement" not in other
    assert "Le [date], j'ai constaté [un prélèvement après ma résiliation" in other


def test_a_double_debit_denied_is_not_written_as_one(bot):
    content = letter_at(bot, "ce n'est pas un double prélèvement mais le prix a augmenté sans prévenir",
                        "billing", "video", "no", "no", "card")
    assert "j'ai constaté un double prélèvement" not in content


@pytest.mark.parametrize("greeting", ["bonjour", "Bonjour !", "merci", "Bonsoir, merci d'avance"])
def test_a_greeting_alone_is_never_quoted_as_the_description(bot, greeting):
    progress, reply = bot.start(now=NOW)
    progress, reply = bot.text(progress, greeting, NOW)
    for answer in ("billing", "video", "no", "no", "card"):
        progress, reply = bot.choose(progress, answer, reply.token, NOW)
    content = bot.choose(progress, DETAIL + "letter", reply.token, NOW)[1].document.content
    assert "telle que je l'ai décrite" not in content, content


def test_the_mise_en_demeure_gives_the_case_date_and_number_and_ends_with_its_closing(bot):
    now = paris(2026, 11, 26, 12, 0)
    progress, reply = bot.start(now=now)
    for answer in ("billing", "video", "no", "no", "card"):
        progress, reply = bot.choose(progress, answer, reply.token, now)
    progress, reply = bot.choose(progress, "_case:today", reply.token, now)
    progress, reply = bot.text(progress, "1A 123 456 7890 1", now)
    later = paris(2026, 12, 28, 12, 1)
    progress, reply = bot.remind(progress, later)
    progress, reply = bot.text(progress, "toujours rien", later)
    assert progress.node == "notice_now"
    content = bot.choose(progress, DETAIL + "letter", reply.token, later)[1].document.content
    assert "Par courrier du jeudi 26 novembre 2026 (recommandé n° 1A 123 456 7890 1)" in content
    assert "Objet : MISE EN DEMEURE" in content
    tail = content.rstrip().split("\n\n")
    assert tail[-1] == "[Signature]" and tail[-2] == "Je vous prie d'agréer, Madame, Monsieur, mes salutations distinguées."


def test_without_a_case_the_mise_en_demeure_asks_for_the_date_and_number(bot):
    progress, reply = bot.start(now=NOW)
    for answer in ("requests", "video", "written", "no_answer", "under_year"):
        progress, reply = bot.choose(progress, answer, reply.token, NOW)
    content = bot.choose(progress, DETAIL + "letter", reply.token, NOW)[1].document.content
    assert "Par courrier du [date de votre réclamation] (recommandé n° [...])" in content


def test_the_company_address_in_the_letter_is_a_checked_one(bot, flow):
    content = letter_at(bot, "on m'a prélevé deux fois", "video", "no", "no", "le 3 novembre")
    office = flow.channels["head_office"]
    assert office.status == "checked" and all(line in content for line in office.details[-2:])


def test_the_word_file_is_a_french_a4_letter_with_justified_paragraphs(bot):
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    content = letter_at(bot, "on m'a prélevé deux fois", "video", "no", "no", "le 3 novembre")
    document = docx.Document(io.BytesIO(docx_bytes(content)))
    section = document.sections[0]
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297
    normal = document.styles["Normal"]
    assert normal.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
    assert normal.element.rPr.find(qn("w:lang")).get(qn("w:val")) == "fr-FR"
    paragraphs = [p.text for p in document.paragraphs]
    assert [p.replace("\u00a0", " ") for p in paragraphs] == content.rstrip("\n").split("\n")
    assert any(p.startswith("Objet\u00a0: ") for p in paragraphs)  # French spacing that never breaks
    assert not any(p.startswith((":", "€")) or " :" in p or " €" in p for p in paragraphs)


@pytest.mark.parametrize("problem,demand", [
    ("billing", "de me rembourser la somme indûment prélevée"),
    ("cancellation", "de confirmer la résiliation de mon abonnement à la date de ma demande"),
    ("access", "de rétablir mon accès au service"),
    ("requests", "de [votre demande précise]"),
])
def test_the_mise_en_demeure_demands_what_the_problem_calls_for(bot, problem, demand):
    progress, reply = bot.start(now=NOW)
    for answer in (problem, "video", "written", "no_answer", "under_year"):
        progress, reply = bot.choose(progress, answer, reply.token, NOW)
        if progress.node == "paid_how":  # asked on the billing paths
            progress, reply = bot.choose(progress, "card", reply.token, NOW)
    assert reply.kind == "outcome", (progress.node, reply.text)
    content = bot.choose(progress, DETAIL + "letter", reply.token, NOW)[1].document.content
    assert f"je vous mets en demeure {demand}" in content and "[demande précise :" not in content
