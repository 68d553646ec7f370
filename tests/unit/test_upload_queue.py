"""The upload queue is bounded (issue 'Security and robustness', item 2): each waiting upload holds
its file in memory, so beyond the limit an upload answers 503 with Retry-After, and nothing is lost."""

from __future__ import annotations

import threading

import httpx
import pytest

from appliance.infra.jobs import Jobs, QueueFull
from appliance.server import create_app

PLAN = ("Plan.md", "# Plan\n\nHände waschen.\n".encode(), "text/markdown")


def test_jobs_beyond_the_limit_are_refused_until_one_is_done() -> None:
    jobs = Jobs(max_waiting=2)
    go = threading.Event()
    first = jobs.submit("x", 1, lambda job: {"ok": go.wait(30)}, lambda exc: {})
    jobs.submit("x", 1, lambda job: {}, lambda exc: {})
    with pytest.raises(QueueFull) as full:
        jobs.submit("x", 1, lambda job: {}, lambda exc: {})
    assert full.value.waiting == 2
    go.set()
    jobs.wait_idle()
    assert first.status == "done"
    assert jobs.submit("x", 1, lambda job: {}, lambda exc: {}).id  # room again
    jobs.shutdown()


async def test_an_upload_beyond_the_queue_answers_503_and_the_others_go_in(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    services = app.state.services
    services.accounts.add("lea", "facility_admin", "geheim123")
    key, _ = services.accounts.create_key("lea")
    jobs = services.handbooks.jobs
    jobs.max_waiting = 2
    go = threading.Event()
    jobs.submit("hold", 0, lambda job: {"ok": go.wait(30)}, lambda exc: {})  # keeps the worker busy
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as lea:
        first = await lea.post("/api/collections/Hygiene/documents", files={"file": PLAN})
        assert first.status_code == 202
        r = await lea.post("/api/collections/Hygiene/documents", files={"file": ("Zwei.md", b"# Zwei\n\nText.\n")})
        assert r.status_code == 503 and r.headers["retry-after"] == "60"
        assert r.json()["error"]["code"] == "queue_full" and "erneut hochladen" in r.json()["error"]["message"]
        go.set()
        jobs.wait_idle()
        assert (await lea.get(f"/api/jobs/{first.json()['job']['id']}")).json()["job"]["status"] == "done"
        assert (await lea.post("/api/collections/Hygiene/documents", files={"file": ("Zwei.md", b"# Zwei\n\nText.\n")})
                ).status_code == 202
    services.close()
