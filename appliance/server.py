"""The composition root: create_app(settings) builds everything; models load in the lifespan."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from appliance.api.caller import CallerFirst
from appliance.api.routers import apps, audio, branding, chat, embeddings, handbooks, health, interpret, openai_models
from appliance.config import Settings
from appliance.engines import Engines, Models, load_engines
from appliance.infra.db import Database
from appliance.infra.errors import ERROR_RESPONSES, install_error_handlers
from appliance.infra.middleware import BodyLimit, HttpsMarks, SameOrigin, SecurityHeaders
from appliance.services import Services, build_services

log = logging.getLogger(__name__)

SESSION_COOKIE = "appliance_session"


class DataDirError(RuntimeError):
    """The data directory cannot be created or written; the message says what to do."""


PRIVATE_UMASK = 0o077
"""Whatever the umask the service was started with, what it writes is its own: folders 0700, files 0600."""


def prepare_data_dir(settings: Settings) -> Path:
    """The data directory, private to the service: it and everything the process writes from here on
    (database, its journal, indexes, originals, keys) are readable by the service's account only."""
    os.umask(PRIVATE_UMASK)
    data = settings.storage.data_dir
    try:
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        data.chmod(0o700)  # also one made earlier with a looser umask
        probe = data / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise DataDirError(
            f"Datenverzeichnis {data} ist nicht beschreibbar ({exc.strerror}). Bitte Rechte prüfen"
            f" (chown/chmod) oder storage.data_dir bzw. APPLIANCE__STORAGE__DATA_DIR ändern."
        ) from None
    return data


def session_secret(data_dir: Path) -> str:
    """A per-box secret for signing UI sessions, made on first start, readable by us only."""
    path = data_dir / "session.key"
    secret = path.read_text().strip() if path.exists() else ""
    if len(secret) < 32:  # new, or cut short by a crash while it was written
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(secrets.token_urlsafe(48))
        tmp.replace(path)
        secret = path.read_text().strip()
    return secret


def create_app(settings: Settings, engines: Engines | None = None, *, mount_ui: bool = True) -> FastAPI:
    """Build the whole service. Pass ready ``engines`` (fakes in tests) to skip model loading."""
    data_dir = prepare_data_dir(settings)
    db = Database(settings.database_url)
    db.migrate()
    models = Models(engines)
    handbooks_on = engines.embedder is not None if engines is not None else bool(settings.models.embedding)
    services = build_services(settings, db, models, handbooks_on)
    if engines is not None:
        offer_sample(services)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = asyncio.create_task(_load(services)) if engines is None else None
        try:
            yield
        finally:
            services.close()
            if loader is not None:  # we loaded the models, so we close them; given engines stay open
                loader.cancel()
                models.close()
            db.dispose()

    app = FastAPI(title="KI-Assistenz", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  responses=ERROR_RESPONSES)  # the schema names the envelope as every error's answer
    app.state.services = services
    if services.accounts.count() == 0:
        log.warning("Ersteinrichtung: noch kein Konto. Auf diesem Gerät %s://%s:%s/setup öffnen; von einem"
                    " anderen Gerät aus ist der Einrichtungscode nötig: auf dem Gerät `appliance setup-code`"
                    " aufrufen.", settings.server.scheme, settings.server.host, settings.server.port)

    install_error_handlers(app)
    for router in (health.router, openai_models.router, chat.router, embeddings.router, audio.router,
                   interpret.router, handbooks.router, apps.router, branding.router):
        app.include_router(router)
    app.include_router(health.fallback)  # after every API router, before the UI at "/"
    if mount_ui:
        from ui.mount import mount_ui as _mount_ui

        _mount_ui(app)  # after the API routes: the UI is mounted at "/"
    # from the inside out; the last added is the outermost
    app.add_middleware(CallerFirst)  # a route that needs a sign-in refuses strangers before the body is read
    app.add_middleware(BodyLimit, limit_mb=settings.server.max_request_mb,
                       uploads_mb=settings.handbooks.max_upload_mb, audio_mb=settings.speech.max_upload_mb,
                       slow_s=settings.server.slow_client_s)
    app.add_middleware(SameOrigin)  # before any body is read: another website cannot act with a session
    app.add_middleware(  # every middleware inside sees the session
        SessionMiddleware,
        secret_key=session_secret(data_dir),
        session_cookie=SESSION_COOKIE,
        max_age=settings.server.session_hours * 3600,
        same_site="lax",
        https_only=settings.server.tls_cert is not None,  # over HTTPS the cookie never travels in clear
    )
    app.add_middleware(SecurityHeaders)  # on every answer, the refusals of the middleware inside included
    app.add_middleware(HttpsMarks)  # Secure cookies and HSTS whenever the browser came over HTTPS
    if settings.server.trusted_proxies:  # outermost: everything inside sees the device and its scheme
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.server.trusted_proxies)
    return app


def offer_sample(services: Services) -> None:
    """Once the models are there: collections another embedder built are re-embedded in the background,
    and a new box gets the sample handbook once (handbooks.sample), so a newcomer can try the assistant."""
    if services.handbooks is not None:
        services.handbooks.start(services.settings.storage.data_dir, services.settings.handbooks.sample)


async def _load(services: Services) -> None:
    models = services.models
    try:
        engines = await asyncio.to_thread(load_engines, services.settings)
        models.loaded(engines)
        await asyncio.to_thread(offer_sample, services)
        log.info("ready: %s", ", ".join(engines.entries))
    except Exception as exc:  # reported by /readyz and in the log; the process stays up for it
        models.failed(str(exc))
        log.error("models could not be loaded: %s", exc)
