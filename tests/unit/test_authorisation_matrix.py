"""The authorisation matrix, generated from the app's own route table: every route, every role, no
key and a wrong key. A route without a decision below fails the test, so none is added by accident.

A decision names who may use a route: ``PUBLIC`` (no sign-in), ``SIGNED_IN`` (every role), or a set
of roles; the others get ``denied`` (403, or 404 where the thing is hidden from them, as an app not
offered to their role). Each route gets a request that would succeed for an allowed role, so a
refusal is the role decision and not a validation error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from appliance.people.accounts import Role
from appliance.server import create_app
from tests.support.apps import MINIMAL
from tests.support.speech import tone, wav_bytes

PUBLIC = "public"
SIGNED_IN = "signed in"
ROLES = [r.value for r in Role]
MANAGERS = {"facility_admin", "it_admin"}
AUTHORS = {"app_author", "facility_admin"}
AUDIENCE = {"staff", "app_author", "facility_admin"}  # the built-in 'zusammenfassen' (admins see every app)
FILE = ("Plan.md", "# Hygieneplan\n\nHände waschen vor jedem Kontakt.\n".encode(), "text/markdown")
NEW_IDS = (f"neue-app-{n}" for n in itertools.count())


@dataclass
class Decision:
    who: str | set[str]
    request: Callable[[dict], dict[str, Any]] = field(default=lambda ctx: {})
    denied: int = 403


def _new_app(ctx: dict) -> dict:
    return {"json": {**MINIMAL, "id": next(NEW_IDS)}}


def _import(ctx: dict) -> dict:
    from appliance.apps.spec import parse_spec

    yaml = parse_spec({**MINIMAL, "id": next(NEW_IDS), "version": 1}).to_yaml()
    return {"files": {"file": ("app.yaml", yaml.encode(), "application/yaml")}}


SUMMARY = {"inputs": {"text": "Die Sommerfahrt ist am 12. Juni.", "laenge": "drei Sätze"}}
DECISIONS: dict[tuple[str, str], Decision] = {
    ("GET", "/healthz"): Decision(PUBLIC),
    ("GET", "/readyz"): Decision(PUBLIC),
    ("GET", "/api/branding/logo"): Decision(PUBLIC),  # the sign-in page shows it
    ("GET", "/login"): Decision(PUBLIC),
    ("POST", "/login"): Decision(PUBLIC, lambda ctx: {"data": {"name": "konto-staff", "password": "geheim123"}}),
    ("GET", "/setup"): Decision(PUBLIC),
    ("POST", "/setup"): Decision(PUBLIC),  # only while no account exists; then it leads to /login
    ("GET", "/logout"): Decision(PUBLIC),
    ("GET", "/lang/{code}"): Decision(PUBLIC),
    ("GET", "/interpreter"): Decision(PUBLIC),  # leads to /login without a session
    ("WS", "/api/interpret"): Decision(SIGNED_IN),
    ("GET", "/v1/models"): Decision(SIGNED_IN),
    ("POST", "/v1/chat/completions"): Decision(
        SIGNED_IN, lambda ctx: {"json": {"messages": [{"role": "user", "content": "Hallo"}]}}),
    ("POST", "/v1/embeddings"): Decision(SIGNED_IN, lambda ctx: {"json": {"input": "Hallo"}}),
    ("POST", "/v1/audio/transcriptions"): Decision(
        SIGNED_IN, lambda ctx: {"files": {"file": ("a.wav", wav_bytes(tone(0.5)), "audio/wav")}}),
    ("GET", "/api/interpret/languages"): Decision(SIGNED_IN),
    ("POST", "/api/speech/say"): Decision(SIGNED_IN, lambda ctx: {"json": {"text": "Hallo", "language": "de"}}),
    ("GET", "/api/collections"): Decision(SIGNED_IN),
    ("POST", "/api/collections"): Decision(MANAGERS, lambda ctx: {"json": {"name": "Alle"}}),
    ("PUT", "/api/collections/{collection}"): Decision(MANAGERS, lambda ctx: {"json": {"roles": []}}),
    ("GET", "/api/collections/{collection}/documents"): Decision(SIGNED_IN),
    ("POST", "/api/collections/{collection}/documents"): Decision(MANAGERS, lambda ctx: {"files": {"file": FILE}}),
    ("GET", "/api/jobs"): Decision(SIGNED_IN),  # each their own jobs; managers all
    ("GET", "/api/jobs/{job_id}"): Decision(MANAGERS, denied=404),  # and whoever uploaded it
    ("GET", "/api/collections/{collection}/documents/{document_id}/file"): Decision(SIGNED_IN),
    ("DELETE", "/api/collections/{collection}/documents/{document_id}"): Decision(MANAGERS),
    ("POST", "/api/collections/{collection}/search"): Decision(SIGNED_IN, lambda ctx: {"json": {"query": "Hände"}}),
    ("POST", "/api/collections/{collection}/ask"): Decision(
        SIGNED_IN, lambda ctx: {"json": {"question": "Wann Hände waschen?"}}),
    ("GET", "/api/apps"): Decision(SIGNED_IN),
    ("POST", "/api/apps"): Decision(AUTHORS, _new_app),
    ("POST", "/api/apps/import"): Decision(AUTHORS, _import),
    ("POST", "/api/apps/preview"): Decision(AUTHORS, lambda ctx: {"json": {"app": MINIMAL,
                                                                           "inputs": {"datum": "2026-06-12"}}}),
    ("POST", "/api/apps/check"): Decision(AUTHORS, lambda ctx: {"json": {"app": {**MINIMAL, "cases": [
        {"name": "Frühdienst", "inputs": {"datum": "2026-06-12"}, "expect": {"facts": ["12.06.2026"]}}]}}}),
    ("GET", "/api/apps/{app_id}"): Decision(AUDIENCE, denied=404),
    ("POST", "/api/apps/{app_id}/run"): Decision(AUDIENCE, lambda ctx: {"json": SUMMARY}, denied=404),
    ("POST", "/api/apps/{app_id}/document"): Decision(AUDIENCE, lambda ctx: {"json": {"output": "Entwurf"}},
                                                      denied=404),
    ("GET", "/api/apps/{app_id}/export"): Decision(AUTHORS),
    ("PUT", "/api/apps/{app_id}"): Decision(AUTHORS, lambda ctx: {"json": {**MINIMAL, "id": ctx["own_app"]}}),
    ("POST", "/api/apps/{app_id}/publish"): Decision(AUTHORS),
    ("GET", "/api/apps/{app_id}/versions"): Decision(AUTHORS),
    ("GET", "/api/apps/{app_id}/versions/{version}"): Decision(AUTHORS),
    ("POST", "/api/apps/{app_id}/versions/{version}/restore"): Decision(AUTHORS),
    ("PUT", "/api/admin/apps/{app_id}"): Decision({"facility_admin"}, lambda ctx: {"json": {"enabled": True}}),
    ("GET", "/api/admin/usage"): Decision({"facility_admin", "dpo"}),
    ("GET", "/api/admin/branding"): Decision(MANAGERS),
    ("PUT", "/api/admin/branding"): Decision({"facility_admin"}, lambda ctx: {"json": {"name": "Haus Abendrot"}}),
    ("PUT", "/api/admin/branding/logo"): Decision({"facility_admin"}, lambda ctx: {"files": {"file": ctx["logo"]}}),
}
# unknown /v1 and /api paths answer in the error envelope (404/405), whoever asks
FALLBACKS = {"/v1/{rest:path}", "/api/{rest:path}"}


def routes(app) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, through included routers."""
    def walk(items):
        for route in items:
            if type(route).__name__ == "_IncludedRouter":
                yield from walk(route.original_router.routes)
            elif isinstance(route, APIWebSocketRoute):
                yield "WS", route.path
            elif isinstance(route, APIRoute) and route.path not in FALLBACKS:
                for method in sorted(route.methods - {"HEAD"}):
                    yield method, route.path

    yield from walk(app.routes)


def _png() -> tuple[str, bytes, str]:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "#1f5f8b").save(buffer, "PNG")
    return "logo.png", buffer.getvalue(), "image/png"


@pytest.fixture
async def site(settings, fake_engines):
    app = create_app(settings, engines=fake_engines)
    services = app.state.services
    keys = {}
    for role in ROLES:
        services.accounts.add(f"konto-{role}", role, "geheim123")
        keys[role], _ = services.accounts.create_key(f"konto-{role}")
    admin = services.accounts.principal_for_key(keys["facility_admin"])
    author = services.accounts.principal_for_key(keys["app_author"])
    job = services.handbooks.upload(admin, "Alle", *FILE[:2])
    services.handbooks.jobs.wait_idle()
    document = job.result["document"]["id"]
    services.apps.create(author, {**MINIMAL, "id": "eigene-app"})
    ctx = {"own_app": "eigene-app", "logo": _png()}
    params = {"collection": "Alle", "document_id": document, "job_id": job.id, "version": "1", "code": "en"}
    yield app, keys, ctx, params
    services.close()


def _path(method: str, path: str, params: dict) -> str:
    own = method != "GET" or "/versions" in path or "/export" in path
    app_id = "eigene-app" if own and not path.endswith(("/run", "/document")) else "zusammenfassen"
    return path.format(**{**params, "app_id": app_id})


def test_every_route_has_a_decision(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines)
    found = set(routes(app))
    missing = sorted(found - set(DECISIONS))
    assert not missing, f"routes without an authorisation decision in this test: {missing}"
    assert not sorted(set(DECISIONS) - found), "decisions for routes that no longer exist"
    app.state.services.close()


async def test_every_route_answers_each_role_as_decided(site) -> None:
    app, keys, ctx, params = site
    transport = httpx.ASGITransport(app=app)
    wrong = {"Authorization": "Bearer sk-box-falsch"}
    problems = []
    async with httpx.AsyncClient(transport=transport, base_url="http://box") as client:
        for (method, path), decision in DECISIONS.items():
            if method == "WS":
                continue
            url = _path(method, path, params)
            if decision.who != PUBLIC:
                for headers in ({}, wrong):
                    r = await client.request(method, url, headers=headers, **decision.request(ctx))
                    if r.status_code != 401:
                        problems.append((method, path, "no or wrong key", r.status_code))
            for role in ROLES if decision.who != PUBLIC else []:
                allowed = decision.who == SIGNED_IN or role in decision.who
                r = await client.request(method, url, headers={"Authorization": f"Bearer {keys[role]}"},
                                         **decision.request(ctx))
                if r.status_code >= 500 or (allowed and r.status_code in (401, 403, decision.denied)) or (
                        not allowed and r.status_code != decision.denied):
                    problems.append((method, path, role, r.status_code, r.text[:120]))
            if decision.who == PUBLIC:
                r = await client.request(method, url, **decision.request(ctx))
                if r.status_code in (401, 403) or r.status_code >= 500:
                    problems.append((method, path, "anonymous", r.status_code))
    assert not problems, "\n".join(map(str, problems))


def test_the_interpreter_socket_needs_a_sign_in(site) -> None:
    app, keys, _, _ = site
    client = TestClient(app)
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/api/interpret") as ws:
        ws.receive_json()
    assert closed.value.code == 1008
    with client.websocket_connect("/api/interpret", headers={"Authorization": f"Bearer {keys['staff']}"}) as ws:
        assert ws.receive_json()["type"] == "ready"
