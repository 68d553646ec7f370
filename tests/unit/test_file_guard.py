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
