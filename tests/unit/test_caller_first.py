"""A stranger makes the box read nothing (issue 'Security and robustness', item 5): a route that
needs a sign-in answers 401 before a byte of the body is read, whatever the body would be."""

from __future__ import annotations

import json

import httpx
import pytest

from appliance.server import create_app


async def _raw(app, method: str, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict, bool]:
    """Call the app as a server would, with a body that is never sent: (status, body, body was read)."""
    read = False
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal read
        read = True
        return {"type": "http.request", "body": b"{" * 1000, "more_body": True}  # endless and deep

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"box"), (b"content-type", b"application/json"),
                         (b"content-length", b"5000000"), *headers],
             "client": ("192.168.1.20", 50000), "server": ("box", 80), "app": app}
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), read


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("POST", "/v1/audio/transcriptions"),
    ("POST", "/api/collections/Hygiene/documents"),
    ("POST", "/api/apps/import"),
    ("PUT", "/api/admin/branding"),
])
async def test_no_body_is_read_before_the_caller_is_known(settings, fake_engines, method, path) -> None:
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box"):  # lifespan-free
        for headers in ([], [(b"authorization", b"Bearer sk-box-falsch")]):
            status, body, read = await _raw(app, method, path, headers)
            assert status == 401 and body["error"]["code"] == "invalid_api_key", (path, body)
            assert not read, path
    app.state.services.close()


async def test_a_known_caller_is_looked_up_once_and_gets_on(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    services = app.state.services
    services.accounts.add("anna", "staff", "geheim123")
    key, _ = services.accounts.create_key("anna")
    lookups = []
    original = services.accounts.principal_for_key
    services.accounts.principal_for_key = lambda k: lookups.append(k) or original(k)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        r = await api.post("/v1/embeddings", json={"model": "fake-embed", "input": "Hallo"})
        bad = await api.post("/v1/embeddings", content=b"{nicht json", headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 404) and len(lookups) == 2  # one per request
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"  # a known caller learns why
    # the refusals of the outer middleware carry the protective headers too
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as stranger:
        for r in (await stranger.post("/v1/chat/completions", content=b"x" * (11 * 1024 * 1024)),
                  await stranger.post("/api/collections", json={}, headers={"Origin": "http://evil.example"})):
            assert r.status_code in (403, 413) and "content-security-policy" in r.headers
    services.close()
