from pathlib import Path

import pytest

from appliance.config import ConfigError, load_settings


def test_defaults_are_safe() -> None:
    s = load_settings()
    assert s.server.host == "127.0.0.1"
    assert s.server.port == 8080
    assert s.models.chat[0] == "qwen2.5-coder-1.5b-instruct-q4_k_m"
    assert s.models_dir == s.storage.data_dir / "models"


def test_toml_file_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "appliance.toml"
    cfg.write_text('[server]\nport = 9000\nhost = "0.0.0.0"\n[storage]\ndata_dir = "/srv/box"\n')
    monkeypatch.setenv("APPLIANCE_CONFIG", str(cfg))
    s = load_settings()
    assert (s.server.port, s.server.host) == (9000, "0.0.0.0")
    assert s.models_dir == Path("/srv/box/models")
    monkeypatch.setenv("APPLIANCE__SERVER__PORT", "8081")
    monkeypatch.setenv("APPLIANCE__MODELS__CHAT", '["smollm2-135m-instruct-q4_1"]')
    s = load_settings()
    assert s.server.port == 8081
    assert s.models.chat == ["smollm2-135m-instruct-q4_1"]


@pytest.mark.parametrize(
    ("env", "value", "key"),
    [
        ("APPLIANCE__SERVER__PORT", "99999", "server.port"),
        ("APPLIANCE__SERVER__PORT", "achtzig", "server.port"),
        ("APPLIANCE__MODELS__CHAT", '["gpt-5"]', "models.chat"),
        ("APPLIANCE__MODELS__CHAT", '["all-minilm-l6-v2"]', "models.chat"),
        ("APPLIANCE__MODELS__THREADS", "-1", "models.threads"),
        ("APPLIANCE__MODELS__VOICES", '["thorsten"]', "models.voices"),
        ("APPLIANCE__MODELS__VOICES", '["whisper-base"]', "models.voices"),
        ("APPLIANCE__MODELS__EXTRA_EMBEDDINGS", '["whisper-base"]', "models.extra_embeddings"),
        ("APPLIANCE__MODELS__EMBEDDING_DIMENSIONS", "8", "models.embedding_dimensions"),
        ("APPLIANCE__UI__LANGUAGE", "fr", "ui.language"),
    ],
)
def test_invalid_value_names_the_key(monkeypatch: pytest.MonkeyPatch, env: str, value: str, key: str) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert key in str(err.value)
    assert env in str(err.value)


def test_unknown_key_in_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "appliance.toml"
    cfg.write_text("[server]\nprot = 1\n")
    monkeypatch.setenv("APPLIANCE_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match=r"server\.prot"):
        load_settings()


def test_malformed_toml_and_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "appliance.toml"
    cfg.write_text("[server\nport = ")
    monkeypatch.setenv("APPLIANCE_CONFIG", str(cfg))
    with pytest.raises(ConfigError, match="nicht lesbar"):
        load_settings()
    monkeypatch.setenv("APPLIANCE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="nicht gefunden"):
        load_settings()


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).resolve().parents[2] / "appliance.example.toml"
    monkeypatch.setenv("APPLIANCE_CONFIG", str(example))
    s = load_settings()
    assert s.server.port == 8080
    assert s.models.speech == ["whisper-base"] and s.speech.max_upload_mb == 25


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APPLIANCE__MODELS__CHAT": '["smollm2-135m-instruct-q4_1", "smollm2-135m-instruct-q4_1"]'}, "doppelt"),
        ({"APPLIANCE__MODELS__CONTEXT_SIZE": "1024", "APPLIANCE__UI__MAX_ANSWER_TOKENS": "1024"},
         "ui.max_answer_tokens"),
        ({"APPLIANCE__MODELS__SPEECH": '["smollm2-135m-instruct-q4_1"]'}, "kein speech-Modell"),
        ({"APPLIANCE__MODELS__SPEECH": '["whisper-base", "whisper-base"]'}, "models.speech"),
        ({"APPLIANCE__MODELS__VOICES": '["whisper-base"]'}, "kein voice-Modell"),
        ({"APPLIANCE__MODELS__VOICES": '["piper-en-us-joe-medium", "piper-en-us-joe-medium"]'}, "models.voices"),
        ({"APPLIANCE__SPEECH__MAX_INTERPRETERS": "0"}, "speech.max_interpreters"),
        ({"APPLIANCE__SPEECH__DEVICE": "tpu"}, "speech.device"),
    ],
)
def test_inconsistent_values_stop_start_up(monkeypatch: pytest.MonkeyPatch, env: dict, message: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_a_piper_voice_from_the_catalogue_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE__MODELS__VOICES", '["piper-en-us-joe-medium"]')
    assert load_settings().models.voices == ["piper-en-us-joe-medium"]
