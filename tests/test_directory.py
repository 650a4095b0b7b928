"""Any company, part 1: the directory (companies, sectors, mediators) is checked data, and a
first message is read as company, sector and problem (`classify --route`)."""
import shutil

import pytest

from bot.flow.directory import load_directory
from bot.flow.files import FlowSet
from bot.flow.route import Router
from conftest import FLOWS, NOW

DIRECTORY = FLOWS / "directory"


@pytest.fixture(scope="module")
def router():
    directory, problems = load_directory(DIRECTORY)
    assert directory is not None, problems
    flows, _ = FlowSet.load([FLOWS], "cstream")
    flow = flows.get("cstream").flow
    return Router(directory, flow.nodes[flow.classify_node].choices)


def test_check_passes_on_the_directory(cli):
    code, out, _ = cli("check")
    assert code == 0 and "directory: " in out and " companies, " in out


def test_every_fact_is_sourced_with_a_status_and_a_date():
    directory, _ = load_directory(DIRECTORY)
    facts = [m.fact for m in directory.mediators.values()] + [s.fact for s in directory.sectors.values()] + \
            [f for c in directory.companies.values() for f in (c.mediator, c.address, c.phone) if f is not None]
    assert len(facts) > 40
    for fact in facts:
        assert fact.source in directory.sources and fact.status in ("checked", "secondary", "unverified")
        assert fact.verified.year >= 2026


@pytest.mark.parametrize("change,message", [
    ("  sfr: {name: SFR, aliases: [sfr,", "  sfr: {name: SFR, aliases: [orange, sfr,"),
    ("sector: telecom,\n         mediator: {id: telecom, source: jechange, status: secondary",
     "sector: telecomm,\n         mediator: {id: telecom, source: jechange, status: secondary"),
    ("status: secondary, verified: 2026-12-07}}\n  sfr:", "status: maybe, verified: 2026-12-07}}\n  sfr:"),
    ("mediator: {id: telecom, source: jechange, status: secondary, verified: 2026-12-07}}\n  sfr",
     "mediator: {id: telecom, source: nowhere, status: secondary, verified: 2026-12-07}}\n  sfr"),
])
def test_check_refuses_a_broken_directory(cli, tmp_path, change, message):
    folder = tmp_path / "directory"
    shutil.copytree(DIRECTORY, folder)
    companies = folder / "companies.yaml"
    text = companies.read_text(encoding="utf-8")
    assert change in text
    companies.write_text(text.replace(change, message, 1), encoding="utf-8")
    code, out, _ = cli("check", folder)
    assert code == 1
    expected = {"orange": "alias 'orange' is also", "telecomm": "no sector 'telecomm' (did you mean 'telecom'?)",
                "maybe": "status must be one of checked, secondary, unverified", "nowhere": "no source 'nowhere'"}
    assert any(word in message and hint in out for word, hint in expected.items()), out


def test_a_step_needs_a_delay_like_one_month(cli, tmp_path):
    folder = tmp_path / "directory"
    shutil.copytree(DIRECTORY, folder)
    sectors = folder / "sectors.yaml"
    sectors.write_text(sectors.read_text(encoding="utf-8").replace("wait: 1 month, direct_after: 2 months",
                                                                   "wait: un mois, direct_after: 2 months", 1),
                       encoding="utf-8")
    code, out, _ = cli("check", folder)
    assert code == 1 and "a delay is like \"1 month\"" in out


@pytest.mark.parametrize("text,company,sector", [
    ("Spotify m'a prélevé deux fois ce mois-ci", "spotify", "streaming-subscription"),
    ("Comment je résilie Netflix ?", "netflix", "streaming-subscription"),
    ("bouyges me facture deux fois ma bbox", "bouygues", "telecom"),
    ("ma commande cdisount n'est jamais arrivée", "cdiscount", "ecommerce"),
    ("l'appli sncf connect plante au paiement", "sncf", "rail"),
    ("Cdiscount stream me prélève encore alors que j'ai résilié", "cstream", "streaming-subscription"),
    ("Basic Fit refuse de résilier mon abonnement", "basic-fit", "gym-club"),
    ("L'Orange Bleue me prélève encore après ma résiliation", "l-orange-bleue", "gym-club"),
    ("ma box redémarre toute seule tous les soirs", "unknown", "telecom"),
    ("mon colis est marqué livré mais je ne l'ai jamais reçu", "unknown", "delivery"),
    ("Chez Zoomtel on m'a facturé deux fois la box", "zoomtel", "telecom"),
])
def test_company_and_sector_are_read_from_the_first_message(router, text, company, sector):
    found = router.route(text)
    assert (found.company, found.sector) == (company, sector), found.why


@pytest.mark.parametrize("text,company,country", [
    ("La SNCB a supprimé mon train sans rien rembourser", "sncb", "BE"),
    ("Proximus me facture du hors forfait", "proximus", "BE"),
    ("Swisscom me facture deux fois", "swisscom", "CH"),
    ("Vidéotron coupe internet tous les soirs", "videotron", "CA"),
])
def test_a_company_outside_france_is_itself_never_a_french_one(router, text, company, country):
    found = router.route(text)
    assert (found.company, found.country) == (company, country) and found.company not in ("sncf", "free", "orange")


@pytest.mark.parametrize("text", ["Qui regarde le match ce soir ?", "bonne année à tous 🎉",
                                  "Vous me conseillez quelle box pour un studio ?"])
def test_a_message_that_is_no_consumer_problem_is_dashes_and_none(router, text):
    assert router.route(text).line() == "-\t-\tnone"


def test_classify_route_prints_company_sector_problem_first(cli):
    code, out, _ = cli("classify", "--route", "--explain", "Spotify m'a prélevé deux fois")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "spotify\tstreaming-subscription\tbilling"
    assert any("company: « spotify » is an alias of spotify" in line for line in lines)


@pytest.mark.parametrize("text,finer,printed", [
    ("J'ai commandé un canapé sur internet il y a trois jours, je veux me rétracter", "withdrawal", "cancel"),
    ("Un faux conseiller de ma banque m'a fait valider des paiements par SMS, c'est une arnaque", "scam", "other"),
])
def test_classify_prints_the_twelve_kinds_while_the_flow_keeps_the_finer_one(router, text, finer, printed):
    found = router.route(text)
    assert found.problem == finer and found.line().split("\t")[2] == printed, found.why


def test_check_refuses_a_counts_as_that_names_no_kind(cli, tmp_path):
    folder = tmp_path / "directory"
    shutil.copytree(DIRECTORY, folder)
    problems = folder / "problems.yaml"
    problems.write_text(problems.read_text(encoding="utf-8").replace("counts_as: other", "counts_as: autre", 1),
                        encoding="utf-8")
    code, out, _ = cli("check", folder)
    assert code == 1 and "counts_as: no problem 'autre'" in out


def test_evaluate_route_reports_each_column(cli, tmp_path):
    tsv = tmp_path / "route.tsv"
    tsv.write_text("company\tsector\tproblem\tmessage\n"
                   "spotify\tstreaming-subscription\tbilling\tSpotify m'a prélevé deux fois\n"
                   "netflix\tstreaming-subscription\tcancel|billing\tComment je résilie Netflix ?\n"
                   "-\t-\tnone\tbonne année à tous\n", encoding="utf-8")
    code, out, _ = cli("evaluate", "--route", "--tsv", tsv)
    assert code == 0 and out.startswith(f"{tsv}: 3 messages; company 100.0%, sector 100.0%, problem 100.0%")
    code, out, _ = cli("evaluate", "--route", "--tsv", tsv, "--half", "held-out")
    assert out.startswith(f"{tsv} (held-out half): 1 messages")


@pytest.mark.parametrize("text", [
    "résilié depuis septembre, pourtant prélevé ce mois-ci encore",
    "Abonnement résilié le 3 mars, et le 5 avril on m'a prélevé comme si de rien n'était",
    "I cancelled in May, they still charged me in June",
])
def test_a_cancellation_followed_by_a_charge_is_an_ignored_cancellation_in_cstream_too(flow, router, text):
    from bot.flow.recognise import recognise
    verdict = recognise(text, flow.nodes[flow.classify_node].choices)
    assert (verdict.choice or verdict.candidates[0]) == "cancellation", verdict.hits[:2]
    assert router.route(text).problem == "cancellation"


@pytest.mark.parametrize("typed,company", [("Bouygues", "bouygues"), ("c'est Free", "free"), ("je ne sais pas", "unknown"),
                                           ("chez Zoomtel", "zoomtel"), ("euh, SFR je crois", "sfr"), ("aucune idée", "unknown")])
def test_a_company_asked_afterwards_is_read_from_a_typed_answer(router, typed, company):
    assert router.company_answer(typed) == company


def test_a_sector_fact_is_worded_as_its_status_says():
    directory, _ = load_directory(DIRECTORY)
    facts = [f for s in directory.sectors.values() for f in s.facts]
    assert len(facts) >= 8
    for fact in facts:
        text = fact.value
        if fact.status == "secondary":
            assert "non vérifié" in text["fr"] and "not checked" in text["en"], text
        else:
            assert fact.status == "checked" and "non vérifié" not in text["fr"]
    air = " ".join(f.value["fr"] for f in directory.sectors["air"].facts)
    assert "7 février 2026" in air and "Conseil d'État" in air and "avant la publication du décret" in air


# -- the Cstream flow, told about another company ---------------------------------------------

@pytest.fixture(scope="module")
def routed(flow):
    from bot.engine import Engine
    from bot.flow.route import load_router
    flows = FlowSet([flow])
    router, problems = load_router(FLOWS, flows)
    assert router is not None, problems
    return Engine(flows, router=router)


def _first(engine, text, lang="fr"):
    progress, _ = engine.start(lang=lang, now=NOW)
    return engine.text(progress, text, NOW)


def test_another_companys_charge_gets_its_general_route_not_cstreams_questions(routed):
    progress, reply = _first(routed, "Spotify m'a prélevé deux fois ce mois-ci")
    assert progress.node == "problem" and not progress.path  # no Cstream question asked
    said = " ".join(reply.notices)
    assert said.startswith("Vous parlez de Spotify") and "réclamation écrite au service clients" in said
    assert "economie.gouv.fr/mediation-conso" in said and "Cdiscount SA" not in said and "3979" not in said
    progress, reply = routed.text(progress, "en fait c'est Cstream qui m'a prélevé deux fois", NOW)
    assert progress.node == "service" and reply.answer == "Erreur de facturation"  # then the flow goes on



def test_a_telecom_operator_gets_its_second_level_and_its_mediator_with_the_status(routed):
    _, reply = _first(routed, "SFR me facture deux fois ma box")
    said = " ".join(reply.notices)
    assert "au service consommateurs (son adresse est sur votre contrat ou votre facture)" in said
    assert "Sans aucune réponse à votre première réclamation en 2 mois" in said
    assert "Médiateur des communications électroniques, mediation-telecom.org, non vérifié pour SFR" in said


def test_a_cdiscount_order_is_no_cstream_problem_but_a_cdiscount_charge_may_be(routed):
    progress, reply = _first(routed, "ma commande Cdiscount (un frigo) n'est jamais arrivée")
    assert progress.node == "problem" and "Vous parlez de Cdiscount" in " ".join(reply.notices)
    assert "Cdiscount SA, 120-126 quai de Bacalan, 33300 Bordeaux" in " ".join(reply.notices)
    for text in ("Cdiscount m'a prélevé deux fois", "Cstream m'a prélevé deux fois", "on m'a prélevé deux fois"):
        progress, reply = _first(routed, text)
        assert progress.node == "service" and not any(n.startswith("Vous parlez") for n in reply.notices)


def test_a_company_whose_customers_are_not_in_france_gets_no_french_route(routed):
    _, reply = _first(routed, "Proximus me facture deux fois")
    said = " ".join(reply.notices)
    assert "une entreprise de Belgique" in said and "médiateur de la consommation" not in said
    _, reply = _first(routed, "Proximus charged me twice", lang="en")
    assert "a company in Belgium" in " ".join(reply.notices)


def test_the_terminal_gives_the_general_route(cli):
    """Without the general flow (the Cstream file alone), another company gets its route in a
    few sentences; with it (the default), its whole flow, EDF's mediator by name."""
    code, out, _ = cli("chat", "--flow", str(FLOWS / "cstream.yaml"), "--no-store",
                       stdin="EDF me facture une régularisation énorme\n")
    assert code == 0 and "Vous parlez d'EDF" in out and "Médiateur du groupe EDF, mediateur.edf.fr" in out
    code, out, _ = cli("chat", "--no-store", "--at", "2026-11-28 08:20",
                       stdin="EDF me facture une régularisation énorme\noui\nprélèvement\nnon\n3\n")
    assert code == 0 and "Écrivez aujourd'hui au service clients d'EDF" in out
    assert "Médiateur du groupe EDF, mediateur.edf.fr" in out and "Cstream" not in out


@pytest.mark.parametrize("text", ["par quel canal contacter le service client Cstream ?",
                                  "l'écran devient orange quand je lance une vidéo Cstream",
                                  "ma banque me dit que Cdiscount m'a prélevé deux fois"])
def test_a_common_word_or_the_bank_does_not_take_a_cstream_problem_elsewhere(routed, text):
    _, reply = _first(routed, text)
    assert not any(n.startswith("Vous parlez") for n in reply.notices)


def test_a_common_word_names_no_company_but_a_capital_or_its_sector_words_do(router):
    assert router.route("mon boulanger m'a vendu du pain rassis").company != "boulanger"
    assert router.route("Boulanger refuse de reprendre mon lave-linge").company == "boulanger"
    assert router.route("ma livebox orange ne marche plus").company == "orange"
    assert router.route("canal+ continue de me prélever alors que j'ai résilié").company == "canal-plus"


def test_the_route_says_only_what_the_words_call_for_and_what_the_sources_say(routed):
    said = " ".join(_first(routed, "amende RATP alors que j'avais mon pass navigo")[1].notices)
    assert "2 mois de l'infraction" in said and "SNCF" not in said
    said = " ".join(_first(routed, "ENGIE me facture une régularisation énorme")[1].notices)
    assert "au service Consommateurs national" in said and "Médiateur national de l'énergie" in said
    said = " ".join(_first(routed, "TotalEnergies m'a prélevé trop")[1].notices)
    assert "Médiateur national de l'énergie" in said and "ne prend que ses membres" not in said
    said = " ".join(_first(routed, "ma livebox Orange ne marche plus")[1].notices)
    assert "Mobile" not in said  # the mobile address is not for a livebox
    said = " ".join(_first(routed, "Veolia me facture une fuite")[1].notices)
    assert "Médiation de l'eau, mediation-eau.fr (non vérifié), ne prend que ses membres" in said
    said = " ".join(_first(routed, "SFR")[1].notices)  # a name alone
    assert said.startswith("Vous parlez de SFR")
    said = " ".join(_first(routed, "Ryanair a annulé mon vol")[1].notices)
    assert "hors de France" not in said  # no source gives its seat


@pytest.mark.parametrize("text", [
    "depuis la mise à jour de mon iPhone l'appli cstrem refuse mes identifiants",
    "ma fille a tapé un mauvais code sur la tablette Samsung et le compte familial est verrouillé",
    "sur le site cdiscount le lecteur vidéo reste gris quand j'appuie sur lecture",
    "Ma box Free coupe Cstream toutes les deux minutes",
])
def test_a_cstream_problem_that_names_a_device_or_cdiscount_stays_in_the_cstream_flow(routed, text):
    _, reply = _first(routed, text)
    assert not any(n.startswith("Vous parlez") for n in reply.notices)


@pytest.mark.parametrize("added,message", [
    ("companies: [a, b]\n", "companies must be a mapping of id"),
    ("companies:\n  x: {name: X, aliases: xx, sector: telecom}\n", "aliases must be a list"),
    ("companies:\n  x: {name: X, aliases: [xx], sector: telecom, steps: 3}\n", "steps must be a list"),
    ("companies:\n  x: {name: X, aliases: [xx], sector: telecom, activities: [a]}\n", "activities must be a mapping"),
    ("problems:\n  p: {keywords: 3}\n", "keywords must be a list"),
    ("mediators:\n  m: {name: M, address: 3, how: t, source: jechange, status: checked, verified: 2026-12-07}\n",
     "address must be a list"),
])
def test_a_malformed_directory_file_gets_one_line_not_a_traceback(cli, tmp_path, added, message):
    folder = tmp_path / "directory"
    shutil.copytree(DIRECTORY, folder)
    (folder / "zz.yaml").write_text("schema: 1\n" + added, encoding="utf-8")
    code, out, _ = cli("check", folder)
    assert code == 1 and f"{folder / 'zz.yaml'}:" in out and message in out


def test_a_kind_named_in_another_file_gets_its_examples_and_a_new_kind_needs_a_label(cli, tmp_path):
    folder = tmp_path / "directory"
    shutil.copytree(DIRECTORY, folder)
    (folder / "more.yaml").write_text('schema: 1\nproblems:\n  billing:\n    examples: ["la régie me compte '
                                      'deux fois la redevance des ordures ménagères"]\n', encoding="utf-8")
    directory, problems = load_directory(folder)
    billing = next(c for c in directory.problems if c.id == "billing")
    assert not problems and billing.label["fr"] == "Erreur de facturation"
    assert "la régie me compte deux fois la redevance des ordures ménagères" in billing.recogniser.examples
    assert len([c for c in directory.problems if c.id == "billing"]) == 1
    (folder / "more.yaml").write_text('schema: 1\nproblems:\n  biling:\n    examples: ["facturé deux fois"]\n',
                                      encoding="utf-8")
    code, out, _ = cli("check", folder)
    assert code == 1 and "problem biling: no label in any file" in out and "did you mean 'billing'" in out


def test_the_general_flow_learns_each_example_of_the_directory_once():
    """The general flow is lent its directory's kinds, then the Cstream flow's: an example said
    in both places must still weigh as one, not twice against the Cstream flow's own."""
    flows, _ = FlowSet.load([FLOWS], None)
    general = flows.get(flows.general).flow
    directory, _ = load_directory(FLOWS / "directory")
    for choice in general.nodes[general.classify_node].choices:
        examples = choice.recogniser.examples
        assert len(examples) == len(set(examples)), choice.id
        kind = next((k for k in directory.problems if k.id == choice.id), None)
        if kind is not None:  # every example of the directory's kind is there
            assert set(kind.recogniser.examples) <= set(examples)


@pytest.mark.parametrize("text,company", [
    ("Sixt m'a débité 250 € de nettoyage alors que la voiture était propre", "sixt"),
    ("PostFinance me refuse l'accès à mon compte depuis mon nouveau téléphone", "postfinance"),
    ("Mon compte Hello Bank est bloqué depuis un virement", "hello-bank"),
    ("Aspirateur Dyson qui s'arrête toutes les dix secondes", "dyson"),
    ("Ma commande La Redoute devait arriver samedi, toujours rien", "la-redoute"),
    ("J'ai fermé mon compte chez Énergir et ils me facturent encore", "energir"),
    ("Le vigile de l'Intermarché m'a fouillé le sac devant tout le monde", "intermarche"),
    # no company: a place, an abbreviation, a label quoted from a statement, someone
    ("J'habite à Genève et mon colis n'est jamais arrivé", "unknown"),
    ("Le SAV ne répond jamais au téléphone", "unknown"),
    ("Prélèvement de 29,90 € « PAY*SRV 0800 » sur mon compte, aucune idée de ce que c'est", "unknown"),
    ("Personne ne m'a répondu depuis trois semaines pour mon remboursement", "unknown"),
])
def test_a_company_outside_the_directory_is_named_wherever_it_stands(router, text, company):
    """Not only after « chez »: the subject of « m'a », « me », « ne », a capitalised name in the
    sentence; never a place, an abbreviation, a quoted label or a person."""
    found = router.route(text)
    assert found.company == company, found.why


def test_a_common_word_after_what_says_a_company_names_it(router):
    assert router.route("prélevée 2 fois par free ce mois ci 39,99 x2").company == "free"
    assert router.route("au téléphone le conseiller orange m'a dit que l'option était offerte").company == "orange"
    assert router.route("j'ai acheté un pull orange chez Zara, il a déteint au premier lavage").company == "zara"


@pytest.mark.parametrize("text", ["quelle heure est-il", "On dit septante ou soixante-dix chez vous ?"])
def test_words_that_speak_for_no_kind_are_no_consumer_problem(router, text):
    assert router.route(text).line() == "-\t-\tnone", router.route(text).why


def test_the_general_flow_reads_a_description_with_the_routers_model_and_the_same_answers():
    """One model for the two (memory, start-up): read against the router's kinds, restricted to
    the general flow's, a description gets the answer the general flow's own model gives."""
    from bot.engine import Engine
    from bot.flow.recognise import _MODELS, recognise
    from bot.flow.route import load_router
    flows, _ = FlowSet.load([FLOWS], None)
    router, _ = load_router(FLOWS, flows)
    general = flows.get(flows.general).flow
    node = general.nodes[general.classify_node]
    engine = Engine(flows, router=router)
    engine.warm_up(NOW)
    assert _MODELS.get(id(node.choices)) is None  # not built: the router's serves
    ids = {c.id for c in node.choices}
    for text in ["SFR me facture deux fois ma box", "j'ai résilié en mars et Free me prélève encore",
                 "mon colis Chronopost est marqué livré mais jamais reçu", "le frigo Boulanger fuit",
                 "impossible de joindre le service client d'EDF", "on m'a vendu une option sans me demander"]:
        own, shared = recognise(text, node.choices, ids), recognise(text, router.problems, ids)
        assert (own.choice, own.candidates) == (shared.choice, shared.candidates), text
