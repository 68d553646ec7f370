"""Files that once made the service fail with 500 (issue 'Security and robustness', item 8): a Word
export of text with control characters, a logo that claims billions of pixels."""

from __future__ import annotations

import io
import struct
import zlib

import httpx
import pytest
from docx import Document

from appliance.server import create_app


@pytest.fixture
async def lea(settings, fake_engines):
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("lea", "facility_admin", "geheim123")
    key, _ = app.state.services.accounts.create_key("lea")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


async def test_a_word_export_of_text_with_control_characters_works(lea) -> None:
    text = "Liebe Eltern,\x00 am\x0b Montag\x1f ist Elternabend.\ufffe\n\n- Tabelle\x07"
    r = await lea.post("/api/apps/zusammenfassen/document", json={"output": text})
    assert r.status_code == 200, r.text
    body = "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)
    assert "am Montag ist Elternabend." in body and "\x00" not in body


def _png(width: int, height: int) -> bytes:
    """A valid PNG header claiming these dimensions, with one tiny compressed row: a few hundred bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + data


@pytest.mark.parametrize(("width", "height"), [(100_000, 100_000), (5000, 10)])
async def test_a_logo_claiming_too_many_pixels_is_refused_clearly(lea, width, height) -> None:
    r = await lea.put("/api/admin/branding/logo", files={"file": ("logo.png", _png(width, height), "image/png")})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "image_too_large" and "Bildpunkte" in r.json()["error"]["message"]
    assert (await lea.get("/api/admin/branding")).json()["logo"] is None  # nothing was stored
