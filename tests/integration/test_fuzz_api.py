"""Property-based fuzzing of the service's own OpenAPI schema with schemathesis, against a live server
over the fakes: every operation, with the key of a facility admin (who may do nearly everything) and
without a key.

Checks: never a 5xx; every error in the envelope {"error": {"message", "type", "param", "code"}};
answers that the schema describes conform to it. Bounded and repeatable: a few examples per operation,
derandomised, no example database. No operation is skipped; the one that deletes the site's document
comes last. Not in the schema, so not fuzzed here: the WebSocket /api/interpret and the web UI's pages.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from appliance.apps.spec import AppSpec
from appliance.server import create_app
from tests.support.apps import MINIMAL
from tests.support.server import LiveServer

EXAMPLES = 36  # per operation with a key (random, on the site's real things, schema-invalid: a third each)
STRANGER_EXAMPLES = 12  # per operation without a key or with a wrong one
PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/api/branding/logo")}  # no sign-in by design
# destroys what later operations would be fuzzed on (the one document): fuzzed after all others
LAST = {("DELETE", "/api/collections/{collection}/documents/{document_id}")}
FILE = ("Plan.md", "# Hygieneplan\n\nHände waschen vor jedem Kontakt.\n".encode())
ENVELOPE_KEYS = {"message", "type", "param", "code"}


@schemathesis.check
def error_envelope(ctx, response, case) -> bool | None:
    """Every 4xx and 5xx answer is the error envelope, with a message and a type."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.text[:200]!r}") from None
    assert isinstance(body, dict) and set(body) == {"error"}, f"not the error envelope: {str(body)[:300]}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == ENVELOPE_KEYS, f"envelope keys: {str(error)[:300]}"
    assert isinstance(error["message"], str) and error["message"].strip(), "empty message"
    assert isinstance(error["type"], str) and error["type"], "empty type"
    assert error["param"] is None or isinstance(error["param"], str), "param is not text"
    assert isinstance(error["code"], str) and error["code"], "no code: every error the service makes names one"
    return None


CHECKS = [not_a_server_error, error_envelope, response_schema_conformance]


@pytest.fixture
def site(settings, fake_engines) -> Iterator[dict]:
    """A live server with a facility admin's key, a collection with one document, an own app."""
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    services = app.state.services
    services.accounts.add("konto-admin", "facility_admin", "geheim123")
    key, _ = services.accounts.create_key("konto-admin")
    admin = services.accounts.principal_for_key(key)
    job = services.handbooks.upload(admin, "Alle", *FILE)
    services.handbooks.jobs.wait_idle()
    services.apps.create(admin, {**MINIMAL, "id": "eigene-app"})
    real = {"collection": ["Alle"], "document_id": [job.result["document"]["id"]], "job_id": [job.id],
            "app_id": ["eigene-app", "zusammenfassen"], "version": [1]}  # an own draft, a published built-in
    with LiveServer(app) as server, requests.Session() as http:
        yield {"url": server.url, "key": key, "http": http, "real": real,
               "schema": schemathesis.openapi.from_dict(with_app_shape(app.openapi()))}
    services.close()


def with_app_shape(schema: dict) -> dict:
    """The app routes take any JSON (their errors are German and name the field); here they are given
    the app definition's real shape, so that examples get past the first check into the service."""
    shape = AppSpec.model_json_schema(ref_template="#/components/schemas/{model}")
    schema["components"]["schemas"].update(shape.pop("$defs", {}), AppSpec=shape)
    ref = {"$ref": "#/components/schemas/AppSpec"}
    for method, path in (("post", "/api/apps"), ("put", "/api/apps/{app_id}")):
        schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"] = ref
    schema["components"]["schemas"]["PreviewRequest"]["properties"]["app"] = ref
    return schema


def operations(schema) -> list:
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(found, key=lambda op: (op.method.upper(), op.path) in LAST)


def cases(operation, real: dict) -> st.SearchStrategy:
    """Random values, the site's real ids in the path (so the handler runs), and schema-invalid values."""
    kinds = [operation.as_strategy(GenerationMode.POSITIVE)]
    names = [p.name for p in operation.path_parameters]
    for values in itertools.product(*(real[n] for n in names)) if names else ():
        path = dict(zip(names, values, strict=True))
        kinds.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=path))
    if names or operation.query or operation.body:
        kinds.append(operation.as_strategy(GenerationMode.NEGATIVE))
    return st.one_of(kinds)


def fuzz(site: dict, headers: dict, checks: list, examples: int, only=lambda op: True) -> list[str]:
    """Fuzz every operation; the failures of all of them, one shrunk example each."""
    failures = []
    for operation in operations(site["schema"]):
        if not only(operation):
            continue

        @hypothesis.settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                             suppress_health_check=list(HealthCheck), phases=[hypothesis.Phase.generate,
                                                                              hypothesis.Phase.shrink])
        @given(case=cases(operation, site["real"]))
        def run(case) -> None:
            case.call_and_validate(base_url=site["url"], session=site["http"], headers=headers, checks=checks,
                                   timeout=30)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # one report per operation; the others still run
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    return failures


def test_every_operation_with_an_admin_key(site) -> None:
    failures = fuzz(site, {"Authorization": f"Bearer {site['key']}"}, CHECKS, EXAMPLES)
    assert not failures, "\n\n".join(failures)


@schemathesis.check
def refused_without_key(ctx, response, case) -> bool | None:
    assert response.status_code == 401, f"{response.status_code} without a valid key: {response.text[:200]!r}"
    assert response.json()["error"]["code"] == "invalid_api_key"
    return None


def test_every_operation_without_a_key_is_401_in_the_envelope(site) -> None:
    signed_in = lambda op: (op.method.upper(), op.path) not in PUBLIC  # noqa: E731
    failures = []
    for headers in ({}, {"Authorization": "Bearer sk-box-falsch"}):
        failures += fuzz(site, headers, [not_a_server_error, error_envelope, refused_without_key],
                         STRANGER_EXAMPLES, signed_in)
    assert not failures, "\n\n".join(failures)
