"""A client that leaves stops its generation: the API closes the model's stream at once.

The model here cannot stop on its own (it writes until its stream is closed), and the client
leaves only after the model has begun: nothing depends on the machine's speed or a model's luck.
(The real engine freeing a request's sequence when its stream is closed is tested in
tests/integration/test_llama_engine.py and tests/unit/test_scheduler.py.)
"""

from __future__ import annotations

import json
import socket

import pytest

from appliance.engines import Engines
from appliance.server import create_app
from models.embeddings import FakeEmbedder
from tests.support.chat import EndlessChat
from tests.support.server import LiveServer
from tests.support.settings import make_settings

SAFETY_S = 30  # only against a hang: every wait below ends on an event


@pytest.fixture
def site(tmp_path):
    model = EndlessChat()
    engines = Engines(chat_models={model.id: model}, embedder=FakeEmbedder())
    app = create_app(make_settings(tmp_path / "data"), engines=engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    with LiveServer(app) as server:
        yield server, key, model


def _leave_after_it_began(server: LiveServer, key: str, path: str, body: dict, model: EndlessChat) -> None:
    data = json.dumps(body).encode()
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(request)
        assert model.began.wait(SAFETY_S), "the generation never began"
        assert not model.closed.is_set()
    # the socket is closed here: the client has left


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_client_that_leaves_stops_its_generation(site, stream: bool) -> None:
    server, key, model = site
    body = {"model": model.id, "stream": stream, "messages": [{"role": "user", "content": "Zähle bis unendlich."}]}
    _leave_after_it_began(server, key, "/v1/chat/completions", body, model)
    assert model.closed.wait(SAFETY_S), "generation went on after the client left"


@pytest.mark.parametrize("stream", [False, True])
def test_an_app_run_whose_client_leaves_stops_its_generation(site, stream: bool) -> None:
    server, key, model = site
    body = {"inputs": {"text": "Ein langer Text. " * 20, "laenge": "drei Sätze"}, "stream": stream}
    _leave_after_it_began(server, key, "/api/apps/zusammenfassen/run", body, model)
    assert model.closed.wait(SAFETY_S), "generation went on after the client left"
