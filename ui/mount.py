"""Mount the web UI into the FastAPI app: login pages, static files and the Gradio pages."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from appliance.chat_service import ChatService
from ui.auth_pages import router as auth_router
from ui.guard import UIGuard
from ui.interpreter_page import router as interpreter_router
from ui.page import CSS, JS, build_page
from ui.session import UISession


def mount_ui(app: FastAPI) -> None:
    session = UISession(app)
    app.include_router(auth_router)
    app.include_router(interpreter_router)
    app.mount("/ui-static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="ui-static")

    app.add_middleware(UIGuard, session=session)

    def chat() -> ChatService | None:
        engines = app.state.engines
        return ChatService(engines) if engines is not None else None

    page = build_page(session, chat, lambda: app.state.handbooks, lambda: app.state.apps)
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
        js=JS,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
        enable_monitoring=False,
        show_error=True,
    )
