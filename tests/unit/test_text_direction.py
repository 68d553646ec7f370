"""Which languages and texts run right to left: every language an app offers is known."""

from pathlib import Path

import yaml

from appliance.apps.text_direction import chosen_language, language_is_rtl, one_way_pieces, text_is_rtl
from appliance.speech.interpreter import LANGUAGES, RTL

BUILTIN = Path(__file__).parents[2] / "appliance" / "apps" / "builtin"


def test_every_language_the_builtin_apps_offer_has_a_known_direction() -> None:
    offered = {option for path in BUILTIN.glob("*.yaml")
               for field in yaml.safe_load(path.read_text(encoding="utf-8"))["inputs"]
               if field["name"] in ("sprache", "zielsprache") for option in field["options"]}
    assert {"Arabisch", "Farsi", "Dari", "Paschtu", "Ukrainisch"} <= offered
    assert {o: language_is_rtl(o) for o in offered if language_is_rtl(o) is not False} == {
        "Arabisch": True, "Farsi": True, "Dari": True, "Paschtu": True}
    for code, names in LANGUAGES.items():  # the interpreter's languages, by code and by every name
        for name in (code, *names):
            assert language_is_rtl(name) is (code in RTL), name
    for name in ("Urdu", "hebräisch", "Kurdisch (Sorani)", "ckb", " ARABIC "):
        assert language_is_rtl(name) is True
    assert language_is_rtl("Kurdisch (Kurmandschi)") is False and language_is_rtl("Kurdisch") is None
    assert language_is_rtl(None) is None and language_is_rtl("Übersetzung") is None


def test_texts_and_choices() -> None:
    assert text_is_rtl("[Name des Kindes] يمكنه المشاركة في الرحلة")  # most letters count, not the first
    assert not text_is_rtl("Liebe Eltern, مرحبا") and not text_is_rtl("שלום " + "Hallo Welt")
    assert text_is_rtl("12.06.2026", default=True) and not text_is_rtl("☐ ____")
    assert chosen_language(["Ausflug", "Deutsch", "Dari", "Arabisch"]) == "Dari"
    assert chosen_language(["Ausflug", "Deutsch"]) is None
    assert one_way_pieces("[Name des Kindes] يمكنه: ☐ نعم") == ["[Name des Kindes] ", "يمكنه: ☐ نعم"]
    assert one_way_pieces("كيف [Name] 12") == ["كيف ", "[Name] 12"]
    assert one_way_pieces("Liebe Eltern, 12.06.") == ["Liebe Eltern, 12.06."] and one_way_pieces("") == []
