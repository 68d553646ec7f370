"""Handbook routes: collections, uploads (202 with a job), jobs, search, answers with sources."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from appliance.api import streaming
from appliance.api.deps import HandbooksDep, PrincipalDep
from appliance.api.openai_types import Utf8
from appliance.handbooks.service import hit_json

router = APIRouter(prefix="/api", tags=["handbooks"])


class NewCollection(BaseModel):
    name: Utf8
    roles: list[str] = Field(default_factory=list, description="Roles that may read it; empty: everyone.")


class SearchRequest(BaseModel):
    query: Utf8
    k: Annotated[int, Field(ge=1, le=50)] = 5


class AskRequest(BaseModel):
    question: Utf8
    stream: bool = False


@router.get("/collections")
def list_collections(handbooks: HandbooksDep, who: PrincipalDep) -> dict[str, Any]:
    return {"collections": handbooks.collections(who)}


class Roles(BaseModel):
    roles: list[str] = Field(default_factory=list, description="Roles that may read it; empty: everyone.")


@router.post("/collections", status_code=201)
def create_collection(body: NewCollection, handbooks: HandbooksDep, who: PrincipalDep,
                            response: Response) -> dict[str, Any]:
    """201 for a new collection, 200 when it exists already with these roles."""
    collection, new = handbooks.create_collection(who, body.name, body.roles)
    if not new:
        response.status_code = 200
    return collection


@router.put("/collections/{collection}")
def set_roles(collection: str, body: Roles, handbooks: HandbooksDep, who: PrincipalDep) -> dict[str, Any]:
    return handbooks.set_roles(who, collection, body.roles)


@router.get("/collections/{collection}/documents")
def list_documents(collection: str, handbooks: HandbooksDep, who: PrincipalDep) -> dict[str, Any]:
    return {"documents": handbooks.documents(who, collection)}


@router.post("/collections/{collection}/documents", status_code=202)
async def upload(collection: str, handbooks: HandbooksDep, who: PrincipalDep,
                 file: Annotated[UploadFile, File()], title: Annotated[str, Form()] = "") -> JSONResponse:
    data = await file.read()
    job = handbooks.upload(who, collection, file.filename or title, data)
    return JSONResponse({"job": job.public()}, status_code=202, headers={"Location": f"/api/jobs/{job.id}"})


@router.get("/jobs")
def job_list(handbooks: HandbooksDep, who: PrincipalDep) -> dict[str, Any]:
    return {"jobs": [job.public() for job in handbooks.job_list(who)]}


@router.get("/jobs/{job_id}")
def job_status(job_id: str, handbooks: HandbooksDep, who: PrincipalDep) -> dict[str, Any]:
    return {"job": handbooks.job(who, job_id).public()}


@router.delete("/collections/{collection}/documents/{document_id}", status_code=204)
async def delete_document(collection: str, document_id: str, handbooks: HandbooksDep, who: PrincipalDep) -> Response:
    await run_in_threadpool(handbooks.delete, who, collection, document_id)
    return Response(status_code=204)


# what the browser may show itself; anything else (an HTML handbook with its scripts, Markdown, Word,
# EPUB) is a download, and sandboxed too, so it never runs on the box's origin with a person's session
SHOWN_INLINE = {"application/pdf", "text/plain"}
SANDBOX = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@router.get("/collections/{collection}/documents/{document_id}/file")
def original(collection: str, document_id: str, handbooks: HandbooksDep, who: PrincipalDep) -> FileResponse:
    """The original file: a PDF (opens at #page=N) or plain text in the browser, any other as a download."""
    path, info = handbooks.original(who, collection, document_id)
    if info.media_type in SHOWN_INLINE:
        return FileResponse(path, media_type=info.media_type, filename=info.filename,
                            content_disposition_type="inline")
    return FileResponse(path, media_type=info.media_type, filename=info.filename,
                        headers={"Content-Security-Policy": SANDBOX})


@router.post("/collections/{collection}/search")
async def search(collection: str, body: SearchRequest, handbooks: HandbooksDep, who: PrincipalDep) -> dict[str, Any]:
    hits = await run_in_threadpool(handbooks.search, who, collection, body.query, body.k)
    return {"results": [hit_json(h) for h in hits]}


@router.post("/collections/{collection}/ask", response_model=None)
async def ask(collection: str, body: AskRequest, handbooks: HandbooksDep, who: PrincipalDep,
              request: Request) -> dict[str, Any] | StreamingResponse:
    answer = await handbooks.answer(who, collection, body.question)
    return await streaming.answer(request, answer, body.stream)
