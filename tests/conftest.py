"""Shared fixtures: settings on a temporary data directory, fake and real engines, a live server."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import appliance  # noqa: F401  (telemetry switches first)

ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("APPLIANCE_TEST_MODELS_DIR", ROOT / "var" / "models"))
TEST_CHAT = "smollm2-135m-instruct-q4_1"
TEST_EMBED = "all-minilm-l6-v2"
TEST_SPEECH = "whisper-base"
TEST_VOICE = "piper-en-us-joe-medium"  # not a default: `make setup` fetches it for the tests

# -- every connect() of the test process, to prove that nothing leaves the box -------------------
CONNECTS: list[tuple] = []


def _audit(event: str, args: tuple) -> None:
    # connect() and sendto() carry the address; getaddrinfo() is a name lookup, which in a namespace
    # without network fails before any connect() could be seen
    if event in ("socket.connect", "socket.sendto"):
        CONNECTS.append(args[1] if len(args) > 1 else args)
    elif event == "socket.getaddrinfo" and args and args[0] not in (None, "", b""):
        CONNECTS.append((args[0].decode() if isinstance(args[0], bytes) else str(args[0]), args[1]))


sys.addaudithook(_audit)


def is_loopback(address: object) -> bool:
    if isinstance(address, str):  # unix socket path
        return True
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host.startswith("127.") or host in ("::1", "localhost", "0.0.0.0") or host.startswith("::ffff:127.")
    return False


# -- settings ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads a developer's appliance.toml or APPLIANCE__ variables."""
    for key in list(os.environ):
        if key.startswith("APPLIANCE__") or key == "APPLIANCE_CONFIG":
            monkeypatch.delenv(key)
    monkeypatch.setenv("APPLIANCE_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")


def make_settings(data_dir: Path, sample: bool = False, **models: object):
    from appliance.config import Settings

    model_cfg = {"dir": MODELS_DIR, "chat": [TEST_CHAT], "embedding": TEST_EMBED, "context_size": 2048,
                 "threads": 2, "max_queue": 8, **models}
    return Settings(storage={"data_dir": data_dir}, models=model_cfg, handbooks={"sample": sample},
                    ui={"max_answer_tokens": 1024})


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


def _require_models(*model_ids: str) -> None:
    from models.catalog import load_catalog
    from models.store import FileState, check_model

    for model_id in model_ids or (TEST_CHAT, TEST_EMBED, TEST_SPEECH):
        checks = check_model(MODELS_DIR, load_catalog().get(model_id))
        if any(c.state is not FileState.ok for c in checks):
            pytest.fail(f"model {model_id} missing in {MODELS_DIR}: run `make setup`")


@pytest.fixture(scope="session")
def real_embedder():
    """The real embedding model, loaded once for the session (it holds no per-request state)."""
    from models.embeddings import SentenceTransformerEmbedder

    _require_models()
    return SentenceTransformerEmbedder(TEST_EMBED, MODELS_DIR / TEST_EMBED)


@pytest.fixture(scope="session")
def real_transcriber():
    """Whisper base through faster-whisper, loaded once (calls are thread-safe and keep no state)."""
    from models.whisper import WhisperTranscriber

    _require_models()
    return WhisperTranscriber(TEST_SPEECH, MODELS_DIR / TEST_SPEECH, device="cpu", threads=2)


@pytest.fixture(scope="session")
def real_voice():
    """The Piper voice en_US joe, loaded once (its synthesis is serialised by a lock)."""
    from models.catalog import load_catalog
    from models.piper_voice import PiperVoice

    _require_models(TEST_VOICE)
    entry = load_catalog().get(TEST_VOICE)
    return PiperVoice(TEST_VOICE, MODELS_DIR / TEST_VOICE / entry.main_file.name, entry.languages[0])


@pytest.fixture
def real_engines(real_embedder, real_transcriber):
    """The small real models. The chat model is loaded per test (a fraction of a second): its
    request queue belongs to one event loop, and each live server runs its own."""
    from appliance.engines import Engines
    from models.catalog import load_catalog
    from models.llama_chat import LlamaChatModel

    catalog = load_catalog()
    entry = catalog.get(TEST_CHAT)
    chat = LlamaChatModel(TEST_CHAT, MODELS_DIR / TEST_CHAT / entry.main_file.name, context_size=2048,
                          threads=2, gpu_layers=0, max_queue=8)
    engines = Engines(chat_models={TEST_CHAT: chat}, embedder=real_embedder,
                      transcribers={TEST_SPEECH: real_transcriber},
                      entries={TEST_CHAT: entry, TEST_EMBED: catalog.get(TEST_EMBED),
                               TEST_SPEECH: catalog.get(TEST_SPEECH)})
    yield engines
    chat.close()


# -- a live server on a free loopback port ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, app, **tls: str) -> None:
        """``tls``: ssl_certfile and ssl_keyfile for an HTTPS server."""
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    **tls))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


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
