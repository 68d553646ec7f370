"""Mount the web UI into the FastAPI app: login pages, static files and the Gradio pages."""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from appliance.chat_service import ChatService
from ui.auth_pages import router as auth_router
from ui.chat_page import CSS, build_chat_page
from ui.session import UISession

# paths the UI guard leaves alone: the API has its own authentication, these pages are public
OPEN_PREFIXES = ("/v1/", "/api/", "/healthz", "/readyz", "/login", "/setup", "/logout", "/lang/", "/ui-static/")


# Gradio's page template carries link-preview tags with addresses outside the box
_PREVIEW_META = re.compile(r"<meta\s+(?:property|name)=\"(?:og|twitter):[^>]*>\s*", re.IGNORECASE)


def localise_page(html: str, lang: str) -> str:
    """The page in the user's language (for screen readers) and without outside addresses."""
    html = re.sub(r'<html(\s+)lang="[a-z-]+"', f'<html\\1lang="{lang}"', html, count=1)
    return _PREVIEW_META.sub("", html)


def mount_ui(app: FastAPI) -> None:
    session = UISession(app)
    app.include_router(auth_router)
    app.mount("/ui-static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="ui-static")

    @app.middleware("http")
    async def send_to_login(request: Request, call_next) -> Response:
        """A browser that is not signed in goes to the login page (or first-run setup)."""
        path = request.url.path
        if request.method != "GET" or path != "/":
            return await call_next(request)
        if session.principal(request) is None:
            target = "/setup" if app.state.accounts.count() == 0 else "/login"
            return RedirectResponse(target, status_code=303)
        response = await call_next(request)
        if not response.headers.get("content-type", "").startswith("text/html"):
            return response
        body = b"".join([chunk async for chunk in response.body_iterator])
        _, lang = session.who(request)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(localise_page(body.decode("utf-8"), lang), response.status_code, headers)

    def chat() -> ChatService | None:
        engines = app.state.engines
        return ChatService(engines) if engines is not None else None

    page = build_chat_page(session, chat)
    theme = gr.themes.Soft(
        font=["system-ui", "-apple-system", "Segoe UI", "Roboto", "Noto Sans", "sans-serif"],
        font_mono=["ui-monospace", "DejaVu Sans Mono", "monospace"],
    )
    gr.mount_gradio_app(
        app,
        page,
        path="/",
        auth_dependency=session.user_name,
        theme=theme,
        css=CSS,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        show_error=True,
    )
