"""The engine as a user meets it: questions, typed answers, back, restart, summary, stale buttons.

These tests are about mechanics: those that walk a flow's questions run on the tiny flow of
tests/tiny.py (`tiny`) and assert its texts; the real flows' wording is asserted in
tests/test_content.py, tests/test_personas.py and tests/test_outcomes.py. Those that need what
the tiny flow lacks (conditions, read-from-text rules, a date question) stay on the real flow."""
import pytest

from bot.engine import Engine
from bot.flow.files import FlowSet
from bot.flow.check import load_flow_text
from bot.engine.progress import Progress
from bot.engine.reply import RESTART, SHOW_LIST
from conftest import DEMO, NOW
from tiny import tiny_flows


@pytest.fixture
def tiny(tmp_path):
    """The engine on the tiny flow alone."""
    return Engine(tiny_flows(tmp_path / "flows"))


def labels(reply):
    return [b.label for b in reply.buttons]


def press(engine, state, label, now):
    progress, reply = state
    button = next(b for b in reply.buttons if b.label == label)
    return engine.choose(progress, button.id, reply.token, now)


def test_first_message_in_own_words_goes_straight_to_the_next_question(tiny):
    progress, reply = tiny.start(now=NOW)
    assert "Bienvenue dans le parcours Tiny" in reply.notices[0] and reply.expects_text
    progress, reply = tiny.text(progress, "une salade de fruits", NOW)
    assert reply.answer == "Fruits"
    assert reply.text == "Question B : quelle taille ?"
    assert progress.texts["topic"] == "une salade de fruits"


def test_unsure_text_is_confirmed_then_continues(tiny):
    progress, _ = tiny.start(now=NOW)
    progress, reply = tiny.text(progress, "fruit", NOW)
    assert reply.kind == "confirm" and "Fruits" in reply.text
    assert labels(reply)[:2] == ["Fruits", "Aucun de ceux-là, voir la liste"]
    progress, reply = tiny.choose(progress, "fruit", reply.token, NOW)
    assert progress.node == "size" and progress.texts["topic"] == "fruit"


def test_no_match_offers_the_full_list(tiny):
    progress, _ = tiny.start(now=NOW)
    progress, reply = tiny.text(progress, "bonjour", NOW)
    assert "Je n'ai pas reconnu" in reply.notices[0]
    assert "Autre chose" in labels(reply) and progress.node == "topic"


def test_rejecting_the_guess_shows_the_list(tiny):
    progress, _ = tiny.start(now=NOW)
    progress, reply = tiny.text(progress, "fruit", NOW)
    progress, reply = tiny.choose(progress, SHOW_LIST, reply.token, NOW)
    assert reply.kind == "text" and len([b for b in reply.buttons if not b.id.startswith("_")]) == 3


def test_typing_a_number_or_a_label_picks_that_answer(tiny):
    progress, _ = tiny.start(now=NOW)
    progress, _ = tiny.text(progress, "une salade de fruits", NOW)
    progress, reply = tiny.text(progress, "2", NOW)
    assert progress.answers["size"] == "big"
    progress, reply = tiny.text(progress, "rouge", NOW)
    assert progress.answers["colour"] == "red" and progress.node == "shape"


def test_nonsense_at_a_button_question_keeps_the_question(tiny):
    progress, _ = tiny.start(now=NOW)
    progress, _ = tiny.text(progress, "une salade de fruits", NOW)
    before = progress
    progress, reply = tiny.text(progress, "euh", NOW)
    assert progress == before and "Choisissez une des réponses" in reply.notices[0]
    assert reply.text == "Question B : quelle taille ?"


def test_back_returns_where_the_user_came_from(tiny):
    state = tiny.start(now=NOW)
    state = press(tiny, state, "Légumes", NOW)
    state = press(tiny, state, "Grand", NOW)
    before_colour = state[0]
    state = press(tiny, state, "Vert", NOW)
    assert state[0].node == "shape"
    progress, reply = tiny.back(state[0], NOW)
    assert progress == before_colour.with_(updated=progress.updated)
    assert reply.text.startswith("Question C : quelle couleur ?")


def test_back_at_the_start_says_so(engine):
    progress, _ = engine.start(now=NOW)
    same, reply = engine.back(progress, NOW)
    assert same == progress and reply.notices == ["Vous êtes déjà au début."]


def test_stale_button_changes_nothing(tiny):
    progress, first = tiny.start(now=NOW)
    progress, second = tiny.choose(progress, "fruit", first.token, NOW)
    again, reply = tiny.choose(progress, "vegetable", first.token, NOW)
    assert again == progress and "question précédente" in reply.notices[0]
    assert reply.text == second.text


def test_a_choice_that_is_not_offered_is_refused(engine):
    state = engine.start(now=NOW)
    state = press(engine, state, "Le service client est injoignable", NOW)
    state = press(engine, state, "Cstream Vidéo", NOW)
    assert "Non, pas encore" not in labels(state[1])  # unreachable: they have tried
    progress, reply = engine.choose(state[0], "no", state[1].token, NOW)
    assert progress == state[0] and "Choisissez" in reply.notices[0]


def test_restart_and_summary(tiny):
    state = tiny.start(now=NOW)
    state = tiny.text(state[0], "une soupe de légumes", NOW)
    state = press(tiny, state, "Grand", NOW)
    progress, summary = tiny.summary(state[0], NOW)
    assert summary.kind == "summary"
    assert summary.sections[0][1] == "une soupe de légumes"
    assert summary.sections[1] == ("Taille", "Grand")  # the question's label, and the answer
    assert "Question C : quelle couleur ?" in summary.facts[0]
    progress, reply = tiny.choose(progress, RESTART, summary.token, NOW)
    assert progress.path == () and progress.node == "topic" and "On recommence" in reply.notices[0]


def test_english_speakers_get_english(tiny):
    progress, reply = tiny.start(lang="en", now=NOW)
    assert reply.text.startswith("Question A: fruit or vegetables?")
    progress, reply = tiny.text(progress, "fruit salad", NOW)
    assert reply.kind == "confirm" and reply.text == "I understand: “Fruits”. Is that right?"


def _edited(base: str, change):
    """The demo flow with `change(data)` applied to its parsed YAML."""
    import yaml
    data = yaml.safe_load(base)
    change(data)
    flow, problems = load_flow_text(yaml.safe_dump(data, allow_unicode=True), "edited.yaml")
    assert not problems, problems
    return flow


def test_new_flow_version_keeps_people_where_possible(demo):
    base = DEMO.read_text(encoding="utf-8")
    v1 = Engine(FlowSet([demo]))
    progress, reply = v1.start(now=NOW)
    progress, reply = v1.text(progress, "on m'a facturé deux fois", NOW)
    assert progress.node == "contacted" and progress.answers == {"problem": "billing"}

    def drop_other(data):  # v2 drops a choice this person did not take: they carry on without a word
        data["nodes"]["problem"]["choices"] = data["nodes"]["problem"]["choices"][:1]
    moved, reply = Engine(FlowSet([_edited(base, drop_other)])).current(progress, NOW)
    assert moved.node == "contacted" and moved.path == progress.path and reply.notices == []

    def drop_contacted(data):  # v3 removes the question they are at: moved, with a sentence
        del data["nodes"]["contacted"]
        billing, other = data["nodes"]["problem"]["choices"]
        billing["next"], other["next"] = "write", "call"
    moved, reply = Engine(FlowSet([_edited(base, drop_contacted)])).choose(progress, "no", reply.token, NOW)
    assert moved.node == "write" and moved.path == progress.path and reply.kind == "outcome"
    assert "mis à jour" in reply.notices[0]


def test_shared_machine_moves_like_a_stock_transitions_machine(flow, demo):
    """FlowMachine skips transitions' enter/exit work (flow nodes have no callbacks): on every
    choice of every reachable question, it must reach the state a stock machine reaches."""
    from transitions import Machine

    from bot.flow.machine import FlowMachine, transitions_of, trigger_name
    for subject in (flow, demo):
        shared = FlowMachine(subject)
        stepped = 0
        stack, seen = [(subject.start, {})], set()
        while stack:
            node_id, answers = stack.pop()
            node = subject.nodes[node_id]
            options = ["continue"] if node.kind == "info" else [c.id for c in node.choices]
            for choice in options:
                given = {**answers, node_id: choice}
                model = type("Model", (), {})()
                Machine(model=model, states=list(subject.nodes), initial=node_id, transitions=transitions_of(subject),
                        auto_transitions=False, send_event=True, ignore_invalid_triggers=True)
                getattr(model, trigger_name(choice))(answers=given)
                target = shared.step(node_id, choice, given)
                assert target == model.state, (node_id, choice, given)
                stepped += 1
                key = (target, tuple(sorted(given.items())))
                if target and not subject.nodes[target].is_outcome and key not in seen:
                    seen.add(key)
                    stack.append((target, given))
        assert stepped >= len(subject.nodes)


def test_progress_round_trips_through_json(tiny):
    progress, _ = tiny.start(now=NOW)
    progress, _ = tiny.text(progress, "fruit", NOW)
    assert progress.pending == ("fruit",) and Progress.from_json(progress.to_json()) == progress


def test_zero_width_characters_and_soft_hyphens_do_not_split_words(tiny):
    from bot.engine import clean_text
    assert clean_text("sa\u200bla\u00adde de fru\u200dits\x07!") == "salade de fruits !"
    progress, _ = tiny.start(now=NOW)
    progress, reply = tiny.text(progress, "une sa\u00adlade de fru\u200bits", NOW)
    assert progress.answers.get("topic") == "fruit" or progress.pending == ("fruit",)


def test_a_confirmation_whose_choice_was_renamed_shows_the_list(demo):
    base = DEMO.read_text(encoding="utf-8")
    progress, reply = Engine(FlowSet([demo])).start(now=NOW)
    progress = progress.with_(pending=("billing",), draft="facture")  # « C'est bien ça ? » was on screen

    def rename(data):  # billing becomes invoice, everywhere a condition names it
        def walk(value):
            if isinstance(value, dict):
                if value.get("problem") == "billing":
                    value["problem"] = "invoice"
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)
        data["nodes"]["problem"]["choices"][0]["id"] = "invoice"
        walk(data)
    moved, reply = Engine(FlowSet([_edited(base, rename)])).current(progress, NOW)
    assert moved.pending is None and reply.kind == "text"
    assert [b.label for b in reply.buttons][:2] == ["Erreur de facturation", "Autre problème"]
    assert "billing" not in reply.text and all("billing" != b.label for b in reply.buttons)


def test_what_is_read_from_typed_text_is_kept_and_the_question_skipped(engine):
    progress, reply = engine.start(now=NOW)
    progress, reply = engine.text(progress, "je suis malentendante et on m'a facturé deux fois", NOW)
    assert [entry[:2] for entry in progress.inferred] == [("hearing", "yes")]
    for answer in ("video", "no", "debit"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    assert progress.node == "debit_when"
    progress, reply = engine.text(progress, "hier", NOW)
    assert progress.node == "write_now" and "hearing" not in [a.node for a in progress.path]
    again = Progress.from_json(progress.to_json())
    assert again == progress and again.answers["hearing"] == "yes"
    back, reply = engine.back(progress, NOW)
    assert back.node == "debit_when"
    back, reply = engine.back(back, NOW)
    assert back.node == "paid_how"
    back, reply = engine.back(back, NOW)
    assert back.node == "contacted"  # back goes to the last question asked, not the skipped one


def test_a_date_question_reads_a_typed_date_and_refuses_a_future_one(engine):
    """« Quel jour l'argent a-t-il été pris ? »: a date in words is read relative to today; a
    date to come, or words that are no date, get one sentence and the question again."""
    progress, reply = engine.start(now=NOW)
    for answer in ("billing", "video", "no", "no", "debit"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    assert progress.node == "debit_when" and reply.expects_text
    same, reply = engine.text(progress, "demain", NOW)
    assert same.node == "debit_when" and reply.notices == ["Cette date est dans le futur. Donnez une date passée, "
                                                           "par exemple « le 20 novembre » :"]
    same, reply = engine.text(progress, "je sais vraiment pas", NOW)
    assert same.node == "debit_when" and reply.notices[0].startswith("Je n'ai pas compris cette date.")
    done, reply = engine.text(progress, "avant-hier", NOW)
    assert done.node == "write_now" and done.path[-1] == ("debit_when", "date", "2026-11-24")
    assert "du mardi 24 novembre 2026" in reply.text
    assert Progress.from_json(done.to_json()) == done
    back, _ = engine.back(done, NOW)
    assert back.node == "debit_when"
    done, reply = engine.text(back, "Je ne sais plus", NOW)  # the button's label, typed
    assert done.path[-1][:2] == ("debit_when", "unknown") and "Demandez au plus vite à votre banque" in reply.text


def test_an_infer_rule_reads_its_keywords_as_words_prefixes_and_phrases(flow):
    """The rules' compiled patterns (engine/infer.py) say what the keyword reader says, on the
    labelled phrasings and on edge cases (a prefix, a phrase, a word inside another)."""
    from bot.engine.infer import _rule_pattern, says
    from bot.flow.recognise import normalise
    from phrasings import HELD_OUT, PHRASINGS
    texts = [text for text, _ in PHRASINGS + HELD_OUT] + ["prélevé sans mon accord", "par carte", "cartes", "encarté", "je suis sourde",
                                         "sourdes", "prélèvement automatique", "cb", "abcb"]
    for text in texts:
        joined = " ".join(normalise(text).split())
        for rule in flow.infer:
            assert bool(_rule_pattern(rule.keywords).search(joined)) == any(says(text, k) for k in rule.keywords), \
                (text, rule.node, rule.choice)


def _at_outcome(engine):
    state = engine.start(now=NOW)
    state = engine.text(state[0], "une salade de fruits", NOW)
    for label in ("Petit", "Rouge", "Rond"):
        state = press(engine, state, label, NOW)
    state = engine.text(state[0], "sucré", NOW)  # the last answer typed
    assert state[1].kind == "outcome"
    return state


def test_words_typed_after_the_outcome_get_one_line_and_its_buttons_not_the_outcome_again(tiny):
    from bot.ops.events import events_of
    progress, outcome = _at_outcome(tiny)
    after, reply = tiny.text(progress, "merci beaucoup", NOW)
    assert reply.kind == "done" and reply.text.startswith("Votre parcours est terminé")
    assert outcome.text not in reply.text and not reply.cards and not reply.sections and len(reply.text) < 200
    assert labels(reply) == labels(outcome) and after.node == progress.node
    events = events_of(progress, after, reply, NOW, keep_text=True)
    assert all(e["understood"] is None and "text" not in e for e in events)  # not a description misread
    after, reply = tiny.text(after, "1", NOW)  # its buttons still work, typed by number
    assert reply.kind == "detail" and reply.document is not None


def test_a_new_problem_typed_after_the_outcome_is_offered_as_a_new_conversation(tiny):
    progress, outcome = _at_outcome(tiny)
    offered, reply = tiny.text(progress, "et une soupe de légumes aussi", NOW)
    assert reply.kind == "done" and "autre problème" in reply.text
    assert labels(reply)[0] == "🆕 Oui, un autre problème" and labels(reply)[1:] == labels(outcome)
    fresh, reply = tiny.choose(offered, reply.buttons[0].id, reply.token, NOW)
    assert fresh.token != progress.token and fresh.node == "size"  # the new words already answered
    assert fresh.texts["topic"] == "et une soupe de légumes aussi"
    assert reply.notices[0].startswith("Nouvelle conversation") and reply.answer == "Légumes"
    fresh, _ = tiny.text(offered, "oui", NOW)  # « oui » says the same
    assert fresh.node == "size" and fresh.token != progress.token
    kept, reply = tiny.text(offered, "merci", NOW)  # other words: the offer goes
    assert "🆕 Oui, un autre problème" not in labels(reply) and kept.token == progress.token


def test_recap_lists_each_answer_under_a_few_words_not_the_whole_question(tiny):
    progress, _ = _at_outcome(tiny)
    _, recap = tiny.summary(progress, NOW)
    assert recap.sections[:3] == [("Sujet", "une salade de fruits"), ("Taille", "Petit"), ("Couleur", "Rouge")]
    assert ("Goût", "Sucré") in recap.sections
    assert all(len(title) <= 40 for title, _ in recap.sections)
    assert recap.facts == ["Parcours terminé : Fin Tiny"]


def test_english_words_in_a_french_conversation_get_one_offer_to_go_on_in_english(engine):
    progress, _ = engine.start(now=NOW)  # the interface is French (the terminal's default)
    progress, reply = engine.text(progress, "I was charged twice for my subscription", NOW)
    assert reply.answer == "Erreur de facturation" and reply.text == "Quel service Cstream est concerné ?"
    assert any(n.startswith("You are writing in English") for n in reply.notices)
    assert labels(reply)[-1] == "🇬🇧 Continue in English" and labels(reply)[0] == "Cstream Vidéo"
    switched, reply = engine.text(progress, str(len(reply.buttons)), NOW)  # its number, typed
    assert switched.lang == "en" and reply.text == "Which Cstream service is it about?"
    assert reply.notices == ["Let's go on in English."] and "🇬🇧 Continue in English" not in labels(reply)
    # not taken: the offer goes with the answer, and is never made again
    stayed, reply = engine.choose(progress, "video", reply.token, NOW)
    assert stayed.lang == "fr" and "🇬🇧 Continue in English" not in labels(reply)
    stayed, reply = engine.text(stayed, "no I have not contacted them yet", NOW)
    assert not any("English" in n for n in reply.notices) and "🇬🇧 Continue in English" not in labels(reply)


def test_french_words_in_an_english_conversation_get_the_offer_of_french(tiny):
    progress, _ = tiny.start(lang="en", now=NOW)
    progress, reply = tiny.text(progress, "je voudrais une salade de fruits", NOW)
    assert "Vous écrivez en français : voulez-vous continuer en français ?" in reply.notices
    progress, reply = tiny.choose(progress, reply.buttons[-1].id, reply.token, NOW)
    assert progress.lang == "fr" and reply.text == "Question B : quelle taille ?"


@pytest.mark.parametrize("typed", ["Grand", "ok", "Petit", "fruits", "2"])
def test_words_that_tell_no_language_get_no_offer(tiny, typed):
    progress, _ = tiny.start(now=NOW)
    progress, reply = tiny.text(progress, "une salade de fruits", NOW)
    progress, reply = tiny.text(progress, typed, NOW)
    assert not any(b.id.startswith("_lang:") for b in reply.buttons) and progress.lang_offer == ""
