"""Authorisation gaps found in the review (issue 'Security and robustness', item 5), each kept closed."""

from __future__ import annotations

import httpx
import pytest

from appliance.server import create_app
from tests.support.apps import MINIMAL

PLAN = ("Plan.md", "# Plan\n\nHände waschen.\n".encode(), "text/markdown")


@pytest.fixture
async def box(settings, fake_engines):
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    clients = {}
    for name, role in (("anna", "staff"), ("lea", "facility_admin"), ("ida", "it_admin"), ("dora", "dpo"),
                       ("otto", "app_author"), ("pia", "app_author")):
        app.state.services.accounts.add(name, role, "geheim123")
        key, _ = app.state.services.accounts.create_key(name)
        clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                          headers={"Authorization": f"Bearer {key}"})
    yield clients
    app.state.services.close()
    for c in clients.values():
        await c.aclose()


async def test_creating_a_collection_again_never_resets_who_may_read_it(box) -> None:
    lea, anna = box["lea"], box["anna"]
    r = await lea.post("/api/collections", json={"name": "Leitung", "roles": ["facility_admin"]})
    assert r.status_code == 201
    again = await lea.post("/api/collections", json={"name": "Leitung", "roles": ["facility_admin"]})
    assert again.status_code == 200 and again.json()["roles"] == ["facility_admin"]  # asking twice is harmless
    r = await lea.post("/api/collections", json={"name": "Leitung"})  # would have opened it to everyone
    assert r.status_code == 409 and r.json()["error"]["code"] == "collection_exists"
    assert "Leitung" not in [c["name"] for c in (await anna.get("/api/collections")).json()["collections"]]
    r = await lea.put("/api/collections/Leitung", json={"roles": []})  # on purpose: now everyone
    assert r.status_code == 200 and r.json()["roles"] == []
    assert "Leitung" in [c["name"] for c in (await anna.get("/api/collections")).json()["collections"]]
    assert (await anna.put("/api/collections/Leitung", json={"roles": ["staff"]})).status_code == 403


async def test_uploading_into_a_collection_needs_the_right_to_read_it(box) -> None:
    lea, ida = box["lea"], box["ida"]
    r = await lea.post("/api/collections", json={"name": "Leitung", "roles": ["facility_admin"]})
    assert r.status_code == 201
    r = await ida.post("/api/collections/Leitung/documents", files={"file": PLAN})
    assert r.status_code == 404 and r.json()["error"]["code"] == "collection_not_found"
    assert (await ida.post("/api/collections", json={"name": "Leitung", "roles": []})).status_code == 404
    assert (await lea.post("/api/collections/Leitung/documents", files={"file": PLAN})).status_code == 202
    assert (await ida.post("/api/collections/IT/documents", files={"file": PLAN})).status_code == 202  # a new one


async def test_the_branding_settings_are_for_the_facility_admin_and_it(box) -> None:
    assert (await box["anna"].get("/api/admin/branding")).status_code == 403
    assert (await box["dora"].get("/api/admin/branding")).status_code == 403
    assert (await box["lea"].get("/api/admin/branding")).json()["name"]
    assert (await box["ida"].get("/api/admin/branding")).status_code == 200


async def test_an_app_belongs_to_its_author_and_the_facility_admin(box) -> None:
    otto, pia, lea = box["otto"], box["pia"], box["lea"]
    assert (await otto.post("/api/apps", json=MINIMAL)).status_code == 201
    app = "/api/apps/dienstplan-tausch"
    mine = (await otto.get(app)).json()["meta"]
    assert mine["owner"] == "otto" and mine["may_change"] is True
    assert (await pia.get(app)).json()["meta"]["may_change"] is False  # another author may read and try it
    assert (await pia.post(f"{app}/run", json={"inputs": {"datum": "24.12.2026"}})).status_code == 200
    changed = {**MINIMAL, "title": "Gekapert", "version": 1}
    for r in (await pia.put(app, json=changed), await pia.post(f"{app}/publish"),
              await pia.post(f"{app}/versions/1/restore")):
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
        assert "gehört otto" in r.json()["error"]["message"]
    newer = ("dienstplan-tausch.yaml", (await otto.get(f"{app}/export")).text.replace("version: 1", "version: 5")
             .replace("Dienstplan-Tausch-Anfrage", "Gekapert"), "application/yaml")
    r = await pia.post("/api/apps/import", files={"file": newer}, data={"mode": "replace"})
    assert r.status_code == 403, r.text
    copy = await pia.post("/api/apps/import", files={"file": newer}, data={"mode": "copy"})
    assert copy.status_code == 201 and copy.json()["app"]["meta"]["owner"] == "pia"  # her own copy
    assert (await otto.get(app)).json()["title"] == "Dienstplan-Tausch-Anfrage"  # nothing changed
    assert len((await otto.get(f"{app}/versions")).json()["versions"]) == 1
    # the facility admin may act on every app (e.g. when its author has left)
    assert (await lea.put(app, json={**MINIMAL, "title": "Diensttausch", "version": 1})).status_code == 200
    assert (await lea.post(f"{app}/publish")).status_code == 200
    assert (await otto.put(app, json={**MINIMAL, "title": "Tausch", "version": 2})).status_code == 200
