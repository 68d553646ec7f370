"""App definitions: the built-ins, validation with German messages, the AI-Act policy, the
sandboxed templates, input checking and the Word document."""

import io

import pytest
import yaml
from docx import Document

from appliance.apps.document import AI_MARK, Letterhead, build, two_languages
from appliance.apps.inputs import InputError, check_inputs
from appliance.apps.policy import check_purpose
from appliance.apps.prompt import PromptError, render
from appliance.apps.spec import SpecError, load_yaml, parse_spec
from appliance.apps.store import BUILTIN_DIR, load_builtins
from tests.support.apps import MINIMAL


def test_every_builtin_app_is_valid_and_its_examples_render() -> None:
    apps = load_builtins()
    assert len(apps) >= 20
    titles = {a.title for a in apps.values()}
    for needed in ("Pflegebericht aus Diktat", "Übergabe (ISBAR)", "Elternbrief", "Leichte Sprache", "Einfache Sprache",
                   "Fördermittel-Assistent", "Standardbrief", "E-Mail beantworten", "Protokoll aus Besprechung",
                   "Zusammenfassen", "Text übersetzen", "Beschwerde beantworten", "Stellenanzeige",
                   "Pflegehandbuch fragen"):
        assert needed in titles
    for spec in apps.values():
        assert spec.examples, spec.id
        for example in spec.examples:
            prompt = render(spec.template, check_inputs(spec, example.inputs))
            assert len(prompt) > 10
        assert len(spec.cases) >= 3, spec.id  # the quality check has something to measure
        for case in spec.cases:  # staff-like inputs the app accepts, with what a faithful draft holds
            assert len(render(spec.template, check_inputs(spec, case.inputs))) > 10, (spec.id, case.name)
            assert case.expect.facts or case.expect.absent, (spec.id, case.name)
        assert load_yaml(spec.to_yaml()) == spec  # export and import give the same app
    assert {p.stem for p in BUILTIN_DIR.glob("*.yaml")} == set(apps)


def test_unknown_keys_wrong_types_and_duplicates_name_the_field() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, "colour": "blau"})
    assert err.value.problems == [("colour", "Unbekannter Schlüssel.")]
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, "inputs": [{"name": "datum", "label": "Datum", "type": "uhrzeit"}]})
    assert err.value.param == "inputs.0.type" and "Erlaubt ist" in str(err.value)
    with pytest.raises(SpecError, match="doppelt"):
        parse_spec({**MINIMAL, "inputs": [MINIMAL["inputs"][0], MINIMAL["inputs"][0]]})
    with pytest.raises(SpecError, match="Option"):
        parse_spec({**MINIMAL, "inputs": [{"name": "x", "label": "X", "type": "choice"}], "template": "{{ x }}"})
    with pytest.raises(SpecError, match="nennt Felder, die es nicht gibt: ort"):
        parse_spec({**MINIMAL, "template": "{{ ort }}"})
    with pytest.raises(SpecError, match="kein gültiges YAML"):
        load_yaml("id: [unclosed")
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, "version": "neu"})
    assert err.value.param == "version" and "ganze Zahl" in str(err.value)


def test_a_key_written_twice_is_refused_with_its_line() -> None:
    text = yaml.safe_dump(MINIMAL, allow_unicode=True, sort_keys=False)
    with pytest.raises(SpecError) as err:
        load_yaml(text + "id: zweite-kennung\n")
    last = len(text.splitlines()) + 1
    assert err.value.problems == [("id", f"Der Schlüssel „id“ steht doppelt da (Zeile 1 und Zeile {last})."
                                         " Bitte nur einmal angeben.")]
    nested = text.replace("  label: Datum\n", "  label: Datum\n  label: Tag\n", 1)
    with pytest.raises(SpecError, match="„label“ steht doppelt da") as err:
        load_yaml(nested)
    assert err.value.param is None  # inside a field: the line says where
    merged = "x: &basis {required: true}\n" + text.replace("  label: Grund\n", "  <<: *basis\n  label: Grund\n")
    with pytest.raises(SpecError, match="x: Unbekannter Schlüssel"):  # an override after << is no duplicate
        load_yaml(merged)


@pytest.mark.parametrize("purpose", [
    "Bewerbungen sichten und die besten Bewerber ranken",
    "Die Stimmung der Kinder aus ihrer Stimme erkennen",
    "Leistung der Mitarbeitenden bewerten",
    "Über den Anspruch auf Leistungen entscheiden",
    "Einen Risikoscore für Klienten berechnen",
    "Einen Pflegegrad empfehlen",
])
def test_prohibited_and_high_risk_purposes_are_refused_with_the_reason(purpose: str) -> None:
    assert check_purpose(purpose)
    with pytest.raises(SpecError, match="EU-KI-Verordnung"):
        parse_spec({**MINIMAL, "purpose": purpose})
    with pytest.raises(SpecError, match="EU-KI-Verordnung"):
        parse_spec({**MINIMAL, "risk": "high"})


def test_ordinary_purposes_pass() -> None:
    for spec in load_builtins().values():
        assert check_purpose(" ".join((spec.title, spec.description, spec.purpose))) is None


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}", "{{ grund.__init__.__globals__ }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 1000000000 }}", "{{ 9 ** 9 ** 9 }}", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% for i in range(3000) %}{{ 'x' * 90 }}{% endfor %}", "{{ lipsum(100000) }}",
])
def test_template_injection_and_runaway_templates_stop_with_a_message(template: str) -> None:
    with pytest.raises(PromptError):
        render(template, {"grund": "x"})


def test_inputs_are_checked_and_formatted() -> None:
    spec = parse_spec({**MINIMAL, "inputs": [*MINIMAL["inputs"], {"name": "stunden", "label": "Stunden",
                                                                    "type": "number", "required": False},
                                              {"name": "art", "label": "Art", "type": "multi_choice",
                                               "options": ["Früh", "Spät"], "required": False}]})
    values = check_inputs(spec, {"datum": "2026-12-24", "stunden": "7,5", "art": ["Spät", "Spät"]})
    assert values == {"datum": "24.12.2026", "grund": "", "stunden": "7,5", "art": ["Spät"]}
    for bad, field in [({}, "datum"), ({"datum": "morgen"}, "datum"), ({"datum": "1.1.2026", "x": 1}, "x"),
                       ({"datum": "01.01.2026", "grund": "a" * 501}, "grund"),
                       ({"datum": "01.01.2026", "stunden": "viele"}, "stunden"),
                       ({"datum": "01.01.2026", "art": ["Nacht"]}, "art")]:
        with pytest.raises(InputError) as err:
            check_inputs(spec, bad)
        assert err.value.name == field


def test_a_two_language_letter_becomes_a_word_document_side_by_side() -> None:
    text = "## Deutsch\n\nLiebe Eltern,\n\n- Rucksack\n- **Trinkflasche**\n\n## Ukrainisch\n\nШановні батьки,"
    assert two_languages(text)[1][0] == "Ukrainisch"
    doc = Document(io.BytesIO(build("Elternbrief", text, Letterhead("Kita Sonnenschein"), "Elternbrief")))
    assert doc.paragraphs[0].text == AI_MARK
    assert "KI-generiert" in doc.core_properties.keywords and doc.core_properties.author == "Kita Sonnenschein"
    left, right = doc.tables[0].rows[0].cells
    assert "Liebe Eltern," in left.text and "Trinkflasche" in left.text and "Шановні батьки," in right.text
    assert "Kita Sonnenschein" in doc.sections[0].header.paragraphs[0].text
    assert AI_MARK in doc.sections[0].footer.paragraphs[0].text


def test_yaml_export_keeps_umlauts_readable() -> None:
    spec = load_builtins()["elternbrief"]
    assert "Schließtag" in spec.to_yaml()
    assert yaml.safe_load(spec.to_yaml())["id"] == "elternbrief"


@pytest.mark.parametrize(("text", "words"), [
    # "billion laughs": 446 bytes that stand for 10^9 values once the aliases are expanded
    ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
     "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
     "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
     "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n", "zu umfangreich"),
    ("x: " + "[" * 5000 + "]" * 5000 + "\n", "zu tief verschachtelt"),
    ("x: " + "[" * 30 + "]" * 30 + "\n", "zu tief verschachtelt"),
])
def test_files_that_stand_for_far_more_than_they_hold_are_refused(text: str, words: str) -> None:
    with pytest.raises(SpecError) as err:
        load_yaml(text)
    assert words in str(err.value)
