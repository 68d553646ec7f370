"""Only files uploaded to this box reach a Gradio handler (pure ASGI, in front of Gradio's routes).

Gradio mounted into FastAPI never "launches", and its check that a file named by the browser lies in
its upload folder runs only for launched apps: a client could name any server file (or a FIFO, or
/dev/zero) as a FileData ``path``, or an address to download as its path or ``url``, and Gradio
would copy it into its cache and hand it to a handler before any role is checked. Here every file
object in a call must name a regular file inside Gradio's upload folder, or the call is refused.

Uploads are per session: only a signed-in person uploads (before the body is read), each session has
its share of the cache and the cache as a whole its limit, and a file one session uploaded never
reaches another session's handler. Gradio's own cache cleaning (``delete_cache``) removes uploads
and generated files after ``ui.upload_cache_minutes`` and when the service stops.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.people.sessions import SESSION_ID
from ui.session import UISession

CALLS = re.compile(r"^/gradio_api/(queue/join|run/|call/|api/)")
UPLOAD = "/gradio_api/upload"
MB = 1024 * 1024
MAX_BODY = 16 * 1024 * 1024  # the call itself (files come through /gradio_api/upload)


def upload_folder() -> Path:
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def _file_objects(value: Any) -> list[dict]:
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            tagged = isinstance(meta, dict) and meta.get("_type") == "gradio.FileData"
            if tagged or ("path" in item and ("orig_name" in item or "url" in item)):
                found.append(item)
            else:
                stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


class Uploads:
    """Which session uploaded which file (by its real path), forgetting files the cache has deleted."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}
        self._lock = threading.Lock()

    def record(self, session: str, paths: list[str]) -> None:
        with self._lock:
            for path in paths:
                self._owner[str(Path(path).resolve())] = session

    def owner(self, real: Path) -> str | None:
        return self._owner.get(str(real))

    def held(self, session: str) -> int:
        """Bytes of this session's uploads still in the cache."""
        with self._lock:
            total = 0
            for path, owner in list(self._owner.items()):
                try:
                    size = os.stat(path).st_size
                except OSError:
                    del self._owner[path]  # cleaned by Gradio
                    continue
                total += size if owner == session else 0
            return total


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def refused(files: list[dict], folder: Path, session: str | None = None, uploads: Uploads | None = None) -> str | None:
    """Why a call's file objects are not acceptable; None when every one is an upload of this box (and,
    where it was uploaded, of this session)."""
    for item in files:
        path = item.get("path")
        if not isinstance(path, str) or not path or "://" in path:
            return "a file must be an upload of this box, not an address"
        try:
            real = Path(path).resolve(strict=True)
        except (OSError, RuntimeError):
            return "no such upload"
        if not real.is_relative_to(folder) or not real.is_file() or real.is_symlink():
            return "a file must be an upload of this box"
        if uploads is not None and uploads.owner(real) not in (None, session):
            return "a file must be an upload of this session"
        url = item.get("url")
        if url is not None and (not isinstance(url, str) or "/gradio_api/file=" not in url):
            return "a file's address must be this box's own"
    return None


def _refuse(status: int, de: str, en: str) -> JSONResponse:
    return JSONResponse({"error": f"{de} / {en}"}, status)


class FileGuard:
    def __init__(self, app: ASGIApp, session: UISession, per_session_mb: int, cache_mb: int) -> None:
        self.app = app
        self.session = session
        self.per_session = per_session_mb * MB
        self.cache = cache_mb * MB
        self.uploads = Uploads()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
        elif scope["path"] == UPLOAD:
            await self.upload(scope, receive, send)
        elif CALLS.match(scope["path"]):
            await self.call(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _session(self, scope: Scope) -> str | None:
        """The signed-in session's id, found before anything of the body is read; None: not signed in."""
        request = Request(scope)
        principal = await run_in_threadpool(self.session.principal, request)
        return str(request.session.get(SESSION_ID)) if principal is not None else None

    async def upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = await self._session(scope)
        if session is None:
            await _refuse(401, "Bitte anmelden", "please sign in")(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        coming = int(length) if length.isdigit() else 0
        held = await run_in_threadpool(self.uploads.held, session)
        if held + coming > self.per_session:
            await _refuse(413, f"Sie haben schon {held // MB} MB an Dateien hochgeladen (höchstens"
                          f" {self.per_session // MB} MB je Anmeldung); ältere werden nach einer Weile gelöscht,"
                          " dann geht es wieder", "too many uploads in this session for now")(scope, receive, send)
            return
        if await run_in_threadpool(folder_bytes, upload_folder()) + coming > self.cache:
            await _refuse(503, "Der Zwischenspeicher für hochgeladene Dateien ist voll. Bitte in einigen Minuten"
                          " erneut versuchen", "the upload cache is full, please try again in a few minutes"
                          )(scope, receive, send)
            return
        status, body = 0, b""

        async def noted(message: Message) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200 and len(body) < MB:
                body += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, noted)
        if status == 200:
            try:
                paths = json.loads(body)
            except ValueError:
                return
            if isinstance(paths, list):
                self.uploads.record(session, [p for p in paths if isinstance(p, str)])

    async def call(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = await self._session(scope)
        if session is None:
            await _refuse(401, "Bitte anmelden", "please sign in")(scope, receive, send)
            return
        body, messages = b"", []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await _refuse(413, "Anfrage zu groß", "request too large")(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        try:
            files = _file_objects(json.loads(body)) if body else []
        except (ValueError, RecursionError):
            files = []  # not JSON: Gradio answers it itself
        why = refused(files, upload_folder(), session, self.uploads)
        if why is not None:
            await _refuse(400, "Datei abgelehnt", f"file refused: {why}")(scope, receive, send)
            return

        replay = iter(messages)

        async def again() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, again, send)


def private_upload_folder() -> None:
    """Gradio's upload folder, readable by the service only."""
    folder = upload_folder()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
