"""Liveness and readiness, without authentication (for systemd, load balancers, the installer)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.routing import Match, Mount

from appliance.api.deps import ModelsDep
from appliance.infra.errors import ApiError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(models: ModelsDep) -> JSONResponse:
    if models.ready:
        return JSONResponse({"status": "ready", "models": list(models.engines.entries)})
    body = {"status": "failed" if models.load_error else "loading"}
    if models.load_error:  # the reason names files of the server: it goes to the log, not to anyone asking
        body["error"] = ("Die Modelle konnten nicht geladen werden; den Grund nennen das Protokoll des Dienstes"
                         " und `appliance doctor`.")
    return JSONResponse(body, status_code=503)


def api_not_found(request: Request) -> None:
    """404 in the envelope, or 405 where the path exists for other methods."""
    path = request.url.path
    allowed = set()
    for route in request.app.router.routes:
        if isinstance(route, Mount) or getattr(route, "original_router", None) is fallback:
            continue  # the web UI at "/" takes every path; the fallback is this route itself
        for method in METHODS:
            match, _ = route.matches({**request.scope, "method": method})
            if match is Match.FULL:
                allowed.add(method)
    if allowed:
        allow = ", ".join(sorted(allowed))
        raise ApiError(405, f"{request.method} ist für {path} nicht erlaubt (erlaubt: {allow}).",
                       f"{request.method} is not allowed for {path} (allowed: {allow}).",
                       code="method_not_allowed", headers={"Allow": allow})
    raise ApiError(404, f"Diese Adresse gibt es in der API nicht: {path}", f"No such API path: {path}",
                   code="not_found")


fallback = APIRouter(include_in_schema=False)
"""Unknown /v1 and /api paths answer in the error envelope, not with the web UI's 404."""
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


@fallback.api_route("/v1/{rest:path}", methods=METHODS)
async def v1_not_found(request: Request) -> None:
    api_not_found(request)


@fallback.api_route("/api/{rest:path}", methods=METHODS)
async def api_path_not_found(request: Request) -> None:
    api_not_found(request)
