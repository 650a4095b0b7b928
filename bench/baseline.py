"""The peer a developer would otherwise write: python-telegram-bot's ConversationHandler with
PicklePersistence at its defaults, in the style of PTB's examples (conversationbot.py).

Same questions, kinds and answers as the Cstream flow's paths the benchmark walks: a free-text
problem question (with buttons), then button questions, then an outcome message.
"""
from __future__ import annotations

import unicodedata

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (Application, CallbackQueryHandler, CommandHandler, ContextTypes,
                          ConversationHandler, MessageHandler, PicklePersistence, filters)

PROBLEM, SERVICE, CONTACTED, HEARING, RESULT, WRITTEN_RESULT, WRITTEN_AGE = range(7)

REASONS = {
    "access": ("Je n'arrive pas à accéder au service", ["connect", "acces", "mot de passe"]),
    "technical": ("Des bugs ou coupures à répétition", ["bug", "coupe", "plante"]),
    "requests": ("Ma demande est mal traitée", ["reclamation", "demande", "dossier"]),
    "unreachable": ("Le service client est injoignable", ["injoignable", "joindre", "repond"]),
    "billing": ("Erreur de facturation", ["preleve", "factur", "deux fois"]),
    "cancellation": ("Résiliation ou modification ignorée", ["resili", "annul", "desabonn"]),
    "other": ("Autre problème", []),
}
QUESTIONS = {
    SERVICE: ("Quel service Cstream est concerné ?",
              [("video", "Cstream Vidéo"), ("music", "Cstream Music"), ("books", "Cstream Books"),
               ("several", "Plusieurs, ou je ne sais pas")]),
    CONTACTED: ("Avez-vous déjà contacté le service client de Cdiscount à ce sujet ? Si oui, comment ?",
                [("no", "Non, pas encore"), ("phone", "Oui, par téléphone"),
                 ("chat", "Oui, par le chat de l'espace client"), ("social", "Oui, sur les réseaux sociaux"),
                 ("several", "Oui, par plusieurs de ces moyens"), ("written", "Oui, par écrit (courrier ou e-mail)")]),
    HEARING: ("Avez-vous besoin d'un service adapté aux personnes sourdes ou malentendantes ?",
              [("yes", "Oui"), ("no", "Non")]),
    RESULT: ("Qu'a donné ce contact ?", [("no_answer", "Pas de réponse, ou pas de suite"),
                                         ("bad_answer", "Une réponse qui ne règle pas le problème"),
                                         ("promised", "On m'a promis une solution, j'attends")]),
    WRITTEN_RESULT: ("Qu'a donné votre réclamation écrite ?",
                     [("waiting", "Pas encore de réponse (envoyée il y a moins de 2 mois)"),
                      ("no_answer", "Pas de réponse depuis plus de 2 mois"),
                      ("bad_answer", "Une réponse qui ne me satisfait pas")]),
    WRITTEN_AGE: ("Quand avez-vous envoyé cette réclamation écrite ?",
                  [("under_year", "Il y a moins d'un an"), ("over_year", "Il y a plus d'un an")]),
}
OUTCOME = ("Votre situation : {problem}. Écrivez au service client en recommandé avec accusé de réception "
           "(Cdiscount SA, 120-126 quai de Bacalan, 33300 Bordeaux), ou appelez le 3979 "
           "(lun.-ven. 8h30-21h ; sam.-dim. et jours fériés 9h-18h). Sans réponse sous deux mois, "
           "saisissez le médiateur du e-commerce de la FEVAD : https://www.mediateurfevad.fr "
           "(gratuit, 90 jours, réclamation écrite préalable, moins d'un an après celle-ci).\n") * 3


def keyboard(options) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=cid)] for cid, label in options])


def simplify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in text if not unicodedata.combining(c))


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await update.message.reply_text(
        "Bonjour ! Quel est votre problème avec Cstream ? Décrivez-le en une phrase, ou choisissez.",
        reply_markup=keyboard([(k, v[0]) for k, v in REASONS.items()]))
    return PROBLEM


async def problem_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    text = simplify(update.message.text)
    reason = next((k for k, (_, words) in REASONS.items() if any(w in text for w in words)), None)
    if reason is None:
        await update.message.reply_text("Je n'ai pas reconnu votre problème. Choisissez dans la liste :",
                                        reply_markup=keyboard([(k, v[0]) for k, v in REASONS.items()]))
        return PROBLEM
    context.user_data["problem"] = reason
    return await ask(update.message, SERVICE)


async def problem_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    query = update.callback_query
    await query.answer()
    context.user_data["problem"] = query.data
    await query.edit_message_text(f"{query.message.text}\n\n✔ {REASONS[query.data][0]}")
    return await ask(query.message, SERVICE)


async def ask(message, state: int) -> int:
    text, options = QUESTIONS[state]
    await message.reply_text(text, reply_markup=keyboard(options))
    return state


def answer_then(state: int, key: str, route):
    async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        await query.answer()
        context.user_data[key] = query.data
        label = dict(QUESTIONS[state][1]).get(query.data, query.data)
        await query.edit_message_text(f"{query.message.text}\n\n✔ {label}")
        nxt = route(query.data, context.user_data)
        if nxt is None:
            await query.message.reply_text(OUTCOME.format(problem=REASONS[context.user_data["problem"]][0]))
            return ConversationHandler.END
        return await ask(query.message, nxt)
    return handler


def after_contacted(choice, data):
    if choice == "no":
        return HEARING
    if choice == "written":
        return WRITTEN_RESULT
    if data["problem"] == "unreachable":
        return HEARING if choice in ("chat", "social") else None
    return RESULT


def after_result(choice, data):
    """As the flow: after a chat or social-network contact the outcome would lead with the
    phone, so the hearing question comes first."""
    return HEARING if data["contacted"] in ("chat", "social") else None


async def cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
    await update.message.reply_text("Au revoir.")
    return ConversationHandler.END


def conversation() -> ConversationHandler:
    return ConversationHandler(
        entry_points=[CommandHandler("start", start), MessageHandler(filters.TEXT & ~filters.COMMAND, problem_text)],
        states={
            PROBLEM: [MessageHandler(filters.TEXT & ~filters.COMMAND, problem_text),
                      CallbackQueryHandler(problem_button)],
            SERVICE: [CallbackQueryHandler(answer_then(SERVICE, "service", lambda c, d: CONTACTED))],
            CONTACTED: [CallbackQueryHandler(answer_then(CONTACTED, "contacted", after_contacted))],
            HEARING: [CallbackQueryHandler(answer_then(HEARING, "hearing", lambda c, d: None))],
            RESULT: [CallbackQueryHandler(answer_then(RESULT, "result", after_result))],
            WRITTEN_RESULT: [CallbackQueryHandler(answer_then(
                WRITTEN_RESULT, "written_result", lambda c, d: HEARING if c == "waiting" else WRITTEN_AGE))],
            WRITTEN_AGE: [CallbackQueryHandler(answer_then(WRITTEN_AGE, "written_age", lambda c, d: None))],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="complaint",
        persistent=True,
    )


def build(token: str, pickle_path: str, request=None, base_url: str | None = None) -> Application:
    builder = Application.builder().token(token).persistence(PicklePersistence(filepath=pickle_path))
    if base_url:
        builder = builder.base_url(base_url)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app = builder.build()
    app.add_handler(conversation())
    return app
