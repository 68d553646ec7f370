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


async def test_an_html_handbook_never_runs_on_the_box_origin(settings, fake_engines) -> None:
    """An HTML original could carry script that would run with a person's session: it is a download
    and sandboxed; a PDF and plain text still open in the browser."""
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    services = app.state.services
    services.accounts.add("lea", "facility_admin", "geheim123")
    key, _ = services.accounts.create_key("lea")
    page = b"<html><body><h1>Plan</h1><p>Haende waschen.</p><script>fetch('/api/admin/branding')</script></body></html>"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        ids = {}
        for name, body, media in (("Plan.html", page, "text/html"), ("Plan.txt", b"Haende waschen.", "text/plain")):
            r = await api.post("/api/collections/Hygiene/documents", files={"file": (name, body, media)})
            services.handbooks.jobs.wait_idle()
            job = (await api.get(f"/api/jobs/{r.json()['job']['id']}")).json()["job"]
            ids[name] = job["result"]["document"]["id"]
        html = await api.get(f"/api/collections/Hygiene/documents/{ids['Plan.html']}/file")
        text = await api.get(f"/api/collections/Hygiene/documents/{ids['Plan.txt']}/file")
    services.close()
    assert html.status_code == 200 and html.content == page
    assert html.headers["content-disposition"].startswith("attachment")
    policy = html.headers["content-security-policy"]
    assert policy.startswith("sandbox") and "script-src" not in policy
    assert text.headers["content-disposition"].startswith("inline")
    assert text.headers["x-content-type-options"] == "nosniff"
