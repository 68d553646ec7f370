"""Liveness and readiness, without authentication (for systemd, load balancers, the installer)."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    state = request.app.state
    if state.engines is not None:
        return JSONResponse({"status": "ready", "models": list(state.engines.entries)})
    body = {"status": "failed" if state.load_error else "loading"}
    if state.load_error:
        body["error"] = state.load_error
    return JSONResponse(body, status_code=503)
