"""JSON on the hot path (an update parsed, a step saved and read back): orjson, several times
faster than the standard library's. Whatever orjson refuses and the standard library takes (a
lone surrogate in a text, NaN, a dict with int keys) goes through the standard library, so that
nothing reads or writes differently from before; only the spacing of the text differs (none)."""
from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII characters as they are."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """The value of a JSON text; ValueError (JSONDecodeError) when it is none."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
