"""Mount the web UI into the FastAPI app: login pages, static files and the Gradio pages.

With the API's dependency module, the only reader of app.state: the pages get the services here,
when they are built."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from appliance.services import Services
from ui.auth_pages import auth_router
from ui.file_guard import FileGuard, private_upload_folder
from ui.guard import UIGuard
from ui.interpreter_page import interpreter_router
from ui.page import CSS, JS, build_page
from ui.session import UISession


def mount_ui(app: FastAPI) -> None:
    services: Services = app.state.services
    session = UISession(services.accounts, services.settings.ui.language)
    app.include_router(auth_router(services, session))
    app.include_router(interpreter_router(services, session))
    app.mount("/ui-static", StaticFiles(directory=str(Path(__file__).with_name("static"))), name="ui-static")

    app.add_middleware(UIGuard, session=session)
    ui = services.settings.ui
    # only a signed-in session uploads, within its share; only its own uploads reach its handlers
    app.add_middleware(FileGuard, session=session, per_session_mb=ui.uploads_per_session_mb,
                       cache_mb=ui.upload_cache_mb)
    private_upload_folder()

    page = build_page(session, services)
    page.delete_cache = (600, ui.upload_cache_minutes * 60)  # Gradio deletes uploads and generated files
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
