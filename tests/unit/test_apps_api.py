"""The app routes over the fake chat model: catalogue, runs, builder, versions, exchange, admin."""

import io
import json

import httpx
import pytest
from docx import Document
from PIL import Image

from appliance.server import create_app
from tests.support.apps import MINIMAL
from tests.support.settings import make_settings

EXAMPLE = {"anlass": "Ausflug mit Einverständnis", "datum": "2026-06-12", "sprache": "Ukrainisch"}


async def _box(settings, engines):
    app = create_app(settings, engines=engines, mount_ui=False)
    clients = {}
    for name, role in (("anna", "staff"), ("otto", "app_author"), ("lea", "facility_admin")):
        app.state.services.accounts.add(name, role, "geheim123")
        key, _ = app.state.services.accounts.create_key(name)
        clients[name] = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                          headers={"Authorization": f"Bearer {key}"})
    return app, clients


@pytest.fixture
async def box(settings, fake_engines):
    _, clients = await _box(settings, fake_engines)
    yield clients
    for c in clients.values():
        await c.aclose()


async def test_staff_find_and_run_a_builtin_app(box) -> None:
    anna, lea = box["anna"], box["lea"]
    apps = (await anna.get("/api/apps")).json()["apps"]
    assert len(apps) >= 20 and all(a["status"] == "builtin" for a in apps)
    handbook = next(a for a in apps if a["id"] == "pflegehandbuch-fragen")
    assert handbook["available"] is False  # no collection "Pflegehandbuch" on this box yet
    detail = (await anna.get("/api/apps/elternbrief")).json()
    assert detail["inputs"][0]["name"] == "anlass" and detail["examples"]

    r = await anna.post("/api/apps/elternbrief/run", json={"inputs": EXAMPLE})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"].startswith("Echo:") and "Ukrainisch" in body["output"] and "12.06.2026" in body["output"]
    assert body["ai_generated"] is True and body["label"].startswith("KI-Entwurf")

    async with anna.stream("POST", "/api/apps/elternbrief/run", json={"inputs": EXAMPLE, "stream": True}) as s:
        events = [line[6:] async for line in s.aiter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and json.loads(events[-2])["app"] == "elternbrief"
    assert "".join(json.loads(e)["delta"] for e in events[:-2]) == json.loads(events[-2])["output"]

    store = lea._transport.app.state.services.apps.store
    with store.engine.begin() as c:  # a day older than the retention period goes on the next run
        c.exec_driver_sql("INSERT INTO app_usage (app_id, day, runs) VALUES ('aushang', '2020-01-01', 3)")
    await anna.post("/api/apps/elternbrief/run", json={"inputs": EXAMPLE})
    with store.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM app_usage WHERE day < '2024-01-01'").scalar() == 0
    usage = (await lea.get("/api/admin/usage")).json()["usage"]
    assert [(u["app"], u["runs"]) for u in usage] == [("elternbrief", 3)]
    assert (await anna.get("/api/admin/usage")).status_code == 403
    csv = (await lea.get("/api/admin/usage?format=csv")).text
    assert csv.startswith("app;day;runs\nelternbrief;") and "anna" not in csv


async def test_bad_inputs_name_the_field(box) -> None:
    anna = box["anna"]
    for inputs, param in [({"datum": "2026-06-12", "sprache": "Ukrainisch"}, "inputs.anlass"),
                          ({**EXAMPLE, "kind": "Max"}, "inputs.kind"),
                          ({**EXAMPLE, "anlass": "Geburtstag"}, "inputs.anlass"),
                          ({**EXAMPLE, "einzelheiten": "x" * 2001}, "inputs.einzelheiten"),
                          ({**EXAMPLE, "datum": "irgendwann"}, "inputs.datum")]:
        r = await anna.post("/api/apps/elternbrief/run", json={"inputs": inputs})
        assert r.status_code == 422 and r.json()["error"]["param"] == param, r.text
    r = await anna.post("/api/apps/gibt-es-nicht/run", json={"inputs": {}})
    assert r.status_code == 404 and "gibt es nicht" in r.json()["error"]["message"]
    r = await anna.post("/api/apps/pflegehandbuch-fragen/run", json={"inputs": {"frage": "Was tun bei Sturz?"}})
    assert r.status_code == 409 and "Pflegehandbuch" in r.json()["error"]["message"]


async def test_an_author_builds_publishes_versions_and_restores(box) -> None:
    anna, otto, lea = box["anna"], box["otto"], box["lea"]
    assert (await anna.post("/api/apps", json=MINIMAL)).status_code == 403
    r = await otto.post("/api/apps", json=MINIMAL)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft" and r.json()["version"] == 1
    assert (await anna.get("/api/apps/dienstplan-tausch")).status_code == 404  # a draft is not offered
    tried = await otto.post("/api/apps/dienstplan-tausch/run", json={"inputs": {"datum": "24.12.2026"}})
    assert tried.status_code == 200 and "24.12.2026" in tried.json()["output"]
    assert (await otto.post("/api/apps/dienstplan-tausch/publish")).json()["status"] == "published"
    run = await anna.post("/api/apps/dienstplan-tausch/run", json={"inputs": {"datum": "2026-12-24"}})
    assert run.status_code == 200

    changed = {**MINIMAL, "title": "Diensttausch", "version": 1}
    assert (await otto.put("/api/apps/dienstplan-tausch", json=changed)).json()["version"] == 2
    stale = await otto.put("/api/apps/dienstplan-tausch", json={**changed, "title": "Alt", "version": 1})
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "version_conflict"
    # staff still run the published version 1 until the new one is published
    assert (await anna.get("/api/apps/dienstplan-tausch")).json()["title"] == "Dienstplan-Tausch-Anfrage"
    versions = (await otto.get("/api/apps/dienstplan-tausch/versions")).json()["versions"]
    assert [(v["version"], v["published"]) for v in versions] == [(2, False), (1, True)]
    assert (await otto.get("/api/apps/dienstplan-tausch/versions/1")).json()["title"] == "Dienstplan-Tausch-Anfrage"
    restored = (await otto.post("/api/apps/dienstplan-tausch/versions/1/restore")).json()
    assert restored["version"] == 3 and restored["title"] == "Dienstplan-Tausch-Anfrage"
    assert len((await otto.get("/api/apps/dienstplan-tausch/versions")).json()["versions"]) == 3

    assert (await otto.put("/api/apps/elternbrief", json=MINIMAL)).status_code == 403  # built-in
    clash = await otto.post("/api/apps", json={**MINIMAL, "id": "elternbrief"})
    assert clash.status_code == 409 and clash.json()["error"]["param"] == "id"
    missing = await otto.post("/api/apps", json={**MINIMAL, "id": "mit-handbuch", "collection": "Gibtsnicht"})
    assert missing.status_code == 422 and missing.json()["error"]["param"] == "collection"
    bad = await otto.post("/api/apps", json={**MINIMAL, "id": "boese", "template": "{{ ''.__class__.__mro__ }}"})
    assert bad.status_code == 422 and "nicht erlaubt" in bad.json()["error"]["message"]
    bomb = await otto.post("/api/apps", json={**MINIMAL, "id": "bombe", "template": "{{ 'x'|center(9999999999) }}"})
    assert bomb.status_code == 422 and bomb.json()["error"]["param"] == "template", bomb.text
    assert "template: Die Vorlage gibt dem Filter „center“ eine zu große Zahl" in bomb.json()["error"]["message"]
    # a bomb that only goes off with certain inputs stops the run, not the box
    times = {**MINIMAL, "id": "mal", "inputs": [{"name": "anzahl", "label": "Anzahl", "type": "number"}],
             "template": "{{ 'Bitte '|center(anzahl|int) }}"}
    assert (await otto.post("/api/apps", json=times)).status_code == 201
    run = await otto.post("/api/apps/mal/run", json={"inputs": {"anzahl": "99999999999"}})
    assert run.status_code == 422 and run.json()["error"]["code"] == "template_error", run.text
    assert run.json()["error"]["param"] == "template" and "„center“" in run.json()["error"]["message"]
    unknown = await otto.post("/api/apps", json={**MINIMAL, "id": "extra", "farbe": "rot"})
    assert unknown.status_code == 422 and unknown.json()["error"]["param"] == "farbe"
    high = await otto.post("/api/apps", json={**MINIMAL, "id": "ranking", "purpose": "Bewerber ranken und auswählen"})
    assert high.status_code == 422 and "Hochrisiko" in high.json()["error"]["message"]
    assert (await lea.get("/api/apps/dienstplan-tausch")).status_code == 200


async def test_preview_runs_an_unsaved_app_for_authors_only(box) -> None:
    r = await box["otto"].post("/api/apps/preview", json={"app": MINIMAL, "inputs": {"datum": "2026-01-02"}})
    assert r.status_code == 200 and "02.01.2026" in r.json()["output"]
    assert (await box["anna"].post("/api/apps/preview", json={"app": MINIMAL, "inputs": {}})).status_code == 403


async def test_admins_choose_which_apps_staff_see(box) -> None:
    anna, lea = box["anna"], box["lea"]
    assert (await anna.put("/api/admin/apps/elternbrief", json={"enabled": False})).status_code == 403
    assert (await lea.put("/api/admin/apps/elternbrief", json={"enabled": False})).json()["enabled"] is False
    assert "elternbrief" not in {a["id"] for a in (await anna.get("/api/apps")).json()["apps"]}
    assert (await anna.post("/api/apps/elternbrief/run", json={"inputs": EXAMPLE})).status_code == 404
    admin_view = {a["id"]: a["enabled"] for a in (await lea.get("/api/apps")).json()["apps"]}
    assert admin_view["elternbrief"] is False
    await lea.put("/api/admin/apps/elternbrief", json={"enabled": True})
    assert (await anna.post("/api/apps/elternbrief/run", json={"inputs": EXAMPLE})).status_code == 200


async def test_export_import_between_two_boxes_never_overwrites_silently(box, tmp_path, fake_engines) -> None:
    otto = box["otto"]
    await otto.post("/api/apps", json=MINIMAL)
    exported = await otto.get("/api/apps/dienstplan-tausch/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    yaml_v1 = exported.content

    _, other = await _box(make_settings(tmp_path / "zweite-box"), fake_engines)
    try:
        author = other["otto"]
        r = await author.post("/api/apps/import", files={"file": ("dienstplan-tausch.yaml", yaml_v1)})
        assert r.status_code == 201 and r.json()["result"] == "imported"
        again = await author.post("/api/apps/import", files={"file": ("d.yaml", yaml_v1)})
        assert again.json()["result"] == "unchanged"
        # the first box improves the app; the second box has not touched its copy: it updates
        await otto.put("/api/apps/dienstplan-tausch", json={**MINIMAL, "title": "Diensttausch v2"})
        yaml_v2 = (await otto.get("/api/apps/dienstplan-tausch/export")).content
        r = await author.post("/api/apps/import", files={"file": ("d.yaml", yaml_v2)})
        assert r.json()["result"] == "updated" and r.json()["app"]["title"] == "Diensttausch v2"
        # edited here, then a newer file arrives: refused, nothing changed, the choices named
        await author.put("/api/apps/dienstplan-tausch", json={**MINIMAL, "title": "Unsere Fassung"})
        await otto.put("/api/apps/dienstplan-tausch", json={**MINIMAL, "title": "Diensttausch v3"})
        yaml_v3 = (await otto.get("/api/apps/dienstplan-tausch/export")).content
        r = await author.post("/api/apps/import", files={"file": ("d.yaml", yaml_v3)})
        assert r.status_code == 409 and "mode=copy" in r.json()["error"]["message"]
        assert (await author.get("/api/apps/dienstplan-tausch")).json()["title"] == "Unsere Fassung"
        copy = await author.post("/api/apps/import", files={"file": ("d.yaml", yaml_v3)}, data={"mode": "copy"})
        assert copy.json()["result"] == "copied" and copy.json()["app"]["id"] == "dienstplan-tausch-2"
        replaced = await author.post("/api/apps/import", files={"file": ("d.yaml", yaml_v3)},
                                     data={"mode": "replace"})
        assert replaced.json()["app"]["title"] == "Diensttausch v3"
        history = (await author.get("/api/apps/dienstplan-tausch/versions")).json()["versions"]
        assert "Unsere Fassung" in {(await author.get(f"/api/apps/dienstplan-tausch/versions/{v['version']}"))
                                    .json()["title"] for v in history}  # kept in the history
        for bad, expect in [(b"id: [kaputt", "YAML"), (b"\xff\xfe\x00", "UTF-8"),
                            (yaml_v1.replace(b"purpose:", b"farbe: rot\npurpose:"), "farbe"),
                            (yaml_v1 + b"id: zweite-kennung\n", "„id“ steht doppelt da")]:
            r = await author.post("/api/apps/import", files={"file": ("x.yaml", bad)})
            assert r.status_code == 422 and expect in r.json()["error"]["message"], r.text
        builtin = await author.post("/api/apps/import", files={"file": (
            "e.yaml", (await author.get("/api/apps/elternbrief/export")).content)})
        assert builtin.status_code in (200, 201) and builtin.json()["result"] == "unchanged"
    finally:
        for c in other.values():
            await c.aclose()


async def test_word_document_with_branding_and_logo(box) -> None:
    anna, lea = box["anna"], box["lea"]
    assert (await anna.put("/api/admin/branding", json={"name": "Haus Abendrot"})).status_code == 403
    r = await lea.put("/api/admin/branding", json={"name": "Haus Abendrot", "address": "Lindenweg 3, Musterstadt"})
    assert r.status_code == 200 and r.json()["name"] == "Haus Abendrot"
    bad = await lea.put("/api/admin/branding", json={"name": "", "colors": {"primary": "rot"}})
    assert bad.status_code == 422
    assert (await lea.get("/api/admin/branding")).json()["name"] == "Haus Abendrot"  # nothing lost
    png = io.BytesIO()
    Image.new("RGB", (60, 30), (200, 30, 30)).save(png, format="PNG")
    assert (await lea.put("/api/admin/branding/logo", files={"file": ("logo.png", png.getvalue())})).status_code == 200
    nope = await lea.put("/api/admin/branding/logo", files={"file": ("logo.png", b"not an image")})
    assert nope.status_code == 415
    assert (await anna.get("/api/branding/logo")).headers["content-type"] == "image/png"

    r = await anna.post("/api/apps/elternbrief/document",
                        json={"output": "## Deutsch\n\nLiebe Eltern\n\n## Ukrainisch\n\nШановні батьки"})
    assert r.status_code == 200 and r.headers["content-disposition"].startswith('attachment; filename="Elternbrief-')
    doc = Document(io.BytesIO(r.content))
    assert "Haus Abendrot" in doc.sections[0].header.paragraphs[0].text
    assert doc.sections[0].header.part.related_parts  # the logo is in the letterhead
    assert doc.core_properties.content_status.startswith("KI-Entwurf")


async def test_the_fact_check_of_a_run_is_noted_in_its_word_document(box) -> None:
    anna = box["anna"]
    unverified = [{"text": "14:30 Uhr", "kind": "time", "start": 20, "end": 29, "message": "…"},
                  {"text": "38,5 °C", "kind": "quantity"}]
    r = await anna.post("/api/apps/elternbrief/document",
                        json={"output": "Treffpunkt um 14:30 Uhr, Fieber 38,5 °C.", "unverified": unverified})
    assert r.status_code == 200, r.text
    paragraphs = [p.text for p in Document(io.BytesIO(r.content)).paragraphs]
    assert any(p.startswith("Faktenprüfung – nicht in Ihren Angaben gefunden, bitte prüfen: 14:30 Uhr")
               and "38,5 °C" in p for p in paragraphs), paragraphs
    r = await anna.post("/api/apps/elternbrief/document", json={"output": "Alles gefunden."})
    assert not any(p.text.startswith("Faktenprüfung") for p in Document(io.BytesIO(r.content)).paragraphs)
    too_many = await anna.post("/api/apps/elternbrief/document",
                               json={"output": "x", "unverified": [{"text": "1"}] * 201})
    assert too_many.status_code == 422 and too_many.json()["error"]["param"] == "unverified"


async def test_a_letter_in_arabic_comes_back_with_its_language_and_is_set_right_to_left(box) -> None:
    anna = box["anna"]
    run = (await anna.post("/api/apps/elternbrief/run", json={"inputs": {**EXAMPLE, "sprache": "Arabisch"}})).json()
    assert run["language"] == "Arabisch"  # the chosen "Zweite Sprache", for the Word document
    assert (await anna.post("/api/apps/elternbrief/run", json={"inputs": EXAMPLE})).json()["language"] == "Ukrainisch"
    plain = (await anna.post("/api/apps/zusammenfassen/run", json={"inputs": {"text": "Ein langer Text."}})).json()
    assert "language" not in plain
    letter = "## Deutsch\n\nLiebe Eltern\n\n## Übersetzung\n\nأعزاءنا الآباء"
    for language, rtl in (("Arabisch", True), (None, True), ("Türkisch", False)):
        r = await anna.post("/api/apps/elternbrief/document", json={"output": letter, "language": language})
        assert r.status_code == 200, r.text
        german, other = Document(io.BytesIO(r.content)).tables[0].rows[0].cells
        assert ("<w:bidi/>" in other._tc.xml) is rtl and "<w:bidi/>" not in german._tc.xml
    r = await anna.post("/api/apps/elternbrief/document", json={"output": letter, "language": "x" * 121})
    assert r.status_code == 422


async def test_one_stored_app_that_no_longer_validates_does_not_hide_the_catalogue(box) -> None:
    """Rules may change after an app was saved: that app is left out (and says why), the rest stay."""
    otto, anna = box["otto"], box["anna"]
    assert (await otto.post("/api/apps", json=MINIMAL)).status_code == 201
    assert (await otto.post(f"/api/apps/{MINIMAL['id']}/publish")).status_code == 200
    store = otto._transport.app.state.services.apps.store
    with store.engine.begin() as c:  # as if saved under older rules: a field type that no longer exists
        c.exec_driver_sql("INSERT INTO apps (id, origin, latest_version, published_version, edited, created_by,"
                          " created_at, updated_at) VALUES ('alt', 'local', 1, 1, 1, 'otto', '2025-01-01',"
                          " '2025-01-01')")
        c.exec_driver_sql("INSERT INTO app_versions (app_id, version, spec, saved_by, saved_at, note) VALUES"
                          " ('alt', 1, '{\"id\": \"alt\", \"inputs\": [{\"type\": \"hologram\"}]}', 'otto',"
                          " '2025-01-01', 'alt')")
    for who in (anna, otto):
        r = await who.get("/api/apps")
        assert r.status_code == 200 and MINIMAL["id"] in [a["id"] for a in r.json()["apps"]]
        assert "alt" not in [a["id"] for a in r.json()["apps"]]
    r = await otto.get("/api/apps/alt")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_app"


async def test_a_demo_model_says_so_on_every_draft_its_word_file_and_the_chat(settings, fake_engines) -> None:
    from appliance.chat.service import DEMO_NOTICE
    from models.catalog import load_catalog

    catalog = load_catalog()
    fake_engines.entries = {"fake-chat": catalog.get("qwen2.5-coder-1.5b-instruct-q4_k_m")}  # a demo model
    app, clients = await _box(settings, fake_engines)
    anna = clients["anna"]
    body = (await anna.post("/api/apps/elternbrief/run", json={"inputs": EXAMPLE})).json()
    assert body["demo_notice"] == DEMO_NOTICE[0] == ("Demo-Modell – für echte Einträge lässt die IT ein größeres"
                                                     " Modell einspielen.")
    r = await anna.post("/api/apps/elternbrief/document", json={"output": body["output"]})
    assert DEMO_NOTICE[0] in [p.text for p in Document(io.BytesIO(r.content)).paragraphs]
    assert app.state.services.chat.demo_notice(None, "en") == DEMO_NOTICE[1]

    fake_engines.entries = {"fake-chat": catalog.get("qwen2.5-7b-instruct-q4_k_m")}  # a production model
    body = (await anna.post("/api/apps/elternbrief/run", json={"inputs": EXAMPLE})).json()
    assert "demo_notice" not in body and app.state.services.chat.demo_notice(None) == ""
    r = await anna.post("/api/apps/elternbrief/document", json={"output": body["output"]})
    assert DEMO_NOTICE[0] not in [p.text for p in Document(io.BytesIO(r.content)).paragraphs]
    for c in clients.values():
        await c.aclose()


async def test_an_author_runs_the_test_cases_of_an_unsaved_app(box) -> None:
    otto, anna = box["otto"], box["anna"]
    app = {**MINIMAL, "cases": [
        {"name": "Tausch im Juni", "inputs": {"datum": "2026-06-12", "grund": "Arzttermin"},
         "expect": {"facts": ["12.06.2026", "Arzttermin"], "absent": ["Krankheit"]}},
        {"name": "Nur ein Datum", "inputs": {"datum": "2026-07-01"}, "expect": {"facts": ["01.07.2026", "Urlaub"]}}]}
    r = await otto.post("/api/apps/check", json={"app": app})
    assert r.status_code == 200, r.text
    report = r.json()
    [result] = report["apps"]
    assert report["model"] == "fake-chat"
    assert [c["case"] for c in result["cases"]] == ["Tausch im Juni", "Nur ein Datum"]
    first, second = (c["score"] for c in result["cases"])
    assert first["facts_found"] == ["12.06.2026", "Arzttermin"] and first["facts_missing"] == []  # the echo has them
    assert second["facts_missing"] == ["Urlaub"]  # not in the input, so not in the echo either
    assert result["summary"]["facts_found"] == 3 and result["summary"]["facts_total"] == 4
    assert (await anna.post("/api/apps/check", json={"app": app})).status_code == 403
    r = await otto.post("/api/apps/check", json={"app": MINIMAL})
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_cases"
    assert r.json()["error"]["message"].startswith("Diese App hat noch keine Testfälle")
    r = await otto.post("/api/apps/check", json={"app": app, "model": "gibt-es-nicht"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "model"
    r = await otto.post("/api/apps/check", json={"app": {**app, "cases": [{"name": "xy", "inputs": {"nope": 1}}]}})
    assert r.status_code == 422 and "Testfall 1 nennt Felder" in r.text


async def test_an_app_the_model_writes_unreliably_says_so(box, tmp_path, monkeypatch) -> None:
    from appliance.apps import grades

    measured = tmp_path / "grades.json"
    measured.write_text(json.dumps({"fake-chat": {"elternbrief": "ungeeignet", "aushang": "geeignet"},
                                    "other-model": {"zusammenfassen": "ungeeignet"}}))
    monkeypatch.setattr(grades, "GRADES_FILE", measured)
    grades._recorded.cache_clear()
    try:
        apps = {a["id"]: a for a in (await box["anna"].get("/api/apps")).json()["apps"]}
        assert apps["elternbrief"]["weak"] == "ungeeignet"
        assert apps["aushang"]["weak"] is None and apps["zusammenfassen"]["weak"] is None  # another model's
        assert (await box["anna"].get("/api/apps/elternbrief")).json()["meta"]["weak"] == "ungeeignet"
    finally:
        grades._recorded.cache_clear()
