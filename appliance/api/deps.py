"""FastAPI dependencies: the services create_app built, from app.state (read here and by the UI's
mount only), and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from appliance.apps.case_check import CaseCheck
from appliance.apps.service import AppService
from appliance.chat.service import ChatService
from appliance.config import Settings
from appliance.embeddings.service import EmbeddingsService
from appliance.engines import Models
from appliance.handbooks.service import HandbookService
from appliance.infra.errors import ApiError
from appliance.people.accounts import Accounts, Principal
from appliance.people.branding import BrandingService
from appliance.people.sessions import principal_from_request
from appliance.services import Services
from appliance.speech.interpreter import InterpreterService
from appliance.speech.read_aloud import ReadAloud
from appliance.speech.transcription import TranscriptionService


def services_of(app) -> Services:
    return app.state.services


def get_services(request: Request) -> Services:
    return services_of(request.app)


ServicesDep = Annotated[Services, Depends(get_services)]


def _part(name: str):
    """A dependency for one service of Services (by its field name)."""

    def get(services: ServicesDep):
        return getattr(services, name)

    get.__name__ = f"get_{name}"
    return Depends(get)


def get_handbooks(services: ServicesDep) -> HandbookService:
    if services.handbooks is None:
        raise ApiError(503, "Handbücher sind ausgeschaltet: es ist kein Embedding-Modell eingestellt"
                       " (models.embedding).", "Handbooks are off: no embedding model is configured.",
                       code="handbooks_off")
    return services.handbooks


PRINCIPAL_STATE = "principal"
"""Where CallerFirst keeps the principal it found before the body was read."""


def get_principal(request: Request, services: ServicesDep) -> Principal:
    known = request.scope.get("state", {}).get(PRINCIPAL_STATE)
    if known is not None:
        return known
    principal = principal_from_request(request, services.accounts)
    if principal is None:
        has_key = bool(request.headers.get("authorization"))
        raise ApiError(
            401,
            "Ungültiger oder widerrufener API-Schlüssel." if has_key
            else "Anmeldung erforderlich: API-Schlüssel (Authorization: Bearer ...) oder Anmeldung im Browser.",
            "Invalid or revoked API key." if has_key
            else "Authentication required: an API key (Authorization: Bearer ...) or a browser login.",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def asks_who(dependant) -> bool:
    """Whether a route (its dependant) depends on get_principal, directly or further down."""
    stack = list(getattr(dependant, "dependencies", ()))
    while stack:
        dependency = stack.pop()
        if dependency.call is get_principal:
            return True
        stack.extend(dependency.dependencies)
    return False


SettingsDep = Annotated[Settings, _part("settings")]
AccountsDep = Annotated[Accounts, _part("accounts")]
ModelsDep = Annotated[Models, _part("models")]
ChatDep = Annotated[ChatService, _part("chat")]
HandbooksDep = Annotated[HandbookService, Depends(get_handbooks)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AppsDep = Annotated[AppService, _part("apps")]
CaseCheckDep = Annotated[CaseCheck, _part("case_check")]
BrandingDep = Annotated[BrandingService, _part("branding")]
TranscriptionDep = Annotated[TranscriptionService, _part("transcription")]
EmbeddingsDep = Annotated[EmbeddingsService, _part("embeddings")]
ReadAloudDep = Annotated[ReadAloud, _part("read_aloud")]
InterpreterDep = Annotated[InterpreterService, _part("interpreter")]
