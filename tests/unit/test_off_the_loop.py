"""Slow work leaves the event loop (issue 'Security and robustness', item 2): while one request's
database or file work waits, the service answers others. Each route below is held inside its
service call until the test lets it go; another request must get through meanwhile (were the
work on the event loop, nothing else could run until the hold gave up)."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest

from appliance.server import create_app
from tests.support.apps import MINIMAL


@pytest.mark.parametrize(("method", "path", "body", "hold"), [
    ("GET", "/api/apps", None, ("apps", "store", "all")),
    ("POST", "/api/apps", MINIMAL, ("apps", "store", "create")),
    ("POST", "/api/apps/elternbrief/run",
     {"inputs": {"anlass": "Fest", "datum": "2026-06-12", "sprache": "Ukrainisch"}}, ("apps", "store", "enabled")),
    ("PUT", "/api/admin/branding", {"name": "Haus Abendrot"}, ("branding", "store", "put")),
    ("GET", "/api/collections", None, ("handbooks", "index", "collections")),
])
async def test_a_held_request_does_not_hold_the_others(settings, fake_engines, method, path, body, hold) -> None:
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    services = app.state.services
    services.accounts.add("lea", "facility_admin", "geheim123")
    key, _ = services.accounts.create_key("lea")
    service, part, name = hold
    target = getattr(getattr(services, service), part)
    original = getattr(target, name)
    entered, release, gave_up = threading.Event(), threading.Event(), []

    def held(*args, **kwargs):
        entered.set()
        if not release.wait(30):  # only reached if the event loop could not go on
            gave_up.append(True)
        return original(*args, **kwargs)

    setattr(target, name, held)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        first = asyncio.create_task(api.request(method, path, json=body))
        assert await asyncio.to_thread(entered.wait, 30)
        other = await api.get("/v1/models")  # answered while the first is held
        release.set()
        r = await first
    services.close()
    assert other.status_code == 200 and not gave_up
    assert r.status_code in (200, 201), r.text
