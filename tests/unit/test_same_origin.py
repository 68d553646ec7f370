"""Another website open in the same browser cannot act with a person's session (issue 'Security and
robustness', item 4): changing requests from a foreign origin are refused before they are read, and
no answer, Gradio's included, lets another origin read it with credentials."""

from __future__ import annotations

import httpx
import pytest

from appliance.infra.middleware import same_origin
from appliance.server import create_app

EVIL = "http://evil.example"


@pytest.fixture
async def browser(settings, fake_engines):
    """A signed-in browser that reaches the box by its LAN address."""
    app = create_app(settings, engines=fake_engines)
    app.state.services.accounts.add("lea", "facility_admin", "geheim123")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("192.168.1.20", 50000)),
                                 base_url="http://192.168.1.10:8080") as client:
        r = await client.post("/login", data={"name": "lea", "password": "geheim123"},
                              headers={"Origin": "http://192.168.1.10:8080"})
        assert r.status_code == 303
        client.app = app
        yield client
    app.state.services.close()


async def test_a_foreign_page_cannot_change_anything_with_the_session(browser: httpx.AsyncClient) -> None:
    services = browser.app.state.services
    r = await browser.post("/api/collections", json={"name": "Leitung"}, headers={"Origin": EVIL})
    assert r.status_code == 403 and r.json()["error"]["code"] == "foreign_origin"
    assert "anderen Website" in r.json()["error"]["message"]
    for origin in ("null", "http://192.168.1.10:9999", "https://192.168.1.10.evil.example:8080"):
        assert (await browser.post("/api/collections", json={"name": "Leitung"},
                                   headers={"Origin": origin})).status_code == 403, origin
    r = await browser.put("/api/admin/branding", json={"name": "Gekapert"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403  # a browser that sends no Origin, but says where the request comes from
    for site in ("cross-site", "same-site"):  # the browser's word counts over an Origin a page could not set
        r = await browser.post("/api/collections", json={"name": "Leitung"},
                               headers={"Sec-Fetch-Site": site, "Origin": "http://192.168.1.10:8080"})
        assert r.status_code == 403, site
    r = await browser.post("/login", data={"name": "lea", "password": "geheim123"}, headers={"Origin": EVIL})
    assert r.status_code == 403
    assert services.handbooks.collection_names() == [] or "Leitung" not in services.handbooks.collection_names()
    assert services.branding.store.get().name != "Gekapert"
    # the page itself still works (Chromium sends a form's Origin as "null" under no-referrer, and says
    # same-origin), and reading is untouched
    r = await browser.post("/login", data={"name": "lea", "password": "geheim123"},
                           headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 303
    r = await browser.post("/api/collections", json={"name": "Leitung"}, headers={"Origin": "http://192.168.1.10:8080"})
    assert r.status_code == 201
    assert (await browser.get("/api/collections", headers={"Origin": EVIL})).status_code == 200


async def test_no_answer_lets_another_origin_read_it(browser: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/gradio_api/info"), ("GET", "/config"), ("GET", "/api/collections")):
        r = await browser.request(method, path, headers={"Origin": EVIL})
        assert "access-control-allow-origin" not in r.headers, path
        assert "access-control-allow-credentials" not in r.headers, path
    r = await browser.options("/gradio_api/queue/join", headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in r.headers


async def test_clients_that_are_not_browsers_are_not_affected(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("lea", "facility_admin", "geheim123")
    key, _ = app.state.services.accounts.create_key("lea")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        assert (await api.post("/api/collections", json={"name": "Leitung"})).status_code == 201
    app.state.services.close()


@pytest.mark.parametrize(("origin", "host", "same"), [
    ("http://box:8080", "box:8080", True),
    ("https://ki.einrichtung.example", "ki.einrichtung.example", True),  # nginx passes $host without the port
    ("https://KI.Einrichtung.example:443", "ki.einrichtung.example", True),
    ("http://box:8081", "box:8080", False),
    ("http://box.evil.example:8080", "box:8080", False),
    ("null", "box:8080", False),
    ("file://", "box:8080", False),
    ("http://[::1]:8080", "[::1]:8080", True),
    ("http://box:99999", "box:8080", False),
])
def test_same_origin(origin: str, host: str, same: bool) -> None:
    assert same_origin(origin, host) is same
