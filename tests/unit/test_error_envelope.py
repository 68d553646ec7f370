"""What fuzzing the API found (tests/integration/test_fuzz_api.py), each kept as a small case."""

from __future__ import annotations

import httpx
import pytest

from appliance.server import create_app

BOUNDARY = "164863e14b39274dd0c53651d7a4091b"


@pytest.fixture
async def admin(settings, fake_engines):
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("konto-admin", "facility_admin", "geheim123")
    key, _ = app.state.services.accounts.create_key("konto-admin")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        client.app = app
        yield client
    app.state.services.close()


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/collections/Alle/documents"),
    ("POST", "/api/apps/import"),
    ("PUT", "/api/admin/branding/logo"),
])
async def test_a_broken_multipart_form_is_a_german_400_with_a_code(admin, method, path) -> None:
    # a part without headers: Starlette's parser raised 'Invalid multipart data' (English, no code)
    body = f"--{BOUNDARY}\r\n-245--{BOUNDARY}--\r\n".encode()
    r = await admin.request(method, path, content=body,
                            headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_body" and error["type"] == "invalid_request_error"
    assert "nicht lesbar" in error["message"]
    english = await admin.request(method, path, content=body, headers={
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}", "Accept-Language": "en"})
    assert "cannot be read" in english.json()["error"]["message"]


def test_the_schema_documents_the_error_envelope_not_fastapis_detail_list(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    schema = app.openapi()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    envelope = schema["components"]["schemas"]["ErrorEnvelope"]
    assert envelope["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert sorted(detail["required"]) == ["code", "message", "param", "type"]
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status in ("4XX", "5XX"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, path)
            assert "422" not in operation["responses"], (method, path)
    app.state.services.close()
