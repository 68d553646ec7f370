"""Login, first-run (the first admin account), logout and the language switch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from appliance.people.branding import DEFAULT_NAME
from appliance.people.signin import Refused
from appliance.services import Services
from ui.i18n import LANGUAGES, SESSION_LANG, pick_language, t
from ui.session import UISession

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def auth_router(services: Services, session: UISession) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    accounts, signin = services.accounts, services.signin

    def page(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
        lang = session.language(request)
        other = "en" if lang == "de" else "de"
        brand = services.branding.get()
        base = {
            "logo": "/api/branding/logo" if services.branding.logo() else None,
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

    def login_page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
        lang = session.language(request)
        return page(request, "login.html", status, title=t("login_title", lang), intro=t("login_intro", lang),
                    button=t("login_button", lang), **context)

    def setup_page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
        lang = session.language(request)
        return page(request, "setup.html", status, title=t("setup_title", lang), intro=t("setup_intro", lang),
                    button=t("setup_button", lang), needs_code=not signin.is_local(_client(request)),
                    t_code=t("setup_code", lang), t_code_hint=t("setup_code_hint", lang), **context)

    def signed_in(request: Request, cookie: dict[str, object], user_language: str) -> RedirectResponse:
        request.session.clear()
        request.session.update(cookie)
        request.session[SESSION_LANG] = user_language
        return RedirectResponse("/", status_code=303)

    @router.get("/login")
    def login_form(request: Request) -> Response:
        if accounts.count() == 0:
            return RedirectResponse("/setup", status_code=303)
        if session.principal(request) is not None:
            return RedirectResponse("/", status_code=303)
        return login_page(request)

    @router.post("/login")
    async def login(request: Request, name: Annotated[str, Form()] = "",
                    password: Annotated[str, Form()] = "") -> Response:
        lang = session.language(request)
        try:
            principal, cookie = await signin.password(_client(request), name, password)
        except Refused as exc:
            error = (t("login_throttled", lang).format(minutes=exc.minutes) if exc.reason == "throttled"
                     else t("login_failed", lang))
            return login_page(request, exc.status, name=name, error=error)
        return signed_in(request, cookie, pick_language(request.session.get(SESSION_LANG), principal.language))

    @router.get("/setup")
    def setup_form(request: Request) -> Response:
        if accounts.count() > 0:
            return RedirectResponse("/login", status_code=303)
        return setup_page(request)

    @router.post("/setup")
    async def setup(request: Request, name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                    password2: Annotated[str, Form()] = "", code: Annotated[str, Form()] = "") -> Response:
        if accounts.count() > 0:
            return RedirectResponse("/login", status_code=303)
        lang = session.language(request)
        try:
            _, cookie = await signin.first_admin(_client(request), code, name, password, password2, lang)
        except Refused as exc:
            error = {"code": t("setup_code_wrong", lang), "mismatch": t("password_mismatch", lang),
                     "throttled": t("login_throttled", lang).format(minutes=exc.minutes)}.get(exc.reason, exc.detail)
            return setup_page(request, exc.status, name=name, error=error)
        return signed_in(request, cookie, lang)

    @router.get("/logout")
    async def logout(request: Request) -> RedirectResponse:
        lang = session.language(request)
        await run_in_threadpool(signin.sign_out, dict(request.session))
        request.session.clear()
        request.session[SESSION_LANG] = lang
        return RedirectResponse("/login", status_code=303)

    @router.get("/lang/{code}")
    def switch_language(request: Request, code: str, next: str = "/") -> RedirectResponse:
        if code in LANGUAGES:
            request.session[SESSION_LANG] = code
            principal = session.principal(request)
            if principal is not None:
                accounts.set_language(principal.user_id, code)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        return RedirectResponse(target, status_code=303)

    return router
