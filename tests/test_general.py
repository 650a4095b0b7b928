"""Any company, part 2: the general flow (flows/general.yaml) takes a first message about any
company to whom to write there, how long it has, the sector's next steps, its mediator by
name, a letter addressed to it and a follow-up on the sector's delays; Cstream keeps its own
flow, both ways."""
import re
import pytest

from bot.engine import Engine
from bot.engine.reply import DETAIL
from bot.flow.files import FlowSet, load_flow_file
from bot.flow.route import load_router
from bot.ops.events import events_of
from bot.ops.report import aggregate
from bot.telegram.render import render
from conftest import FLOWS, NOW, paris
from test_content import said

THURSDAY = NOW  # 26 November 2026, noon


@pytest.fixture(scope="module")
def flows():
    flows, problems = FlowSet.load([FLOWS], "general")
    assert not problems, problems
    return flows


@pytest.fixture(scope="module")
def engine(flows):
    router, problems = load_router(FLOWS, flows)
    assert router is not None, problems
    return Engine(flows, router=router)


def talk(engine, *steps, now=THURSDAY, lang="fr", flow="general"):
    """A conversation: text typed, `#choice` for a button, `#?choice` for a button pressed only
    when it is offered (the recogniser, not sure, asks to confirm); returns (progress, last reply)."""
    progress, reply = engine.start(flow, lang=lang, now=now)
    for step in steps:
        if step.startswith("#?"):
            if any(b.id == step[2:] for b in reply.buttons):
                progress, reply = engine.choose(progress, step[2:], reply.token, now)
        elif step.startswith("#"):
            progress, reply = engine.choose(progress, step[1:], reply.token, now)
        else:
            progress, reply = engine.text(progress, step, now)
    return progress, reply


def detail(engine, progress, reply, which, now=THURSDAY):
    return engine.choose(progress, DETAIL + which, reply.token, now)[1]


def everything(engine, progress, reply, now=THURSDAY):
    return "\n".join([said(reply)] + [said(detail(engine, progress, reply, b.id[len(DETAIL):], now))
                                      for b in reply.buttons if b.id.startswith(DETAIL)])


def test_sfr_billed_twice_gets_telecoms_two_levels_the_mediator_and_a_letter_to_sfr(engine):
    progress, reply = talk(engine, "SFR me facture deux fois ma box depuis septembre, j'ai appelé 3 fois", "#debit")
    assert progress.node == "write_first" and progress.answers["company"] == "sfr"
    assert "sector" not in [a.node for a in progress.path]  # read from the message, not asked
    text = reply.text
    assert "au service clients de SFR" in text and "Délai de réponse : 1 mois, jusqu'au samedi 26 décembre 2026" in text
    assert text.index("service consommateurs") < text.index("Médiateur des communications électroniques")
    assert "8 semaines" in text  # a direct debit: the bank route
    letter = detail(engine, progress, reply, "letter").document.content
    assert letter.splitlines()[4] == "SFR" and "au plus tard le samedi 26 décembre 2026" in letter
    assert "je m'adresserai à votre service consommateurs, puis au médiateur" in letter  # telecom's next level
    steps = said(detail(engine, progress, reply, "next"))
    assert "service consommateurs (son adresse est sur votre contrat ou votre facture)" in steps
    assert "Cstream" not in everything(engine, progress, reply) and "Cdiscount" not in everything(engine, progress, reply)


def test_a_parcel_marked_delivered_is_claimed_from_the_seller_not_la_poste(engine):
    progress, reply = talk(engine, "mon colis Amazon est marqué livré mais je ne l'ai jamais reçu", "#lost", "#no")
    assert progress.node == "write_first" and progress.answers["company"] == "amazon"
    assert "C'est au vendeur de livrer, pas au transporteur" in reply.text
    everything_said = everything(engine, progress, reply)
    assert "L216-4" in everything_said and "Médiateur du groupe La Poste" not in everything_said
    assert detail(engine, progress, reply, "letter").document.content.splitlines()[4] == "Amazon"


def test_a_late_order_gets_a_formal_notice_with_its_deadline(engine):
    progress, reply = talk(engine, "ma commande Fnac n'est toujours pas livrée, 3 semaines de retard", "#late", "#no")
    assert progress.node == "deliver_notice"
    assert "jusqu'au vendredi 11 décembre 2026" in reply.text and "L216-6" in reply.text  # 15 days


@pytest.mark.parametrize("when,expected", [("#under_two", "due par le vendeur, pas par la marque"),
                                           ("#over_two", "Après 2 ans, la garantie légale de conformité ne joue plus")])
def test_a_broken_appliance_is_the_sellers_guarantee_for_two_years(engine, when, expected):
    progress, reply = talk(engine, "mon lave-linge Darty ne marche plus", when, "#no")
    assert progress.node == "write_first" and expected in reply.text
    letter = detail(engine, progress, reply, "letter").document.content
    assert "garantie légale de conformité (articles L217-3 et suivants" in letter and letter.splitlines()[4] == "Darty"


def test_a_year_old_purchase_said_in_the_message_is_not_asked_again(engine):
    progress, reply = talk(engine, "mon lave-linge acheté chez Darty il y a un an ne marche plus")
    assert progress.answers.get("bought") == "under_two" and progress.node == "contacted"


def test_withdrawal_counts_fourteen_days_from_receipt_and_a_shop_has_none(engine):
    progress, reply = talk(engine, "je veux me rétracter d'un canapé commandé en ligne chez Conforama", "#ecommerce",
                           "#no", "le 20 novembre")
    assert progress.node == "withdraw_now" and "jusqu'au vendredi 4 décembre 2026 inclus" in reply.text
    assert "Conforama" in reply.text
    progress, reply = talk(engine, "je veux me rétracter d'un canapé commandé en ligne chez Conforama", "#ecommerce",
                           "#no", "le 2 novembre")
    assert progress.node == "withdraw_late"
    progress, reply = talk(engine, "je voudrais rendre la télé achetée en magasin chez Boulanger, droit de rétractation ?")
    assert progress.node == "no_withdrawal" and "aucun droit légal de rétractation" in reply.text


def test_a_scam_gets_the_bank_and_the_police_never_a_letter_to_the_scammer(engine):
    progress, reply = talk(engine, "je me suis fait arnaquer par un faux acheteur sur Leboncoin, 250 € perdus")
    assert progress.node == "scam" and "opposition" in reply.text and "plainte" in reply.text
    letter = detail(engine, progress, reply, "letter").document.content  # to the bank, contesting the payments
    assert "[Votre banque" in letter and "non autorisées" in letter and "Leboncoin" not in letter


def test_a_private_seller_is_no_consumer_dispute_but_the_platform_is(engine):
    progress, reply = talk(engine, "un vendeur Vinted m'a envoyé un pull troué", "#?defect", "#private")
    assert progress.node == "private_seller" and "médiateur de la consommation ne s'appliquent" in reply.text
    assert "1641" in reply.text
    progress, reply = talk(engine, "un vendeur Vinted m'a envoyé un pull troué", "#?defect", "#platform", "#no")
    assert progress.node == "write_first" and "au service clients de Vinted" in reply.text
    assert "Centre européen des consommateurs" in said(detail(engine, progress, reply, "next"))  # Vinted: Lithuania


@pytest.mark.parametrize("message,company", [
    ("acheté un iphone 13 a un particulier sur leboncoin, l'écran est fissuré", "leboncoin"),
    ("mon manteau Vinted n'est jamais arrivé, Mondial Relay a perdu le colis", "vinted"),
    ("mon iPhone acheté chez Darty ne s'allume plus", "darty")])
def test_the_complaint_is_against_the_seller_not_the_brand_or_the_carrier(engine, message, company):
    progress, _ = talk(engine, message)
    assert progress.answers["company"] == company


def test_a_doorstep_sale_gets_its_fourteen_days_from_the_signature(engine):
    progress, reply = talk(engine, "un commercial est venu chez ma mère, elle a signé pour des panneaux solaires, "
                                   "on peut annuler ?")
    if progress.node == "company":
        progress, reply = engine.text(progress, "c'est Soleo Energie", THURSDAY)
    if progress.node == "sector":
        progress, reply = engine.choose(progress, "housing-works", reply.token, THURSDAY)
    if progress.node == "where_bought":
        progress, reply = engine.choose(progress, "away", reply.token, THURSDAY)
    progress, reply = engine.text(progress, "mardi dernier", THURSDAY)
    assert progress.node == "withdraw_now" and "jusqu'au mardi 8 décembre 2026 inclus" in reply.text  # 24 Nov + 14
    assert "aucun paiement ne peut être exigé avant 7 jours" in reply.text
    assert "l'entreprise de l'entreprise" not in reply.text


def test_a_flight_cancelled_gets_the_regulation_in_its_letter(engine):
    progress, reply = talk(engine, "Air France a annulé mon vol la veille et ne propose qu'un avoir", "#other", "#no")
    assert progress.node == "write_first" and "261/2004" in reply.text
    letter = detail(engine, progress, reply, "letter").document.content
    assert "règlement (CE) n° 261/2004" in letter and letter.splitlines()[4] == "Air France"


def test_an_unpaid_bill_is_not_sent_to_the_bank(engine):
    progress, reply = talk(engine, "EDF me facture une régularisation énorme", "#billing", "#not_paid", "#no")
    assert "banque" not in reply.text
    assert "rectifier ma facture" in detail(engine, progress, reply, "letter").document.content


def test_i_do_not_know_the_company_reads_as_such(engine):
    progress, reply = talk(engine, "on m'a facturé des frais de dossier", "#billing", "#unknown")
    assert reply.answer == "Je ne sais pas" and "de l'entreprise de l'entreprise" not in reply.text


def test_a_company_not_in_the_directory_keeps_its_name_and_its_sectors_route(engine):
    progress, reply = talk(engine, "je suis chez Zoomtel et ma box est coupée depuis 10 jours", "#no")
    assert progress.answers["company"] == "other" and progress.answers["sector"] == "telecom"
    assert "au service clients de Zoomtel" in reply.text and "1 mois" in reply.text
    assert "celui que ses conditions générales nomment" in reply.text  # telecom's mediator takes members only
    assert detail(engine, progress, reply, "letter").document.content.splitlines()[4] == "Zoomtel"


def test_no_company_named_asks_it_then_the_sector(engine):
    progress, reply = talk(engine, "on ne me rembourse pas une facture payée deux fois")
    assert progress.node == "company" and reply.expects_text
    progress, reply = engine.choose(progress, "unknown", reply.token, THURSDAY)
    assert progress.node == "sector" and len(reply.buttons) > 15
    progress, reply = talk(engine, "on ne me rembourse pas une facture payée deux fois", "c'est Free")
    assert progress.answers["company"] == "free" and progress.answers["sector"] == "telecom"
    assert progress.node == "paid_how"


@pytest.mark.parametrize("text", ["bonjour à tous, je viens d'arriver dans le groupe", "quelle heure est-il",
                                  "merci pour vos conseils, c'est réglé !"])
def test_not_a_consumer_problem_gets_one_line_and_the_invitation(engine, text):
    progress, reply = talk(engine, text)
    assert progress.node == "problem" and not progress.path
    assert "Je suis là pour les litiges avec une entreprise" in reply.notices[0]


def test_cstream_is_handed_to_its_own_flow_and_back(engine):
    progress, reply = talk(engine, "Cstream m'a prélevé deux fois ce mois-ci")
    assert progress.flow == "cstream" and progress.answers["problem"] == "billing"
    assert "parcours" in reply.notices[0] and progress.node == "service"
    progress, reply = talk(engine, "Spotify m'a prélevé deux fois ce mois-ci", flow="cstream")
    assert progress.flow == "general" and progress.answers["company"] == "spotify"
    assert progress.node == "contacted"  # « prélevé »: how the money was taken is not asked


def test_a_company_whose_customers_are_elsewhere_is_told_the_french_route_is_not_theirs(engine):
    progress, reply = talk(engine, "Swisscom me facture deux fois mon abonnement")
    assert progress.node == "problem" and "Suisse" in " ".join(reply.notices)


def test_english_speakers_get_it_in_english_and_the_letter_in_french(engine):
    progress, reply = talk(engine, "My Amazon parcel says delivered but I never received it", "#lost", "#no", lang="en")
    assert progress.node == "write_first" and "Write today to Amazon's customer service" in reply.text
    letter = detail(engine, progress, reply, "letter", THURSDAY).document.content
    assert "Madame, Monsieur" in letter


def test_a_written_complaint_older_than_a_year_is_too_late_for_the_mediator(engine):
    progress, reply = talk(engine, "EDF me facture une régularisation énorme", "#billing", "#card", "#written",
                           "le 3 novembre 2025")
    assert progress.node == "too_late"
    progress, reply = talk(engine, "EDF me facture une régularisation énorme", "#billing", "#card", "#written",
                           "le 3 novembre")
    assert progress.node == "mediator" and "Médiateur du groupe EDF" in reply.text
    assert "jusqu'au dimanche 3 janvier 2027" in reply.text  # 2 months from the letter, EDF's sector


def test_a_telecom_written_complaint_goes_to_the_consumer_service_first(engine):
    progress, reply = talk(engine, "Orange me facture deux fois ma livebox", "#card", "#written", "le 10 novembre")
    assert progress.node == "write_second"
    assert "jusqu'au jeudi 10 décembre 2026" in reply.text  # the customer service's month
    assert "service consommateurs" in reply.text


def _open_case(engine, *steps):
    progress, reply = talk(engine, *steps)
    assert reply.kind == "outcome"
    today = next(b.id for b in reply.buttons if b.id.endswith("today"))
    progress, reply = engine.choose(progress, today, reply.token, THURSDAY)
    assert progress.case is not None and progress.case.open
    return progress


def test_the_follow_up_uses_the_sectors_delays(engine):
    """Telecom: the customer service has a month, then comes the consumer service; energy: two
    months, then the mediator, EDF's by name."""
    sfr = _open_case(engine, "SFR me facture deux fois ma box, j'ai appelé", "#card")
    assert engine.remind(sfr, paris(2026, 12, 27, 11, 0)) is None  # the day after the month, at noon
    progress, reply = engine.remind(sfr, paris(2026, 12, 27, 12, 30))
    assert progress.node == "followup_answer" and "à SFR" in reply.text and "samedi 26 décembre 2026" in reply.text
    progress, reply = engine.choose(progress, "nothing", reply.token, paris(2026, 12, 27, 12, 31))
    assert progress.node == "write_second" and "au service consommateurs" in reply.text
    edf = _open_case(engine, "EDF me facture une régularisation énorme", "#billing", "#card", "#no")
    assert engine.remind(edf, paris(2026, 12, 28, 12, 30)) is None  # not after a month
    progress, reply = engine.remind(edf, paris(2027, 1, 27, 12, 30))
    assert progress.node == "followup_answer" and "mardi 26 janvier 2027" in reply.text
    progress, reply = engine.choose(progress, "unsatisfied", reply.token, paris(2027, 1, 27, 12, 31))
    assert progress.node == "mediator_now" and "Médiateur du groupe EDF" in reply.text


def test_every_outcome_fits_in_700_characters_for_many_companies(engine):
    for lang in ("fr", "en"):
        for company in ("SFR", "EDF", "Amazon", "Darty", "la SNCF", "Air France", "Vinted", "Zoomtel", "AXA",
                        "Basic-Fit", "Crédit Agricole", "la RATP", "Engie"):
            stack = [talk(engine, "#other", company, lang=lang)]
            stack += [talk(engine, f"#{kind}", company, lang=lang)
                      for kind in ("billing", "delivery", "defect", "withdrawal", "sales", "cancel", "scam")]
            seen = 0
            while stack:
                progress, reply = stack.pop()
                if reply.kind == "outcome":
                    seen += 1
                    messages = render(reply, lang, 1)
                    shown = "\n\n".join(re.sub(r"<[^>]+>", "", m.html) for m in messages)
                    assert len(shown) <= 700, (company, progress.node, len(shown), shown)
                    assert "{" not in shown and "[…]" not in shown, shown
                    for b in reply.buttons:
                        if b.id.startswith(DETAIL):
                            shown_detail = detail(engine, progress, reply, b.id[len(DETAIL):])
                            text = said(shown_detail)
                            assert "{" not in text and "route." not in text
                            if shown_detail.document is not None:  # a whole letter: its heading and its close
                                content = shown_detail.document.content
                                assert "Objet :" in content and content.count("Madame, Monsieur") == 2, content
                    continue
                for button in reply.buttons:
                    if not button.id.startswith("_"):
                        stack.append(engine.choose(progress, button.id, reply.token, THURSDAY))
                if reply.kind == "date":
                    stack.append(engine.text(progress, "le 20 novembre", THURSDAY))
            assert seen > 5, company


def test_the_report_counts_the_companies_and_sectors_named(engine, flows):
    rows = []
    for message in ("SFR me facture deux fois ma box", "Free me facture deux fois ma box",
                    "SFR a coupé ma ligne", "mon colis Amazon n'est jamais arrivé"):
        progress, reply = engine.start("general", now=THURSDAY)
        after, reply = engine.text(progress, message, THURSDAY)
        rows += events_of(progress, after, reply, THURSDAY)
    page = [(i, *[row[f] for f in ("day", "flow", "version", "kind", "node", "choice", "understood", "next",
                                   "outcome", "followup", "seconds", "token")]) for i, row in enumerate(rows)]
    stats = aggregate([page], flows)
    assert stats.companies["SFR"] == 2 and stats.companies["Free"] == 1 and stats.companies["Amazon"] == 1
    assert stats.sectors["Télécoms (box, mobile, fixe)"] == 3
    assert all(row["kind"] != "read" or row["choice"] in ("sfr", "free", "amazon", "telecom", "ecommerce")
               for row in rows)


def test_check_refuses_a_flow_on_the_directory_that_misses_a_sector(tmp_path):
    (tmp_path / "directory").symlink_to(FLOWS / "directory")
    text = (FLOWS / "general.yaml").read_text("utf-8")
    broken = re.sub(r"\n      - \{id: streaming-subscription,[^\n]*", "", text)
    (tmp_path / "general.yaml").write_text(broken, "utf-8")
    flow, problems = load_flow_file(tmp_path / "general.yaml")
    assert flow is None and any("no choice 'streaming-subscription' (a sector of the directory)" in p.message for p in problems)
    (tmp_path / "plain.yaml").write_text(text.replace("directory: true\n", ""), "utf-8")
    flow, problems = load_flow_file(tmp_path / "plain.yaml")
    assert flow is None and any("needs the directory" in p.message for p in problems)


def test_a_group_member_gets_the_general_flow_from_start(engine):
    """What /start opens by default (private chat and groups): any company."""
    progress, reply = engine.start(None, now=paris(2026, 11, 26, 9, 0))
    assert progress.flow == "general" and "Décrivez votre problème et l'entreprise" in reply.text


def test_a_transport_fine_gets_its_two_months_from_its_day(engine):
    progress, reply = talk(engine, "le contrôleur RATP m'a mis une amende alors que j'avais mon pass Navigo",
                           "#other", "le 20 novembre", "#no")
    assert progress.node == "write_first" and "Dernier jour : le mercredi 20 janvier 2027" in reply.text
    assert "RATP se conteste dans les 2 mois" in reply.text and "SNCF" not in reply.text
    letter = detail(engine, progress, reply, "letter").document.content
    assert "Le vendredi 20 novembre 2026, j'ai reçu un procès-verbal" in letter and letter.splitlines()[4] == "RATP"


def test_the_sources_name_where_the_sectors_route_and_its_mediator_come_from(engine):
    progress, reply = talk(engine, "SFR me facture deux fois ma box, j'ai appelé 3 fois", "#card")
    sources = detail(engine, progress, reply, "sources").sources
    assert any(line.startswith("service-public.fr F14373") and "vérifié le 07/12/2026" in line for line in sources)
    assert any(line.startswith("jechange.fr") and "non vérifié" in line for line in sources)  # SFR's mediator


def test_someone_living_outside_france_is_told_what_the_bot_covers(engine):
    progress, reply = talk(engine, "j'habite en Belgique et Amazon ne m'a jamais livré mon colis")
    assert "je ne connais que le droit français de la consommation" in " ".join(reply.notices)
    assert progress.node == "delivery_what"  # and the conversation goes on
    progress, reply = talk(engine, "Amazon ne m'a jamais livré mon colis")
    assert not any("hors de France" in n for n in reply.notices)


def test_a_late_order_is_followed_on_its_notices_fifteen_days_then_ended(engine):
    progress = _open_case(engine, "ma commande Fnac n'est toujours pas livrée, 3 semaines de retard", "#late", "#no")
    assert engine.remind(progress, paris(2026, 12, 11, 12, 30)) is None  # the notice's last day
    progress, reply = engine.remind(progress, paris(2026, 12, 12, 12, 30))
    assert progress.node == "followup_delivered" and "jusqu'au vendredi 11 décembre 2026" in reply.text
    progress, reply = engine.choose(progress, "not_settled", reply.token, paris(2026, 12, 12, 12, 31))
    assert progress.node == "end_order"
    letter = detail(engine, progress, reply, "letter", paris(2026, 12, 12, 12, 31)).document.content
    assert "je mets fin au contrat" in letter and "jeudi 26 novembre 2026" in letter  # the notice's day


def test_a_return_not_refunded_asks_for_the_refund_not_a_withdrawal(engine):
    progress, reply = talk(engine, "j'ai renvoyé une enceinte sur Amazon le 28 octobre et je ne suis toujours pas remboursé")
    if progress.node != "contacted":  # read as a withdrawal, or to confirm
        progress, reply = engine.choose(progress, "withdrawal", reply.token, THURSDAY)
    assert progress.answers.get("withdrawn") == "yes" and progress.node == "contacted"
    progress, reply = engine.choose(progress, "no", reply.token, THURSDAY)
    letter = detail(engine, progress, reply, "letter").document.content
    assert "Je n'ai toujours pas été remboursé(e)" in letter and "je vous notifie ma rétractation" not in letter


def test_a_tacit_renewal_without_a_reminder_can_be_ended_at_any_time(engine):
    progress, reply = talk(engine, "Canal+ a reconduit tacitement mon abonnement sans m'envoyer de rappel",
                           "#?cancellation", "#card", "#no")
    assert "L215-1" in reply.text
    letter = detail(engine, progress, reply, "letter").document.content
    assert "article L215-1" in letter and "dans le respect du préavis" not in letter


def test_a_wrong_company_can_be_corrected_at_the_next_question(engine):
    progress, reply = talk(engine, "ma commande Darty n'est jamais arrivée")
    assert progress.answers["company"] == "darty"
    progress, reply = engine.text(progress, "non c'est Boulanger", THURSDAY)
    assert progress.answers["company"] == "boulanger" and "Boulanger" in reply.notices[-1]
    assert progress.node == "delivery_what"


def test_a_number_out_of_range_is_not_guessed(engine):
    progress, reply = talk(engine, "mon colis Amazon est marqué livré mais je ne l'ai jamais reçu")
    same, reply = engine.text(progress, "7", THURSDAY)
    assert same.node == progress.node and "numéro de 1 à" in reply.notices[-1]


def test_a_private_seller_gets_a_hidden_defect_letter(engine):
    progress, reply = talk(engine, "acheté un vélo à un particulier sur leboncoin, le cadre est fissuré")
    if progress.pending:
        progress, reply = engine.choose(progress, progress.pending[0], reply.token, THURSDAY)
    progress, reply = engine.choose(progress, "private", reply.token, THURSDAY)
    assert progress.node == "private_seller"
    letter = detail(engine, progress, reply, "letter").document.content
    assert "garantie des vices cachés (articles 1641 et suivants du Code civil)" in letter
    assert "Vinted" not in said(detail(engine, progress, reply, "sources"))


def test_a_company_named_in_a_long_answer_keeps_its_name(engine):
    progress, reply = talk(engine, "un démarcheur a fait signer un contrat de pompe à chaleur à ma mère", "#?sales",
                           "c'est marqué Eco Renov France sur le bon de commande")
    assert progress.answers["company"] == "other"
    if progress.node == "sector":
        progress, reply = engine.choose(progress, "housing-works", reply.token, THURSDAY)
    assert progress.node == "received_when"  # a canvasser: signed at home, the 14 days asked
    progress, reply = engine.text(progress, "mardi dernier", THURSDAY)
    assert progress.node == "withdraw_now" and "Envoyez votre rétractation à Eco Renov France" in reply.text


def test_the_mediators_file_names_the_company_and_its_mediator(engine):
    progress = _open_case(engine, "SFR me facture deux fois ma box, j'ai appelé", "#card")
    _, reply = engine.case_file(progress, THURSDAY)
    content = reply.document.content
    assert "Entreprise : SFR" in content and "Médiateur : Médiateur des communications électroniques" in content
    assert "- Où en êtes-vous avec SFR ? → J'ai appelé ou écrit sur le chat" in content
    assert "{" not in content and "Décrivez votre problème" not in content


def test_a_return_fee_is_no_return_made_and_a_long_name_is_kept_whole(engine):
    progress, reply = talk(engine, "Commandé un canapé sur le site de maisons du monde, reçu vendredi, il rentre pas "
                                   "dans le salon. je veux le renvoyer mais ils disent frais de retour 120€ a ma charge ??",
                           "Maisons du Monde", "#no", "vendredi")
    assert progress.node == "withdraw_now" and "jusqu'au vendredi 4 décembre 2026 inclus" in reply.text
    assert "rétractation à Maisons du Monde" in reply.text


def test_the_second_level_has_its_own_letter_and_date(engine):
    progress, reply = talk(engine, "Orange me facture deux fois ma livebox", "#card", "#written", "le 10 octobre")
    assert progress.node == "write_second"
    letter = detail(engine, progress, reply, "letter").document.content
    assert "Orange – Service consommateurs" in letter and "au plus tard le samedi 26 décembre 2026" in letter


def test_a_company_is_corrected_where_a_no_would_answer_the_question(engine):
    progress, reply = talk(engine, "mon lave linge darty est en panne au bout d'un an")
    assert progress.node == "contacted"
    progress, reply = engine.text(progress, "non c'est Boulanger", THURSDAY)
    assert progress.answers["company"] == "boulanger" and progress.node == "contacted"


def test_a_carrier_named_for_an_order_sends_the_claim_to_the_seller(engine):
    progress, reply = talk(engine, "la poste m'a rien livré, c'était une commande sur la redoute", "#delivery", "#lost",
                           "#no")
    assert "écrivez aujourd'hui au vendeur (le site où vous avez commandé)" in reply.text
    assert "celui que nomment les conditions générales du vendeur ; pour un envoi confié vous-même" in reply.text
    letter = detail(engine, progress, reply, "letter").document.content
    assert letter.splitlines()[4].startswith("[Le vendeur : le site où vous avez commandé")


def test_a_company_outside_the_directory_named_without_chez_is_who_the_letter_goes_to(engine):
    """« Sixt m'a débité… »: the name the description gives is the letter's addressee, not
    « [Nom de l'entreprise] »."""
    progress, reply = talk(engine, "Sixt m'a débité 250 € de nettoyage alors que la voiture était propre", "#no")
    assert progress.answers["company"] == "other"
    letter = detail(engine, progress, reply, "letter").document.content
    assert letter.splitlines()[4] == "Sixt" and "[Nom de l'entreprise]" not in letter


@pytest.mark.parametrize("text", ["SFR me facture deux fois ma box", "ça marche pas"])
def test_a_first_description_is_read_once_by_the_one_model(engine, monkeypatch, text):
    """The router, then the general flow's question, read it with the same model: its words
    are worked out once, not two or three times."""
    from bot.flow import recognise as R
    read = []
    work = R.Model._features
    monkeypatch.setattr(R.Model, "_features",  # (not counting a model learning its examples)
                        lambda self, cls, *a: (self.vocab is not None and read.append(cls)) or work(self, cls, *a))
    talk(engine, text)
    assert len(read) == 1
