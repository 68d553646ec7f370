"""Documents for an app's file field: read by the app service, the same from the API (multipart or
base64) as from the web UI, within the same limits, with errors that name the field."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from appliance.apps.files import FileInput
from appliance.server import create_app
from tests.support.settings import make_settings

APP = {
    "id": "bericht-kuerzen", "title": "Bericht kürzen", "description": "Fasst einen Bericht zusammen.",
    "inputs": [{"name": "bericht", "label": "Bericht", "type": "file"},
               {"name": "hinweis", "label": "Hinweis", "type": "text", "required": False}],
    "system_prompt": "Du fasst Berichte knapp zusammen.",
    "template": "Bericht: {{ bericht }}{% if hinweis %} Hinweis: {{ hinweis }}{% endif %}",
    "purpose": "Einen Bericht kürzen.",
}
REPORT = b"# Monatsbericht\n\nDie Sommerfahrt findet am 12. Juni statt.\n"


@pytest.fixture
async def site(tmp_path, fake_engines):
    settings = make_settings(tmp_path / "data").model_copy(
        update={"handbooks": make_settings(tmp_path / "data").handbooks.model_copy(update={"max_upload_mb": 1})})
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    accounts = app.state.services.accounts
    accounts.add("otto", "app_author", "geheim123")
    key, _ = accounts.create_key("otto")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        assert (await api.post("/api/apps", json=APP)).status_code == 201
        yield app, api


async def test_a_document_as_multipart_file(site) -> None:
    _, api = site
    r = await api.post("/api/apps/bericht-kuerzen/run",
                       data={"inputs": json.dumps({"hinweis": "für die Leitung"}), "draft": "true"},
                       files={"bericht": ("Monatsbericht.md", REPORT, "text/markdown")})
    assert r.status_code == 200, r.text
    assert "Sommerfahrt findet am 12. Juni statt" in r.json()["output"] and "für die Leitung" in r.json()["output"]


async def test_a_document_as_base64_in_json_streamed(site) -> None:
    _, api = site
    body = {"inputs": {"bericht": {"filename": "Monatsbericht.md",
                                   "content_base64": base64.b64encode(REPORT).decode()}},
            "draft": True, "stream": True}
    async with api.stream("POST", "/api/apps/bericht-kuerzen/run", json=body) as s:
        assert s.status_code == 200
        events = [line[6:] async for line in s.aiter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and "Sommerfahrt" in json.loads(events[-2])["output"]


@pytest.mark.parametrize(("value", "files", "status", "words"), [
    ({"filename": "x.md", "content_base64": "%%%"}, None, 422, "kein gültiges Base64"),
    ({"filename": "x.md"}, None, 422, "content_base64"),
    (None, {"bericht": ("Bild.exe", b"MZ\x90\x00", "application/octet-stream")}, 415, "nicht unterstützt"),
    (None, {"bericht": ("leer.md", b"", "text/markdown")}, 422, "leer"),
    (None, {"bericht": ("gross.txt", b"a" * (1024 * 1024 + 10), "text/plain")}, 413, "zu groß"),
])
async def test_bad_documents_name_the_field(site, value, files, status, words) -> None:
    _, api = site
    if files:
        r = await api.post("/api/apps/bericht-kuerzen/run", data={"draft": "true"}, files=files)
    else:
        r = await api.post("/api/apps/bericht-kuerzen/run", json={"inputs": {"bericht": value}, "draft": True})
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["param"] == "inputs.bericht" and words in error["message"], error


async def test_bad_multipart_fields_are_named(site) -> None:
    _, api = site
    r = await api.post("/api/apps/bericht-kuerzen/run", data={"inputs": "{kein json"},
                       files={"bericht": ("a.md", REPORT, "text/markdown")})
    assert r.status_code == 422 and r.json()["error"]["param"] == "inputs"
    r = await api.post("/api/apps/bericht-kuerzen/run", content=b"{kein json",
                       headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json"


async def test_the_web_ui_hands_the_same_upload_to_the_same_service(site) -> None:
    """What the UI's run button does: one call with the uploaded document as a FileInput."""
    app, _ = site
    services = app.state.services
    otto = services.accounts.principal_for_key(services.accounts.create_key("otto")[0])
    answer = await services.apps.run(otto, "bericht-kuerzen", {"bericht": FileInput("Bericht.md", REPORT)},
                                     draft=True)
    text = "".join([piece async for piece in answer])
    assert "Sommerfahrt" in text and answer.result["output"] == text.strip()
    assert answer.result["ai_generated"] is True


async def test_a_document_that_cannot_be_read_in_time_is_a_clear_error(site) -> None:
    """A document for a file field is read like a handbook: in a child process with a time limit, so a
    crafted file cannot hold a worker thread for ever."""
    from dataclasses import replace

    app, api = site
    services = app.state.services
    assert services.apps.files.timeout_s == services.settings.handbooks.parse_timeout_s
    services.apps.files = replace(services.apps.files, timeout_s=1, parser="tests.support.crafted_parsers:hang")
    r = await api.post("/api/apps/bericht-kuerzen/run", data={"inputs": "{}", "draft": "true"},
                       files={"bericht": ("haengt.md", REPORT, "text/markdown")})
    assert r.status_code == 422 and r.json()["error"]["code"] == "parse_timeout", r.text
    assert r.json()["error"]["param"] == "inputs.bericht"
