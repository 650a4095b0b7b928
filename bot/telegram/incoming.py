"""Updates from their raw JSON, built cheaply for what a busy bot mostly gets.

PTB's `Update.de_json` sets every attribute of every object it builds (a Message has ~115,
an Update ~30, each set through `TelegramObject.__setattr__`) whatever the JSON holds: it
was the largest single cost of an update in the benchmark (bench/). A typed message and a
button press carry a handful of fields. For them, `parse_update` builds subclasses of PTB's
classes whose absent attributes read PTB's own defaults from the class, so that only the
fields present are set; a field that needs converting is converted by PTB's parser of its
type. The objects equal PTB's parse of the same JSON attribute by attribute
(tests/test_incoming.py) and are `telegram.Update`, `telegram.Message`... for every check
and method. An update with any field not known here (a photo, a forward, a poll, a member
joining...) goes through `Update.de_json` as before.
"""
from __future__ import annotations

from datetime import datetime, timezone
from types import MappingProxyType

from telegram import CallbackQuery, Chat, InlineKeyboardMarkup, Message, MessageEntity, Update, User

from .. import jsonio

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NO_KWARGS: MappingProxyType[str, object] = MappingProxyType({})  # what PTB gives an object built from fields it all knows


def _when(value: int, _bot=None) -> datetime:
    return datetime.fromtimestamp(value, timezone.utc)


# Message fields read here: name in the JSON -> (attribute, PTB's conversion or None).
_MESSAGE_FIELDS = {
    "message_id": ("message_id", None),
    "date": ("date", _when),
    "edit_date": ("edit_date", _when),
    "chat": ("chat", Chat.de_json),
    "from": ("from_user", None),  # a user: _user()
    "text": ("text", None),
    "entities": ("entities", MessageEntity.de_list),
    "message_thread_id": ("message_thread_id", None),
    "is_topic_message": ("is_topic_message", None),
    "has_protected_content": ("has_protected_content", None),
    "reply_markup": ("reply_markup", InlineKeyboardMarkup.de_json),
}
_PRESS_FIELDS = frozenset({"id", "from", "chat_instance", "data", "message"})
# A user's fields are plain values, named in the JSON as in PTB.
_USER_FIELDS = frozenset({"id", "is_bot", "first_name", "last_name", "username", "language_code", "is_premium",
                          "added_to_attachment_menu"})


def _lean(cls, template):
    """A subclass of `cls` whose class holds each public attribute's value in `template` (PTB's
    default when the field is absent), and the private attributes to copy into each object."""
    slots = [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]
    lean = type(f"Lean{cls.__name__}", (cls,), {
        "__doc__": f"A telegram.{cls.__name__} that stores only the fields present in its JSON.",
        # hashed as PTB hashes its own (by class and ids), since the two compare equal
        "__hash__": lambda self: hash((cls, self._id_attrs)) if self._id_attrs else object.__hash__(self),
        **{name: getattr(template, name) for name in slots if not name.startswith("_") and name != "api_kwargs"}})
    private = {name: getattr(template, name) for name in slots
               if name.startswith("_") and name not in ("_bot", "_frozen", "_id_attrs")}
    return lean, private


_USER = _lean(User, User(0, "", False))
_MESSAGE = _lean(Message, Message(0, _EPOCH, Chat(0, Chat.PRIVATE)))
_PRESS = _lean(CallbackQuery, CallbackQuery("", User(0, "", False), ""))
_UPDATE = _lean(Update, Update(0))
# By name too, so that the objects pickle and copy as PTB's do.
LeanUser, LeanMessage, LeanCallbackQuery, LeanUpdate = _USER[0], _MESSAGE[0], _PRESS[0], _UPDATE[0]


def _build(kind, values: dict, id_attrs: tuple, bot):
    cls, private = kind
    obj = object.__new__(cls)
    put = object.__setattr__
    put(obj, "api_kwargs", _NO_KWARGS)
    for name, value in private.items():
        put(obj, name, value)
    obj.__dict__.update(values)
    put(obj, "_id_attrs", id_attrs)
    put(obj, "_bot", bot)
    put(obj, "_frozen", True)
    return obj


def _user(data: dict, bot) -> User:
    if data.keys() <= _USER_FIELDS and "id" in data and "first_name" in data and "is_bot" in data:
        return _build(_USER, data, (data["id"],), bot)
    return User.de_json(data, bot)


def _message(data: dict, bot) -> Message | None:
    """The message, or None when it holds a field not known here (PTB parses it then)."""
    values = {}
    for key, value in data.items():
        field = _MESSAGE_FIELDS.get(key)
        if field is None:
            return None
        name, convert = field
        if value is None:  # null is absent: the class holds PTB's default (() for a list)
            continue
        if key == "from":
            value = _user(value, bot)
        elif convert is not None:
            value = convert(value, bot)
        values[name] = value
    if "message_id" not in values or "date" not in values or "chat" not in values:
        return None
    return _build(_MESSAGE, values, (values["message_id"], values["chat"]), bot)


def parse_update(body: bytes | str, bot) -> Update:
    """The Update in a webhook body (raises ValueError, TypeError, KeyError or
    AttributeError when it is not one, as `Update.de_json` does)."""
    return update_of(jsonio.loads(body), bot)


def update_of(data, bot) -> Update:
    """The Update of an update's decoded JSON (a webhook body, an item of getUpdates); raises
    TypeError for one whose ids or text are not of Telegram's types (only a sender holding the
    webhook's secret, or a broken Bot API server, could send it)."""
    return _sane(_update_of(data, bot))


def _sane(update: Update) -> Update:
    if type(update.update_id) is not int:
        raise TypeError("update_id is not an integer")
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if (chat is not None and type(chat.id) is not int) or (user is not None and type(user.id) is not int):
        raise TypeError("a chat or user id is not an integer")
    if message is not None and message.text is not None and not isinstance(message.text, str):
        raise TypeError("a message text is not a string")
    if update.callback_query is not None and not isinstance(update.callback_query.data, (str, type(None))):
        raise TypeError("callback data is not a string")
    return update


def _update_of(data, bot) -> Update:
    if not isinstance(data, dict):
        raise TypeError("an update is a JSON object")
    if getattr(bot, "defaults", None) is not None:  # PTB may then convert dates to their timezone
        return Update.de_json(data, bot)
    keys = data.keys() - {"update_id"}
    if keys == {"message"} and isinstance(data["message"], dict):
        message = _message(data["message"], bot)
        if message is not None:
            return _build(_UPDATE, {"update_id": data["update_id"], "message": message}, (data["update_id"],), bot)
    elif keys == {"callback_query"} and isinstance(data["callback_query"], dict):
        press = data["callback_query"]
        if press.keys() <= _PRESS_FIELDS and isinstance(press.get("message"), dict) \
                and isinstance(press.get("from"), dict):
            message = _message(press["message"], bot)
            if message is not None:
                query = _build(_PRESS, {"id": press["id"], "from_user": _user(press["from"], bot),
                                        "chat_instance": press["chat_instance"], "message": message,
                                        "data": press.get("data")}, (press["id"],), bot)
                return _build(_UPDATE, {"update_id": data["update_id"], "callback_query": query},
                              (data["update_id"],), bot)
    return Update.de_json(data, bot)
