"""The bot's own sentences: one catalogue file per language, complete and consistent."""
import string

import pytest

from bot.engine.commands import COMMANDS, menu
from bot.locales import catalogue, languages, pick, t


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


OTHERS = [lang for lang in languages() if lang != "fr"]


def test_there_is_french_and_english():
    assert languages()[0] == "fr" and "en" in languages()


@pytest.mark.parametrize("lang", OTHERS)
def test_every_sentence_exists_in_every_language_with_the_same_placeholders(lang):
    french, other = catalogue("fr"), catalogue(lang)
    assert set(other["messages"]) == set(french["messages"])
    for key, text in french["messages"].items():
        assert fields(other["messages"][key]) == fields(text), key
    for part in ("commands", "menu"):
        assert set(other[part]) == set(french[part]), part
    for part, size in (("months", 12), ("weekdays", 7), ("weekdays_short", 7)):
        assert len(other[part]) == size == len(french[part])


def test_no_sentence_is_left_with_a_placeholder_unfilled():
    assert t("fr", "confirm", label="Erreur") == "Je comprends : « Erreur ». C'est bien ça ?"
    assert t("en", "now_open_f", name="The platform", time="9:00", note="") == "👉 The platform is open now, until 9:00."


def test_commands_work_in_every_language_and_the_menu_names_them():
    assert COMMANDS["retour"] == COMMANDS["back"] == "back"
    assert COMMANDS["oublier"] == COMMANDS["forget"] == "forget"
    assert [name for name, _ in menu("fr")][:3] == ["start", "aide", "retour"]
    assert [name for name, _ in menu("en")][:3] == ["start", "help", "back"]


def test_client_language_codes_pick_a_catalogue():
    assert pick("en-GB") == "en" and pick("fr") == "fr" and pick("pt-BR") == "fr" and pick(None) == "fr"


def test_a_third_language_is_one_more_file(tmp_path, monkeypatch, flow):
    """German sentences from a de.yaml alone; the flow's own texts fall back to French."""
    import shutil

    import yaml

    import bot.locales as locales
    from bot.engine import Engine
    from bot.flow.files import FlowSet
    from conftest import NOW
    for lang in ("fr", "en"):
        shutil.copy(locales.HERE / f"{lang}.yaml", tmp_path)
    german = yaml.safe_load((locales.HERE / "en.yaml").read_text(encoding="utf-8"))
    german["messages"]["back"] = "↩️ Zurück"
    (tmp_path / "de.yaml").write_text(yaml.safe_dump(german, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(locales, "HERE", tmp_path)
    locales.languages.cache_clear(), locales.catalogue.cache_clear()
    try:
        assert locales.pick("de-AT") == "de"
        engine = Engine(FlowSet([flow]))
        progress, reply = engine.start(lang="de", now=NOW)
        progress, reply = engine.text(progress, "1", NOW)
        assert "↩️ Zurück" in [b.label for b in reply.buttons] and "Cstream Vidéo" in [b.label for b in reply.buttons]
    finally:
        locales.languages.cache_clear(), locales.catalogue.cache_clear()
