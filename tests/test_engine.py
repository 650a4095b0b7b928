"""The engine as a user meets it: questions, typed answers, back, restart, summary, stale buttons."""
from bot.engine import Engine
from bot.flow.files import FlowSet
from bot.flow.check import load_flow_text
from bot.engine.progress import Progress
from bot.engine.reply import RESTART, SHOW_LIST
from conftest import FLOWS, NOW


def labels(reply):
    return [b.label for b in reply.buttons]


def press(engine, state, label, now):
    progress, reply = state
    button = next(b for b in reply.buttons if b.label == label)
    return engine.choose(progress, button.id, reply.token, now)


def test_first_message_in_own_words_goes_straight_to_the_next_question(engine):
    progress, reply = engine.start(now=NOW)
    assert "Bonjour" in reply.notices[0] and reply.expects_text
    progress, reply = engine.text(progress, "on m'a prélevé deux fois ce mois-ci", NOW)
    assert reply.answer == "Erreur de facturation"
    assert reply.text == "Quel service Cstream est concerné ?"
    assert progress.texts["problem"] == "on m'a prélevé deux fois ce mois-ci"


def test_unsure_text_is_confirmed_then_continues(engine):
    progress, _ = engine.start(now=NOW)
    progress, reply = engine.text(progress, "on me prend de l'argent", NOW)
    assert reply.kind == "confirm" and "Erreur de facturation" in reply.text
    assert labels(reply)[:2] == ["Erreur de facturation", "Aucun de ceux-là, voir la liste"]
    progress, reply = engine.choose(progress, "billing", reply.token, NOW)
    assert progress.node == "service" and progress.texts["problem"] == "on me prend de l'argent"


def test_no_match_offers_the_full_list(engine):
    progress, _ = engine.start(now=NOW)
    progress, reply = engine.text(progress, "bonjour", NOW)
    assert "Je n'ai pas reconnu" in reply.notices[0]
    assert "Autre problème" in labels(reply) and progress.node == "problem"


def test_rejecting_the_guess_shows_the_list(engine):
    progress, _ = engine.start(now=NOW)
    progress, reply = engine.text(progress, "on me prend de l'argent", NOW)
    progress, reply = engine.choose(progress, SHOW_LIST, reply.token, NOW)
    assert reply.kind == "text" and len([b for b in reply.buttons if not b.id.startswith("_")]) == 7


def test_typing_a_number_or_a_label_picks_that_answer(engine):
    progress, _ = engine.start(now=NOW)
    progress, _ = engine.text(progress, "double prélèvement", NOW)
    progress, reply = engine.text(progress, "2", NOW)
    assert progress.answers["service"] == "music"
    progress, reply = engine.text(progress, "oui, par téléphone", NOW)
    assert progress.answers["contacted"] == "phone" and progress.node == "result"


def test_nonsense_at_a_button_question_keeps_the_question(engine):
    progress, _ = engine.start(now=NOW)
    progress, _ = engine.text(progress, "double prélèvement", NOW)
    before = progress
    progress, reply = engine.text(progress, "euh", NOW)
    assert progress == before and "Choisissez une des réponses" in reply.notices[0]
    assert reply.text == "Quel service Cstream est concerné ?"


def test_back_returns_where_the_user_came_from(engine):
    state = engine.start(now=NOW)
    state = press(engine, state, "Le service client est injoignable", NOW)
    state = press(engine, state, "Cstream Books", NOW)
    before_contact = state[0]
    state = press(engine, state, "Oui, par téléphone", NOW)
    assert state[0].node == "write_now"  # unreachable: no "what came of it" question
    progress, reply = engine.back(state[0], NOW)
    assert progress == before_contact.with_(updated=progress.updated)
    assert reply.text.startswith("Avez-vous déjà contacté")


def test_back_at_the_start_says_so(engine):
    progress, _ = engine.start(now=NOW)
    same, reply = engine.back(progress, NOW)
    assert same == progress and reply.notices == ["Vous êtes déjà au début."]


def test_stale_button_changes_nothing(engine):
    progress, first = engine.start(now=NOW)
    progress, second = engine.choose(progress, "billing", first.token, NOW)
    again, reply = engine.choose(progress, "access", first.token, NOW)
    assert again == progress and "question précédente" in reply.notices[0]
    assert reply.text == second.text


def test_a_choice_that_is_not_offered_is_refused(engine):
    state = engine.start(now=NOW)
    state = press(engine, state, "Le service client est injoignable", NOW)
    state = press(engine, state, "Cstream Vidéo", NOW)
    assert "Non, pas encore" not in labels(state[1])  # unreachable: they have tried
    progress, reply = engine.choose(state[0], "no", state[1].token, NOW)
    assert progress == state[0] and "Choisissez" in reply.notices[0]


def test_restart_and_summary(engine):
    state = engine.start(now=NOW)
    state = engine.text(state[0], "je n'arrive plus à me connecter", NOW)
    state = press(engine, state, "Cstream Music", NOW)
    progress, summary = engine.summary(state[0], NOW)
    assert summary.kind == "summary"
    assert summary.sections[0][1] == "je n'arrive plus à me connecter"
    assert summary.sections[1] == ("Quel service Cstream est concerné ?", "Cstream Music")
    assert "Avez-vous déjà contacté" in summary.facts[0]
    progress, reply = engine.choose(progress, RESTART, summary.token, NOW)
    assert progress.path == () and progress.node == "problem" and "On recommence" in reply.notices[0]


def test_english_speakers_get_english(engine):
    progress, reply = engine.start(lang="en", now=NOW)
    assert reply.text.startswith("What is your problem")
    progress, reply = engine.text(progress, "charged twice this month", NOW)
    assert reply.answer == "Billing error"


def test_new_flow_version_keeps_people_where_possible(flow):
    text = (FLOWS / "cstream.yaml").read_text(encoding="utf-8")
    old = load_flow_text(text, "v1.yaml")[0]
    engine_v1 = Engine(FlowSet([old]))
    progress, reply = engine_v1.start(now=NOW)
    progress, reply = engine_v1.text(progress, "double prélèvement", NOW)
    progress, reply = engine_v1.choose(progress, "video", reply.token, NOW)
    assert progress.node == "contacted"
    # v2 drops the Books choice: people who answered Vidéo carry on without a word.
    v2 = load_flow_text(text.replace('      - id: books\n        label: "Cstream Books"\n        next: contacted\n', ""), "v2.yaml")[0]
    engine_v2 = Engine(FlowSet([v2]))
    moved, reply = engine_v2.current(progress, NOW)
    assert moved.version == v2.version and moved.node == "contacted" and reply.notices == []
    # v3 removes the "service" question: they are moved, with a sentence, to the nearest question.
    v3_text = text.replace("        next: service\n", "        next: contacted\n")
    start = v3_text.index("  service:\n")
    v3_text = (v3_text[:start] + v3_text[v3_text.index("  contacted:\n"):]).replace("{service}", "Cstream")
    v3 = load_flow_text(v3_text, "v3.yaml")
    assert v3[1] == [], v3[1]
    engine_v3 = Engine(FlowSet([v3[0]]))
    moved, reply = engine_v3.choose(progress, "no", reply.token, NOW)
    assert moved.node == "contacted" and moved.path == (progress.path[0],)
    assert "mis à jour" in reply.notices[0]


def test_progress_round_trips_through_json(engine):
    progress, _ = engine.start(now=NOW)
    progress, _ = engine.text(progress, "on me prend de l'argent", NOW)
    assert Progress.from_json(progress.to_json()) == progress
