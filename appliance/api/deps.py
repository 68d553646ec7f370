"""FastAPI dependencies: the services create_app built, from app.state (read here and by the UI's
mount only), and who is asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

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


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_accounts(services: ServicesDep) -> Accounts:
    return services.accounts


def get_models(services: ServicesDep) -> Models:
    return services.models


def get_chat(services: ServicesDep) -> ChatService:
    return services.chat


def get_handbooks(services: ServicesDep) -> HandbookService:
    if services.handbooks is None:
        raise ApiError(503, "Handbücher sind ausgeschaltet: es ist kein Embedding-Modell eingestellt"
                       " (models.embedding).", "Handbooks are off: no embedding model is configured.",
                       code="handbooks_off")
    return services.handbooks


def get_apps(services: ServicesDep) -> AppService:
    return services.apps


def get_branding(services: ServicesDep) -> BrandingService:
    return services.branding


def get_transcription(services: ServicesDep) -> TranscriptionService:
    return services.transcription


def get_embeddings(services: ServicesDep) -> EmbeddingsService:
    return services.embeddings


def get_read_aloud(services: ServicesDep) -> ReadAloud:
    return services.read_aloud


def get_interpreter(services: ServicesDep) -> InterpreterService:
    return services.interpreter


def get_principal(request: Request, accounts: Annotated[Accounts, Depends(get_accounts)]) -> Principal:
    principal = principal_from_request(request, accounts)
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


SettingsDep = Annotated[Settings, Depends(get_settings)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
ModelsDep = Annotated[Models, Depends(get_models)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
HandbooksDep = Annotated[HandbookService, Depends(get_handbooks)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AppsDep = Annotated[AppService, Depends(get_apps)]
BrandingDep = Annotated[BrandingService, Depends(get_branding)]
TranscriptionDep = Annotated[TranscriptionService, Depends(get_transcription)]
EmbeddingsDep = Annotated[EmbeddingsService, Depends(get_embeddings)]
ReadAloudDep = Annotated[ReadAloud, Depends(get_read_aloud)]
InterpreterDep = Annotated[InterpreterService, Depends(get_interpreter)]
