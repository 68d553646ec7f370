"""The builder's pure helpers: ids and field names from labels, the app object it saves."""

from appliance.apps.spec import parse_spec
from ui.builder_spec import build_spec, field_name, slug


def test_ids_and_field_names_come_from_german_labels() -> None:
    assert slug("Dienstplan-Tausch-Anfrage") == "dienstplan-tausch-anfrage"
    assert slug("Übergabe für Größere") == "uebergabe-fuer-groessere"
    assert field_name("Gewünschter Dienst", set()) == "gewuenschter_dienst"
    assert field_name("Datum", {"datum"}) == "datum_2"
    assert field_name("1. Wunsch", set()) == "f_1_wunsch"


def test_the_saved_app_keeps_the_note_and_never_a_files_text() -> None:
    fields = [{"name": "datum", "label": "Datum", "type": "date"},
              {"name": "anlage", "label": "Anlage", "type": "file", "required": False}]
    data = build_spec("", "Dienstplan-Tausch", "Bittet um einen Tausch.", "🔁", "Pflege", ["staff"],
                      "Eine Anfrage zum Diensttausch formulieren.", "minimal", "markdown", "", 0.3, 400,
                      "Du schreibst kurze Anfragen.", "Tausch am {{ datum }}. {{ anlage }}", "Ein Mensch entscheidet.",
                      fields, {"datum": "24.12.2026", "anlage": "Text einer Akte mit Namen"})
    spec = parse_spec(data)
    assert spec.id == "dienstplan-tausch" and spec.note == "Ein Mensch entscheidet." and spec.collection is None
    assert spec.examples[0].inputs == {"datum": "24.12.2026"}
