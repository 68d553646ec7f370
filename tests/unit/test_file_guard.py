"""Only files uploaded to this box reach a Gradio handler (issue 'Security and robustness', item 1):
a call that names a server file, a FIFO or an address as a file is refused before Gradio reads it."""

from __future__ import annotations

import os
import stat

import httpx
import pytest

from appliance.server import create_app
from ui.file_guard import upload_folder


@pytest.fixture
async def signed_in(settings, fake_engines):
    app = create_app(settings, engines=fake_engines)
    app.state.services.accounts.add("lea", "facility_admin", "geheim123")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as client:
        await client.post("/login", data={"name": "lea", "password": "geheim123"})
        yield client


def call(path: str, url: str | None = None) -> dict:
    return {"data": [None, {"path": path, "url": url, "orig_name": "x.pdf", "meta": {"_type": "gradio.FileData"}}],
            "fn_index": 0, "trigger_id": 1, "session_hash": "abc123"}


@pytest.mark.parametrize(("path", "url"), [
    ("/etc/passwd", None),
    ("/dev/zero", None),
    ("https://example.org/boese.pdf", None),
    (str(upload_folder() / ".." / ".." / "etc" / "hostname"), None),
])
async def test_a_file_that_is_no_upload_is_refused(signed_in, path, url) -> None:
    r = await signed_in.post("/gradio_api/queue/join", json=call(path, url))
    assert r.status_code == 400 and "abgelehnt" in r.json()["error"]


async def test_a_fifo_in_the_upload_folder_and_a_foreign_url_are_refused(signed_in, tmp_path) -> None:
    folder = upload_folder()
    fifo = folder / f"guard-test-{os.getpid()}.pipe"
    os.mkfifo(fifo)
    try:
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        r = await signed_in.post("/gradio_api/queue/join", json=call(str(fifo)))
        assert r.status_code == 400
    finally:
        fifo.unlink()
    real = folder / f"guard-test-{os.getpid()}.txt"
    real.write_text("hochgeladen")
    try:
        r = await signed_in.post("/gradio_api/queue/join", json=call(str(real), "https://example.org/x"))
        assert r.status_code == 400
        r = await signed_in.post("/gradio_api/queue/join", json=call(str(real), f"http://box/gradio_api/file={real}"))
        assert r.status_code != 400  # an upload of this box goes on to Gradio
    finally:
        real.unlink()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700  # the upload folder is the service's alone


async def _signed_in_as(app, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box")
    assert (await client.post("/login", data={"name": name, "password": "geheim123"})).status_code == 303
    return client


async def test_an_upload_belongs_to_its_session_and_the_cache_is_bounded(settings, fake_engines) -> None:
    settings.ui.uploads_per_session_mb = 1
    app = create_app(settings, engines=fake_engines)
    for name in ("anna", "bert"):
        app.state.services.accounts.add(name, "staff", "geheim123")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as nobody:
        r = await nobody.post("/gradio_api/upload", files={"files": ("Bericht.txt", b"Frau M. ...")})
        assert r.status_code == 401  # refused before the file is read
    anna, bert = await _signed_in_as(app, "anna"), await _signed_in_as(app, "bert")
    try:
        r = await anna.post("/gradio_api/upload", files={"files": ("Bericht.txt", b"Frau M. hatte Fieber.")})
        assert r.status_code == 200, r.text
        uploaded = r.json()[0]
        assert (await bert.post("/gradio_api/queue/join", json=call(uploaded))).status_code == 400  # not his
        assert (await anna.post("/gradio_api/queue/join", json=call(uploaded))).status_code != 400
        big = b"x" * (700 * 1024)
        assert (await anna.post("/gradio_api/upload", files={"files": ("a.txt", big)})).status_code == 200
        r = await anna.post("/gradio_api/upload", files={"files": ("b.txt", big)})
        assert r.status_code == 413 and "je Anmeldung" in r.json()["error"]  # her share of the cache is used
        assert (await bert.post("/gradio_api/upload", files={"files": ("c.txt", big)})).status_code == 200
        # Gradio's cleaning (every 10 minutes, files older than ui.upload_cache_minutes) takes the uploads
        from gradio.route_utils import delete_files_created_by_app

        blocks = next(r.app.blocks for r in app.routes if getattr(getattr(r, "app", None), "blocks", None))
        assert blocks.delete_cache == (600, 3600)
        delete_files_created_by_app(blocks, age=None)
        assert not os.path.exists(uploaded)
        assert (await anna.post("/gradio_api/upload", files={"files": ("b.txt", big)})).status_code == 200
    finally:
        await anna.aclose()
        await bert.aclose()


async def test_a_full_upload_cache_answers_503(settings, fake_engines) -> None:
    settings.ui.upload_cache_mb = 16
    app = create_app(settings, engines=fake_engines)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    anna = await _signed_in_as(app, "anna")
    filler = upload_folder() / f"guard-fill-{os.getpid()}.bin"
    filler.write_bytes(b"\0" * (17 * 1024 * 1024))
    try:
        r = await anna.post("/gradio_api/upload", files={"files": ("a.txt", b"Hallo")})
        assert r.status_code == 503 and "voll" in r.json()["error"]
    finally:
        filler.unlink()
        await anna.aclose()
