"""Fixed sections of an app's output: the grammar the model is held to, reading an answer back into
its sections, completing one cut off by its token limit, and the rules an app definition keeps."""

import pytest

from appliance.apps.sections import MISSING, Layout, Section, complete, grammar, missing, split
from appliance.apps.spec import SpecError, parse_spec
from tests.support.apps import MINIMAL

REPORT = [Section(title="Datum/Uhrzeit", repeat=True), Section(title="Beobachtung", lines=3, repeat=True),
          Section(title="Zu prüfen", optional=True, repeat=True), Section(title="Aufgaben", lines=5)]


def test_the_grammar_names_every_section_in_order_and_bounds_each() -> None:
    text = grammar(REPORT)
    root = text.splitlines()[0]
    assert root.startswith("root ::= b") and root.endswith(" s3")  # the block, repeated, then the tasks
    assert "{0,9}" in root  # at most ten blocks
    assert 's0 ::= "Datum/Uhrzeit: " line "\\n"' in text
    assert 's1 ::= "Beobachtung:" (" " | "\\n") line ("\\n" blank? line){0,2} "\\n"' in text
    assert "(s2)?" in text  # the optional section
    assert "line ::= [^ \\n] [^\\n]{0,599}" in text  # text, not a space
    heading = grammar(REPORT, Layout.heading)
    assert 's3 ::= "## Aufgaben" "\\n" line' in heading
    bold = grammar(REPORT, Layout.bold)
    assert 's0 ::= "**Datum/Uhrzeit:** " line' in bold and "blank s3" in bold


def test_quotes_and_backslashes_in_a_title_stay_inside_the_literal() -> None:
    text = grammar([Section(title='Sag "hallo" \\ tschüss')])
    assert 's0 ::= "Sag \\"hallo\\" \\\\ tschüss: " line "\\n"' in text


def test_an_answer_is_read_back_into_its_sections_also_when_the_model_adds_markdown() -> None:
    answer = ("Datum/Uhrzeit: 14.03.2026, 7:15 Uhr\nBeobachtung: sitzt auf dem Boden im Bad\nklagt über Schmerzen\n"
              "\nDatum/Uhrzeit: 14.03.2026, 11:00 Uhr\n**Beobachtung:** isst wenig\nAufgaben:\n| a | b |")
    parts = split(answer, REPORT)
    assert [p.title for p in parts] == ["Datum/Uhrzeit", "Beobachtung", "Datum/Uhrzeit", "Beobachtung", "Aufgaben"]
    assert parts[1].text == "sitzt auf dem Boden im Bad\nklagt über Schmerzen"
    assert parts[3].text == "isst wenig" and parts[4].text == "| a | b |"
    assert missing(answer, REPORT) == []
    minutes = [Section(title="Themen", lines=9), Section(title="Beschlüsse", lines=3),
               Section(title="Aufgaben", lines=3)]
    written = ("## Themen\n### 1. Aufgaben der Küche\nAufgaben: neu verteilt\n## Beschlüsse\n1. ja\n"
               "## Aufgaben\n- putzen")
    parts = split(written, minutes)  # a topic called "Aufgaben" is no section: the grammar put it under Themen
    assert [(p.title, p.text) for p in parts] == [("Themen", "### 1. Aufgaben der Küche\nAufgaben: neu verteilt"),
                                                  ("Beschlüsse", "1. ja"), ("Aufgaben", "- putzen")]


def test_an_answer_cut_off_gets_the_sections_it_lacks_marked_missing() -> None:
    cut = "Datum/Uhrzeit: 14.03.2026\nBeobachtung: sitzt auf dem Bo"
    assert complete(cut, REPORT) == f"{cut}\nAufgaben: {MISSING}"
    cut_in_second_block = "Datum/Uhrzeit: 7 Uhr\nBeobachtung: a\n\nDatum/Uhrzeit: 9 Uhr"
    assert complete(cut_in_second_block, REPORT) == (f"{cut_in_second_block}\nBeobachtung: {MISSING}\n"
                                                     f"Aufgaben: {MISSING}")
    assert complete("", REPORT, Layout.heading) == f"## Datum/Uhrzeit\n{MISSING}\n\n## Beobachtung\n{MISSING}" \
                                                   f"\n\n## Aufgaben\n{MISSING}"
    whole = "Datum/Uhrzeit: 7 Uhr\nBeobachtung: a\nAufgaben: keine"
    assert complete(whole, REPORT) == whole


@pytest.mark.parametrize(("sections", "message"), [
    ([{"title": "Beobachtung"}, {"title": "beobachtung"}], "nur einmal"),
    ([{"title": "Zu prüfen", "optional": True}], "Pflicht"),
    ([{"title": "A", "repeat": True}, {"title": "B"}, {"title": "C", "repeat": True}], "direkt aufeinander"),
    ([{"title": "A", "repeat": True, "optional": True}, {"title": "B", "repeat": True}], "beginnt mit einem Pflicht"),
])
def test_an_app_definition_with_muddled_sections_is_refused(sections, message) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, "sections": sections})
    assert message in str(err.value)


@pytest.mark.parametrize("title", ["Datum: Uhrzeit", "## Titel", "a\nb", "[x]", "", "x" * 61])
def test_a_section_title_that_would_break_the_layout_is_refused_naming_it(title) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, "sections": [{"title": title}]})
    assert err.value.problems[0][0] == "sections.0.title"


def test_case_inputs_must_name_the_apps_fields() -> None:
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, "cases": [{"name": "Fall", "inputs": {"gibtsnicht": "x"}}]})
    assert "Testfall 1 nennt Felder, die es nicht gibt: gibtsnicht" in str(err.value)


def test_a_choice_in_the_form_can_ask_for_one_section_or_all() -> None:
    from appliance.apps.files import FileLimits
    from appliance.apps.runs import prepare
    from appliance.people.accounts import Principal, Role

    spec = parse_spec({**MINIMAL, "layout": "heading", "sections_from": "teil",
                       "inputs": [*MINIMAL["inputs"], {"name": "teil", "label": "Teil", "type": "choice",
                                                       "options": ["Alles", "Zeitplan", "Kosten"]}],
                       "sections": [{"title": "Zeitplan", "lines": 4}, {"title": "Kosten", "lines": 4}]})
    who = Principal(1, "otto", Role.app_author)

    def run(teil: str):
        return prepare(who, spec, 1, {"datum": "2026-06-12", "teil": teil}, None, False, FileLimits())

    one = run("Kosten")
    assert [s.title for s in one.sections] == ["Kosten"]
    assert one.params.grammar.splitlines()[0] == "root ::= s0" and '"## Kosten"' in one.params.grammar
    assert "## Kosten" in one.messages[0].content and "## Zeitplan" not in one.messages[0].content
    both = run("Alles")
    assert [s.title for s in both.sections] == ["Zeitplan", "Kosten"] and '"## Zeitplan"' in both.params.grammar
    with pytest.raises(SpecError) as err:
        parse_spec({**MINIMAL, "sections_from": "grund", "sections": [{"title": "A"}]})
    assert "„grund“ ist kein Auswahlfeld" in str(err.value)
