"""Branding routes: the facility's name, colours, texts and logo."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, UploadFile
from fastapi.responses import FileResponse, Response

from appliance.api.deps import BrandingDep, PrincipalDep
from appliance.infra.errors import ApiError
from appliance.people.branding import Branding

router = APIRouter(prefix="/api", tags=["branding"])


@router.get("/admin/branding")
def get_branding(branding: BrandingDep, who: PrincipalDep) -> dict[str, Any]:
    return branding.settings(who)


@router.put("/admin/branding")
def put_branding(body: Branding, branding: BrandingDep, who: PrincipalDep) -> dict[str, Any]:
    return branding.put(who, body)


@router.put("/admin/branding/logo")
def put_logo(branding: BrandingDep, who: PrincipalDep, file: Annotated[UploadFile, File()]) -> dict[str, Any]:
    return branding.put_logo(who, file.file.read())


@router.get("/branding/logo", response_model=None)
def logo(branding: BrandingDep) -> FileResponse | Response:
    """Public: the login page shows it before anyone is signed in."""
    path = branding.logo()
    if path is None:
        raise ApiError(404, "Es ist kein Logo hinterlegt.", "No logo is set.", code="not_found")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})
