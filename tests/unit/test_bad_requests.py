"""Bad input tried as an attacker on the LAN would (issue 'Security and robustness'): an API key in a
query string, a cookie from another box, a body larger than its Content-Length says or endless."""

from __future__ import annotations

import contextlib
import socket

import httpx

from appliance.server import SESSION_COOKIE, create_app
from tests.support.server import LiveServer
from tests.support.settings import make_settings


async def test_an_api_key_in_the_query_string_is_not_a_sign_in(settings, fake_engines) -> None:
    """Addresses land in histories, proxies' logs and referrers: a key there must not work."""
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as client:
        for query in ({"api_key": key}, {"key": key}, {"access_token": key}, {"authorization": f"Bearer {key}"}):
            r = await client.get("/v1/models", params=query)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key", query
    app.state.services.close()


async def test_a_cookie_from_another_box_signs_nobody_in(tmp_path, fake_engines) -> None:
    boxes = [create_app(make_settings(tmp_path / name), engines=fake_engines) for name in ("haus-a", "haus-b")]
    for app in boxes:
        app.state.services.accounts.add("anna", "facility_admin", "geheim123")  # the same name and password
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=boxes[0]), base_url="http://box") as a:
        assert (await a.post("/login", data={"name": "anna", "password": "geheim123"})).status_code == 303
        cookie = a.cookies[SESSION_COOKIE]
        assert (await a.get("/")).status_code == 200
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=boxes[1]), base_url="http://box",
                                 cookies={SESSION_COOKIE: cookie}) as b:
        assert (await b.get("/")).headers.get("location") == "/login"
        assert (await b.get("/api/apps")).status_code == 401
    for app in boxes:
        app.state.services.close()


def _raw(port: int, request: bytes, then: bytes = b"") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the box stopped reading
            sock.sendall(then)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return answer


def test_a_body_longer_than_its_content_length_or_without_end(settings, fake_engines) -> None:
    settings.server.max_request_mb = 1
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    head = f"POST /v1/embeddings HTTP/1.1\r\nHost: box\r\nAuthorization: Bearer {key}\r\n" \
           "Content-Type: application/json\r\n"
    with LiveServer(app, slow_client_s=2) as live:
        # says 20 bytes, sends 3 MB: the box reads its 20 bytes, answers, and takes the rest for garbage
        short = _raw(live.port, (head + "Content-Length: 20\r\nConnection: close\r\n\r\n").encode(), b"x" * 3_000_000)
        assert short.startswith(b"HTTP/1.1 4"), short[:120]
        # says 2 GB: refused at once, before anything of it is read
        huge = _raw(live.port, (head + "Content-Length: 2147483648\r\n\r\n").encode())
        assert huge.startswith(b"HTTP/1.1 413"), huge[:120]
        # no length, chunks without end: counted, and cut off at the limit
        chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
        endless = _raw(live.port, (head + "Transfer-Encoding: chunked\r\n\r\n").encode(), chunk * 3)
        assert endless.startswith(b"HTTP/1.1 413"), endless[:120]
        assert httpx.get(live.url + "/healthz").status_code == 200  # and the box goes on
    app.state.services.close()
