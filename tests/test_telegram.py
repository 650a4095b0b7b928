"""The Telegram bot in-process: the real Application, a recording Bot API, people tapping.

These tests are about mechanics, so they run on the tiny flow of tests/tiny.py and assert its
texts; the real flows' wording is asserted in tests/test_content.py and tests/test_personas.py."""
import io

import docx

from bot.store import ConversationKey
from conftest import make_bot, stored
from tg import BOT_USERNAME, Person
from tiny import tiny_flows


def data_of(message, label: str) -> str:
    """The callback data of the button `label` on a message."""
    return next(b["callback_data"] for row in message.buttons for b in row if b["text"] == label)


async def test_private_path_from_free_text_to_an_outcome_and_its_details(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1001)
    await camille.send("/start")
    assert "Bienvenue dans le parcours Tiny" in camille.last_text and "Question A : fruits ou légumes ?" in camille.last_text
    await camille.send("une salade de fruits")
    assert "✔" not in camille.last_text and camille.last.labels[:2] == ["Petit", "Grand"]
    question, shown = camille.last, len(camille.seen)
    await camille.press("Grand")
    # The pressed question becomes the next one: the answer taken on top, the new buttons only.
    assert question.text.startswith("✔ <b>Grand</b>\n\n") and "Question C : quelle couleur ?" in question.text
    assert "Grand" not in question.labels and len(camille.seen) == shown  # no stale buttons left
    await camille.press("Rouge")
    await camille.press("Rond")
    before = len(camille.seen)
    await camille.press("Sucré")
    outcome = camille.texts_since(before)
    assert "Issue Tiny : appelez la ligne Tiny." in outcome
    assert "Revenez quand vous voulez : /start reprend ici" in camille.last_text  # how to come back, last
    assert camille.last.labels == ["📄 La lettre", "📇 Autres moyens de contact", "⏭️ Si ça ne marche pas",
                                   "📚 Sources", "↩️ Retour", "🔄 Recommencer"]
    short = camille.last
    await camille.press("📇 Autres moyens de contact")
    contacts = camille.last_text
    assert '<a href="https://tiny.example.org/formulaire">' in contacts and "<b>Préparez Tiny :</b>" in contacts
    assert short.labels[0] == "📄 La lettre"  # opening a detail leaves the outcome's buttons in place
    await camille.press("⏭️ Si ça ne marche pas", message=short)
    assert "Plan B Tiny : remplissez le formulaire." in camille.last_text


async def test_outcome_carries_a_letter_and_the_open_now_line(tiny_bot):
    tg, app, _ = tiny_bot
    camille = Person(tg, app, 1002)
    await camille.send("une salade de fruits")  # no /start: the first words count
    for label in ("Petit", "Rouge", "Rond", "Sucré"):
        await camille.press(label)
    assert "👉 La ligne Tiny est ouverte maintenant, jusqu'à 19h." in camille.last_text
    assert not any(m.document_bytes for m in camille.seen)  # the letter comes when asked for
    await camille.press("📄 La lettre")
    letter = next(m for m in reversed(camille.seen) if m.document_bytes)
    assert letter.document_name == "lettre-tiny.docx"
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(letter.document_bytes)).paragraphs).replace("\u00a0", " ")
    assert "Objet : Lettre Tiny, taille petite" in text
    assert "Mes mots : « une salade de fruits »" in text  # their own words
    assert any("Objet : Lettre Tiny, taille petite" in m.text and "<pre>" in m.text
               for m in camille.seen)  # and as text, to copy


async def test_back_restart_summary_and_help(tiny_bot):
    tg, app, _ = tiny_bot
    camille = Person(tg, app, 1003)
    await camille.send("/start")
    await camille.send("une soupe de légumes")
    await camille.press("Petit")
    await camille.send("/recap")
    assert "Récapitulatif" in camille.last_text and "Petit" in camille.last_text
    await camille.send("/retour")
    assert "revenons à la question précédente" in camille.last_text
    assert "Question B : quelle taille ?" in camille.last_text
    await camille.send("/back")
    assert "Question A : fruits ou légumes ?" in camille.last_text
    await camille.send("/aide")
    assert "/oublier" in camille.last_text
    await camille.send("/restart")
    assert "On recommence" in camille.last_text


async def test_forget_erases_everything_after_confirmation(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1004)
    in_group = Person(tg, app, 1004, chat_id=-100500)
    await camille.send("une salade de fruits")
    await in_group.send(f"/start@{BOT_USERNAME}")
    assert store.count_sync() == 2
    await camille.send("/oublier")
    assert "C'est définitif" in camille.last_text
    await camille.press("Non, garder")
    assert store.count_sync() == 2 and "je garde" in camille.last_text
    await camille.send("/forget")
    await camille.press("Oui, tout effacer")
    assert store.count_sync() == 0 and "tout ce que je gardais sur vous est effacé" in camille.last_text


async def test_stale_and_forged_buttons_change_nothing(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1005)
    await camille.send("/start")
    first_question = camille.last
    old_data = data_of(first_question, "Autre chose")
    await camille.press("Fruits")
    progress = stored(store, "private:1005")
    await camille.press("Autre chose", message=first_question, data=old_data)
    assert stored(store, "private:1005").path == progress.path
    answer = tg.calls_to("answerCallbackQuery")[-1]
    assert answer["text"] == "Ce bouton appartient à une question précédente."
    assert "Question B : quelle taille ?" in camille.last_text
    await camille.press("x", message=camille.last, data="forged-data")
    assert tg.calls_to("answerCallbackQuery")[-1]["text"] == "Ce bouton n'est plus valide."
    assert stored(store, "private:1005").path == progress.path


async def test_double_press_advances_once_and_answers_once(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1006)
    await camille.send("une salade de fruits")
    question = camille.last
    data = data_of(question, "Petit")
    await camille.press("Petit", message=question, data=data)
    sent = len(camille.seen)
    await camille.press("Petit", message=question, data=data)
    assert len(camille.seen) == sent
    assert stored(store, "private:1006").path[-1][:2] == ("size", "small")


def _labels(markup: dict) -> list[str]:
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


async def test_a_press_leading_to_a_question_costs_an_answer_and_one_edit(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1011)
    await camille.send("une salade de fruits")
    question, shown = camille.last, len(camille.seen)
    before = len(tg.calls)
    await camille.press("Petit", message=question)
    assert [name for name, _ in tg.calls[before:]] == ["answerCallbackQuery", "editMessageText"]
    edit = tg.calls[-1][1]
    assert edit["message_id"] == question.message_id
    assert edit["text"].startswith("✔ <b>Petit</b>\n\n") and "Question C : quelle couleur ?" in edit["text"]
    assert _labels(edit["reply_markup"]) == question.labels and "Rouge" in question.labels
    assert len(camille.seen) == shown and store.count_undelivered_sync() == 0
    before = len(tg.calls)
    await camille.press("Rouge", message=question)  # the edited question's buttons work
    assert [name for name, _ in tg.calls[before:]] == ["answerCallbackQuery", "editMessageText"]
    assert question.text.startswith("✔ <b>Rouge</b>") and len(stored(store, "private:1011").path) == 3
    await camille.send("Rond")  # typed: a new message, and the question edited in place loses its buttons
    assert question.buttons == [] and camille.last is not question and len(stored(store, "private:1011").path) == 4


async def test_the_next_question_does_not_wait_for_the_spinner_to_stop(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1013)
    await camille.send("une salade de fruits")
    question = camille.last
    tg.delay, before = 0.2, len(tg.timeline)  # each Bot API call takes 200 ms
    await camille.press("Petit", message=question)
    steps = tg.timeline[before:]
    # The edit into the next question starts while answerCallbackQuery is still under way.
    assert steps.index(("start", "editMessageText")) < steps.index(("end", "answerCallbackQuery"))
    assert "Question C : quelle couleur ?" in question.text and store.count_undelivered_sync() == 0


async def test_a_refused_edit_sends_the_question_anew_and_its_buttons_work(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1012)
    await camille.send("une salade de fruits")
    question = camille.last
    refused = ("editMessageText", 400, {"ok": False, "error_code": 400, "description": "Bad Request: message can't be edited"})
    tg.fail_next.append(refused)
    before = len(tg.calls)
    await camille.press("Petit", message=question)
    assert [name for name, _ in tg.calls[before:]] == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    anew = camille.last
    assert anew is not question and "Question C : quelle couleur ?" in anew.text and "Rouge" in anew.labels
    assert store.count_undelivered_sync() == 0
    await camille.send("Rouge")  # typed: the question sent anew is the one that loses its buttons
    assert anew.buttons == [] and len(stored(store, "private:1012").path) == 3
    tg.fail_next.append(refused)
    await camille.press("Rond", message=camille.last)
    anew = camille.last
    assert anew.labels and len(stored(store, "private:1012").path) == 4
    await camille.press(anew.labels[0], message=anew)  # the buttons of a question sent anew work
    assert len(stored(store, "private:1012").path) == 5


async def test_an_edit_already_made_is_not_sent_again(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1013)
    await camille.send("une salade de fruits")
    question = camille.last
    tg.fail_next.append(("editMessageText", 400, {"ok": False, "error_code": 400, "description":
                         "Bad Request: message is not modified: specified new message content and reply markup "
                         "are exactly the same as a current content and reply markup of the message"}))
    before = len(tg.calls)
    await camille.press("Petit", message=question)
    assert [name for name, _ in tg.calls[before:]] == ["answerCallbackQuery", "editMessageText"]
    assert store.count_undelivered_sync() == 0
    await camille.send("Rouge")  # the message it names still counts as the question shown
    assert tg.calls_to("editMessageReplyMarkup")[-1]["message_id"] == question.message_id


async def test_a_press_on_the_summary_keeps_it_and_sends_the_question(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1014)
    await camille.send("une salade de fruits")
    await camille.send("/recap")
    summary = camille.last
    assert "Récapitulatif" in summary.text and "Petit" in summary.labels
    await camille.press("Petit", message=summary)
    assert "Récapitulatif" in summary.text and summary.text.endswith("✔ <b>Petit</b>") and summary.buttons == []
    assert camille.last is not summary and "Question C : quelle couleur ?" in camille.last_text


async def test_duplicate_update_is_handled_once(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1007)
    update_id = await camille.send("une salade de fruits")
    sent = len(camille.seen)
    await camille.feed({"message": camille.message("une salade de fruits")}, update_id=update_id)
    assert len(camille.seen) == sent and store.load_sync(ConversationKey.private(1007)).rev == 1


async def test_media_edits_and_unknown_commands_get_an_answer(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1008)
    await camille.send("/start")
    await camille.feed({"message": camille.message(None, sticker={
        "file_id": "s", "file_unique_id": "s", "width": 1, "height": 1, "is_animated": False,
        "is_video": False, "type": "regular"})})
    assert "Je ne lis que le texte" in camille.last_text and "Question A : fruits ou légumes ?" in camille.last_text
    await camille.feed({"edited_message": {**camille.message("corrigé"), "edit_date": 1}})
    assert "messages modifiés" in camille.last_text
    await camille.send("/nimportequoi")
    assert "Je ne connais pas cette commande" in camille.last_text
    sent = len(camille.seen)
    await camille.send("/start@otherbot")
    assert len(camille.seen) == sent


async def test_user_text_is_escaped_when_shown_back(tiny_bot):
    tg, app, _ = tiny_bot
    camille = Person(tg, app, 1009)
    await camille.send("<b>salade de fruits</b> & <a href='x'>")
    await camille.send("/recap")
    assert "&lt;b&gt;salade de fruits&lt;/b&gt; &amp; &lt;a href='x'&gt;" in camille.last_text


async def test_group_members_have_their_own_progress(tiny_bot):
    tg, app, store = tiny_bot
    alice = Person(tg, app, 2001, chat_id=-100777, name="Alice")
    bob = Person(tg, app, 2002, chat_id=-100777, name="Bob")
    await alice.send(f"/start@{BOT_USERNAME}")
    question = next(m for m in reversed(alice.seen) if m.force_reply)
    assert "Question A : fruits ou légumes ?" in question.text
    assert alice.last.text == "Ou choisissez :" and "💬 Continuer en privé" in alice.last.labels
    await bob.send(f"/start@{BOT_USERNAME}")
    await alice.send("une salade de fruits", reply_to_bot=True)
    assert "Question B : quelle taille ?" in alice.last_text and alice.last.reply_to is not None
    await bob.send("une soupe de légumes", reply_to_bot=True)
    await bob.press("Grand")
    await alice.press("Petit", message=next(m for m in reversed(alice.seen) if "Petit" in m.labels
                                            and f":{alice.id}:" in m.buttons[0][0]["callback_data"]))
    a = stored(store, "group:-100777:2001")
    b = stored(store, "group:-100777:2002")
    assert a.answers == {"topic": "fruit", "size": "small"}
    assert b.answers == {"topic": "vegetable", "size": "big"}
    # Group chatter not addressed to the bot is ignored.
    before = len(alice.seen)
    await alice.send("quelqu'un a déjà eu ce souci ?")
    assert len(alice.seen) == before and stored(store, "group:-100777:2001").answers == a.answers


async def test_group_member_cannot_press_someone_elses_button(tiny_bot):
    tg, app, store = tiny_bot
    alice = Person(tg, app, 2011, chat_id=-100778)
    mallory = Person(tg, app, 2012, chat_id=-100778)
    await alice.send(f"/start@{BOT_USERNAME}")
    await alice.send("une salade de fruits", reply_to_bot=True)
    question = alice.last
    await mallory.press("Petit", message=question)
    answer = tg.calls_to("answerCallbackQuery")[-1]
    assert answer["show_alert"] is True and "un autre membre" in answer["text"]
    assert stored(store, "group:-100778:2011").node == "size"
    assert stored(store, "group:-100778:2012") is None


async def test_group_progress_continues_in_private_through_the_deep_link(tiny_bot):
    tg, app, store = tiny_bot
    in_group = Person(tg, app, 2021, chat_id=-100779)
    await in_group.send(f"/start@{BOT_USERNAME}")
    await in_group.send("une salade de fruits", reply_to_bot=True)
    link = next(b["url"] for row in in_group.last.buttons for b in row if "url" in b)
    assert link == f"https://t.me/{BOT_USERNAME}?start=g-100779"
    private = Person(tg, app, 2021)
    await private.send("/start g-100779")
    assert "On continue ici, en privé" in private.last_text and "Question B : quelle taille ?" in private.last_text
    assert stored(store, "private:2021").answers == {"topic": "fruit"}
    assert stored(store, "group:-100779:2021") is None


async def test_supergroup_migration_keeps_members_progress(tiny_bot):
    tg, app, store = tiny_bot
    alice = Person(tg, app, 2031, chat_id=-4000)
    await alice.send(f"/start@{BOT_USERNAME}")
    await alice.send("une salade de fruits", reply_to_bot=True)
    await alice.feed({"message": {**alice.message(None), "migrate_to_chat_id": -1004000}})
    assert stored(store, "group:-4000:2031") is None
    moved = stored(store, "group:-1004000:2031")
    assert moved.answers == {"topic": "fruit"}


async def test_deep_link_opens_a_flow_and_start_resumes(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1010)
    await camille.send("/start tiny")
    assert "Question A : fruits ou légumes ?" in camille.last_text
    await camille.send("une salade de fruits")
    await camille.send("/start")
    assert "Reprenons où vous en étiez" in camille.last_text and "Question B : quelle taille ?" in camille.last_text


async def test_admin_command_answers_only_admins(tiny_bot):
    tg, app, store = tiny_bot
    admin, other = Person(tg, app, 42), Person(tg, app, 43)
    await admin.send("/start")
    await admin.send("/stats")
    summary, picture = admin.seen[-2:]  # the last 30 days in a paragraph, then the funnel as a picture
    assert summary.text.endswith("1 conversation(s) enregistrée(s).") and picture.photo.startswith(b"\x89PNG")
    await other.send("/stats")
    assert "Je ne connais pas cette commande" in other.last_text


async def test_english_speaking_user(tiny_bot):
    tg, app, _ = tiny_bot
    sam = Person(tg, app, 1011, language="en")
    await sam.send("/start")
    assert "Question A: fruit or vegetables?" in sam.last_text


async def test_command_menu_is_published_in_french_and_by_default(tiny_bot):
    from bot.telegram.app import _post_init
    tg, app, _ = tiny_bot
    await _post_init(app)
    menus = tg.calls_to("setMyCommands")
    french = next(m for m in menus if m.get("language_code") == "fr")
    default = next(m for m in menus if "language_code" not in m)
    assert [c["command"] for c in french["commands"]] == ["start", "aide", "retour", "recommencer", "recap", "suivi", "rappels",
                                                              "oublier"]
    assert [c["command"] for c in default["commands"]] == ["start", "help", "back", "restart", "summary", "case",
                                                               "reminders", "forget"]
    assert french["commands"][4]["description"] == "Où j'en suis et mes réponses"


async def test_forget_delivered_twice_asks_once_and_a_double_yes_erases_once(tiny_bot):
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1101)
    await camille.send("une salade de fruits")
    update_id = await camille.send("/oublier")
    asked = len(camille.seen)
    await camille.feed({"message": camille.message("/oublier")}, update_id=update_id)  # Telegram again
    assert len(camille.seen) == asked
    prompt = camille.last
    await camille.press("Oui, tout effacer", message=prompt)
    done = len(camille.seen)
    await camille.press("Oui, tout effacer", message=prompt, data=tg.calls_to("sendMessage")[-2]["reply_markup"]
                        ["inline_keyboard"][0][0]["callback_data"])
    assert len(camille.seen) == done and store.count_sync() == 0


async def test_a_forged_button_from_a_stranger_creates_nothing(tiny_bot):
    tg, app, store = tiny_bot
    stranger = Person(tg, app, 1102)
    await stranger.feed({"callback_query": {"id": "q1", "from": stranger.user, "chat_instance": "ci",
                                            "message": {"message_id": 5, "date": 1, "chat": stranger.chat,
                                                        "text": "?"}, "data": "abc:1102:fruit"}})
    assert store.count_sync() == 0
    assert "plus valide" in tg.calls_to("answerCallbackQuery")[-1]["text"]


async def test_a_members_own_words_are_quoted_plainly_in_the_group_recap(tiny_bot):
    tg, app, store = tiny_bot
    alice = Person(tg, app, 2301, chat_id=-100900)
    await alice.send(f"/start@{BOT_USERNAME}")
    await alice.send("une salade de fruits, voir www.arnaque.example.com", reply_to_bot=True)
    await alice.send(f"/recap@{BOT_USERNAME}")
    recap = alice.last_text
    assert "« une salade de fruits, voir www.\u200barnaque.\u200bexample.\u200bcom »" in recap
    assert "<b>une salade" not in recap


async def test_a_press_made_up_on_another_members_question_changes_nothing(tiny_bot):
    """In a group, B sends callback data carrying B's own id on A's question message: B's
    conversation does not move on and A's message is not edited."""
    tg, app, store = tiny_bot
    alice = Person(tg, app, 2041, chat_id=-100790)
    bob = Person(tg, app, 2042, chat_id=-100790)
    for member in (alice, bob):
        await member.send(f"/start@{BOT_USERNAME}")
        await member.send("une salade de fruits", reply_to_bot=True)
    question = next(m for m in alice.seen if "Petit" in m.labels and f":{alice.id}:" in str(m.buttons))
    data = data_of(question, "Petit")
    edits = len(tg.calls_to("editMessageText")) + len(tg.calls_to("editMessageReplyMarkup"))
    await bob.press("Petit", message=question, data=data.replace(f":{alice.id}:", f":{bob.id}:"))
    assert stored(store, f"group:-100790:{bob.id}").node == "size"  # not moved on
    assert len(tg.calls_to("editMessageText")) + len(tg.calls_to("editMessageReplyMarkup")) == edits
    assert question.labels and "Petit" in question.labels  # A's buttons still there
    assert "précédente" in tg.calls_to("answerCallbackQuery")[-1]["text"]
    await alice.press("Petit", message=question)  # A's own press still works
    assert stored(store, f"group:-100790:{alice.id}").node == "colour"


async def test_two_processes_an_old_button_is_stale_and_a_double_erase_erases_once(tmp_path):
    """Process A and process B on one file and one Telegram: what A did, B knows (the last
    question shown, the /oublier prompt answered), however recently B cached the record."""
    from bot.stores import SQLiteStore
    tg_a, app_a, store_a = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), store=SQLiteStore(tmp_path / "s.sqlite3"))
    tg_b, app_b, store_b = await make_bot(tmp_path, tiny_flows(tmp_path / "flows"), store=SQLiteStore(tmp_path / "s.sqlite3"))
    tg_a.share_with(tg_b)
    try:
        in_a, in_b = Person(tg_a, app_a, 2051), Person(tg_b, app_b, 2051)
        await in_b.send("une salade de fruits")  # B caches the record
        old = in_b.last
        big = data_of(old, "Grand")
        await in_a.press("Petit", message=old)  # A moves on (the question edited in place)
        assert stored(store_a, "private:2051").node == "colour"
        await in_b.press("Grand", message=old, data=big)  # the old button, pressed in B
        assert "précédente" in tg_b.calls_to("answerCallbackQuery")[-1]["text"]
        assert stored(store_b, "private:2051").answers["size"] == "small"
        question = in_a.last  # « Question C », shown by A
        assert question.labels
        await in_b.send("Rouge")  # answered by text in B: A's question loses its buttons
        assert stored(store_b, "private:2051").node != "colour" and question.labels == []
        await in_a.send("/oublier")
        prompt = in_a.last
        erase = data_of(prompt, "Oui, tout effacer")
        await in_a.press("Oui, tout effacer", message=prompt)
        await in_b.press("Oui, tout effacer", message=prompt, data=erase)  # pressed again, reaching B
        forgotten = [m for m in in_a.seen if m.text.startswith("C'est fait : tout ce que je gardais")]
        assert len(forgotten) == 1 and store_a.count_sync() == 0
    finally:
        for app, store in ((app_a, store_a), (app_b, store_b)):
            await app.shutdown()
            store.close()


async def test_a_made_up_press_whose_owner_cannot_be_told_is_not_applied(tiny_bot):
    """A new member whose own question was not shown yet presses another member's question
    with made-up data, on a message Telegram gives without `reply_to_message`: nothing."""
    tg, app, store = tiny_bot
    alice, dave = Person(tg, app, 2061, chat_id=-100791), Person(tg, app, 2062, chat_id=-100791)
    await alice.send(f"/start@{BOT_USERNAME}")
    await alice.send("une salade de fruits", reply_to_bot=True)
    question = alice.last
    data = data_of(question, "Petit")
    tg.fail_next.append(("sendMessage", 500, {"ok": False, "error_code": 500, "description": "Internal"}))
    await dave.send(f"/start@{BOT_USERNAME}")  # saved, its question not shown yet
    assert store.load_sync(ConversationKey.group(-100791, 2062)).question is None
    token = data.split(":", 1)[0]
    await dave.press("Petit", message=question, data=f"{token}:{dave.id}:fruit")  # an answer to dave's question A
    assert stored(store, "group:-100791:2062").path == ()
    assert question.labels  # A's message untouched


async def test_an_erasure_the_store_could_not_make_is_made_when_the_press_comes_again(tiny_bot, monkeypatch):
    """The confirmation is marked answered, then the store fails before erasing: Telegram sends
    the same press again, and it erases (another press would not)."""
    from bot.errors import StoreUnavailable
    tg, app, store = tiny_bot
    camille = Person(tg, app, 1103)
    await camille.send("une salade de fruits")
    await camille.send("/oublier")
    prompt = camille.last
    erase = data_of(prompt, "Oui, tout effacer")
    real = store.delete_user

    async def away(user_id):
        raise StoreUnavailable("database is locked")
    monkeypatch.setattr(store, "delete_user", away)
    press = {"callback_query": {"id": "q-erase", "from": camille.user, "chat_instance": "ci",
                                "message": tg._message_json(prompt), "data": erase}}
    await camille.feed(press, update_id=990_001)
    assert store.count_sync() == 1  # not erased
    monkeypatch.setattr(store, "delete_user", real)
    await camille.feed(press, update_id=990_001)  # Telegram's next try
    assert store.count_sync() == 0
    assert camille.last_text.startswith("C'est fait")


def test_a_call_with_plain_parameters_says_to_telegram_what_ptb_would():
    """`api_call` skips PTB's per-value objects: the parameters Telegram receives (each JSON
    value, a string as it is) must be the same, accents, buttons and flags included."""
    import json

    from telegram.request import RequestData
    from telegram.request._requestparameter import RequestParameter  # (what Bot._do_post builds)

    from bot.telegram.send import _Plain

    params = {"chat_id": -1001234, "text": "Réponse « 3 » : d'accord", "message_thread_id": 7,
              "reply_markup": {"inline_keyboard": [[{"text": "Retour ↩", "callback_data": "ab12:back"}]]},
              "disable_web_page_preview": True}
    ptb = RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])
    ours = _Plain(params)
    assert ours.contains_files is False
    decode = {k: v if k == "text" else json.loads(v) for k, v in ours.json_parameters.items()}
    assert decode == {k: v if k == "text" else json.loads(v) for k, v in ptb.json_parameters.items()}
    assert json.loads(ours.json_payload) == {k: v for k, v in ours.json_parameters.items()}
    assert ours.url_encoded_parameters() and ours.parametrized_url("https://x/y").startswith("https://x/y?")
