"""FastAPI dependencies, built once in the lifespan and kept on app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from appliance.accounts import Accounts, Principal
from appliance.apps.service import AppService
from appliance.chat_service import ChatService
from appliance.config import Settings
from appliance.engines import Engines
from appliance.errors import ApiError
from appliance.handbooks_service import HandbookService

SESSION_USER = "user_id"
SESSION_STAMP = "stamp"


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def get_engines(request: Request) -> Engines:
    engines = request.app.state.engines
    if engines is None:
        raise ApiError(503, "Die Modelle werden noch geladen. Bitte kurz warten.",
                       "The models are still loading. Please wait a moment.", code="not_ready",
                       headers={"Retry-After": "5"})
    return engines


def get_chat(engines: Annotated[Engines, Depends(get_engines)]) -> ChatService:
    return ChatService(engines)


def get_handbooks(request: Request) -> HandbookService:
    handbooks = request.app.state.handbooks
    if handbooks is None:
        if request.app.state.engines is not None:
            raise ApiError(503, "Handbücher sind ausgeschaltet: es ist kein Embedding-Modell eingestellt"
                           " (models.embedding).", "Handbooks are off: no embedding model is configured.",
                           code="handbooks_off")
        raise ApiError(503, "Die Modelle werden noch geladen. Bitte kurz warten.",
                       "The models are still loading. Please wait a moment.", code="not_ready",
                       headers={"Retry-After": "5"})
    return handbooks


def get_apps(request: Request) -> AppService:
    return request.app.state.apps


def principal_from_request(request: Request, accounts: Accounts) -> Principal | None:
    """A bearer key wins; otherwise the UI session cookie."""
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return accounts.principal_for_key(token.strip())
    user_id = request.session.get(SESSION_USER) if "session" in request.scope else None
    if isinstance(user_id, int):
        return accounts.by_session(user_id, request.session.get(SESSION_STAMP))
    return None


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
EnginesDep = Annotated[Engines, Depends(get_engines)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
HandbooksDep = Annotated[HandbookService, Depends(get_handbooks)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
AppsDep = Annotated[AppService, Depends(get_apps)]
