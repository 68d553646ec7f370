"""`appliance models check` with the small real chat model: one built-in app, one case given apart,
answers cut short. Only the form of the report is checked; the tiny model's quality is luck."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from appliance.cli.model_check import check
from tests.support.paths import MODELS_DIR, TEST_CHAT, require_models

pytestmark = pytest.mark.models

CASE = {"name": "Rundschreiben Arbeitszeit", "inputs": {
    "text": "Ab dem 01.04.2026 gilt eine neue Dienstvereinbarung. Höchstens 6 Arbeitstage in Folge sind zulässig."
            " Kurzfristiges Einspringen wird mit 30 Euro vergütet.",
    "laenge": "drei Sätze"},
    "expect": {"facts": ["01.04.2026", "6", "30 Euro"], "absent": ["Betriebsrat"], "languages": ["de"]}}


def cli(tmp_path: Path, *args: str):
    app = typer.Typer()
    app.command("check")(check)
    app.command("other")(lambda: None)  # two commands: "check" is named, as under `appliance models`
    env = {"APPLIANCE__STORAGE__DATA_DIR": str(tmp_path / "data"), "APPLIANCE__MODELS__DIR": str(MODELS_DIR),
           "APPLIANCE__MODELS__CHAT": f'["{TEST_CHAT}"]', "APPLIANCE__MODELS__CONTEXT_SIZE": "2048",
           "APPLIANCE__MODELS__THREADS": "2", "APPLIANCE_CONFIG": str(tmp_path / "appliance.toml"), "COLUMNS": "200"}
    (tmp_path / "appliance.toml").write_text("")
    return CliRunner().invoke(app, ["check", *args], env=env)


def test_one_app_one_case_gives_its_row_the_grade_and_the_json(tmp_path: Path) -> None:
    require_models(TEST_CHAT)
    cases = tmp_path / "faelle"
    cases.mkdir()
    (cases / "zusammenfassen.yaml").write_text(yaml.safe_dump({"cases": [CASE]}, allow_unicode=True))
    report = tmp_path / "ergebnis.json"
    r = cli(tmp_path, "--app", "zusammenfassen", "--cases", str(cases), "--max-tokens", "32", "--json", str(report))
    assert r.exit_code == 0, r.output
    assert "Faktentreue" in r.stdout and "Bewertung" in r.stdout
    row = next(line for line in r.stdout.splitlines() if "zusammenfassen" in line)
    assert "/3 (" in row  # found of three facts
    assert f"Gesamtbewertung für {TEST_CHAT}:" in r.stdout
    assert "gekürzt" in r.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["model"] == TEST_CHAT and data["max_tokens"] == 32
    [app] = data["apps"]
    [case] = app["cases"]
    assert (app["app"], case["case"], case["error"]) == ("zusammenfassen", CASE["name"], None)
    assert case["output"].strip()
    score = case["score"]
    assert score["facts_total"] == 3 and len(score["facts_found"]) + len(score["facts_missing"]) == 3
    assert score["languages"]  # the detector ran
    assert app["summary"]["grade"] in ("geeignet", "eingeschränkt", "ungeeignet")


def test_a_model_that_cannot_load_is_a_clear_error(tmp_path: Path) -> None:
    r = cli(tmp_path, "gibt-es-nicht", "--app", "zusammenfassen")
    assert r.exit_code == 1
    assert "Unbekanntes Modell 'gibt-es-nicht'" in r.stderr


def test_an_unknown_app_is_named_before_the_model_loads(tmp_path: Path) -> None:
    r = cli(tmp_path, "--app", "zusammenfasen")
    assert r.exit_code == 2
    assert "Unbekannte App: zusammenfasen" in r.stderr
