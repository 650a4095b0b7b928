"""The Cstream flow says what the checked facts say, and every seed fact is reachable."""
from dataclasses import replace

import pytest

from bot.engine.followup import pending
from bot.engine.reply import DETAIL
from conftest import NOW, paris



def followup_questions(engine, progress, reply, now, seen):
    """At an outcome that offers to follow the case: the case opened today, then each of its
    reminders' questions as it comes (once per problem, hearing and reminder, in `seen`)."""
    if not any(b.id == "_case:today" for b in reply.buttons):
        return []
    opened, _ = engine.choose(progress, "_case:today", reply.token, now)
    opened, _ = engine.choose(opened, "_case:skip", "case", now)
    flow, out = engine.flows.get(progress.flow).flow, []
    for reminder, due in pending(flow, opened.case, engine.followup.quiet):
        key = (progress.answers.get("problem"), progress.answers.get("hearing"), reminder.id)
        if key not in seen:
            seen.add(key)
            others = tuple(r.id for r in flow.followup.reminders if r.id != reminder.id)
            out.append(engine.remind(opened.with_(case=replace(opened.case, done=others)), due))
    return out


def all_outcomes(engine, now=NOW, lang="fr"):
    """Walk every button path, and the follow-up's questions; return {outcome node:
    [(progress, reply, [its details])]}."""
    found, seen = {}, set()
    stack = [engine.start(lang=lang, now=now)]
    while stack:
        progress, reply = stack.pop()
        if reply.kind == "outcome":
            details = [engine.choose(progress, b.id, reply.token, now)[1] for b in reply.buttons
                       if b.id.startswith(DETAIL)]
            found.setdefault(progress.node, []).append((progress, reply, details))
            stack += followup_questions(engine, progress, reply, now, seen)
            continue
        for button in reply.buttons:
            if not button.id.startswith("_"):
                stack.append(engine.choose(progress, button.id, reply.token, now))
        if reply.kind == "date":  # a day given, too: the dates counted from it (and their reminders)
            stack.append(engine.text(progress, "hier", now))
    return found


@pytest.fixture(scope="module")
def outcomes(engine):
    return all_outcomes(engine)


def said(reply):
    parts = [reply.text, reply.now or ""] + [t for _, t in reply.sections] + reply.facts + reply.sources
    for card in reply.cards:
        parts += [card.name, card.how, card.hours or "", card.note or "", card.url or "",
                  card.email or ""] + list(card.details)
    if reply.document:
        parts.append(reply.document.content)
    return "\n".join(parts)


def everything_said(outcomes):
    return "\n".join(said(reply) for found in outcomes.values() for _, short, details in found
                     for reply in [short] + details)


def test_every_outcome_is_reachable(flow, outcomes):
    assert set(outcomes) == {n.id for n in flow.nodes.values() if n.is_outcome}


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


def _walk(engine, *answers, now=NOW):
    progress, reply = engine.start(now=now)
    for answer in answers:
        progress, reply = engine.choose(progress, answer, reply.token, now)
    return progress, reply


def _detail(engine, progress, reply, which, now=NOW):
    same, detail = engine.choose(progress, DETAIL + which, reply.token, now)
    assert same == progress and detail.kind == "detail"
    return detail


def test_six_reasons_are_offered(flow):
    ids = [c.id for c in flow.nodes["problem"].choices]
    assert ids[:7] == ["access", "technical", "requests", "unreachable", "billing", "cancel", "cancellation"]
    assert "other" in ids


def test_unreachable_customer_service_is_not_sent_back_to_the_same_channel(engine):
    progress, reply = _walk(engine, "unreachable", "video", "phone")
    names = [c.name for c in _detail(engine, progress, reply, "channels").cards]
    assert progress.node == "write_now" and not any("3979" in n for n in names)
    assert any("Espace client" in n for n in names) and "3979" not in (reply.now or "")
    progress, reply = _walk(engine, "unreachable", "video", "several")
    assert "channels" not in {b.id[len(DETAIL):] for b in reply.buttons if b.id.startswith(DETAIL)}
    assert reply.now is None  # nothing with opening hours left to try: the letter is the way


@pytest.mark.parametrize("reason", ["billing", "cancellation"])
def test_billing_and_ignored_cancellation_go_to_writing_with_the_letter(engine, reason):
    progress, reply = _walk(engine, reason, "music", "no", "no", "card")
    assert progress.node == "write_now"
    letter = _detail(engine, progress, reply, "letter")
    assert letter.cards[0].kind == "postal" and "Réclamation - abonnement Cstream Music" in letter.document.content


def test_deaf_users_get_the_accessibility_platform_first_and_no_phone(engine):
    progress, reply = _walk(engine, "access", "video", "no", "yes")
    cards = _detail(engine, progress, reply, "channels").cards
    assert cards[0].kind == "accessibility"
    assert all(card.kind != "phone" for card in cards)
    assert reply.now.startswith("👉 La plateforme accessibilité est ouverte maintenant")


def test_written_without_answer_goes_to_the_mediator_with_one_year_limit(engine):
    progress, reply = _walk(engine, "requests", "books", "written", "no_answer", "under_year")
    assert progress.node == "mediator"
    assert "au plus tard 1 an après la date de cette réclamation" in reply.text
    assert "mise en demeure" in reply.text and "vendredi 11 décembre 2026" in reply.text  # today + 15 days
    progress, reply = _walk(engine, "requests", "books", "written", "bad_answer", "over_year")
    assert progress.node == "too_late" and "plus d'un an" in reply.text


def test_open_now_line_follows_the_clock(engine):
    progress, _ = _walk(engine, "access", "video", "no")
    _, reply = engine.choose(progress, "no", engine.token(progress), paris(2026, 11, 26, 20, 30))
    assert reply.now == "👉 Le 3979 est ouvert maintenant, jusqu'à 21h."
    _, reply = engine.choose(progress, "no", engine.token(progress), paris(2026, 11, 26, 21, 30))
    # The chat's hours are unknown: never « no advisor can be reached » while it is listed.
    assert "Aucun conseiller" not in reply.now and "horaires non publiés" in reply.now
    assert "Le 3979 ouvre demain à 8h30." in reply.now
    _, reply = engine.choose(progress, "no", engine.token(progress), paris(2026, 5, 1, 8, 45))
    assert "Le 3979 ouvre à 9h." in reply.now  # 1 May: holiday hours


def _describe(engine, words, *answers, now=NOW):
    """A description typed, then buttons: (progress, reply); a confirmation asked is accepted."""
    progress, reply = engine.start(now=now)
    progress, reply = engine.text(progress, words, now)
    if reply.kind == "confirm":
        progress, reply = engine.choose(progress, reply.buttons[0].id, reply.token, now)
    for answer in answers:
        progress, reply = engine.choose(progress, answer, reply.token, now)
    return progress, reply


@pytest.mark.parametrize("words,paid", [
    ("on m'a prélevé deux fois ce mois-ci", "unknown"),        # « prélevé » is said of card payments too
    ("Cstream m'a débité deux fois", "unknown"),
    ("un double prélèvement ce mois-ci", "unknown"),
    ("on m'a prélevé deux fois sur ma carte", "card"),
    ("j'ai été débité deux fois par CB", "card"),
    ("payé deux fois par carte bancaire", "card"),
    ("deux prélèvements automatiques ce mois-ci", "debit"),
    ("Cstream m'a débité deux fois par prélèvement", "debit"),
    ("un prélèvement SEPA en double", "debit"),
    ("on m'a prélevé 9,99 € sans mon accord", "not_agreed"),
    ("I was charged twice by direct debit", "debit"),
    ("I was debited twice", "unknown"),
])
def test_how_the_money_was_taken_is_read_from_the_description(engine, words, paid):
    progress, reply = _describe(engine, words, "video", "no", "no")
    assert progress.answers["problem"] == "billing" and progress.answers["paid_how"] == paid
    assert "paid_how" not in [a.node for a in progress.path]  # the question was skipped
    assert progress.node == ("write_now" if paid == "card" else "debit_when")


def test_how_the_money_was_taken_is_asked_when_the_description_does_not_say(engine):
    progress, reply = _describe(engine, "on m'a facturé deux fois ce mois-ci", "video", "no", "no")
    assert progress.node == "paid_how"
    for typed, paid in (("par prélèvement", "debit"), ("prélèvement", "debit"), ("CB", "card")):
        answered, _ = engine.text(progress, typed, NOW)  # typed, not tapped: the question's own words decide
        assert answered.answers["paid_how"] == paid, typed


def test_a_payment_word_outside_a_billing_problem_changes_nothing(engine):
    """How the money was taken only matters on billing paths: said elsewhere, it is ignored."""
    start, reply = engine.start(now=NOW)
    progress = start.with_(inferred=(("paid_how", "unknown", 0),))
    for answer in ("unreachable", "video", "phone"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    assert progress.node == "write_now"
    assert "mise en demeure dès le" in reply.text and "banque" not in reply.text
    assert "banque" not in said(_detail(engine, progress, reply, "next"))


@pytest.mark.parametrize("answers,outcome", [
    (("written", "waiting"), "wait_answer"),
    (("written", "no_answer", "under_year"), "mediator"),
    (("written", "bad_answer", "over_year"), "too_late"),
    (("written", "mediator_done"), "court"),
])
def test_people_who_already_wrote_get_the_bank_questions_on_billing(engine, answers, outcome):
    hearing = ("no",) if answers[-1] == "waiting" else ()  # the outcome would lead with the phone: asked
    progress, reply = _walk(engine, "billing", "video", *answers, *hearing)
    assert progress.node == "paid_how"
    progress, reply = engine.choose(progress, "debit", reply.token, NOW)
    assert progress.node == "debit_when"
    progress, reply = engine.text(progress, "il y a trois jours", NOW)
    assert progress.node == outcome
    assert "« le remboursement du prélèvement SEPA » du lundi 23 novembre 2026 jusqu'au lundi 18 janvier 2027 inclus" \
        in reply.text
    assert "Révoquer le mandat" in said(_detail(engine, progress, reply, "next"))
    progress, reply = _walk(engine, "requests", "video", *answers, *hearing)  # not about money: no bank question
    assert progress.node == outcome and "banque" not in reply.text


# What the Cstream flow says on the two paths tests/test_telegram.py walked through Telegram
# before it ran on a tiny flow of its own (tests/tiny.py): the wording stays covered here.

def _typed_then(engine, words, *answers, now=NOW):
    """A description typed and taken at once (no « C'est bien ça ? »), then buttons."""
    progress, reply = engine.start(now=now)
    progress, reply = engine.text(progress, words, now)
    assert reply.kind == "choice" and progress.node == "service", reply.text
    for answer in answers:
        progress, reply = engine.choose(progress, answer, reply.token, now)
    return progress, reply


def test_written_and_unanswered_gets_the_mediator_with_its_contacts_and_next_steps(engine):
    progress, reply = _typed_then(engine, "ma réclamation n'a jamais été traitée", "books", "written", "no_answer",
                                  "under_year")
    assert progress.node == "mediator"
    assert "vous pouvez saisir gratuitement le médiateur de la consommation" in reply.text
    assert [b.id[len(DETAIL):] for b in reply.buttons if b.id.startswith(DETAIL)] == ["letter", "channels", "next", "sources"]
    contacts = _detail(engine, progress, reply, "channels")
    assert "https://www.mediateurfevad.fr" in [card.url for card in contacts.cards]
    assert "Préparez" in [title for title, _ in contacts.sections]
    assert "90 jours" in said(_detail(engine, progress, reply, "next"))


def test_a_double_charge_gets_the_open_now_line_and_the_cstream_letter_in_their_words(engine):
    progress, reply = _typed_then(engine, "on m'a prélevé deux fois ce mois-ci", "video", "no", "no", "unknown")
    assert "paid_how" not in [a.node for a in progress.path]  # « prélevé »: only when is asked, not how
    assert progress.node == "write_now" and reply.now == "👉 Le 3979 est ouvert maintenant, jusqu'à 21h."
    letter = _detail(engine, progress, reply, "letter").document
    assert letter.filename == "reclamation-cstream.docx"
    assert "Objet : Réclamation - abonnement Cstream Vidéo" in letter.content
    assert "« on m'a prélevé deux fois ce mois-ci »" in letter.content  # their own words


def test_an_english_interface_gets_the_first_question_in_english(engine):
    _, reply = engine.start(lang="en", now=NOW)
    assert "What is your problem with Cstream" in reply.text


# What the Cstream flow says where the tests of faults, delivery, channels, events and
# acknowledgements walked it through Telegram before they ran on the tiny flow (tests/tiny.py):
# its first questions and their labels, the words they recognise, its entry post's title.

def _press(engine, progress, reply, label, now=NOW):
    """The button of that label pressed (it must be there)."""
    [button] = [b for b in reply.buttons if b.label == label]
    return engine.choose(progress, button.id, reply.token, now)


def test_a_double_charge_walks_the_first_questions_to_writing_now(engine):
    progress, reply = engine.start(now=NOW)
    assert progress.node == "problem" and "Quel est votre problème" in reply.text
    progress, reply = engine.text(progress, "double prélèvement", NOW)
    assert progress.node == "service" and "Quel service Cstream est concerné" in reply.text
    assert progress.answers == {"problem": "billing", "paid_how": "unknown"}  # « prélèvement » alone
    assert {"Cstream Vidéo", "Cstream Music", "Cstream Books"} <= {b.label for b in reply.buttons}
    progress, reply = _press(engine, progress, reply, "Cstream Vidéo")
    assert progress.node == "contacted" and "Avez-vous déjà contacté" in reply.text
    progress, reply = _press(engine, progress, reply, "Non, pas encore")
    assert progress.node == "hearing"
    progress, reply = _press(engine, progress, reply, "Non")
    assert progress.node == "debit_when"  # « prélèvement »: how is read from the description, the day is asked
    progress, reply = _press(engine, progress, reply, "Je ne sais plus")
    assert progress.node == "write_now" and reply.kind == "outcome"
    assert progress.answers == {"problem": "billing", "service": "video", "contacted": "no", "hearing": "no",
                                "paid_how": "unknown", "debit_when": "unknown"}


def test_the_same_path_typed_numbers_and_words_included(engine):
    progress, reply = engine.start(now=NOW)
    for typed in ("on m'a prélevé deux fois", "1", "1", "2", "je ne sais plus"):  # a number at the day is a day
        progress, reply = engine.text(progress, typed, NOW)
    assert progress.node == "write_now", progress.path
    assert progress.answers == {"problem": "billing", "service": "video", "contacted": "no", "hearing": "no",
                                "paid_how": "unknown", "debit_when": "unknown"}  # « prélevé »: how is not asked


@pytest.mark.parametrize("words", ["je n'arrive pas à me connecter", "je n'arrive plus à me connecter"])
def test_a_login_problem_is_recognised_and_asks_the_service(engine, words):
    progress, reply = engine.start(now=NOW)
    progress, reply = engine.text(progress, words, NOW)
    assert progress.node == "service" and progress.answers == {"problem": "access"}
    assert "Quel service Cstream est concerné" in reply.text
    progress, reply = _press(engine, progress, reply, "Cstream Books")
    assert progress.answers["service"] == "books" and "Avez-vous déjà contacté" in reply.text


def test_the_shipped_flows_post_any_companys_entry_and_cstream_its_own_title():
    from bot.flow.files import FlowSet
    from bot.flow.model import tr
    from conftest import FLOWS
    flows, problems = FlowSet.load([FLOWS])
    assert not problems, problems
    assert flows.ids == ["cstream", "general"] and flows.default == "general"  # /publier alone: any company
    assert tr(flows.get("cstream").flow.title, "fr") == "Réclamation Cstream (Cdiscount)"


# What the Cstream flow says where the tests of the command line, the author's tools, the report
# and the engine walked it before they ran on the tiny flow (tests/tiny.py): its outcomes' labels,
# a typed request and the numbers that answer its next question, its recap's few words.

def test_the_eleven_outcomes_are_each_labelled_apart(flow):
    names = [node.name() for node in flow.nodes.values() if node.is_outcome]
    assert len(names) == 11 and len(set(names)) == 11
    assert "Saisir le médiateur" in names and flow.nodes["write_now"].name() == "Écrire en recommandé"


def test_a_request_never_dealt_with_is_read_and_a_number_picks_the_service(engine):
    progress, reply = engine.start(now=NOW)
    progress, reply = engine.text(progress, "ma réclamation n'a jamais été traitée", NOW)
    assert reply.answer == "Ma demande est mal traitée" and progress.node == "service"
    progress, reply = engine.text(progress, "3", NOW)
    assert progress.answers["service"] == "books"
    assert ("Service", "Cstream Books") in engine.summary(progress, NOW)[1].sections


def test_the_recap_of_a_double_charge_names_each_answer_in_a_few_words(engine):
    progress, reply = engine.start(now=NOW)
    progress, reply = engine.text(progress, "on m'a prélevé deux fois ce mois-ci", NOW)
    for label in ("Cstream Vidéo", "Non, pas encore", "Non"):
        progress, reply = _press(engine, progress, reply, label)
    progress, reply = engine.text(progress, "le 20 novembre", NOW)  # the day of the debit
    assert reply.kind == "outcome"
    _, recap = engine.summary(progress, NOW)
    assert recap.sections[:3] == [("Problème", "on m'a prélevé deux fois ce mois-ci"), ("Service", "Cstream Vidéo"),
                                  ("Déjà contacté", "Non, pas encore")]
    assert ("Argent pris le", "vendredi 20 novembre 2026") in recap.sections
    assert recap.facts == ["Parcours terminé : Écrire en recommandé"]
