"""The fact check on drafts: measured on planted cases (a draft's facts taken from the inputs, often
written differently, or made up), the bad inputs one by one, and the run result over the API."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import AsyncIterator, Sequence
from functools import cache
from pathlib import Path

import httpx
import pytest
import yaml

from appliance.apps.fact_check import Unverified, check, note
from appliance.apps.inputs import check_inputs
from appliance.apps.prompt import render
from appliance.apps.spec import parse_spec
from appliance.server import create_app
from models.chat import ChatEvent, Message, SamplingParams
from models.fake_chat import FakeChatModel
from tests.support.fact_cases import CASES, LATER, Case

BUILTIN = Path(__file__).parents[2] / "appliance" / "apps" / "builtin"


@cache
def _spec(app: str):
    return parse_spec(yaml.safe_load((BUILTIN / f"{app}.yaml").read_text(encoding="utf-8")))


def _given(case: Case) -> list[str]:
    """What the model of that app is given: its instructions and its template filled in with the form."""
    spec = _spec(case.app)
    return [spec.system_prompt, render(spec.template, check_inputs(spec, case.inputs))]


def _score(cases: list[Case]) -> dict[str, object]:
    """Invented items flagged, faithful items flagged, and flags on no listed item (counted as wrong)."""
    invented = invented_hit = faithful = faithful_hit = stray = 0
    misses: list[str] = []
    for case in cases:
        flags = check(case.output, {}, _given(case))
        spans = []
        for items, made_up in ((case.invented, True), (case.faithful, False)):
            for item in items:
                start = case.output.find(item)
                assert start >= 0, f"{item!r} is not in the draft of {case.app}"
                end = start + len(item)
                spans.append((start, end))
                hit = any(f.start < end and start < f.end for f in flags)
                if made_up:
                    invented, invented_hit = invented + 1, invented_hit + hit
                else:
                    faithful, faithful_hit = faithful + 1, faithful_hit + hit
                if hit != made_up:
                    misses.append(f"{case.app}: {'missed' if made_up else 'flagged'} {item!r}")
        for f in flags:
            if not any(f.start < end and start < f.end for start, end in spans):
                stray += 1
                misses.append(f"{case.app}: flagged {f.text!r} ({f.kind}), which is no listed item")
    return {"invented": invented, "recall": invented_hit / invented, "faithful": faithful,
            "false_positive_rate": (faithful_hit + stray) / faithful, "misses": misses}


def test_planted_cases_are_at_least_60_of_each_across_the_kinds() -> None:
    cases = CASES + LATER
    assert sum(len(c.invented) for c in cases) >= 60 and sum(len(c.faithful) for c in cases) >= 60
    kinds = {u.kind for c in cases for u in check(c.output, {}, [])}  # against nothing, every fact is flagged
    assert kinds == {"date", "time", "number", "money", "phone", "email", "name", "medication"}


@pytest.mark.parametrize("cases", [CASES, LATER], ids=["tuned", "later"])
def test_invented_items_are_flagged_and_faithful_ones_are_not(cases: list[Case]) -> None:
    """At least 95 % of the made-up items flagged, at most 5 % of the faithful ones (flags on no
    listed item count as wrong too). Measured: tuned 82/82 and 0/230, later 21/22 and 0/66."""
    score = _score(cases)
    assert score["recall"] >= 0.95, score
    assert score["false_positive_rate"] <= 0.05, score


# -- the bad inputs ----------------------------------------------------------------------------


def _texts(items: list[Unverified]) -> list[str]:
    return [u.text for u in items]


def test_inputs_without_any_facts() -> None:
    draft = "Die Bewohnerin war heute gut gelaunt und hat lange im Garten gesessen."
    assert check(draft, {"notizen": "gut gelaunt, lange im Garten"}) == []
    assert check(draft, {}) == [] and check("", {"notizen": "x"}) == [] and check("   ", "") == []
    made_up = check("Sie saß von 14:30 bis 16 Uhr im Garten, Frau Berg war dabei.", {"notizen": "im Garten"})
    assert _texts(made_up) == ["14:30", "16 Uhr", "Frau Berg"]


def test_one_date_written_three_ways_is_one_date() -> None:
    inputs = {"datum": "12.06.2026"}
    draft = "Am Freitag, 12. Juni 2026, ist der Ausflug (2026-06-12). Treffpunkt am 12.6. um 9 Uhr."
    assert _texts(check(draft, {**inputs, "uhrzeit": "9 Uhr"})) == []
    assert _texts(check("Ausflug am 13. Juni 2026", inputs)) == ["13. Juni 2026"]
    assert _texts(check("Am Donnerstag, 12.06.2026", inputs)) == ["Donnerstag"]  # 12 June 2026 is a Friday
    assert _texts(check("12 June 2026, June 12th, 06/12/2026", "2026-06-12")) == []


def test_a_number_given_only_as_a_word() -> None:
    inputs = {"notizen": "Heute waren nur zwei Pflegekräfte im Dienst, dreimal Klingel in der Nacht."}
    assert _texts(check("Im Dienst waren 2 Pflegekräfte. Die Klingel ging 3-mal.", inputs)) == []
    assert _texts(check("Es waren 4 Pflegekräfte im Dienst.", inputs)) == ["4"]
    assert _texts(check("Zwei Kolleginnen halfen, drei Stunden lang.", "2 Kolleginnen, 3 Std.")) == []


def test_a_measure_after_von_bis_or_ca_is_a_measure_not_a_time() -> None:
    inputs = "Beschwerden innerhalb von 14 Tagen; Insulin bei 2 bis 8 °C; ca. 20 Minuten vorher herausnehmen."
    assert _texts(check("Frist: 14 Tage. Lagerung: 2–8 °C. 20 Minuten vorher herausnehmen.", inputs)) == []
    assert _texts(check("Treffen um 14 Uhr.", inputs)) == ["14 Uhr"]  # no time was given
    assert _texts(check("Wir treffen uns um 9 Uhr.", "gegen 9 zum Frühstück")) == []  # "gegen 9": still a time


def test_names_with_umlauts_and_hyphens() -> None:
    decomposed = unicodedata.normalize("NFD", "Frau Müller-Lüdenscheidt ruft an.")
    inputs = {"notizen": decomposed, "mehr": "Hr. Yılmaz kommt"}
    draft = "Frau Müller-Lüdenscheidt hat angerufen. Herr Yilmaz und Frau Mueller-Lüdenscheidt kommen morgen."
    assert check(draft, inputs) == []
    made_up = check("Rückruf an Herrn Jörg Schäfer-Özdemir, die Tochter Zoë informiert.", inputs)
    assert _texts(made_up) == ["Herrn Jörg Schäfer-Özdemir", "Zoë"]
    assert {u.kind for u in made_up} == {"name"}


def test_an_invented_medication_and_its_dose() -> None:
    inputs = {"notizen": "Ramipril 5 mg morgens gegeben, Tochter informiert."}
    assert check("Um 8 Uhr Ramipril 5 mg gegeben.", {**inputs, "uhrzeit": "8 Uhr"}) == []
    made_up = check("Ramipril 5 mg gegeben, zusätzlich 47,5 mg Metoprolol und 20 Tropfen Novalgin.", inputs)
    assert [(u.kind, u.text) for u in made_up] == [("number", "47,5 mg"), ("medication", "Metoprolol"),
                                                   ("number", "20 Tropfen"), ("medication", "Novalgin")]
    wrong_unit = check("Ramipril 5 ml gegeben.", inputs)
    assert _texts(wrong_unit) == ["5 ml"] and "anderen Einheit" in wrong_unit[0].de


def test_the_apps_own_instructions_are_never_flagged() -> None:
    """A draft that repeats what the app says itself (its instructions, its template) holds no new facts."""
    for app in ("pflegebericht-diktat", "uebergabe-isbar", "elternbrief", "foerdermittel-assistent"):
        spec = _spec(app)
        assert check(spec.system_prompt, {}, [spec.system_prompt, spec.template]) == [], app


def test_offsets_and_messages() -> None:
    draft = "Besuch am 03.04. um 14:30 Uhr, Kosten 12,50 €, Fragen an info@kita.de oder 0221 998877."
    flags = check(draft, {"anlass": "Besuch"})
    assert all(draft[u.start:u.end] == u.text for u in flags)
    assert [u.kind for u in flags] == ["date", "time", "money", "email", "phone"]
    assert flags[1].as_dict() == {"text": "14:30 Uhr", "kind": "time", "start": 20, "end": 29,
                                  "message": "Uhrzeit „14:30 Uhr“ nicht in Ihren Angaben gefunden – bitte prüfen."}
    assert flags[1].en == "Time '14:30 Uhr' not found in your input – please check."


def test_note_for_the_word_document() -> None:
    flags = check("Um 14:30 Uhr 38,5 °C gemessen; um 14:30 Uhr erneut.", "gemessen")
    assert note(flags) == ("Faktenprüfung – nicht in Ihren Angaben gefunden, bitte prüfen: 14:30 Uhr (Uhrzeit),"
                           " 38,5 °C (Zahl).")
    assert note([u.as_dict() for u in flags]) == note(flags)  # as the API answered it
    assert note([]) == ""


def test_arabic_digits_and_other_scripts() -> None:
    assert check("الموعد ١٢.٠٦.٢٠٢٦ الساعة ٩:٠٠", {"datum": "12.06.2026", "uhrzeit": "9:00"}) == []
    assert check("Шановні батьки, зустріч 12.06.2026 у пані Шміц.", "12.06.2026, Frau Schmitz") == []


# -- over the API ------------------------------------------------------------------------------

INVENTED = " Zusätzlich 500 mg Paracetamol um 14:30 Uhr, Rückruf unter 030 1234567."


class InventingChat(FakeChatModel):
    """Echoes the prompt, like the fake; when the prompt holds ``Tierpark`` it adds facts of its own."""

    async def stream(self, messages: Sequence[Message], params: SamplingParams, *, owner: str = "",
                     system_shared: bool = False) -> AsyncIterator[ChatEvent]:
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        words = ["Echo:", *last.split(), *(INVENTED.split() if "Tierpark" in last else [])]
        return self._events(words, self.count_prompt_tokens(messages), 10_000, params.stop)


@pytest.fixture
async def anna(settings):
    from appliance.engines import Engines
    from models.embeddings import FakeEmbedder
    from models.fake_speech import FakeTranscriber

    engines = Engines(chat_models={"fake-chat": InventingChat(context_length=20_000)}, embedder=FakeEmbedder(),
                      transcribers={"fake-speech": FakeTranscriber()})
    app = create_app(settings, engines=engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


async def test_a_run_lists_what_the_model_made_up(anna) -> None:
    letter = {"anlass": "Ausflug mit Einverständnis", "datum": "2026-06-12", "sprache": "Ukrainisch"}
    plain = (await anna.post("/api/apps/elternbrief/run", json={"inputs": letter})).json()
    assert plain["output"].startswith("Echo:") and plain["unverified"] == []  # an echo invents nothing

    trip = {**letter, "ort": "Tierpark", "uhrzeit": "9 Uhr"}
    body = (await anna.post("/api/apps/elternbrief/run", json={"inputs": trip})).json()
    items = body["unverified"]
    assert [(u["kind"], u["text"]) for u in items] == [("number", "500 mg"), ("medication", "Paracetamol"),
                                                       ("time", "14:30 Uhr"), ("phone", "030 1234567")]
    assert all(body["output"][u["start"]:u["end"]] == u["text"] for u in items)
    assert items[0]["message"] == "Zahl „500 mg“ nicht in Ihren Angaben gefunden – bitte prüfen."

    async with anna.stream("POST", "/api/apps/elternbrief/run", json={"inputs": trip, "stream": True}) as s:
        events = [line[6:] async for line in s.aiter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and json.loads(events[-2])["unverified"] == items
