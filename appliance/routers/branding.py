"""Branding routes: the facility's name, colours, texts and logo."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import FileResponse, Response

from appliance.accounts import Role
from appliance.branding import Branding
from appliance.deps import PrincipalDep
from appliance.errors import ApiError

router = APIRouter(prefix="/api", tags=["branding"])


def _admin(who) -> None:
    if who.role is not Role.facility_admin:
        raise ApiError(403, "Das Erscheinungsbild legt die Einrichtungsleitung fest.",
                       "Only facility admins change the branding.", code="forbidden")


@router.get("/admin/branding")
async def get_branding(request: Request, who: PrincipalDep) -> dict[str, Any]:
    store = request.app.state.branding
    return {**store.get().model_dump(), "logo": "/api/branding/logo" if store.logo() else None}


@router.put("/admin/branding")
async def put_branding(body: Branding, request: Request, who: PrincipalDep) -> dict[str, Any]:
    _admin(who)
    request.app.state.branding.put(body)
    return await get_branding(request, who)


@router.put("/admin/branding/logo")
async def put_logo(request: Request, who: PrincipalDep, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    _admin(who)
    request.app.state.branding.put_logo(await file.read())
    return await get_branding(request, who)


@router.get("/branding/logo", response_model=None)
async def logo(request: Request) -> FileResponse | Response:
    """Public: the login page shows it before anyone is signed in."""
    path = request.app.state.branding.logo()
    if path is None:
        raise ApiError(404, "Es ist kein Logo hinterlegt.", "No logo is set.", code="not_found")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})
