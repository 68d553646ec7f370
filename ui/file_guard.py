"""Only files uploaded to this box reach a Gradio handler (pure ASGI, in front of Gradio's routes).

Gradio mounted into FastAPI never "launches", and its check that a file named by the browser lies in
its upload folder runs only for launched apps: a client could name any server file (or a FIFO, or
/dev/zero) as a FileData ``path``, or an address to download as its path or ``url``, and Gradio
would copy it into its cache and hand it to a handler before any role is checked. Here every file
object in a call must name a regular file inside Gradio's upload folder, or the call is refused.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CALLS = re.compile(r"^/gradio_api/(queue/join|run/|call/|api/)")
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


def refused(files: list[dict], folder: Path) -> str | None:
    """Why a call's file objects are not acceptable; None when every one is an upload of this box."""
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
        url = item.get("url")
        if url is not None and (not isinstance(url, str) or "/gradio_api/file=" not in url):
            return "a file's address must be this box's own"
    return None


class FileGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not CALLS.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        body, messages = b"", []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await JSONResponse({"error": "Anfrage zu groß / request too large"}, 413)(scope, receive, send)
                return
            if not message.get("more_body"):
                break
        try:
            why = refused(_file_objects(json.loads(body)), upload_folder()) if body else None
        except (ValueError, RecursionError):
            why = None  # not JSON: Gradio answers it itself
        if why is not None:
            response = JSONResponse({"error": f"Datei abgelehnt / file refused: {why}"}, 400)
            await response(scope, receive, send)
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
