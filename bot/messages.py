"""The engine's own sentences (not the flow's), in French with English where the user asks."""
from __future__ import annotations

MESSAGES = {
    "fr": {
        "back": "↩️ Retour",
        "restart": "🔄 Recommencer",
        "continue": "Continuer",
        "show_list": "Aucun de ceux-là, voir la liste",
        "confirm": "Je comprends : « {label} ». C'est bien ça ?",
        "confirm_many": "Je ne suis pas sûr d'avoir compris. Il s'agit plutôt de :",
        "not_understood": "Je n'ai pas reconnu votre problème. Choisissez dans la liste :",
        "pick_a_button": "Je n'ai pas compris cette réponse. Choisissez une des réponses proposées :",
        "full_list": "Voici toutes les possibilités :",
        "nothing_to_undo": "Vous êtes déjà au début.",
        "went_back": "D'accord, revenons à la question précédente.",
        "restarted": "On recommence depuis le début.",
        "stale": "Ce bouton appartient à une question précédente. Voici où vous en êtes :",
        "empty_text": "Votre message est vide. Décrivez votre problème en quelques mots :",
        "outcome_done": "Votre parcours est terminé. Vous pouvez revenir en arrière ou recommencer.",
        "come_back": "Revenez quand vous voulez : /start reprend ici, /recap rappelle vos réponses, /recommencer traite un autre problème.",
        "flow_changed": "Le parcours a été mis à jour depuis votre dernière visite ; nous reprenons à la question la plus proche.",
        "flow_gone": "Ce parcours n'existe plus ; nous recommençons au début.",
        "now_open": "👉 Joignable maintenant : {name}, ouvert {until}.",
        "now_closed": "🕒 Aucun conseiller n'est joignable à cette heure. {name} ouvre {when} ; en attendant, un écrit n'a pas d'horaires.",
        "open_until": "🟢 Ouvert maintenant, jusqu'à {time}",
        "closed_until": "🔴 Fermé maintenant, ouvre {when}",
        "closed": "🔴 Fermé",
        "unchecked": "information non confirmée",
        "sources": "Sources",
        "verified": "vérifié le {date}",
        "summary_title": "Récapitulatif",
        "summary_empty": "Vous n'avez encore répondu à aucune question.",
        "summary_now": "Question en cours : {text}",
        "summary_done": "Parcours terminé : {text}",
        "help": ("Je vous aide à faire aboutir une réclamation : je pose quelques questions, puis je vous "
                 "indique le bon canal à utiliser maintenant (avec ses horaires), un modèle de courrier, "
                 "et le médiateur si le service client ne répond pas.\n"
                 "Répondez avec les boutons, ou décrivez votre problème avec vos mots."),
        "months": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                   "septembre", "octobre", "novembre", "décembre"),
    },
    "en": {
        "back": "↩️ Back",
        "restart": "🔄 Start again",
        "continue": "Continue",
        "show_list": "None of these, show the list",
        "confirm": "I understand: “{label}”. Is that right?",
        "confirm_many": "I'm not sure I understood. Is it rather:",
        "not_understood": "I did not recognise your problem. Pick it from the list:",
        "pick_a_button": "I did not understand that answer. Please pick one of the answers:",
        "full_list": "Here are all the options:",
        "nothing_to_undo": "You are already at the beginning.",
        "went_back": "All right, back to the previous question.",
        "restarted": "Starting again from the beginning.",
        "stale": "That button belongs to an earlier question. Here is where you are:",
        "empty_text": "Your message is empty. Describe your problem in a few words:",
        "outcome_done": "You have reached the end. You can go back or start again.",
        "come_back": "Come back any time: /start resumes here, /summary recalls your answers, /restart handles another problem.",
        "flow_changed": "The questions were updated since your last visit; we resume at the nearest question.",
        "flow_gone": "This flow no longer exists; starting again from the beginning.",
        "now_open": "👉 Reachable now: {name}, open {until}.",
        "now_closed": "🕒 No advisor can be reached right now. {name} opens {when}; meanwhile, writing has no opening hours.",
        "open_until": "🟢 Open now, until {time}",
        "closed_until": "🔴 Closed now, opens {when}",
        "closed": "🔴 Closed",
        "unchecked": "not confirmed",
        "sources": "Sources",
        "verified": "checked on {date}",
        "summary_title": "Summary",
        "summary_empty": "You have not answered any question yet.",
        "summary_now": "Current question: {text}",
        "summary_done": "Finished: {text}",
        "help": ("I help you get a complaint resolved: a few questions, then the right channel to use now "
                 "(with its hours), a letter template, and the mediator if customer service does not answer.\n"
                 "Answer with the buttons, or describe your problem in your own words."),
        "months": ("January", "February", "March", "April", "May", "June", "July", "August",
                   "September", "October", "November", "December"),
    },
}


def msg(lang: str, key: str, **values) -> str:
    table = MESSAGES.get(lang, MESSAGES["fr"])
    text = table.get(key, MESSAGES["fr"][key])
    return text.format(**values) if values else text
