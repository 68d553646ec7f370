"""The builder's pure helpers: ids and field names from labels, the app object it saves."""

from appliance.apps.spec import InputType, parse_spec
from tests.support.apps import MINIMAL
from ui.builder_spec import TYPES, build_spec, field_name, slug, version_markdown


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


def test_every_input_type_an_app_supports_is_offered_with_a_german_label() -> None:
    assert [value for _, value in TYPES] == [kind.value for kind in InputType]
    labels = dict((value, label) for label, value in TYPES)
    assert labels["audio"].startswith("Sprachaufnahme") and labels["file"].startswith("Datei")
    assert len(set(labels.values())) == len(labels)


def test_an_earlier_version_reads_with_its_fields_and_prompts_as_they_were() -> None:
    spec = parse_spec({**MINIMAL, "version": 2, "system_prompt": "Schreibe so:\n~~~\nkurz\n~~~"})
    spec = spec.model_dump(mode="json")
    saved = {"version": 2, "saved_by": "otto", "saved_at": "2026-03-01T09:30:12", "note": "gespeichert",
             "published": True}
    text = version_markdown(spec, saved, "de")
    assert text.startswith("#### Version 2 (nur zum Lesen)\n\nGespeichert am 2026-03-01 09:30 von otto (gespeichert).")
    assert "**Veröffentlicht.**" in text and "**Datum** * (Datum, `{{ datum }}`)" in text
    assert "~~~~text\nSchreibe so:\n~~~\nkurz\n~~~\n~~~~" in text  # the prompt's own ~~~ cannot end the block
    assert "~~~text\nTausch am {{ datum }}.{% if grund %} Grund: {{ grund }}{% endif %}\n~~~" in text
    assert version_markdown(spec, None, "en").startswith("#### Version 2 (read only)\n\n**Title:**")


def test_a_loaded_app_saved_from_the_form_keeps_its_sections_cases_and_settings() -> None:
    from appliance.apps.store import load_builtins
    from ui.builder_spec import kept_parts, with_kept

    report = load_builtins()["pflegebericht-diktat"].model_dump(mode="json")
    report["params"]["top_p"] = 0.8
    report["cases"] = [{"name": "Sturz", "inputs": {"notizen": "Zi 3 gestürzt"}, "expect": {"facts": ["Zi 3"]}}]
    report["examples"].append({"inputs": {"notizen": "zweites Beispiel"}})
    fields = [{k: v for k, v in f.items() if v not in (None, "", [])} for f in report["inputs"]]
    form = build_spec(report["id"], report["title"], report["description"], report["icon"], "Pflege",
                      report["audience"], report["purpose"], "minimal", "text", None, 0.1, 500,
                      report["system_prompt"], report["template"], report["note"], fields,
                      {"notizen": "im Baukasten ausprobiert"})
    assert "sections" not in form  # the form alone would lose them
    saved = parse_spec(with_kept(form, kept_parts(report)))
    assert [s.title for s in saved.sections][:2] == ["Datum/Uhrzeit", "Beobachtung"] and saved.layout == "line"
    assert saved.cases[0].name == "Sturz" and saved.cases[0].expect.facts == ["Zi 3"]
    assert (saved.params.top_p, saved.params.temperature, saved.params.max_tokens) == (0.8, 0.1, 500)
    assert [e.inputs["notizen"] for e in saved.examples] == ["im Baukasten ausprobiert", "zweites Beispiel"]
    assert with_kept(form, {}) == form
