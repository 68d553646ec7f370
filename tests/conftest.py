"""Fixtures only: settings on a temporary data directory, fake and real engines, a live server.
What tests and benchmarks share as code lives in tests/support/."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import appliance  # noqa: F401  (telemetry switches first)
from tests.support.network import audit
from tests.support.paths import (
    DEFAULT_EMBED,
    MODELS_DIR,
    TEST_CHAT,
    TEST_EMBED,
    TEST_SPEECH,
    TEST_VOICE,
    require_models,
)
from tests.support.server import LiveServer
from tests.support.settings import make_settings

sys.addaudithook(audit)  # every connect() of the test process, to prove that nothing leaves the box


# -- settings ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads a developer's appliance.toml or APPLIANCE__ variables."""
    for key in list(os.environ):
        if key.startswith("APPLIANCE__") or key == "APPLIANCE_CONFIG":
            monkeypatch.delenv(key)
    monkeypatch.setenv("APPLIANCE_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path / "data")


# -- engines ---------------------------------------------------------------------------------


@pytest.fixture
def fake_engines():
    from appliance.engines import Engines
    from models.embeddings import FakeEmbedder
    from models.fake_chat import FakeChatModel
    from models.fake_speech import FakeTranscriber

    return Engines(chat_models={"fake-chat": FakeChatModel()}, embedder=FakeEmbedder(),
                   transcribers={"fake-speech": FakeTranscriber()})


@pytest.fixture(scope="session")
def real_embedder():
    """The real embedding model, loaded once for the session (it holds no per-request state)."""
    from models.embeddings import SentenceTransformerEmbedder

    require_models()
    return SentenceTransformerEmbedder(TEST_EMBED, MODELS_DIR / TEST_EMBED)


@pytest.fixture(scope="session")
def default_embedder():
    """The box's default embedding model (EmbeddingGemma), loaded once: the handbook tests use it."""
    from appliance.engines import weights_sha256
    from models.catalog import load_catalog
    from models.embeddings import SentenceTransformerEmbedder

    require_models(DEFAULT_EMBED)
    entry = load_catalog().get(DEFAULT_EMBED)
    return SentenceTransformerEmbedder(DEFAULT_EMBED, MODELS_DIR / DEFAULT_EMBED, weights_sha256=weights_sha256(entry))


@pytest.fixture(scope="session")
def real_transcriber():
    """Whisper base through faster-whisper, loaded once (calls are thread-safe and keep no state)."""
    from models.whisper import WhisperTranscriber

    require_models()
    return WhisperTranscriber(TEST_SPEECH, MODELS_DIR / TEST_SPEECH, device="cpu", threads=2)


@pytest.fixture(scope="session")
def real_voice():
    """The Piper voice en_US joe, loaded once (its synthesis is serialised by a lock)."""
    from models.catalog import load_catalog
    from models.piper_voice import PiperVoice

    require_models(TEST_VOICE)
    entry = load_catalog().get(TEST_VOICE)
    return PiperVoice(TEST_VOICE, MODELS_DIR / TEST_VOICE / entry.main_file.name, entry.languages[0])


def _small_engines(embedder, transcriber):
    from appliance.engines import Engines
    from models.catalog import load_catalog
    from models.llama_chat import LlamaChatModel

    catalog = load_catalog()
    entry = catalog.get(TEST_CHAT)
    chat = LlamaChatModel(TEST_CHAT, MODELS_DIR / TEST_CHAT / entry.main_file.name, context_size=2048,
                          threads=2, gpu_layers=0, max_queue=8)
    return Engines(chat_models={TEST_CHAT: chat}, embedder=embedder, transcribers={TEST_SPEECH: transcriber},
                   entries={TEST_CHAT: entry, embedder.id: catalog.get(embedder.id),
                            TEST_SPEECH: catalog.get(TEST_SPEECH)})


@pytest.fixture
def real_engines(real_embedder, real_transcriber):
    """The small real models. The chat model is loaded per test (a fraction of a second): its
    request queue belongs to one event loop, and each live server runs its own."""
    engines = _small_engines(real_embedder, real_transcriber)
    yield engines
    engines.chat_models[TEST_CHAT].close()


@pytest.fixture
def handbook_engines(default_embedder, real_transcriber):
    """As real_engines, with the box's default embedding model: what the handbook tests search with."""
    engines = _small_engines(default_embedder, real_transcriber)
    yield engines
    engines.chat_models[TEST_CHAT].close()


# -- a live server on a free loopback port ---------------------------------------------------


@pytest.fixture
def live_server(tmp_path: Path, real_engines) -> Iterator[LiveServer]:
    from appliance.server import create_app

    app = create_app(make_settings(tmp_path / "live"), engines=real_engines)
    with LiveServer(app) as server:
        yield server


@pytest.fixture
def openai_client(live_server):
    """The official openai client with a fresh staff key against the live server."""
    import openai

    accounts = live_server.app.state.services.accounts
    accounts.add("anna", "staff", "geheim123")
    key, _ = accounts.create_key("anna", "openai-test")
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, timeout=120)
