"""Scoring one draft against one evaluation case (appliance.apps.quality): hand-written drafts run through
the real result of an app run (its fact check included), and the grade thresholds at their edges."""

from __future__ import annotations

import pytest

from appliance.apps.cases import Case
from appliance.apps.files import FileLimits
from appliance.apps.quality import (
    CaseScore,
    Grade,
    absent_found,
    combine,
    fact_found,
    grade,
    language_verdict,
    score,
    structure_problems,
    summarise,
)
from appliance.apps.runs import prepare, result
from appliance.apps.spec import AppSpec, parse_spec
from appliance.people.accounts import Principal, Role

WHO = Principal(0, "qualitaetspruefung", Role.facility_admin)

REPORT = parse_spec({
    "id": "kurzbericht", "title": "Kurzbericht", "description": "Ein Eintrag für den Pflegebericht.",
    "inputs": [{"name": "notizen", "label": "Notizen", "type": "long_text"},
               {"name": "datum", "label": "Datum", "type": "date"}],
    "system_prompt": "Du schreibst sachliche Einträge für den Pflegebericht.",
    "template": "Datum: {{ datum }}\nNotizen: {{ notizen }}",
    "purpose": "Aus Stichworten einen sachlichen Eintrag für den Pflegebericht formulieren.",
    "sections": [{"title": "Beobachtung", "lines": 3}, {"title": "Maßnahme", "lines": 3}],
})
NOTES = ("Sturz im Bad gegen 7:15, keine Verletzung sichtbar, RR 135/80. Mit zwei Pflegekräften hochgeholfen,"
         " Hausärztin Dr. Keller informiert.")
CASE = Case(name="Sturz im Bad", inputs={"notizen": NOTES, "datum": "2026-03-14"},
            expect={"facts": ["14.03.2026", "7:15", "135/80", "Dr. Keller", "hochgeholfen"],
                    "absent": ["Fraktur", "Arzt"]})
FAITHFUL = ("Beobachtung: Am 14.03.2026 gegen 07:15 Uhr im Bad gestürzt, keine sichtbare Verletzung, RR 135/80.\n"
            "Maßnahme: Mit zwei Pflegekräften hochgeholfen, Hausärztin Dr. Keller informiert.")


def run(spec: AppSpec, case: Case, output: str) -> dict:
    """The result a real run gives for this draft (the fact check against what the model was given)."""
    prepared = prepare(WHO, spec, spec.version, case.inputs, None, False, FileLimits())
    return result(prepared, output)


def scored(output: str, spec: AppSpec = REPORT, case: Case = CASE) -> CaseScore:
    return score(spec, case, run(spec, case, output))


def test_a_faithful_draft_has_every_fact_and_none_invented() -> None:
    s = scored(FAITHFUL)
    assert s.facts_missing == [] and len(s.facts_found) == 5
    assert s.invented == []
    assert s.structure_ok is True and s.structure_problems == []
    assert s.language_ok is None and s.languages == ""  # no languages asked for


def test_invented_time_measurement_and_medication_are_counted() -> None:
    output = FAITHFUL + " Um 14:30 Uhr RR 160/95, Ibuprofen 400 mg gegeben."
    s = scored(output)
    kinds = {i.text: i.kind for i in s.invented}
    assert kinds.get("14:30 Uhr") == "time"
    assert kinds.get("160/95") == "number"
    assert kinds.get("Ibuprofen") == "medication"
    assert kinds.get("400 mg") == "number"
    assert len(s.invented) == 4
    assert not s.facts_missing  # the right facts are still there


def test_an_absent_string_counts_as_invented_at_a_word_start_only() -> None:
    s = scored(FAITHFUL + " Verdacht auf Frakturen; Arzt kommt.")
    assert {(i.text, i.kind) for i in s.invented} == {("Fraktur", "absent"), ("Arzt", "absent")}
    assert absent_found("Diabet", "Bekannter Diabetes mellitus.")
    assert not absent_found("Arzt", "Bereitschaftsarzt angerufen.")  # the inputs' word, not a new doctor
    assert absent_found("20:00", "Der Elternabend beginnt um 20.00 Uhr.")  # a time in another form
    assert not absent_found("20:00", "Der Elternabend beginnt um 19:30 Uhr.")


def test_a_fact_written_another_way_is_still_found() -> None:
    s = scored(FAITHFUL.replace("14.03.2026", "14. März 2026"))
    assert "14.03.2026" in s.facts_found and not s.facts_missing
    assert fact_found("14.03.2026", "Termin: 2026-03-14")
    assert fact_found("7:15", "um 07:15 Uhr")
    assert fact_found("400 ml", "trinkt 0,4 l Wasser")
    assert fact_found("Elternvertret", "Wahl der ELTERNVERTRETERINNEN")  # a stem, case aside
    assert fact_found("Lindenstraße 5", "in der Lindenstrasse 5")  # casefold: ß = ss


def test_a_wrong_or_missing_fact_is_not_found() -> None:
    s = scored(FAITHFUL.replace("07:15", "07:45").replace("Dr. Keller", "die Hausärztin"))
    assert set(s.facts_missing) == {"7:15", "Dr. Keller"}
    assert not fact_found("14.03.2026", "am 15.03.2026")
    assert not fact_found("3", "am 14.03.2026")  # a number inside a date is no number of the draft
    assert not fact_found("Lindenstraße 5", "in der Lindenstraße 7")


def test_a_number_written_as_a_word_in_the_inputs_is_not_invented_as_a_digit() -> None:
    s = scored(FAITHFUL.replace("zwei Pflegekräften", "2 Pflegekräften"))
    assert s.invented == []
    made_up = scored(FAITHFUL.replace("zwei Pflegekräften", "4 Pflegekräften"))
    assert [i.text for i in made_up.invented] == ["4"]  # ("3" would pass: the inputs hold 14.03.)


def test_a_missing_section_fails_the_structure() -> None:
    s = scored("Beobachtung: Am 14.03.2026 gegen 07:15 Uhr im Bad gestürzt.")
    assert s.structure_ok is False
    assert s.structure_problems == ["Abschnitt „Maßnahme“ ist [fehlt]"]  # the result marks what the answer lacks
    assert structure_problems("Beobachtung: gestürzt.", REPORT.sections) == ["Abschnitt „Maßnahme“ fehlt"]


def test_expected_line_starts_ignore_markdown_and_case() -> None:
    text = "## Deutsch\nLiebe Eltern,\n\n**Betreff:** Schließtag\n- datum: 16.10.2026"
    assert structure_problems(text, [], ["## Deutsch", "Betreff:", "Datum:"]) == []
    assert structure_problems(text, [], ["## Ukrainisch", "Liebe"]) == ["keine Zeile beginnt mit „## Ukrainisch“"]


GERMAN = ("Liebe Eltern, am Freitag, dem 16. Oktober, bleibt die Kita geschlossen, weil das ganze Team einen"
          " Konzeptionstag hat. Bitte melden Sie sich im Büro, wenn Sie eine Notbetreuung brauchen.")
UKRAINIAN = ("Шановні батьки! У п'ятницю, 16 жовтня, дитячий садок буде зачинено, бо весь колектив проводить день"
             " планування. Будь ласка, повідомте нас, якщо вам потрібен нагляд за дитиною.")
RUSSIAN = ("Уважаемые родители! В пятницу, 16 октября, детский сад будет закрыт, потому что весь коллектив"
           " проводит день планирования. Пожалуйста, сообщите нам, если вам нужен присмотр за ребёнком.")
LETTER = parse_spec({
    "id": "brief-zweisprachig", "title": "Brief", "description": "Ein Brief auf Deutsch und in einer zweiten Sprache.",
    "inputs": [{"name": "text", "label": "Text", "type": "long_text"}],
    "system_prompt": "Du schreibst Briefe an Eltern, zweisprachig.", "template": "{{ text }}",
    "purpose": "Einen Elternbrief auf Deutsch und in einer zweiten Sprache schreiben.",
})
LETTER_CASE = Case(name="Schließtag", inputs={"text": GERMAN},
                   expect={"languages": ["de", "uk"], "structure": ["## Deutsch", "## Ukrainisch"]})


def test_a_german_and_ukrainian_letter_passes_de_uk() -> None:
    s = scored(f"## Deutsch\n{GERMAN}\n\n## Ukrainisch\n{UKRAINIAN}\n\n[Unterschrift]", LETTER, LETTER_CASE)
    assert s.language_ok is True and s.languages == "de, uk"
    assert s.structure_ok is True


def test_a_letter_whose_ukrainian_part_is_russian_fails() -> None:
    s = scored(f"## Deutsch\n{GERMAN}\n\n## Ukrainisch\n{RUSSIAN}", LETTER, LETTER_CASE)
    assert s.language_ok is False
    assert s.languages == "de, ru! (fehlt: uk)"


def test_a_german_only_letter_lacks_its_second_language() -> None:
    s = scored(f"## Deutsch\n{GERMAN}", LETTER, LETTER_CASE)
    assert s.language_ok is False and s.languages == "de (fehlt: uk)"
    assert s.structure_problems == ["keine Zeile beginnt mit „## Ukrainisch“"]


def test_languages_the_detector_cannot_tell_are_not_judged() -> None:
    assert language_verdict(["de"], ["de", "ku"]) == (None, "de (nicht prüfbar: ku)")
    assert language_verdict(["de", "sr"], ["de", "hr"]) == (True, "de, sr")  # one language for the check


@pytest.mark.parametrize(("figures", "expected"), [
    ((9, 10, 0, 1), Grade.geeignet),  # recall exactly 0.9
    ((89, 100, 0, 1), Grade.eingeschraenkt),
    ((6, 10, 0, 1), Grade.eingeschraenkt),  # recall exactly 0.6
    ((59, 100, 0, 1), Grade.ungeeignet),
    ((10, 10, 1, 2), Grade.geeignet),  # 0.5 invented per case
    ((10, 10, 3, 5), Grade.eingeschraenkt),  # 0.6 per case
    ((10, 10, 199, 100), Grade.eingeschraenkt),  # 1.99 per case
    ((10, 10, 4, 2), Grade.ungeeignet),  # 2 per case
    ((0, 0, 0, 3), Grade.geeignet),  # no facts asked for: recall does not count
    ((10, 10, 0, 3, 1, 3), Grade.eingeschraenkt),  # structure wrong in exactly a third
    ((10, 10, 0, 5, 2, 5), Grade.ungeeignet),  # in more than a third
    ((10, 10, 0, 3, 0, 3, 1, 3), Grade.eingeschraenkt),  # language wrong in a third
    ((10, 10, 0, 5, 0, 5, 2, 5), Grade.ungeeignet),
    ((10, 10, 0, 5, 0, 0, 0, 0), Grade.geeignet),  # nothing checked for structure or language
])
def test_grade_thresholds_at_their_edges(figures: tuple, expected: Grade) -> None:
    assert grade(*figures) is expected


def test_no_case_no_grade() -> None:
    assert grade(0, 0, 0, 0) is None
    assert summarise([None, None]).grade is None


def test_an_app_summary_leaves_cases_that_could_not_run_out_of_the_grade() -> None:
    good = CaseScore(["a", "b"], [], [], True, [], True, "de")
    summary = summarise([good, None, good])
    assert (summary.cases, summary.errors, summary.facts_found, summary.facts_total) == (2, 1, 4, 4)
    assert (summary.structure_ok, summary.structure_checked, summary.language_ok, summary.language_checked) == (
        2, 2, 2, 2)
    assert summary.grade is Grade.geeignet


def test_a_model_with_an_unsuitable_app_is_at_most_limited() -> None:
    good = summarise([CaseScore(["a"] * 10, [], [], True, [], None, "")] * 9)
    poor = summarise([CaseScore([], ["a"] * 2, [], True, [], None, "")])
    assert good.grade is Grade.geeignet and poor.grade is Grade.ungeeignet
    model = combine([good, poor])
    assert (model.facts_found, model.facts_total, model.cases) == (90, 92, 10)  # pooled: recall 0.98
    assert model.grade is Grade.eingeschraenkt
    assert combine([good, good]).grade is Grade.geeignet


def test_a_run_asked_for_one_section_is_judged_on_that_one() -> None:
    from appliance.apps.store import load_builtins

    funding = load_builtins()["foerdermittel-assistent"]
    inputs = {**funding.examples[0].inputs, "abschnitt": "Zeitplan"}
    case = Case(name="Nur der Zeitplan", inputs=inputs)
    one = score(funding, case, {"output": "## Zeitplan\n| Zeitraum | Maßnahme |\n|---|---|\n| 03/2027 | Start |",
                                "unverified": []})
    assert one.structure_ok is True and one.structure_problems == []
    every = score(funding, Case(name="Alles", inputs={**inputs, "abschnitt": "Alle Abschnitte"}),
                  {"output": "## Zeitplan\n| Zeitraum | Maßnahme |", "unverified": []})
    assert every.structure_ok is False and "Abschnitt „Antragsteller“ fehlt" in every.structure_problems
