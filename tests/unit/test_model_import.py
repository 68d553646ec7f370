"""Importing models that are not in the catalogue (a larger Whisper, a 7-8B GGUF) as local entries."""

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance.cli.main import app
from appliance.config import ConfigError, load_settings
from models.catalog import LOCAL_CATALOG, load_catalog, local_entries
from models.fetch import import_local_model
from models.store import ModelFileError, require_model
from tests.support.paths import MODELS_DIR, TEST_CHAT, TEST_SPEECH
from tests.support.settings import make_settings


def cli(tmp_path: Path, *args: str):
    env = {"APPLIANCE__STORAGE__DATA_DIR": str(tmp_path / "data"), "APPLIANCE__MODELS__DIR": str(tmp_path / "models"),
           "COLUMNS": "200"}
    return CliRunner().invoke(app, ["models", *args], env=env)


def fake_whisper(folder: Path, model: bytes = b"x" * 3000) -> Path:
    """A folder that passes the sanity check of a speech import (it never gets loaded)."""
    folder.mkdir(parents=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (folder / name).write_text("{}")
    (folder / "model.bin").write_bytes(model)
    return folder


@pytest.mark.models
def test_a_larger_whisper_is_imported_verified_and_loaded(tmp_path: Path) -> None:
    from appliance.engines import load_transcriber

    usb = tmp_path / "usb" / "faster-whisper-large-v3-turbo"
    shutil.copytree(MODELS_DIR / TEST_SPEECH, usb, ignore=shutil.ignore_patterns(".*"))
    r = cli(tmp_path, "import", str(usb), "--id", "whisper-large-v3-turbo", "--kind", "speech",
            "--title", "Whisper large-v3-turbo", "--licence", "MIT", "--languages", "de,en,tr")
    assert r.exit_code == 0, r.output
    assert "4 Datei(en)" in r.stderr and "models.speech" in r.stderr
    models = tmp_path / "models"
    assert sorted(p.name for p in (models / "whisper-large-v3-turbo").iterdir()) == [
        ".verified.json", "config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    assert not list(models.glob(".import-*"))
    (entry,) = local_entries(models)
    assert (entry.kind, entry.source, entry.languages) == ("speech", "local", ["de", "en", "tr"])
    assert entry.imported_at is not None
    assert {f.name: f.sha256 for f in entry.files} == {
        f.name: f.sha256 for f in load_catalog().get(TEST_SPEECH).files}

    listing = cli(tmp_path, "list").stdout
    assert "whisper-large-v3-turbo" in listing and "lokal importiert" in listing
    settings = make_settings(tmp_path / "data", dir=models, speech=["whisper-large-v3-turbo"])
    assert settings.models.speech == ["whisper-large-v3-turbo"]
    transcriber = load_transcriber(settings, load_catalog(models).get("whisper-large-v3-turbo"))
    assert transcriber.id == "whisper-large-v3-turbo" and transcriber.languages == ()
    transcriber.close()

    r = cli(tmp_path, "import", str(usb), "--id", "whisper-large-v3-turbo", "--kind", "speech")
    assert r.exit_code == 1 and "gibt es schon" in r.stderr and "--replace" in r.stderr

    with (models / "whisper-large-v3-turbo" / "tokenizer.json").open("r+b") as fh:  # one byte changed
        fh.seek(100)
        fh.write(b"#")
    r = cli(tmp_path, "verify", "whisper-large-v3-turbo")
    assert r.exit_code == 1
    assert "whisper-large-v3-turbo/tokenizer.json" in r.stdout and "beschädigt" in r.stdout
    fix = "appliance models import PATH --id whisper-large-v3-turbo --replace"
    assert fix in r.stdout
    with pytest.raises(ModelFileError, match=r"tokenizer\.json.*beschädigt") as err:
        require_model(models, load_catalog(models).get("whisper-large-v3-turbo"))
    assert fix in str(err.value)

    r = cli(tmp_path, "import", str(usb), "--id", "whisper-large-v3-turbo", "--replace")  # kind and title kept
    assert r.exit_code == 0, r.output
    assert cli(tmp_path, "verify", "whisper-large-v3-turbo").exit_code == 0
    (entry,) = local_entries(models)
    assert (entry.kind, entry.title) == ("speech", "Whisper large-v3-turbo")


@pytest.mark.models
def test_a_gguf_chat_model_is_imported_and_loaded(tmp_path: Path) -> None:
    from appliance.engines import load_engines

    gguf = next((MODELS_DIR / TEST_CHAT).glob("*.gguf"))
    r = cli(tmp_path, "import", str(gguf), "--id", "smollm2-local", "--kind", "chat", "--no-check")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "models" / "smollm2-local" / gguf.name).stat().st_size == gguf.stat().st_size
    assert "smollm2-local" in cli(tmp_path, "list").stdout

    settings = make_settings(tmp_path / "data", dir=tmp_path / "models", chat=["smollm2-local"], embedding="",
                             speech=[])
    engines = load_engines(settings)
    try:
        assert list(engines.chat_models) == ["smollm2-local"]
        assert engines.entries["smollm2-local"].main_file.name == gguf.name
    finally:
        engines.close()

    not_gguf = tmp_path / "usb" / "model.gguf"
    not_gguf.parent.mkdir()
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    r = cli(tmp_path, "import", str(not_gguf), "--id", "other-chat", "--kind", "chat", "--no-check")
    assert r.exit_code == 1 and "keine GGUF-Datei" in r.stderr
    r = cli(tmp_path, "import", str(gguf.parent), "--id", "other-chat", "--kind", "chat", "--no-check")
    assert r.exit_code == 1 and "keinen Ordner" in r.stderr
    assert not (tmp_path / "models" / "other-chat").exists()
    assert [e.id for e in local_entries(tmp_path / "models")] == ["smollm2-local"]


def test_the_import_refuses_what_it_cannot_use(tmp_path: Path) -> None:
    usb = fake_whisper(tmp_path / "usb")
    r = cli(tmp_path, "import", str(usb), "--id", "Whisper_Large", "--kind", "speech")
    assert r.exit_code == 1 and "Ungültige Id" in r.stderr
    r = cli(tmp_path, "import", str(usb), "--id", "whisper-large-v3")
    assert r.exit_code == 1 and "--kind" in r.stderr
    r = cli(tmp_path, "import", str(usb), "--id", "whisper-base", "--kind", "speech")
    assert r.exit_code == 1 and "steht im Katalog" in r.stderr
    (usb / "tokenizer.json").write_text('{"added_tokens": [{"content": "<|yue|>"}]}')  # large-v3: 128 mel bands
    r = cli(tmp_path, "import", str(usb), "--id", "whisper-large-v3", "--kind", "speech")
    assert r.exit_code == 1 and "preprocessor_config.json fehlt" in r.stderr
    (usb / "tokenizer.json").unlink()
    r = cli(tmp_path, "import", str(usb), "--id", "whisper-large-v3", "--kind", "speech")
    assert r.exit_code == 1 and "tokenizer.json fehlt" in r.stderr
    r = cli(tmp_path, "import", str(usb), "--id", "e5-large", "--kind", "embedding")
    assert r.exit_code == 1 and "modules.json fehlt" in r.stderr
    assert not (tmp_path / "models" / LOCAL_CATALOG).exists()


def test_an_interrupted_import_leaves_nothing_behind(tmp_path: Path) -> None:
    models = tmp_path / "models"
    import_local_model(models, fake_whisper(tmp_path / "old"), "whisper-x", "speech")
    before = (models / LOCAL_CATALOG).read_bytes()

    def killed_after_first_file(name: str, _: int) -> None:
        if name != "config.json":  # the files come in sorted order
            raise KeyboardInterrupt

    new = fake_whisper(tmp_path / "new", model=b"y" * 3000)
    for model_id in ("whisper-x", "whisper-y"):
        with pytest.raises(KeyboardInterrupt):
            import_local_model(models, new, model_id, "speech", replace=True, progress=killed_after_first_file)
    assert sorted(p.name for p in models.iterdir()) == [LOCAL_CATALOG, "whisper-x"]  # no temporary folders
    assert (models / LOCAL_CATALOG).read_bytes() == before
    assert (models / "whisper-x" / "model.bin").read_bytes() == b"x" * 3000  # the old model is untouched
    require_model(models, load_catalog(models).get("whisper-x"))


def test_config_accepts_local_ids_only_for_their_models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    import_local_model(models, fake_whisper(tmp_path / "usb"), "whisper-x", "speech")
    monkeypatch.setenv("APPLIANCE__MODELS__SPEECH", '["whisper-x"]')
    monkeypatch.setenv("APPLIANCE__MODELS__DIR", str(models))
    assert load_settings().models.speech == ["whisper-x"]
    monkeypatch.setenv("APPLIANCE__MODELS__CHAT", '["whisper-x"]')
    with pytest.raises(ConfigError, match="kein chat-Modell") as err:
        load_settings()
    assert "models.chat" in str(err.value) and "APPLIANCE__MODELS__CHAT" in str(err.value)
    monkeypatch.delenv("APPLIANCE__MODELS__CHAT")
    monkeypatch.setenv("APPLIANCE__MODELS__DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(ConfigError, match="Unbekanntes Modell 'whisper-x'") as err:
        load_settings()
    assert "models.speech" in str(err.value) and "APPLIANCE__MODELS__SPEECH" in str(err.value)
    monkeypatch.setenv("APPLIANCE__MODELS__DIR", str(models))
    (models / LOCAL_CATALOG).write_text("[[model]\n")
    with pytest.raises(ConfigError, match=LOCAL_CATALOG) as err:
        load_settings()
    assert "models.dir" in str(err.value)


def fake_piper(folder: Path, config: dict | None = None, name: str = "de_DE-thorsten-medium") -> Path:
    """A folder laid out like a Piper voice (the model is never loaded here)."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.onnx").write_bytes(b"onnx" * 1000)
    if config is None:
        config = {"audio": {"sample_rate": 22050}, "phoneme_type": "espeak", "espeak": {"voice": "de"},
                  "language": {"code": "de_DE", "family": "de"}}
    (folder / f"{name}.onnx.json").write_text(json.dumps(config))
    (folder / "MODEL_CARD").write_text("# thorsten")
    return folder


def test_a_piper_voice_is_imported_as_a_voice(tmp_path: Path) -> None:
    usb = fake_piper(tmp_path / "usb" / "thorsten")
    r = cli(tmp_path, "import", str(usb), "--id", "piper-de-thorsten", "--kind", "voice", "--languages", "de",
            "--licence", "CC0-1.0")
    assert r.exit_code == 0, r.output
    assert "models.voices" in r.stderr
    (entry,) = local_entries(tmp_path / "models")
    assert (entry.kind, entry.languages) == ("voice", ["de"])
    assert sorted(f.name for f in entry.files) == ["de_DE-thorsten-medium.onnx", "de_DE-thorsten-medium.onnx.json"]
    assert entry.main_file.name == "de_DE-thorsten-medium.onnx"
    settings = make_settings(tmp_path / "data", dir=tmp_path / "models", voices=["piper-de-thorsten"])
    assert settings.models.voices == ["piper-de-thorsten"]
    # the language comes from the voice when --languages is left out
    r = cli(tmp_path, "import", str(usb / "de_DE-thorsten-medium.onnx"), "--id", "piper-de-2", "--kind", "voice")
    assert r.exit_code == 0, r.output
    assert load_catalog(tmp_path / "models").get("piper-de-2").languages == ["de"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no_json", "onnx.json fehlt"),
        ("two_models", "genau eine .onnx-Datei"),
        ("no_rate", "audio.sample_rate"),
        ("no_language", "Sprache der Stimme fehlt"),
        ("pinyin", "phoneme_type 'pinyin'"),
        ("wrong_language", "spricht 'de'"),
    ],
)
def test_a_folder_that_is_no_piper_voice_is_refused(tmp_path: Path, change: str, message: str) -> None:
    usb = tmp_path / "usb"
    config = {"audio": {"sample_rate": 22050}, "language": {"family": "de"}}
    if change == "no_rate":
        config = {"audio": {}, "language": {"family": "de"}}
    elif change == "no_language":
        config = {"audio": {"sample_rate": 22050}}
    elif change == "pinyin":
        config = {**config, "phoneme_type": "pinyin"}
    fake_piper(usb, config)
    if change == "no_json":
        (usb / "de_DE-thorsten-medium.onnx.json").unlink()
    elif change == "two_models":
        fake_piper(usb, name="de_DE-karlsson-low")
    with pytest.raises(ModelFileError, match=message):
        import_local_model(tmp_path / "models", usb, "piper-de", "voice",
                           languages=["en"] if change == "wrong_language" else [])
    assert not local_entries(tmp_path / "models") and not (tmp_path / "models" / "piper-de").exists()


@pytest.mark.models
def test_a_chat_model_just_imported_is_checked_with_the_apps_cases(tmp_path: Path, monkeypatch) -> None:
    """The check itself runs a real model in tests/integration/test_model_check.py; here: import starts it."""
    from appliance.cli import model_check

    checked = []
    monkeypatch.setattr(model_check, "check", lambda model, **kw: checked.append((model, kw["app"])))
    gguf = next((MODELS_DIR / TEST_CHAT).glob("*.gguf"))
    r = cli(tmp_path, "import", str(gguf), "--id", "smollm2-local", "--kind", "chat")
    assert r.exit_code == 0, r.output
    assert checked == [("smollm2-local", [])] and "Prüfe smollm2-local mit den Testfällen der Apps" in r.output
