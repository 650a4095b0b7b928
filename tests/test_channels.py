"""Where consumer-help communities gather: the entry post in a channel or group, and replies
that stay in the comment thread or forum topic where a member wrote.

These tests are about mechanics: those that walk a flow's questions run on the tiny flow of
tests/tiny.py and assert its texts; the real flows' wording is asserted in tests/test_content.py
and tests/test_personas.py."""
import pytest

from conftest import ADMIN, make_bot
from tg import BOT_USERNAME, Person
from tiny import tiny_flows

CHANNEL = {"id": -1001234, "type": "channel", "title": "Conso Entraide", "username": "conso_entraide"}


def a_channel(tg, **rights):
    tg.chats["@conso_entraide"] = tg.chats[CHANNEL["id"]] = CHANNEL
    tg.rights[CHANNEL["id"]] = rights


async def test_an_admin_publishes_the_entry_post_then_updates_it_in_place(tiny_bot):
    tg, app, store = tiny_bot
    a_channel(tg, status="administrator", can_post_messages=True, can_edit_messages=True)
    admin = Person(tg, app, ADMIN)
    await admin.send("/publier @conso_entraide")
    assert admin.last_text == "C'est publié et épinglé dans @conso_entraide."
    [post] = [m for m in tg.order if m.chat_id == CHANNEL["id"]]
    assert "Parcours Tiny" in post.text and "en privé" in post.text
    assert post.buttons[0][0] == {"text": "Faire ma réclamation", "url": f"https://t.me/{BOT_USERNAME}?start=tiny"}
    assert tg.calls_to("pinChatMessage")[-1]["message_id"] == post.message_id
    await admin.send("/publier @conso_entraide")  # again: the same post is edited, none is added
    assert len([m for m in tg.order if m.chat_id == CHANNEL["id"]]) == 1
    assert tg.calls_to("editMessageText")[-1]["message_id"] == post.message_id
    assert "mis à jour" in admin.last_text


@pytest.mark.parametrize("rights, said", [
    ({"status": "member"}, "Je ne suis pas administrateur de @conso_entraide"),
    ({"status": "administrator", "can_post_messages": False}, "Je n'ai pas le droit de publier dans @conso_entraide"),
    ({"status": "administrator", "can_post_messages": True, "can_edit_messages": False},
     "C'est publié dans @conso_entraide, mais je n'ai pas le droit de l'épingler."),
])
async def test_clear_refusals_in_one_sentence(bot, rights, said):
    tg, app, store = bot
    a_channel(tg, **rights)
    admin = Person(tg, app, ADMIN)
    await admin.send("/publier @conso_entraide")
    assert admin.last_text.startswith(said) and admin.last_text.count(".") == 1


async def test_an_unknown_chat_and_a_stranger_are_refused(bot):
    tg, app, store = bot
    admin, stranger = Person(tg, app, ADMIN), Person(tg, app, 5050)
    await admin.send("/publier @nulle_part")
    assert admin.last_text.startswith("Je ne trouve pas « @nulle_part »")
    a_channel(tg, status="administrator", can_post_messages=True)
    await stranger.send("/publier @conso_entraide")
    assert stranger.last_text == "Seuls les administrateurs du bot peuvent publier."
    await admin.send("/publier")
    assert "/publier @nomducanal" in admin.last_text
    assert not [m for m in tg.order if m.chat_id == CHANNEL["id"]]


async def test_the_entry_post_for_any_company_and_a_flows_own(tmp_path):
    """With a company's flow and the one for any company loaded (the shipped general flow, on
    the directory), /publier posts the entry for any company; naming a flow posts that flow's
    own; an unknown flow is named back with those there are."""
    from bot.flow.files import FlowSet
    from conftest import FLOWS
    tiny_flows(tmp_path / "flows")
    flows, problems = FlowSet.load([tmp_path / "flows" / "tiny.yaml", FLOWS / "general.yaml"])
    assert not problems, problems
    tg, app, store = await make_bot(tmp_path, flows)
    try:
        a_channel(tg, status="administrator", can_post_messages=True, can_edit_messages=True)
        admin = Person(tg, app, ADMIN)
        await admin.send("/publier @conso_entraide")
        [post] = [m for m in tg.order if m.chat_id == CHANNEL["id"]]
        assert post.text.startswith("Un problème avec une entreprise ?") and "Tiny" not in post.text
        assert post.buttons[0][0]["url"] == f"https://t.me/{BOT_USERNAME}?start=general"
        await admin.send("/publier @conso_entraide tiny")
        assert "Parcours Tiny" in tg.calls_to("editMessageText")[-1]["text"]
        await admin.send("/publier @conso_entraide netflix")
        assert admin.last_text == "Je ne connais pas le parcours « netflix ». Parcours disponibles : tiny, general."
    finally:
        await app.shutdown()
        store.close()


def test_publishing_from_the_terminal(cli, monkeypatch, tmp_path):
    """`python -m bot post CHAT` does the same as /publier, for an operator at a terminal."""
    from tg import FakeTelegram
    tg = FakeTelegram()
    a_channel(tg, status="administrator", can_post_messages=True, can_edit_messages=True)
    monkeypatch.setattr("bot.cli._bot_request", lambda: tg)
    code, out, err = cli("post", "@conso_entraide", env={"TELEGRAM_BOT_TOKEN": "1:x"})
    assert code == 0 and out.strip() == "C'est publié et épinglé dans @conso_entraide.", err
    code, out, _ = cli("post", "@conso_entraide", env={"TELEGRAM_BOT_TOKEN": "1:x"})
    assert out.strip() == "Le message de présentation de @conso_entraide est mis à jour."
    assert len([m for m in tg.order if m.chat_id == CHANNEL["id"]]) == 1


def _in(person, thread: int, **extra) -> dict:
    return {"message_thread_id": thread, **extra}


@pytest.mark.parametrize("topic", [True, False], ids=["forum topic", "comment thread"])
async def test_every_reply_stays_in_the_thread_where_the_member_wrote(tiny_bot, topic):
    tg, app, store = tiny_bot
    alice = Person(tg, app, 6001, chat_id=-100555)
    extra = _in(alice, 42, is_topic_message=True) if topic else _in(alice, 42)
    await alice.feed({"message": alice.message(f"/start@{BOT_USERNAME}", **extra)})
    await alice.feed({"message": alice.message("une salade de fruits", reply_to_message=tg._message_json(alice.last),
                                               **extra)})
    await alice.press("Grand")
    sent = [p for name, p in tg.calls if name in ("sendMessage", "editMessageText") and p.get("chat_id") == -100555]
    assert sent and all(p.get("message_thread_id") == 42 for p in sent if "message_id" not in p)
    assert stored_answers(store, -100555, 6001) == {"topic": "fruit", "size": "big"}


def stored_answers(store, chat, user):
    from bot.store import ConversationKey
    return store.load_sync(ConversationKey.group(chat, user)).progress.answers


async def test_channel_posts_are_never_answered(bot):
    tg, app, store = bot
    reader = Person(tg, app, 6002)
    await reader.feed({"channel_post": {"message_id": 3, "date": 1, "chat": CHANNEL, "text": "/start"}})
    assert not tg.calls_to("sendMessage")
