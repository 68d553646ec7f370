"""The UI guard (pure ASGI): the page at "/" only for signed-in users, in their language."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ui.session import UISession

# Gradio's page template carries link-preview tags with addresses outside the box, and its config
# carries example files for API docs (never fetched, but an address outside the box all the same)
_PREVIEW_META = re.compile(r"<meta\s+(?:property|name)=\"(?:og|twitter):[^>]*>\s*", re.IGNORECASE)
_EXAMPLE_URL = re.compile(r"https?://(?:github\.com|raw\.githubusercontent\.com|gradio\.app)/[^\"'\s\\]*")


def localise_page(html: str, lang: str) -> str:
    """The page in the user's language (for screen readers) and without outside addresses."""
    html = re.sub(r'<html(\s+)lang="[a-z-]+"', f'<html\\1lang="{lang}"', html, count=1)
    return _EXAMPLE_URL.sub("", _PREVIEW_META.sub("", html))


class UIGuard:
    def __init__(self, app: ASGIApp, session: UISession) -> None:
        self.app = app
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.session.principal(request) is None:
            target = "/setup" if self.session.accounts.count() == 0 else "/login"
            await RedirectResponse(target, status_code=303)(scope, receive, send)
            return
        _, lang = self.session.who(request)
        start: Message | None = None
        body = b""

        async def rewrite(message: Message) -> None:
            nonlocal start, body
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body += message.get("body", b"")
            if message.get("more_body"):
                return
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            content_type = dict(start["headers"]).get(b"content-type", b"")
            if content_type.startswith(b"text/html"):
                body = localise_page(body.decode("utf-8"), lang).encode("utf-8")
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
