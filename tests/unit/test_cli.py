"""The command line as IT uses it: real processes, stdin for passwords, secrets alone on stdout."""

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import MODELS_DIR, TEST_CHAT
from tests.support.server import free_port


def run(args: list[str], data: Path, stdin: str = "", env: dict | None = None,
        timeout: int = 60) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE")}
    environ.update({"APPLIANCE__STORAGE__DATA_DIR": str(data), "APPLIANCE__MODELS__DIR": str(MODELS_DIR),
                    "COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-m", "appliance", *args], input=stdin, capture_output=True,
                          text=True, env=environ, timeout=timeout, check=False)


def test_users_and_keys(tmp_path: Path) -> None:
    data = tmp_path / "data"
    r = run(["users", "add", "anna", "--role", "staff"], data, stdin="geheim123\n")
    assert r.returncode == 0, r.stderr
    r = run(["users", "add", "bert", "--role", "chef"], data, stdin="geheim123\n")
    assert r.returncode == 1 and "Unbekannte Rolle 'chef'" in r.stderr
    r = run(["users", "add", "carl", "--role", "staff"], data, stdin="kurz\n")
    assert r.returncode == 1 and "mindestens 8 Zeichen" in r.stderr
    listing = run(["users", "list"], data).stdout
    assert "anna" in listing and "staff" in listing and "bert" not in listing

    r = run(["keys", "create", "anna", "--label", "Skript"], data)
    assert r.returncode == 0
    key = r.stdout.strip()
    assert r.stdout == key + "\n" and key.startswith("sk-box-")  # the key alone on stdout
    assert key not in r.stderr
    assert key[:13] in run(["keys", "list"], data).stdout
    r = run(["keys", "revoke", key], data)
    assert r.returncode == 0 and "widerrufen" in r.stderr
    assert "widerrufen" in run(["keys", "list"], data).stdout
    r = run(["keys", "create", "niemand"], data)
    assert r.returncode == 1 and r.stdout == "" and "Kein Konto" in r.stderr

    assert run(["users", "passwd", "anna"], data, stdin="neues-passwort\n").returncode == 0
    assert run(["users", "disable", "anna"], data).returncode == 0
    assert "gesperrt" in run(["users", "list"], data).stdout


def test_setup_code_for_the_first_account_from_another_device(tmp_path: Path, settings) -> None:
    data = tmp_path / "data"
    r = run(["setup-code"], data)
    assert r.returncode == 1 and "erst `appliance serve` starten" in r.stderr
    settings.storage.data_dir = data
    from appliance.server import create_app

    code = create_app(settings, engines=None, mount_ui=False).state.services.signin.setup_code  # as serve does
    r = run(["setup-code"], data)
    assert r.returncode == 0 and r.stdout == code + "\n"  # the code alone on stdout
    assert run(["users", "add", "anna", "--role", "facility_admin"], data, stdin="geheim123\n").returncode == 0
    r = run(["setup-code"], data)
    assert r.returncode == 1 and "Ersteinrichtung ist abgeschlossen" in r.stderr and code not in r.stdout


def test_invalid_config_stops_with_the_key(tmp_path: Path) -> None:
    r = run(["users", "list"], tmp_path / "d", env={"APPLIANCE__SERVER__PORT": "nein"})
    assert r.returncode == 2
    assert "server.port" in r.stderr and "APPLIANCE__SERVER__PORT" in r.stderr


def test_unwritable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run(["users", "list"], blocker / "data")
    assert r.returncode == 2
    assert "nicht beschreibbar" in r.stderr and "APPLIANCE__STORAGE__DATA_DIR" in r.stderr


def test_serve_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = run(["serve"], tmp_path / "d", env={"APPLIANCE__SERVER__PORT": str(port)})
    assert r.returncode == 2
    assert f"Port {port}" in r.stderr and "belegt" in r.stderr and f"APPLIANCE__SERVER__PORT={port + 1}" in r.stderr


@pytest.mark.models
def test_serve_and_verify_refuse_a_corrupt_model(tmp_path: Path) -> None:
    models = tmp_path / "models" / TEST_CHAT
    models.mkdir(parents=True)
    gguf = next((MODELS_DIR / TEST_CHAT).glob("*.gguf"))
    copy = models / gguf.name
    shutil.copyfile(gguf, copy)
    with copy.open("r+b") as fh:
        fh.seek(1_000_000)
        fh.write(b"\x00\x01\x02")
    env = {"APPLIANCE__MODELS__DIR": str(tmp_path / "models"), "APPLIANCE__MODELS__CHAT": f'["{TEST_CHAT}"]',
           "APPLIANCE__MODELS__EMBEDDING": ""}
    r = run(["serve"], tmp_path / "d", env={**env, "APPLIANCE__SERVER__PORT": str(free_port())})
    assert r.returncode == 2
    assert gguf.name in r.stderr and "beschädigt" in r.stderr and f"models fetch {TEST_CHAT} --force" in r.stderr
    r = run(["models", "verify", TEST_CHAT], tmp_path / "d", env=env)
    assert r.returncode == 1 and "beschädigt" in r.stdout
    copy.unlink()
    r = run(["models", "list"], tmp_path / "d", env=env)
    assert "fehlt" in r.stdout


@pytest.mark.models
def test_models_verify_and_list_the_real_defaults(tmp_path: Path) -> None:
    r = run(["models", "verify", TEST_CHAT, "all-minilm-l6-v2"], tmp_path / "d")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("in Ordnung") == 1 + 11
    assert "whisper-base" in run(["models", "list"], tmp_path / "d").stdout


@pytest.mark.parametrize("args", [["--help"], ["users", "--help"], ["models", "--help"], ["doctor", "--help"]])
def test_help(tmp_path: Path, args: list[str]) -> None:
    assert run(args, tmp_path / "d").returncode == 0


@pytest.mark.models
def test_doctor_reports_models_and_telemetry(tmp_path: Path) -> None:
    env = {"APPLIANCE__MODELS__CHAT": f'["{TEST_CHAT}"]'}
    (tmp_path / "d").mkdir()
    r = run(["doctor"], tmp_path / "d", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    for word in ("CPU", "GPU", "Datenverzeichnis", "Speicherplatz", TEST_CHAT, "sha256 geprüft",
                 "HF_HUB_OFFLINE=1", "GRADIO_ANALYTICS_ENABLED=False", "Netz nach außen"):
        assert word in r.stdout
