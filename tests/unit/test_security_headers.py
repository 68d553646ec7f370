"""Every answer carries the protective headers (issue 'Security and robustness', item 4): a policy
that lets pages load only from the box itself and never be framed, no MIME sniffing, no referrer."""

from __future__ import annotations

import httpx

from appliance.server import create_app


async def test_pages_api_and_files_all_carry_the_headers(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as client:
        await client.post("/login", data={"name": "anna", "password": "geheim123"})
        answers = [await client.get(path) for path in
                   ("/", "/login", "/interpreter", "/v1/models", "/api/apps", "/healthz", "/api/nothing",
                    "/ui-static/interpret.js")]
    for r in answers:
        policy = r.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, (r.url, r.status_code)
        assert "img-src 'self' data: blob:" in policy  # a Markdown image from another host is not loaded
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"
    assert answers[0].status_code == 200 and answers[6].status_code == 404
