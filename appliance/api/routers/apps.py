"""App routes: catalogue, runs (streamed or not), builder (save, publish, versions), exchange."""

from __future__ import annotations

import json
import unicodedata
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from appliance.api import streaming
from appliance.api.deps import AppsDep, CaseCheckDep, PrincipalDep
from appliance.api.forms import UploadFile as FormFile
from appliance.api.forms import is_multipart, read_form, text_field
from appliance.apps.files import FileInput
from appliance.infra.errors import ApiError

router = APIRouter(prefix="/api", tags=["apps"])


def attachment(name: str) -> str:
    """A download's file name: ASCII for old clients, UTF-8 (RFC 6266) for umlauts and other scripts."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or "download"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"


class RunRequest(BaseModel):
    inputs: dict[str, Any] = Field(default_factory=dict, description="Field name: value. A document for a file"
                                   " field as {filename, content_base64}, or as a multipart file of that name.")
    stream: bool = False
    draft: bool = Field(False, description="Authors: run the newest saved version, not the published one.")


MAX_FILES = 8


async def run_request(request: Request) -> RunRequest:
    """The run's body as JSON, or as multipart/form-data: the fields ``inputs`` (JSON), ``stream`` and
    ``draft``, and each document as a file named like its field. Files stay in memory."""
    try:
        if not is_multipart(request):
            return RunRequest.model_validate_json(await request.body())
        form = await read_form(request, param="inputs", max_files=MAX_FILES)
        raw = text_field(form, "inputs")
        try:
            inputs = json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(422, "Feld 'inputs' ist kein gültiges JSON.", "Field 'inputs' is not valid JSON.",
                           code="invalid_value", param="inputs") from None
        body = RunRequest.model_validate({"inputs": inputs, "stream": text_field(form, "stream") or False,
                                          "draft": text_field(form, "draft") or False})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    for name, value in form.items():
        if isinstance(value, FormFile):
            body.inputs[name] = FileInput(value.filename or name, await value.read())
            await value.close()
    return body


class PreviewRequest(BaseModel):
    app: dict[str, Any] = Field(description="An app definition that need not be saved (the builder's try-out).")
    inputs: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False


class UnverifiedItem(BaseModel):
    """One item of a run's fact check (its ``unverified`` list), as the run answered it."""

    model_config = ConfigDict(extra="ignore")

    text: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Annotated[str, Field(max_length=32)] = ""


class DocumentRequest(BaseModel):
    output: Annotated[str, Field(min_length=1, max_length=200_000)]
    draft: bool = False
    language: Annotated[str | None, Field(max_length=120, description="the run's \"language\" (e.g. Arabisch):"
                                          " a letter in Arabic, Farsi, ... is set right to left")] = None
    unverified: Annotated[list[UnverifiedItem], Field(max_length=200, description="the run's fact check: noted in"
                                                      " the document")] = []


class Visibility(BaseModel):
    enabled: bool


@router.get("/apps")
def list_apps(apps: AppsDep, who: PrincipalDep) -> dict[str, Any]:
    return {"apps": apps.list(who)}


@router.post("/apps", status_code=201)
def create_app(apps: AppsDep, who: PrincipalDep, body: Annotated[Any, Body()]) -> dict[str, Any]:
    return apps.create(who, body)


@router.post("/apps/import", status_code=201)
def import_app(apps: AppsDep, who: PrincipalDep, response: Response, file: Annotated[UploadFile, File()],
                     mode: Annotated[str | None, Form()] = None) -> dict[str, Any]:
    """201 when a new app arrived (imported, copied), 200 when an existing one was updated or unchanged."""
    result = apps.import_(who, file.file.read(), mode or None)
    if result["result"] not in ("imported", "copied"):
        response.status_code = 200
    return result


@router.post("/apps/preview", response_model=None)
async def preview(body: PreviewRequest, apps: AppsDep, who: PrincipalDep,
                  request: Request) -> dict[str, Any] | StreamingResponse:
    answer = await apps.preview(who, body.app, body.inputs)
    return await streaming.answer(request, answer, body.stream)


class CheckRequest(BaseModel):
    app: dict[str, Any] = Field(description="An app definition with its test cases (cases); need not be saved.")
    model: str | None = Field(None, max_length=100, description="Chat model; default: the app's, else the box's.")


@router.post("/apps/check")
async def check_cases(body: CheckRequest, cases: CaseCheckDep, who: PrincipalDep) -> dict[str, Any]:
    """Run an app's test cases and score them (as ``appliance models check``); authors only."""
    return await cases.run(who, body.app, body.model)


@router.get("/apps/{app_id}")
def get_app(app_id: str, apps: AppsDep, who: PrincipalDep,
                  draft: Annotated[bool, Query()] = False) -> dict[str, Any]:
    return apps.get(who, app_id, draft)


@router.put("/apps/{app_id}")
def update_app(app_id: str, apps: AppsDep, who: PrincipalDep, body: Annotated[Any, Body()]) -> dict[str, Any]:
    return apps.update(who, app_id, body)


@router.post("/apps/{app_id}/publish")
def publish_app(app_id: str, apps: AppsDep, who: PrincipalDep) -> dict[str, Any]:
    return apps.publish(who, app_id)


@router.get("/apps/{app_id}/versions")
def versions(app_id: str, apps: AppsDep, who: PrincipalDep) -> dict[str, Any]:
    return {"versions": apps.versions(who, app_id)}


@router.get("/apps/{app_id}/versions/{version}")
def version(app_id: str, version: int, apps: AppsDep, who: PrincipalDep) -> dict[str, Any]:
    return apps.version(who, app_id, version)


@router.post("/apps/{app_id}/versions/{version}/restore")
def restore(app_id: str, version: int, apps: AppsDep, who: PrincipalDep) -> dict[str, Any]:
    return apps.restore(who, app_id, version)


@router.get("/apps/{app_id}/export")
def export_app(app_id: str, apps: AppsDep, who: PrincipalDep) -> Response:
    name, text = apps.export(who, app_id)
    return Response(text, media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": attachment(name)})


RUN_BODY = {"requestBody": {"content": {"application/json": {"schema": RunRequest.model_json_schema()},
                                        "multipart/form-data": {}}}}


@router.post("/apps/{app_id}/run", response_model=None, openapi_extra=RUN_BODY)
async def run_app(app_id: str, apps: AppsDep, who: PrincipalDep,
                  request: Request) -> dict[str, Any] | StreamingResponse:
    body = await run_request(request)
    answer = await apps.run(who, app_id, body.inputs, body.draft)
    return await streaming.answer(request, answer, body.stream)


@router.post("/apps/{app_id}/document")
async def document(app_id: str, body: DocumentRequest, apps: AppsDep, who: PrincipalDep) -> Response:
    """A generated text as a Word document with the facility's letterhead and the AI-draft mark."""
    name, data = await run_in_threadpool(apps.document, who, app_id, body.output, body.draft,
                                         body.language, [item.model_dump() for item in body.unverified])
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                    headers={"Content-Disposition": attachment(name)})


@router.put("/admin/apps/{app_id}")
def set_visibility(app_id: str, body: Visibility, apps: AppsDep, who: PrincipalDep) -> dict[str, Any]:
    return apps.set_enabled(who, app_id, body.enabled)


@router.get("/admin/usage", response_model=None)
def usage(apps: AppsDep, who: PrincipalDep, days: Annotated[int, Query(ge=1, le=366)] = 30,
                format: Annotated[str, Query(pattern="^(json|csv)$")] = "json") -> dict[str, Any] | Response:
    rows = apps.usage(who, days)
    if format == "csv":
        lines = ["app;day;runs", *(f"{r['app']};{r['day']};{r['runs']}" for r in rows)]
        return Response("\n".join(lines) + "\n", media_type="text/csv; charset=utf-8")
    return {"usage": rows}
