"""The Cstream flow says what the checked facts say, and every seed fact is reachable."""
import pytest

from bot.engine.reply import BACK, RESTART
from conftest import NOW, paris



def all_outcomes(engine):
    """Walk every button path; return {outcome node: [rendered replies]}."""
    found = {}
    stack = [engine.start(now=NOW)]
    while stack:
        progress, reply = stack.pop()
        if reply.kind == "outcome":
            found.setdefault(progress.node, []).append((progress, reply))
            continue
        for button in reply.buttons:
            if button.id not in (BACK, RESTART):
                stack.append(engine.choose(progress, button.id, reply.token, NOW))
    return found


@pytest.fixture(scope="module")
def outcomes(engine):
    return all_outcomes(engine)


def everything_said(outcomes):
    parts = []
    for replies in outcomes.values():
        for _, reply in replies:
            parts += [reply.text, reply.now or ""] + [t for _, t in reply.sections] + reply.facts
            for card in reply.cards:
                parts += [card.name, card.how, card.hours or "", card.note or "", card.url or "",
                          card.email or ""] + list(card.details)
            if reply.document:
                parts.append(reply.document.content)
    return "\n".join(parts)


def test_every_outcome_is_reachable(flow, outcomes):
    assert set(outcomes) == {n.id for n in flow.nodes.values() if n.is_outcome}


def test_six_reasons_are_offered(flow):
    ids = [c.id for c in flow.nodes["problem"].choices]
    assert ids[:6] == ["access", "technical", "requests", "unreachable", "billing", "cancellation"]
    assert "other" in ids


@pytest.mark.parametrize("fact", [
    "3979", "lun.-ven. 8h30-21h ; sam.-dim. 9h-18h ; jours fériés 9h-18h",          # phone
    "lun.-ven. 9h-20h ; sam.-dim. 9h-18h ; jours fériés 9h-18h",                     # social networks
    "Facebook, Instagram ou Pinterest", "espace client",
    "lun.-jeu. 9h-17h ; ven. 9h-16h", "sourdes ou malentendantes",                    # accessibility
    "120-126 quai de Bacalan", "33300 Bordeaux", "RCS Bordeaux 424 059 822",           # head office
    "L'adresse propre au service client n'a pas pu être confirmée",
    "https://www.mediateurfevad.fr", "BP 20015", "75362 Paris Cedex 8",
    "60 rue La Boétie, 75008 Paris", "relationconso@fevad.com",
    "réclamation écrite préalable", "plus d'un an", "gratuite pour le consommateur",
    "manifestement infondée ou abusive", "déjà été examiné par un autre médiateur",
    "https://www.economie.gouv.fr/mediation-conso", "conditions générales de vente de Cdiscount",
    "https://signal.conso.gouv.fr", "conciliateur de justice", "5 000 €",
    "mise en demeure", "L215-1-1", "en trois clics", "recommandé avec accusé de réception",
    "refuser la proposition du médiateur",
])
def test_seed_and_checked_facts_are_reachable(outcomes, fact):
    assert fact in everything_said(outcomes)


def test_corrections_are_present(outcomes):
    said = everything_said(outcomes)
    assert "90 jours" in said and "R612-5" in said
    assert "a fermé" in said and "20 juillet 2025" in said and "2024/3228" in said
    assert "dans un délai de deux mois" not in said  # the seed's wrong mediation delay


EU_PLATFORM = ("plateforme européenne", "règlement en ligne des litiges", "europa", "odr", "rll")


def test_eu_platform_is_never_recommended(outcomes):
    """Anywhere it is named (text, sections, facts, cards, letters), it is named as closed."""
    import re
    sentences = re.split(r"(?<=[.;!?])\s+|\n", everything_said(outcomes))
    named = [s for s in sentences if any(word in s.lower() for word in EU_PLATFORM)]
    assert named, "the closure of the EU platform is said somewhere"
    for sentence in named:
        assert "a fermé" in sentence or "Ne l'utilisez pas" in sentence, sentence


def test_unchecked_details_are_marked(flow):
    for cid in ("customer_area", "social", "accessibility", "mediator_post", "fevad_seed"):
        assert flow.channels[cid].status == "unchecked"
    assert flow.facts["cdiscount_mediator"].status == "unchecked"
    for item in list(flow.channels.values()) + list(flow.facts.values()):
        assert item.source in flow.sources and item.verified.year >= 2026


def _walk(engine, *answers):
    progress, reply = engine.start(now=NOW)
    for answer in answers:
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    return progress, reply


def test_unreachable_customer_service_is_not_sent_back_to_the_same_channel(engine):
    progress, reply = _walk(engine, "unreachable", "video", "phone")
    names = [c.name for c in reply.cards]
    assert progress.node == "write_now" and not any("3979" in n for n in names)
    assert any("Espace client" in n for n in names) and reply.document is not None
    _, reply = _walk(engine, "unreachable", "video", "several")
    assert [c.kind for c in reply.cards] == ["postal"]


@pytest.mark.parametrize("reason", ["billing", "cancellation"])
def test_billing_and_cancellation_go_to_writing_with_the_letter(engine, reason):
    progress, reply = _walk(engine, reason, "music", "no", "no")
    assert progress.node == "write_now"
    assert reply.cards[0].kind == "postal" and "Réclamation - abonnement Cstream Music" in reply.document.content


def test_deaf_users_get_the_accessibility_platform_first_and_no_phone(engine):
    _, reply = _walk(engine, "access", "video", "no", "yes")
    assert reply.cards[0].kind == "accessibility"
    assert all(card.kind != "phone" for card in reply.cards)


def test_written_without_answer_goes_to_the_mediator_with_one_year_limit(engine):
    progress, reply = _walk(engine, "requests", "books", "written", "no_answer", "under_year")
    assert progress.node == "mediator"
    assert any("moins d'un an" in text for _, text in reply.sections)
    progress, reply = _walk(engine, "requests", "books", "written", "bad_answer", "over_year")
    assert progress.node == "too_late" and "plus d'un an" in reply.text


def test_open_now_line_follows_the_clock(engine):
    progress, _ = _walk(engine, "access", "video", "no")
    _, reply = engine.choose(progress, "no", engine.token(progress), paris(2026, 11, 26, 20, 30))
    assert reply.now.startswith("👉 Joignable maintenant : Téléphone : 3979, ouvert jusqu'à 21h")
    _, reply = engine.choose(progress, "no", engine.token(progress), paris(2026, 11, 26, 21, 30))
    assert "Aucun conseiller n'est joignable" in reply.now and "demain à 8h30" in reply.now
    _, reply = engine.choose(progress, "no", engine.token(progress), paris(2026, 5, 1, 8, 45))
    assert "à 9h" in reply.now  # 1 May: holiday hours
