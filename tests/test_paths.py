"""Every path: random answers from the start always reach an outcome within the tap limit,
and going back always restores exactly the state before the last answer."""
from hypothesis import given, settings, strategies as st

from bot.engine.reply import BACK, RESTART, SHOW_LIST
from conftest import NOW
from phrasings import HELD_OUT, PHRASINGS

TEXTS = [t for t, _ in PHRASINGS + HELD_OUT]
DATES = ["hier", "le 3", "en octobre", "20 novembre", "il y a trois semaines", "le 15/09"]  # a date question: one typed answer


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_walks_reach_an_outcome_within_the_tap_limit(engine, flow, data):
    progress, reply = engine.start(now=NOW)
    taps, typed_at = 0, set()
    while reply.kind != "outcome":
        before = progress
        if reply.expects_text and progress.node not in typed_at and data.draw(st.booleans(), label="type"):
            typed_at.add(progress.node)  # one description per question; then buttons
            said = DATES if flow.nodes[progress.node].kind == "date" else TEXTS
            progress, reply = engine.text(progress, data.draw(st.sampled_from(said), label="text"), NOW)
        else:
            options = [b for b in reply.buttons if b.id not in (BACK, RESTART, SHOW_LIST)]
            button = data.draw(st.sampled_from(options), label=f"at {progress.node}")
            progress, reply = engine.choose(progress, button.id, reply.token, NOW)
        taps += 1
        assert progress.node in flow.nodes and reply.node == progress.node
        if progress.path != before.path and data.draw(st.booleans(), label="back"):
            undone, back_reply = engine.back(progress, NOW)
            assert undone.with_(updated=0) == before.with_(pending=None, draft=None, updated=0)
            assert back_reply.node == before.node
            progress, reply = undone, back_reply
            taps -= 1 if before.pending is None and before.draft is None else 2
            typed_at.discard(before.node)
    assert taps <= flow.taps_allowed(progress.answers), (taps, progress.path)
    assert reply.kind == "outcome" and reply.buttons and (reply.now or reply.text)


def test_history_follows_the_user_not_the_file(engine):
    """Back from the outcome of a short path skips questions the user never saw."""
    progress, reply = engine.start(now=NOW)
    for answer in ("billing", "video", "no", "no"):
        progress, reply = engine.choose(progress, answer, reply.token, NOW)
    assert [e[0] for e in progress.path] == ["problem", "service", "contacted", "hearing"]
    progress, reply = engine.back(progress, NOW)
    assert progress.node == "hearing"
