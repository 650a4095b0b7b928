"""The free-text question understands how people really describe their Cstream problem."""
from bot.flow.recognise import normalise, recognise
from phrasings import HELD_OUT, PHRASINGS


def _accuracy(flow, items):
    choices = flow.nodes["problem"].choices
    right, sure, wrong = 0, 0, []
    for text, expected in items:
        verdict = recognise(text, choices)
        top = verdict.choice or (verdict.candidates[0] if verdict.candidates else None)
        allowed = expected if isinstance(expected, tuple) else (expected,)
        right += top in allowed
        sure += verdict.choice is not None
        if top not in allowed:
            wrong.append((text, expected, top))
    return right / len(items), sure, wrong


def test_labelled_phrasings_reach_90_percent(flow):
    assert len(PHRASINGS) >= 60
    reasons = {e for _, e in PHRASINGS if isinstance(e, str)}
    assert reasons == {"access", "technical", "requests", "unreachable", "billing", "cancellation"}
    accuracy, sure, wrong = _accuracy(flow, PHRASINGS)
    held, _, held_wrong = _accuracy(flow, HELD_OUT)
    print(f"\nrecogniser accuracy: {accuracy:.1%} on {len(PHRASINGS)} tuned phrasings "
          f"({sure} without a confirmation step); {held:.1%} on {len(HELD_OUT)} held-out ones")
    assert accuracy >= 0.90, wrong
    assert held >= 0.80, held_wrong


def test_typos_accents_and_case_do_not_matter(flow):
    choices = flow.nodes["problem"].choices
    for text in ("PRÉLÈVEMENT EN DOUBLE", "prelevment en double", "prélévement en doube"):
        assert recognise(text, choices).choice == "billing", text


def test_unsure_text_asks_to_confirm(flow):
    verdict = recognise("on me prend de l'argent", flow.nodes["problem"].choices)
    assert verdict.choice is None and verdict.candidates == ["billing"]


def test_normalise():
    assert normalise("  L'abonnement   Cstream : prélevé 2×!") == "l abonnement cstream preleve 2"
