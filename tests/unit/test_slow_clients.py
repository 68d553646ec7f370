"""Slow clients (slowloris) do not hold the box (issue 'Security and robustness', bad input to try): a
request's head must arrive within server.slow_client_s, its body without a pause that long and at
1 KB/s at least after it; then the connection is free again. A WebSocket, once open, is not cut."""

from __future__ import annotations

import socket
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from appliance.server import create_app
from tests.support.server import LiveServer

DEADLINE = 1.0


@pytest.fixture
def server(settings, fake_engines):
    settings.server.slow_client_s = DEADLINE  # below what the config allows, to keep the test short
    app = create_app(settings, engines=fake_engines)  # the API and the web UI
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    with LiveServer(app, slow_client_s=DEADLINE) as live:
        live.key = key
        yield live
    app.state.services.close()


def _trickle(live: LiveServer, head: bytes, then: bytes, limit_s: float = 20) -> bytes:
    """Send ``head`` at once, then ``then`` one byte every 0.2 s; what the server answered before it
    closed the connection (the limit only ends a test of a server that never does)."""
    with socket.create_connection(("127.0.0.1", live.port)) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer, deadline, rest = b"", time.monotonic() + limit_s, iter(then)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
                if not chunk:
                    return answer
                answer += chunk
            except BlockingIOError:
                pass
            except ConnectionResetError:
                return answer
            byte = next(rest, None)
            try:
                if byte is not None:
                    sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                return answer
            time.sleep(0.2)
    raise AssertionError(f"the server kept the slow connection open; it answered {answer!r}")


def test_a_head_sent_a_byte_at_a_time_is_cut_off(server) -> None:
    answer = _trickle(server, b"GET /healthz HTTP/1.1\r\n", b"X-Langsam: " + b"a" * 500)
    assert answer == b""  # closed without an answer
    assert httpx.get(server.url + "/healthz").status_code == 200  # the box still answers others


@pytest.mark.parametrize("then", [b"", b"x" * 500])
@pytest.mark.parametrize(("path", "kind"), [("/v1/chat/completions", "application/json"),
                                            ("/login", "application/x-www-form-urlencoded")])
def test_a_body_that_pauses_or_trickles_gets_408(server, then, path, kind) -> None:
    head = (f"POST {path} HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer {server.key}\r\n"
            f"Content-Type: {kind}\r\nContent-Length: 1000\r\n\r\n{{").encode()
    answer = _trickle(server, head, then)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"request_timeout" in answer and b"zu langsam" in answer


def test_a_normal_request_and_an_open_websocket_are_not_affected(server) -> None:
    from websockets.sync.client import connect

    r = httpx.post(server.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {server.key}"},
                   json={"model": "fake-chat", "messages": [{"role": "user", "content": "Hallo"}]})
    assert r.status_code == 200

    async def echo(ws) -> None:
        await ws.accept()
        while True:
            await ws.send_text(await ws.receive_text())

    with LiveServer(Starlette(routes=[WebSocketRoute("/echo", echo)]), slow_client_s=DEADLINE) as live, \
            connect(live.url.replace("http", "ws") + "/echo") as ws:
        time.sleep(DEADLINE * 3)  # quiet for longer than a head may take
        ws.send("noch da?")
        assert ws.recv(timeout=10) == "noch da?"
