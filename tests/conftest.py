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

# -- every connect() of the test process, to prove that nothing leaves the box -------------------
CONNECTS: list[tuple] = []


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        CONNECTS.append(args[1] if len(args) > 1 else args)


sys.addaudithook(_audit)


def is_loopback(address: object) -> bool:
    if isinstance(address, str):  # unix socket path
        return True
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host.startswith("127.") or host in ("::1", "localhost") or host.startswith("::ffff:127.")
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


def make_settings(data_dir: Path, **models: object):
    from appliance.config import Settings

    model_cfg = {"dir": MODELS_DIR, "chat": [TEST_CHAT], "embedding": TEST_EMBED, "context_size": 2048,
                 "threads": 2, "max_queue": 8, **models}
    return Settings(storage={"data_dir": data_dir}, models=model_cfg)


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path / "data")


# -- engines ---------------------------------------------------------------------------------


@pytest.fixture
def fake_engines():
    from appliance.engines import Engines
    from models.embeddings import FakeEmbedder
    from models.fake_chat import FakeChatModel

    return Engines(chat_models={"fake-chat": FakeChatModel()}, embedder=FakeEmbedder())


def _require_models() -> None:
    from models.catalog import load_catalog
    from models.store import FileState, check_model

    for model_id in (TEST_CHAT, TEST_EMBED):
        checks = check_model(MODELS_DIR, load_catalog().get(model_id))
        if any(c.state is not FileState.ok for c in checks):
            pytest.fail(f"model {model_id} missing in {MODELS_DIR}: run `make setup`")


@pytest.fixture(scope="session")
def real_engines(tmp_path_factory: pytest.TempPathFactory):
    """The small real models, loaded once for the whole session."""
    from appliance.engines import load_engines

    _require_models()
    engines = load_engines(make_settings(tmp_path_factory.mktemp("engines")))
    yield engines
    engines.close()


# -- a live server on a free loopback port ---------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, app) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
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
