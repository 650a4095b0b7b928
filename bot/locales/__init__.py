"""The bot's own sentences, one catalogue file per language (`fr.yaml`, `en.yaml`, ...).

    t("fr", "confirm", label="Erreur de facturation")

French is the reference: a key missing from another language falls back to it (the test
suite makes sure none is missing). A language is available as soon as its file exists.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from ..yamlio import safe_load

HERE = Path(__file__).resolve().parent
DEFAULT = "fr"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, Any]:
    """The whole file of one language (name, commands, menu, messages, months, weekdays)."""
    with open(HERE / f"{lang}.yaml", encoding="utf-8") as file:
        found: dict[str, Any] = safe_load(file)
        return found


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """Available languages, French first."""
    found = sorted(p.stem for p in HERE.glob("*.yaml"))
    return (DEFAULT, *[lang for lang in found if lang != DEFAULT])


def pick(code: str | None) -> str:
    """The catalogue language for a client language code ('en-GB' -> 'en'; unknown -> French)."""
    base = (code or DEFAULT).lower().split("-")[0]
    return base if base in languages() else DEFAULT


def t(lang: str, key: str, **values: object) -> str:
    """A whole sentence of the catalogue, its placeholders filled."""
    table: dict[str, str] = catalogue(lang if lang in languages() else DEFAULT)["messages"]
    text = table.get(key)
    if text is None:
        text = catalogue(DEFAULT)["messages"][key]
    return text.format(**values) if values else text


def words(lang: str, key: str) -> list[str]:
    """A list of the catalogue: months, weekdays, weekdays_short."""
    found: list[str] = catalogue(lang if lang in languages() else DEFAULT)[key]
    return found
