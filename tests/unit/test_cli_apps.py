"""appliance apps list|validate|export|import, on temporary data directories, as IT would use them."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from appliance.apps.service import AppService
from appliance.apps.spec import load_yaml
from appliance.apps.store import BUILTIN_DIR
from appliance.cli.main import app
from appliance.config import Settings
from appliance.infra.db import Database
from appliance.people.accounts import Principal, Role
from tests.support.apps import MINIMAL

OTTO = Principal(7, "otto", Role.app_author)
LEA = Principal(8, "lea", Role.facility_admin)  # an app IT imported belongs to no author: she may change it


def cli(data: Path | None, *args: str):
    env = {"APPLIANCE__STORAGE__DATA_DIR": str(data)} if data else {}
    return CliRunner().invoke(app, ["apps", *args], env=env)


def service(data: Path) -> AppService:
    db = Database(Settings(storage={"data_dir": data}).database_url)
    db.migrate()
    return AppService(db.engine)


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "dienstplan-tausch.yaml"
    path.write_text(yaml.safe_dump(MINIMAL, allow_unicode=True), encoding="utf-8")
    return path


def test_list_shows_builtins_and_hides_switched_off_ones(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli(data, "list")
    assert r.exit_code == 0, r.output
    assert "elternbrief" in r.stdout and "eingebaut" in r.stdout
    r = cli(data, "list", "--json")
    listed = {a["id"]: a for a in json.loads(r.stdout)}
    assert listed["elternbrief"]["status"] == "builtin" and listed["elternbrief"]["enabled"] is True
    assert listed["pflegehandbuch-fragen"]["available"] is False  # no collection yet

    service(data).store.set_enabled("elternbrief", False)
    r = cli(data, "list", "--json")
    assert "elternbrief" not in {a["id"] for a in json.loads(r.stdout)}
    assert "1 abgeschaltete App(s) ausgeblendet" in r.stderr
    r = cli(data, "list", "--all", "--json")
    assert {a["id"]: a["enabled"] for a in json.loads(r.stdout)}["elternbrief"] is False


def test_validate_names_every_bad_field_without_a_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = BUILTIN_DIR / "elternbrief.yaml"
    r = cli(data, "validate", str(good))
    assert r.exit_code == 0, r.output
    assert r.stdout == f"✔ {good}: elternbrief (Elternbrief)\n"

    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**MINIMAL, "farbe": "rot",
                                   "inputs": [{**MINIMAL["inputs"][0], "required": "vielleicht"}]}))
    broken = tmp_path / "binary.yaml"
    broken.write_bytes(b"\xff\xfe\x00")
    r = cli(data, "validate", str(good), str(bad), str(broken), str(tmp_path / "fehlt.yaml"))
    assert r.exit_code == 1
    assert f"✘ {bad}:" in r.stdout
    assert "  farbe: Unbekannter Schlüssel." in r.stdout
    assert "  inputs.0.required: Ja oder nein" in r.stdout
    assert "kein Text (UTF-8)" in r.stdout and "Datei nicht gefunden" in r.stdout
    assert "1 von 4 Datei(en) in Ordnung" in r.stderr
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)
    assert not data.exists()  # offline, nothing touched


def test_validate_reports_two_files_with_one_id_and_keys_written_twice(tmp_path: Path) -> None:
    first, second, third = tmp_path / "tausch.yaml", tmp_path / "tausch-neu.yaml", tmp_path / "doppelt.yaml"
    first.write_text(yaml.safe_dump(MINIMAL, allow_unicode=True))
    second.write_text(yaml.safe_dump({**MINIMAL, "title": "Diensttausch, neue Fassung"}, allow_unicode=True))
    third.write_text(yaml.safe_dump({**MINIMAL, "id": "anderer-tausch"}, allow_unicode=True, sort_keys=False)
                     + "id: noch-einer\n")
    r = cli(None, "validate", str(first), str(second), str(third))
    assert r.exit_code == 1, r.output
    assert f"✔ {first}: dienstplan-tausch" in r.stdout
    assert f"✘ {second}:\n  id: Die Kennung „dienstplan-tausch“ hat schon {first}" in r.stdout
    assert f"✘ {third}:\n  id: Der Schlüssel „id“ steht doppelt da (Zeile 1 und Zeile " in r.stdout
    assert "1 von 3 Datei(en) in Ordnung" in r.stderr


def test_export_import_between_two_data_dirs_never_overwrites_silently(tmp_path: Path, app_file: Path) -> None:
    first, second = tmp_path / "erste-box", tmp_path / "zweite-box"
    r = cli(first, "import", str(app_file))
    assert r.exit_code == 0 and "importiert" in r.stdout, r.output
    assert "Entwurf" in r.stderr  # imports arrive unpublished

    r = cli(first, "export", "dienstplan-tausch")
    assert r.exit_code == 0 and load_yaml(r.stdout).id == "dienstplan-tausch"  # YAML alone on stdout
    exported = tmp_path / "export.yaml"
    r = cli(first, "export", "dienstplan-tausch", "--output", str(exported))
    assert r.exit_code == 0 and r.stdout == "" and str(exported) in r.stderr
    r = cli(first, "export", "gibt-es-nicht")
    assert r.exit_code == 1 and "gibt es nicht" in r.stderr

    r = cli(second, "import", str(exported))
    assert r.exit_code == 0 and "importiert" in r.stdout, r.output
    r = cli(second, "import", str(exported))
    assert r.exit_code == 0 and "nichts geändert" in r.stdout

    # edited on the second box, then a newer file arrives from the first: refused, nothing changed
    here = service(second)
    here.update(LEA, "dienstplan-tausch", {**MINIMAL, "title": "Unsere Fassung"})
    service(first).update(LEA, "dienstplan-tausch", {**MINIMAL, "title": "Diensttausch v2"})
    cli(first, "export", "dienstplan-tausch", "--output", str(exported))
    r = cli(second, "import", str(exported))
    assert r.exit_code == 1 and "mode=copy" in r.stderr and "--mode copy" in r.stderr, r.output
    assert here.get(OTTO, "dienstplan-tausch", draft=True)["title"] == "Unsere Fassung"
    assert len(here.store.versions("dienstplan-tausch")) == 2

    r = cli(second, "import", str(exported), "--mode", "copy")
    assert r.exit_code == 0 and "dienstplan-tausch-2" in r.stdout
    assert here.get(OTTO, "dienstplan-tausch", draft=True)["title"] == "Unsere Fassung"
    r = cli(second, "import", str(exported), "--mode", "replace")
    assert r.exit_code == 0 and "ersetzt" in r.stdout
    assert here.get(OTTO, "dienstplan-tausch", draft=True)["title"] == "Diensttausch v2"


def test_import_refuses_bad_files_and_builtin_clashes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = cli(data, "import", str(tmp_path / "fehlt.yaml"))
    assert r.exit_code == 1 and "Datei nicht gefunden" in r.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**MINIMAL, "farbe": "rot"}))
    r = cli(data, "import", str(bad))
    assert r.exit_code == 1 and "farbe" in r.stderr and "appliance apps validate" in r.stderr
    changed = tmp_path / "elternbrief.yaml"
    changed.write_text((BUILTIN_DIR / "elternbrief.yaml").read_text().replace("title: Elternbrief",
                                                                                "title: Unser Elternbrief"))
    r = cli(data, "import", str(changed))
    assert r.exit_code == 1 and "eingebaute App" in r.stderr and "mode=copy" in r.stderr
    assert "dienstplan" not in cli(data, "list").stdout
