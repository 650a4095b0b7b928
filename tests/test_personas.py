"""Twenty-odd people, each a short story typed in words (never a number), played end to end
through the offline Telegram and through the terminal. Each asserts what a correct
recommendation must say, and must not say, in the short outcome and in one detail opened."""
from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest

from bot.console import run_console
from bot.engine.timeline import written_date
from bot.flow.files import FlowSet
from bot.store import ConversationKey
from conftest import NOW, make_bot, paris
from tg import Person

SUNDAY_NIGHT = paris(2026, 11, 29, 22, 0)
CHRISTMAS = paris(2026, 12, 25, 10, 0)
ALL_SAINTS = paris(2026, 11, 1, 10, 0)  # a public holiday, and a Sunday
TODAY = date(2026, 11, 26)              # NOW's day


def until(day: date) -> str:
    """« jusqu'au jeudi 21 janvier 2027 inclus »: a last day as the outcome writes it."""
    return f"jusqu'au {written_date(day, 'fr')} inclus"


# The bank's delays, from the facts page (unchecked): an authorised direct debit is refunded
# on request within 8 weeks of the debit; an operation never agreed to is contested within 13 months.
REFUND_WEEKS = timedelta(weeks=8)


@dataclass
class Persona:
    name: str
    says: list[str]                 # typed, in order: a description, then answers in words
    must: list[str]                 # in the short outcome
    must_not: list[str] = field(default_factory=list)
    detail: str | None = None       # typed to open a detail
    detail_must: list[str] = field(default_factory=list)
    detail_must_not: list[str] = field(default_factory=list)
    lang: str = "fr"
    now: datetime = NOW
    order: list[str] = field(default_factory=list)  # in the short outcome, in this order


PERSONAS = [
    # Debited twice today, by direct debit, said when asked: the bank's 8 weeks end
    # after the answer the letter asks for (26 December), so the written complaint comes first.
    Persona("double charge", ["Cstream m'a facturé deux fois ce mois-ci", "vidéo", "non pas encore", "non",
                              "par prélèvement", "aujourd'hui"],
            ["Envoyez aujourd'hui votre réclamation écrite", "au plus tard le samedi 26 décembre 2026",
             "Le plus rapide : demandez à votre banque « le remboursement du prélèvement SEPA » du jeudi "
             "26 novembre 2026 " + until(TODAY + REFUND_WEEKS),
             "(8 semaines, non vérifié)",
             "👉 Le 3979 est ouvert maintenant, jusqu'à 21h."],
            ["Votre situation", "15 jours", "D'abord", "13 mois", "Si c'était"],
            "la lettre", ["je vous demande de me le rembourser", "« Cstream m'a facturé deux fois ce mois-ci »",
                          "Le jeudi 26 novembre 2026, j'ai constaté un double prélèvement",
                          "Objet : Réclamation - abonnement Cstream Vidéo"],
            ["au sujet du problème suivant"],
            order=["Envoyez aujourd'hui votre réclamation écrite", "Le plus rapide : demandez à votre banque"]),
    # « prélevé » alone is said of card payments too: the question is skipped, and the bank
    # route is given for the case it was a direct debit.
    Persona("says « prélevé », which may be a card", ["on m'a prélevé deux fois ce mois-ci", "vidéo",
                                                       "non pas encore", "non", "hier"],
            ["Si c'était un prélèvement : demandez à votre banque « le remboursement du prélèvement SEPA » du "
             "mercredi 25 novembre 2026 " + until(date(2026, 11, 25) + REFUND_WEEKS),
             "au plus tard le samedi 26 décembre 2026"],
            ["Le plus rapide : demandez", "13 mois"],
            "si ça ne marche pas", ["Votre banque : Si c'était un prélèvement, demandez à votre banque « le "
                                    "remboursement du prélèvement SEPA »"]),
    # The description says the card: no question on how the money was taken, no bank refund
    # of a direct debit.
    Persona("says the card in the description", ["j'ai été débité deux fois par CB", "music", "non pas encore", "non"],
            ["Envoyez aujourd'hui votre réclamation écrite", "au plus tard le samedi 26 décembre 2026"],
            ["prélèvement", "Quel jour", "contestez"]),
    # An explicit direct debit in the description: the question is skipped, only the day is asked.
    Persona("says « prélèvement automatique »", ["deux prélèvements automatiques Cstream ce mois-ci", "books",
                                                "non pas encore", "non", "le 20 novembre"],
            ["Le plus rapide : demandez à votre banque « le remboursement du prélèvement SEPA » du vendredi "
             "20 novembre 2026 " + until(date(2026, 11, 20) + REFUND_WEEKS)],
            ["Si c'était"]),
    # Debited twice a month ago by direct debit: the bank's deadline is nearer than the answer
    # asked from Cdiscount, so it comes first.
    Persona("direct debit twice, bank deadline first", ["Cstream m'a débité deux fois par prélèvement",
                                                          "music", "non pas encore", "non", "le 26 octobre"],
            ["D'abord, demandez à votre banque « le remboursement du prélèvement SEPA » du lundi "
             "26 octobre 2026 " + until(date(2026, 10, 26) + REFUND_WEEKS), "(8 semaines, non vérifié)",
             "au plus tard le samedi 26 décembre 2026"],
            ["13 mois", "dès que possible"],
            "si ça ne marche pas", ["Gardez le relevé de compte qui le montre et le numéro (la référence) du mandat",
                                    "Révoquer le mandat arrête les prélèvements futurs, mais ne met pas fin à "
                                    "l'abonnement : résiliez-le aussi",
                                    "dans les 8 semaines suivant le débit", "information non confirmée"],
            ["L133", "L133-25"],
            order=["D'abord, demandez", "Envoyez aujourd'hui votre réclamation écrite"]),
    # A debit never agreed to, older than 8 weeks: not the refund, the 13-month contest.
    Persona("never agreed, older than 8 weeks", ["on m'a prélevé 9,99 € sans mon accord", "music",
                                                 "non pas encore", "non", "le 15 août"],
            ["contestez-le auprès de votre banque comme « opération non autorisée » "
             + until(date(2027, 9, 15)), "(13 mois, non vérifié)", "gardez le relevé qui le montre",
             "Ce paiement du samedi 15 août 2026", "au plus tard le samedi 26 décembre 2026"],
            ["remboursement du prélèvement", "L133"],
            "si ça ne marche pas", ["peut être contestée auprès de votre banque dans les 13 mois",
                                    "ne met pas fin à l'abonnement"], ["L133"]),
    # How the money was taken is not known; « en novembre » counts from 1 November (errs early).
    Persona("payment method unknown", ["on m'a facturé deux fois", "vidéo", "non pas encore", "non",
                                       "je ne sais pas", "en novembre",  # the day is asked; the 1st, knowingly
                                       "Compter à partir du dimanche 1er novembre 2026"],
            ["Si c'était un prélèvement : demandez à votre banque « le remboursement du prélèvement SEPA » "
             "du dimanche 1er novembre 2026 " + until(date(2026, 11, 1) + REFUND_WEEKS),
             "au plus tard le samedi 26 décembre 2026"],
            ["13 mois"], order=["Envoyez aujourd'hui votre réclamation écrite", "Si c'était un prélèvement"]),
    # A report on SignalConso is not a complaint: the written complaint still goes out.
    Persona("already reported on SignalConso", ["on m'a facturé deux fois", "vidéo",
                                                "j'ai fait un signalement sur SignalConso", "non",
                                                "par carte bancaire"],
            ["Un signalement SignalConso n'est pas une réclamation : envoyez aujourd'hui la vôtre en recommandé",
             "au plus tard le samedi 26 décembre 2026"],
            ["remboursement du prélèvement", "contestez"],
            "si ça ne marche pas", ["SignalConso (DGCCRF) reçoit des signalements : ce n'est pas une réclamation ; "
                                    "l'entreprise est prévenue et peut répondre."]),
    # Already wrote to Cdiscount, still waiting: the letter is not given again, the bank route is.
    Persona("wrote already, direct debit", ["Cstream m'a débité deux fois par prélèvement", "vidéo", "par écrit",
                                             "pas encore de réponse", "non", "le 20 novembre"],
            ["Courrier récent", "mise en demeure",
             "Le plus rapide : demandez à votre banque « le remboursement du prélèvement SEPA » du vendredi "
             "20 novembre 2026 " + until(date(2026, 11, 20) + REFUND_WEEKS),
],
            ["Envoyez aujourd'hui votre réclamation écrite"],
            "si ça ne marche pas", ["Révoquer le mandat arrête les prélèvements futurs"],
            order=["Courrier récent", "Le plus rapide"]),
    # Wrote months ago about a charge never agreed to: the mediator, and the bank's 13 months.
    Persona("wrote already, never agreed", ["on m'a prélevé 9,99 € sans mon accord", "music", "par écrit",
                                            "pas de réponse depuis plus de 2 mois", "moins d'un an", "le 15 août"],
            ["saisissez le médiateur, gratuit",
             "contestez-le auprès de votre banque comme « opération non autorisée » "
             + until(date(2027, 9, 15)), "(13 mois, non vérifié)"],
            ["remboursement du prélèvement", "L133"]),
    Persona("wants to cancel", ["je veux résilier mon abonnement, comment faire ?", "music", "non"],
            ["fonction de résiliation en ligne", "résilier en trois clics", "si elle est proposée",
             "1er juin 2023", "au plus tard le samedi 26 décembre 2026"],
            ["n'a pas été prise en compte", "Passez maintenant à l'écrit", "réclamation écrite"],
            "la lettre", ["Objet : Résiliation de mon abonnement Cstream Music",
                          "« je veux résilier mon abonnement, comment faire ? »"],
            ["n'a pas été prise en compte", "MISE EN DEMEURE"]),
    Persona("wants to change plan", ["je voudrais passer à la formule Music seule", "music", "non"],
            ["Pour résilier ou changer d'offre", "si elle est proposée"], ["n'a pas été prise en compte"]),
    Persona("cancellation ignored", ["j'ai résilié il y a deux mois et l'abonnement est toujours actif",
                                     "vidéo", "non pas encore", "non", "par carte bancaire"],
            ["Envoyez aujourd'hui votre réclamation écrite", "au plus tard le samedi 26 décembre 2026"],
            ["résilier en trois clics"],
            "la lettre", ["Cette demande n'a pas été prise en compte", "article L215-1-1"]),
    Persona("deaf, says so in the description", ["je suis sourde et je n'arrive plus à me connecter à mon compte",
                                                 "vidéo", "non pas encore"],
            ["Contactez d'abord le service client",
             "👉 La plateforme accessibilité est ouverte maintenant, jusqu'à 17h (horaires non confirmés)."],
            ["3979", "Appelez", "téléphone"],
            "autres moyens de contact", ["🧏 Plateforme accessibilité"], ["3979", "Appelez"]),
    Persona("hard of hearing, says so in an answer", ["l'appli plante sans arrêt", "vidéo",
                                                      "non, et je suis malentendant"],
            ["👉 La plateforme accessibilité est ouverte maintenant"], ["3979"],
            "autres moyens de contact", ["🧏 Plateforme accessibilité"], ["📞"]),
    Persona("deaf on Christmas day", ["je suis sourd, on m'a facturé deux fois", "vidéo", "non pas encore",
                                      "je ne sais pas", "je ne sais plus"],
            ["La plateforme accessibilité : jour férié",
             "Les réseaux sociaux sont ouverts maintenant, jusqu'à 18h (horaires non confirmés)."],
            ["3979", "La plateforme accessibilité est ouverte"], now=CHRISTMAS),
    Persona("English speaker charged twice", ["I was charged twice this month", "video", "no", "no", "by card"],
            ["Send your written complaint today", "by Saturday 26 December 2026",
             "👉 The 3979 phone line is open now, until 21:00."],
            ["Envoyez"],
            "the letter", ["The letter is in French: it relies on French consumer law",
                           "Objet : Réclamation - abonnement Cstream Vidéo", "samedi 26 décembre 2026"],
            ["Saturday", "Dear", "a billing error", "« I was charged"], lang="en"),
    Persona("English speaker who wants to cancel", ["how do I cancel my Cstream subscription?", "books", "no"],
            ["cancel in three clicks", "if it is offered"], ["was ignored"],
            "the letter", ["Objet : Résiliation de mon abonnement Cstream Books", "The letter is in French"],
            ["Subject", "« how do I cancel"], lang="en"),
    Persona("English speaker, deaf", ["I am deaf and I was charged twice", "video", "no", "by card"],
            ["👉 The accessibility platform is open now, until 17:00 (hours not confirmed)."], ["3979"], lang="en"),
    Persona("nobody answers the phone", ["personne ne répond jamais au téléphone", "vidéo", "par téléphone"],
            ["Envoyez aujourd'hui votre réclamation écrite"], ["Le 3979 est ouvert"],
            "autres moyens de contact", ["Espace client", "Un recommandé fait foi même sans réponse"], ["3979"]),
    Persona("written, unanswered for over two months", ["ma réclamation n'a jamais été traitée", "books",
                                                        "par écrit", "pas de réponse depuis plus de 2 mois",
                                                        "moins d'un an"],
            ["vous pouvez saisir gratuitement le médiateur de la consommation", "au plus tard 1 an après",
             "mise en demeure", "au plus tard le vendredi 11 décembre 2026"],
            ["Europa", "deux mois"],
            "si ça ne marche pas", ["Correction : la médiation dure au plus 90 jours", "5 000 €",
                                    "le conciliateur de justice est gratuit", "tribunal"], ["Europa est"]),
    Persona("written over a year ago", ["ma réclamation n'a jamais été traitée", "books", "par écrit",
                                        "pas de réponse depuis plus de 2 mois", "l'année dernière"],
            ["le médiateur refusera ce dossier", "mise en demeure", "pour une demande jusqu'à 5 000 €",
             "le conciliateur de justice est gratuit", "puis le tribunal"],
            ["saisir gratuitement le médiateur"],
            "la lettre", ["MISE EN DEMEURE", "je saisirai le conciliateur de justice, puis le tribunal compétent"],
            ["je saisirai le médiateur"]),
    Persona("written, refused", ["ils refusent de me rembourser le prélèvement en trop", "vidéo", "par écrit",
                                 "un refus", "moins d'un an", "je ne sais plus"],
            ["saisissez le médiateur, gratuit", "mise en demeure",
             "Si c'était un prélèvement, demandez au plus vite à votre banque « le remboursement du prélèvement SEPA »"],
            [],
            "la lettre", ["Objet : MISE EN DEMEURE - abonnement Cstream Vidéo",
                          "« ils refusent de me rembourser le prélèvement en trop »"]),
    Persona("written recently", ["j'attends toujours une réponse à ma réclamation", "vidéo", "par écrit",
                                 "pas encore de réponse", "non"],
            ["Votre courrier est récent", "mise en demeure", "qui lui laisse 15 jours",
             "Dites-moi quel jour il est parti", "(un usage)"],
            [], "la lettre", ["MISE EN DEMEURE", "dans un délai de 15 jours"]),
    Persona("mediator already failed", ["ma réclamation n'a jamais été traitée", "vidéo", "par écrit",
                                        "j'ai déjà saisi le médiateur"],
            ["les tribunaux restent ouverts", "le conciliateur de justice est gratuit", "5 000 €"],
            ["saisir gratuitement le médiateur"]),
    Persona("buffering on a Sunday night", ["la vidéo se fige toutes les deux minutes", "vidéo",
                                           "non pas encore", "non"],
            ["Le 3979 ouvre demain à 8h30.", "horaires non publiés"],
            ["Aucun conseiller", "ouvert maintenant"], now=SUNDAY_NIGHT),
    Persona("no sound on All Saints' Day", ["pas de son sur Music", "oui", "music", "non pas encore", "non"],
            ["👉 Le 3979 est ouvert maintenant, jusqu'à 18h."], [], now=ALL_SAINTS),
    Persona("chat gave nothing", ["je n'arrive plus à me connecter", "music", "par le chat", "pas de réponse", "non"],
            ["Envoyez aujourd'hui votre réclamation écrite"], [],
            "autres moyens de contact", ["Téléphone : 3979"], ["Espace client"]),
    Persona("a promise not kept", ["l'appli crashe au démarrage", "vidéo", "par téléphone",
                                   "on m'a promis une solution"],
            ["Envoyez aujourd'hui votre réclamation écrite"], [],
            "la lettre", ["citez dans la lettre la date et la référence de cette promesse"]),
    Persona("SMS spelling, ignored cancellation", ["g resilier le 2 avril et chui tjr abonné", "vidéo",
                                                   "non", "non", "par carte"],
            ["Envoyez aujourd'hui votre réclamation écrite"], ["résilier en trois clics"]),
    Persona("badly handled request wants sources", ["ma demande est mal traitée", "vidéo", "non", "non"],
            ["Contactez d'abord le service client"], ["Votre situation"],
            "sources", ["FAQ Cdiscount (copie non datée), vérifiée le 27/11/2026", "(non daté), non vérifié\n",
                        "R612-5, vérifié le 27/11/2026"],  # each agrees with its title
            ["Article « Réclamation Cstream » à l'origine de ce parcours (non daté), non vérifiée",
             "l'article d'origine parlait"]),
]


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def check(persona: Persona, outcome: str, detail: str | None) -> None:
    for text in persona.must:
        assert text in outcome, (persona.name, text, outcome)
    for text in persona.must_not:
        assert text not in outcome, (persona.name, text, outcome)
    places = [outcome.find(text) for text in persona.order]
    assert -1 not in places and places == sorted(places), (persona.name, persona.order, outcome)
    assert re.search(r"^\s*\d+\.", outcome, re.M) is None or "📄" in outcome or "📚" in outcome
    if persona.detail:
        for text in persona.detail_must:
            assert text in detail, (persona.name, text, detail)
        for text in persona.detail_must_not:
            assert text not in detail, (persona.name, text, detail)


def test_there_are_at_least_twenty_personas_and_no_digit_is_typed():
    assert len(PERSONAS) >= 20
    for persona in PERSONAS:
        assert not any(word.strip().isdigit() for word in persona.says + [persona.detail or ""]), persona.name


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
async def test_persona_on_telegram(persona, tmp_path, flow):
    tg, app, store = await make_bot(tmp_path, FlowSet([flow]), clock=lambda: persona.now)
    try:
        person = Person(tg, app, 5000 + PERSONAS.index(persona), language=persona.lang)
        for words in persona.says[:-1]:
            await person.send(words)
        before = len(person.seen)
        await person.send(persona.says[-1])
        outcome = plain("\n".join(m.text for m in person.seen[before:]))
        detail = None
        if persona.detail:
            before = len(person.seen)
            await person.send(persona.detail)
            detail = plain("\n".join(m.text for m in person.seen[before:]))
        check(persona, outcome, detail)
    finally:
        await app.shutdown()
        store.close()


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.name)
def test_persona_in_the_terminal(persona, engine):
    lines = persona.says + ([persona.detail] if persona.detail else [])
    out = io.StringIO()
    run_console(engine, None, ConversationKey.console("persona"), lang=persona.lang,
                stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out, clock=lambda: persona.now)
    after_last = out.getvalue().split(f"> {persona.says[-1]}\n", 1)[1]
    outcome, _, detail = after_last.partition(f"> {persona.detail}\n") if persona.detail else (after_last, "", None)
    check(persona, outcome, detail)


async def test_in_a_group_the_outcome_stays_short_with_the_way_to_private(bot):
    """A group member gets the short outcome and the button to continue in private; the
    details (the letter and its file) are for the private chat."""
    from tg import BOT_USERNAME
    tg, app, _ = bot
    member = Person(tg, app, 6001, chat_id=-100900)
    await member.send(f"/start@{BOT_USERNAME}")
    for words in ("on m'a prélevé deux fois ce mois-ci", "vidéo", "non pas encore", "non"):
        await member.send(words, reply_to_bot=True)
    before = len(member.seen)
    await member.send("hier", reply_to_bot=True)
    outcome = member.last
    assert "Envoyez aujourd'hui votre réclamation écrite" in member.texts_since(before)
    assert "📄 Détails et modèle de lettre en privé" in outcome.labels
    assert not any(label.startswith(("📄 La lettre", "📇", "⏭️", "📚")) for label in outcome.labels)
    assert not any(m.document_bytes for m in member.seen)
