"""Errors in the OpenAI envelope: {"error": {"message", "type", "param", "code"}}.

Messages come in German and English; the handler picks by the request's Accept-Language
(German unless English is preferred).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
          404: "not_found_error", 408: "invalid_request_error", 409: "conflict_error", 413: "invalid_request_error",
          415: "invalid_request_error", 422: "invalid_request_error", 429: "rate_limit_error",
          503: "server_error"}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        de: str,
        en: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(en)
        self.status = status
        self.de = de
        self.en = en
        self.code = code
        self.param = param
        self.headers = headers or {}

    def message(self, lang: str) -> str:
        """The message in a person's language: English when they chose it, German otherwise."""
        return self.en if lang == "en" else self.de


def prefers_english(request: Request) -> bool:
    """English only when the client ranks it above German (q-values respected); German otherwise."""
    best: dict[str, float] = {}
    for part in request.headers.get("accept-language", "").lower().split(","):
        lang, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            weight = 0.0
        for code in ("de", "en"):
            if lang.startswith(code):
                best[code] = max(best.get(code, 0.0), weight)
    return best.get("en", 0.0) > best.get("de", 0.0)


def envelope(status: int, message: str, code: str | None, param: str | None) -> dict:
    default = "invalid_request_error" if 400 <= status < 500 else "server_error"
    return {"error": {"message": message, "type": _TYPES.get(status, default),
                      "param": param, "code": code}}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorEnvelope(BaseModel):
    """What every error answer holds, for the OpenAPI schema (instead of FastAPI's {"detail": [...]})."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict] = {
    "4XX": {"model": ErrorEnvelope, "description": "Fehler der Anfrage / client error"},
    "5XX": {"model": ErrorEnvelope, "description": "Fehler oder Überlast des Dienstes / server error or overload"},
}


def error_response(request: Request, err: ApiError) -> JSONResponse:
    message = err.en if prefers_english(request) else err.de
    return JSONResponse(envelope(err.status, message, err.code, err.param), err.status, headers=err.headers)


_REASONS_DE = {
    "missing": "fehlt",
    "json_invalid": "ist kein gültiges JSON",
    "string_type": "muss Text sein",
    "int_type": "muss eine ganze Zahl sein",
    "int_parsing": "muss eine ganze Zahl sein",
    "float_parsing": "muss eine Zahl sein",
    "too_short": "ist zu kurz oder leer",
    "literal_error": "hat einen nicht erlaubten Wert",
    "greater_than_equal": "ist zu klein",
    "less_than_equal": "ist zu groß",
    "value_error": "ist ungültig",
}


def _is_type_tag(part: str) -> bool:
    """pydantic puts the union branch into loc ('str', 'list[str]'); that is not a field name."""
    return part in {"str", "int", "float", "bool", "list", "dict"} or "[" in part


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors()) or [{"loc": (), "msg": "invalid", "type": "value_error"}]
    # in a union (str | list[str]) the branch whose type fits says more than 'should be a string'
    first = next((e for e in errors if not str(e.get("type", "")).endswith("_type")), errors[0])
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path") and not _is_type_tag(str(p))]
    param = ".".join(loc) or None
    kind = str(first.get("type", "value_error"))
    msg = str(first.get("msg", ""))
    if kind == "json_invalid":
        return error_response(request, ApiError(
            400, "Der Inhalt der Anfrage ist kein gültiges JSON in UTF-8.",
            "The request body is not valid JSON in UTF-8.", code="invalid_json"))
    reason = _REASONS_DE.get(kind, "ist ungültig")
    de = f"Feld '{param}' {reason}: {msg}" if param else f"Anfrage ungültig: {msg}"
    en = f"Field '{param}': {msg}" if param else f"Invalid request: {msg}"
    return error_response(request, ApiError(422, de, en, code="invalid_value", param=param))


UNREADABLE_BODY = ApiError(
    400, "Der Inhalt der Anfrage ist nicht lesbar (kein gültiges JSON/Formular in UTF-8).",
    "The request body cannot be read (not valid JSON/form data in UTF-8).", code="invalid_body")


REFUSED_STATE = "refused"
"""Where middleware (CallerFirst, BodyLimit) keeps the refusal it raised while the body was read."""


def install_error_handlers(app: FastAPI) -> None:
    """Every error in the envelope. (A route that needs a sign-in never reaches its body's errors
    without one: appliance.api.caller.CallerFirst answers 401 before the body is read.)"""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_error(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        refused = getattr(request.state, REFUSED_STATE, None)
        if refused is not None:  # a stranger, a body too large or too slow: stopped while it was read
            return error_response(request, refused)
        if exc.status_code == 400:  # only FastAPI's reading of a body (JSON, form, multipart) raises these
            return error_response(request, UNREADABLE_BODY)
        de = {404: "Nicht gefunden.", 405: "Methode nicht erlaubt."}.get(exc.status_code, str(exc.detail))
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(request, ApiError(exc.status_code, de, str(exc.detail), code=code,
                                                headers=dict(exc.headers or {})))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, ApiError(
            500, "Interner Fehler. Bitte erneut versuchen; bleibt er, IT informieren.",
            "Internal error. Please try again; if it persists, tell IT.", code="internal_error"))
