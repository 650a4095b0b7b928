"""Updates built from raw JSON by the webhook's `parse_update` equal PTB's own parse, field
by field, for the kinds it builds itself; everything else is PTB's parse itself."""
import copy
import json
import pickle

import pytest
from telegram import Bot, Message, TelegramObject, Update

from bot.telegram.incoming import parse_update

BOT = Bot("123:abc")
USER = {"id": 501, "is_bot": False, "first_name": "Camille", "last_name": "Roy", "username": "camroy",
        "language_code": "fr", "is_premium": True}
PRIVATE = {"id": 501, "type": "private", "first_name": "Camille", "username": "camroy"}
GROUP = {"id": -1001234, "type": "supergroup", "title": "Entraide conso", "is_forum": True}
ME = {"id": 777, "is_bot": True, "first_name": "Bot", "username": "ReclamationBot"}
KEYBOARD = {"inline_keyboard": [[{"text": "Cstream Vidéo", "callback_data": "t1:501:video"}],
                                [{"text": "↩ Retour", "callback_data": "t1:501:_back"}]]}
QUESTION = {"message_id": 40, "date": 1790000000, "edit_date": 1790000050, "chat": PRIVATE, "from": ME,
            "text": "Quel service est concerné ?\n\nChoisissez.", "reply_markup": KEYBOARD,
            "entities": [{"offset": 0, "length": 27, "type": "bold"},
                         {"offset": 29, "length": 10, "type": "text_link", "url": "https://example.org"}]}

BUILT_HERE = {
    "a typed message": {"update_id": 1, "message": {"message_id": 41, "date": 1790000100, "chat": PRIVATE,
                                                    "from": USER, "text": "on m'a prélevé deux fois 😡"}},
    "a command": {"update_id": 2, "message": {"message_id": 42, "date": 1790000100, "chat": PRIVATE, "from": USER,
                                              "text": "/start", "entities": [{"offset": 0, "length": 6,
                                                                              "type": "bot_command"}]}},
    "a message in a forum topic": {"update_id": 3, "message": {
        "message_id": 43, "date": 1790000100, "chat": GROUP, "from": USER, "text": "@ReclamationBot aide",
        "message_thread_id": 9, "is_topic_message": True}},
    "a press": {"update_id": 4, "callback_query": {"id": "8827", "from": USER, "chat_instance": "-55",
                                                   "data": "t1:501:video", "message": QUESTION}},
    "a press with a minimal user": {"update_id": 5, "callback_query": {
        "id": "8828", "from": {"id": 502, "is_bot": False, "first_name": "Léo"}, "chat_instance": "-56",
        "data": "x", "message": {**QUESTION, "chat": {"id": 502, "type": "private"}}}},
    "a press on a message too old for Telegram to show": {"update_id": 6, "callback_query": {
        "id": "8830", "from": USER, "chat_instance": "-58", "data": "x",
        "message": {"message_id": 3, "date": 0, "chat": PRIVATE}}},
    "nulls where fields are absent": {"update_id": 7, "message": {
        "message_id": 44, "date": 1790000100, "chat": PRIVATE, "from": None, "text": "salut", "entities": None}},
    "a user with a field not known here (that user parsed by PTB)": {"update_id": 13, "message": {
        "message_id": 53, "date": 1790000100, "chat": PRIVATE, "from": {**USER, "has_main_web_app": False},
        "text": "bonjour"}},
}
PTB_PARSES = {
    "a photo": {"update_id": 10, "message": {"message_id": 50, "date": 1790000100, "chat": PRIVATE, "from": USER,
                                             "photo": [{"file_id": "p", "file_unique_id": "p", "width": 9,
                                                        "height": 9}], "caption": "ma facture"}},
    "a reply in a group": {"update_id": 11, "message": {"message_id": 51, "date": 1790000100, "chat": GROUP,
                                                        "from": USER, "text": "oui", "reply_to_message": QUESTION}},
    "an edited message": {"update_id": 12, "edited_message": {"message_id": 52, "date": 1790000100,
                                                              "edit_date": 1790000200, "chat": PRIVATE,
                                                              "from": USER, "text": "corrigé"}},
    "a press on an inline message": {"update_id": 14, "callback_query": {
        "id": "8829", "from": USER, "chat_instance": "-57", "data": "x", "inline_message_id": "AAA"}},
    "an inline query": {"update_id": 15, "inline_query": {"id": "q1", "from": USER, "query": "cstream",
                                                          "offset": ""}},
    "a member joining": {"update_id": 16, "message": {"message_id": 54, "date": 1790000100, "chat": GROUP,
                                                      "from": USER, "new_chat_members": [ME]}},
}


def same(a, b, where="update"):
    """Every attribute of a and b equal, recursively through PTB's objects and tuples of them."""
    assert isinstance(b, type(a)) or isinstance(a, type(b)), where
    if isinstance(a, TelegramObject):
        names = {n for k in type(a).__mro__ for n in getattr(k, "__slots__", ()) if not n.startswith("_")}
        assert names, where
        for name in sorted(names):
            same(getattr(a, name), getattr(b, name), f"{where}.{name}")
        assert a._id_attrs == b._id_attrs and a._bot is b._bot, where
    elif isinstance(a, tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b and type(a) is type(b), where


@pytest.mark.parametrize("name", BUILT_HERE)
def test_the_updates_built_here_equal_ptbs_parse(name):
    raw = json.dumps(BUILT_HERE[name]).encode()
    ours, ptb = parse_update(raw, BOT), Update.de_json(json.loads(raw), BOT)
    assert type(ours) is not Update  # built here, not by PTB
    same(ptb, ours)
    assert ours.to_dict() == ptb.to_dict() and ours == ptb
    message = ours.effective_message
    assert isinstance(message, Message) and message.text_html == ptb.effective_message.text_html
    assert ours.effective_chat == ptb.effective_chat and ours.effective_user == ptb.effective_user
    with pytest.raises(AttributeError):
        message.text = "changed"  # frozen, as PTB's are
    assert copy.deepcopy(ours) == ptb and pickle.loads(pickle.dumps(ours)).to_dict() == ptb.to_dict()
    found = {ptb: "ptb", ptb.effective_message: "m", ptb.effective_chat: "c", ptb.effective_user: "u"}
    assert found[ours] == "ptb" and found[message] == "m" and found[ours.effective_chat] == "c"  # equal, same hash
    assert ours.effective_user is None or found[ours.effective_user] == "u"


@pytest.mark.parametrize("name", PTB_PARSES)
def test_other_updates_are_ptbs_own_parse(name):
    raw = json.dumps(PTB_PARSES[name])
    ours, ptb = parse_update(raw, BOT), Update.de_json(json.loads(raw), BOT)
    assert type(ours) is Update and ours.to_dict() == ptb.to_dict()
    same(ptb, ours)


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"update_id": 1, "message": {"chat": {}}}',
                                  b'{"update_id": 1, "callback_query": {"id": "1", "message": {}}}'])
def test_what_is_not_an_update_raises_as_ptb_does(body):
    with pytest.raises((ValueError, TypeError, KeyError, AttributeError)):
        parse_update(body, BOT)


def test_a_bot_with_defaults_gets_ptbs_own_parse():
    from datetime import timezone
    from telegram.ext import Defaults, ExtBot
    bot = ExtBot("123:abc", defaults=Defaults(tzinfo=timezone.utc))
    raw = json.dumps(BUILT_HERE["a press"])
    assert type(parse_update(raw, bot)) is Update


def test_json_the_fast_library_refuses_is_read_and_written_as_before():
    """A lone surrogate in a typed text (what some clients send), NaN, int keys: orjson
    refuses them, the standard library takes them; bot/jsonio.py must read and write them
    as before, never fail an update on them."""
    import json

    from bot import jsonio

    body = b'{"update_id": 9, "message": {"text": "caf\\u00e9 \\ud83d"}}'
    assert jsonio.loads(body) == json.loads(body)
    assert jsonio.loads('{"x": NaN}')["x"] != jsonio.loads('{"x": NaN}')["x"]  # NaN, as json reads it
    for value in ({"text": "caf\u00e9 \ud83d"}, {1: "a"}, [1, "é", None, True, 2.5]):
        assert json.loads(jsonio.dumps(value)) == json.loads(json.dumps(value))
    assert jsonio.dumps({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'  # compact, accents as they are
