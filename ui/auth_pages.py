"""Login, first-run (the first admin account), logout and the language switch."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from appliance.accounts import AccountError, Accounts
from appliance.branding import DEFAULT_NAME
from appliance.deps import SESSION_STAMP, SESSION_USER, principal_from_request
from ui.i18n import LANGUAGES, SESSION_LANG, pick_language, t

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))

router = APIRouter(include_in_schema=False)


def language(request: Request) -> str:
    return pick_language(request.session.get(SESSION_LANG), request.app.state.settings.ui.language)


def _accounts(request: Request) -> Accounts:
    return request.app.state.accounts


def _page(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
    lang = language(request)
    other = "en" if lang == "de" else "de"
    store = request.app.state.branding
    brand = store.get()
    base = {
        "logo": "/api/branding/logo" if store.logo() else None,
        "login_text": brand.login_text,
        "imprint_url": brand.imprint_url,
        "privacy_url": brand.privacy_url,
        "lang": lang,
        "other_lang": other,
        "other_language": t("other_language", lang),
        "product": brand.name if brand.name != DEFAULT_NAME else t("product", lang),
        "offline_note": t("offline_note", lang),
        "t_name": t("name", lang),
        "t_password": t("password", lang),
        "t_password_repeat": t("password_repeat", lang),
        "name": "",
        "error": None,
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


def _login_page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
    lang = language(request)
    return _page(request, "login.html", status, title=t("login_title", lang), intro=t("login_intro", lang),
                 button=t("login_button", lang), **context)


def _setup_page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
    lang = language(request)
    return _page(request, "setup.html", status, title=t("setup_title", lang), intro=t("setup_intro", lang),
                 button=t("setup_button", lang), needs_code=not is_local(request), t_code=t("setup_code", lang),
                 t_code_hint=t("setup_code_hint", lang), **context)


def _sign_in(request: Request, user_id: int, user_language: str) -> RedirectResponse:
    request.session.clear()
    request.session[SESSION_USER] = user_id
    request.session[SESSION_STAMP] = _accounts(request).session_stamp(user_id)
    request.session[SESSION_LANG] = user_language
    return RedirectResponse("/", status_code=303)


@router.get("/login")
async def login_form(request: Request) -> Response:
    if _accounts(request).count() == 0:
        return RedirectResponse("/setup", status_code=303)
    if principal_from_request(request, _accounts(request)) is not None:
        return RedirectResponse("/", status_code=303)
    return _login_page(request)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def is_local(request: Request) -> bool:
    return _client(request) in ("127.0.0.1", "::1", "localhost")


@router.post("/login")
async def login(request: Request, name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "") -> Response:
    throttle = request.app.state.login_throttle
    lang = language(request)
    wait = throttle.wait_seconds(_client(request), name)
    if wait:
        return _login_page(request, 429, name=name, error=t("login_throttled", lang).format(minutes=wait // 60 + 1))
    # argon2 takes ~0.1 s of CPU: off the event loop, so streams and pages stay fluid
    principal = await run_in_threadpool(_accounts(request).authenticate, name, password)
    if principal is None:
        throttle.failed(_client(request), name)
        return _login_page(request, 401, name=name, error=t("login_failed", lang))
    throttle.succeeded(_client(request), name)
    lang = pick_language(request.session.get(SESSION_LANG), principal.language)
    return _sign_in(request, principal.user_id, lang)


@router.get("/setup")
async def setup_form(request: Request) -> Response:
    if _accounts(request).count() > 0:
        return RedirectResponse("/login", status_code=303)
    return _setup_page(request)


@router.post("/setup")
async def setup(
    request: Request,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    password2: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
) -> Response:
    accounts = _accounts(request)
    if accounts.count() > 0:
        return RedirectResponse("/login", status_code=303)
    lang = language(request)
    if not is_local(request) and not secrets.compare_digest(code.strip().upper(), request.app.state.setup_code):
        # from another device the code from the service's log is needed: nobody else on the
        # network can take over a freshly installed box
        return _setup_page(request, 403, name=name, error=t("setup_code_wrong", lang))
    if password != password2:
        return _setup_page(request, 422, name=name, error=t("password_mismatch", lang))
    try:
        principal = await run_in_threadpool(accounts.add_first_admin, name, password, lang)
    except AccountError as exc:
        return _setup_page(request, 422, name=name, error=str(exc))
    return _sign_in(request, principal.user_id, lang)


@router.get("/logout")
async def logout(request: Request) -> RedirectResponse:
    lang = language(request)
    request.session.clear()
    request.session[SESSION_LANG] = lang
    return RedirectResponse("/login", status_code=303)


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str, next: str = "/") -> RedirectResponse:
    if code in LANGUAGES:
        request.session[SESSION_LANG] = code
        principal = principal_from_request(request, _accounts(request))
        if principal is not None:
            _accounts(request).set_language(principal.user_id, code)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return RedirectResponse(target, status_code=303)
