"""Pure ASGI middleware (not BaseHTTPMiddleware, which hides client disconnects from the app)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.infra.errors import REFUSED_STATE, ApiError, error_response

# handbook uploads through the API and through the web UI (Gradio's upload route), and app runs,
# whose file fields take documents (multipart or base64) within the same limit
UPLOAD_PATH = re.compile(r"^(/api/collections/[^/]+/documents|/gradio_api/upload|/api/apps/([^/]+/run|preview))$")
AUDIO_PATH = re.compile(r"^/v1/audio/transcriptions$")
MULTIPART_SLACK = 1024 * 1024  # form fields and boundaries around the file itself


class BodyTooLarge(ApiError):
    def __init__(self, limit_mb: int) -> None:
        super().__init__(413, f"Die Anfrage ist zu groß (höchstens {limit_mb} MB).",
                         f"Request too large (at most {limit_mb} MB).", code="request_too_large")


class BodyTooSlow(ApiError):
    def __init__(self) -> None:
        super().__init__(408, "Die Anfrage kam zu langsam an und wurde abgebrochen. Bitte erneut senden.",
                         "The request arrived too slowly and was cut off. Please send it again.",
                         code="request_timeout")


MIN_RATE = 1024  # bytes a second, on average, once the grace time is over: any real network is faster


class BodyLimit:
    """Refuse bodies over the limit (by Content-Length at once, and by counting chunked uploads) and
    bodies that come too slowly: nothing for ``slow_s`` seconds, or under 1 KB/s on average after that
    (a client sending a byte a second holds a request for ever otherwise)."""

    def __init__(self, app: ASGIApp, limit_mb: int, uploads_mb: int | None = None, audio_mb: int | None = None,
                 slow_s: float = 30) -> None:
        self.app = app
        self.default_mb = limit_mb
        self.files = [(UPLOAD_PATH, uploads_mb or limit_mb), (AUDIO_PATH, audio_mb or limit_mb)]
        self.slow_s = slow_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # handbook and audio uploads may be larger than other requests; each has its own limit
        limit_mb = next((mb for path, mb in self.files if path.match(scope["path"])), None)
        upload = limit_mb is not None
        limit_mb = limit_mb or self.default_mb
        max_bytes = limit_mb * 1024 * 1024 + (MULTIPART_SLACK if upload else 0)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > max_bytes:
            request = Request(scope)
            await error_response(request, BodyTooLarge(limit_mb))(scope, receive, send)
            return
        received, complete, started = 0, False, time.monotonic()

        def refuse(error: ApiError) -> ApiError:
            # FastAPI turns errors while reading a body into a 400; the mark lets the error handler
            # answer with the real reason
            scope.setdefault("state", {})[REFUSED_STATE] = error
            return error

        async def counted() -> Message:
            nonlocal received, complete
            if complete:  # after the body, receive() waits for the client to leave: no deadline
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.slow_s)
            except TimeoutError:
                raise refuse(BodyTooSlow()) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                complete = not message.get("more_body", False)
                if received > max_bytes:
                    raise refuse(BodyTooLarge(limit_mb))
                elapsed = time.monotonic() - started
                if not complete and elapsed > self.slow_s and received < MIN_RATE * elapsed:
                    raise refuse(BodyTooSlow())
            return message

        await self.app(scope, counted, send)


# Only the box itself: scripts, styles, pictures, sound, fonts and connections come from this origin
# (Gradio needs its inline scripts and styles; the Web Audio recorder a blob: worker). An answer
# written as Markdown with ![](https://elsewhere/...) therefore loads nothing from another host.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


Headers = list[tuple[bytes, bytes]]


def rewriting_headers(send: Send, rewrite: Callable[[Headers], Headers]) -> Send:
    """``send`` with the response's headers passed through ``rewrite`` first (the body untouched)."""

    async def rewritten(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": rewrite(list(message.get("headers", [])))}
        await send(message)

    return rewritten


class SecurityHeaders:
    """The same protective headers on every answer: pages, API, files (pure ASGI, adds them once)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def protected(headers: Headers) -> Headers:
            present = {name.lower() for name, _ in headers}
            return [*headers, *((name, value) for name, value in SECURITY_HEADERS if name not in present)]

        await self.app(scope, receive, rewriting_headers(send, protected))


HSTS = (b"strict-transport-security", b"max-age=31536000")
_SECURE = re.compile(rb";\s*secure\s*(;|$)", re.IGNORECASE)


class HttpsMarks:
    """Over HTTPS, the box's own TLS or a trusted proxy in front: every cookie is ``Secure`` (it never
    travels in clear, even if someone opens the http:// address once) and browsers are told to come
    back over HTTPS only (HSTS). Over plain HTTP nothing changes. Sits inside the proxy headers
    middleware, so ``scope["scheme"]`` is what the browser used."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        def marked(headers: Headers) -> Headers:
            secure = [(name, value + b"; Secure" if name.lower() == b"set-cookie" and not _SECURE.search(value)
                       else value) for name, value in headers]
            return secure if any(name.lower() == HSTS[0] for name, _ in secure) else [*secure, HSTS]

        await self.app(scope, receive, rewriting_headers(send, marked))


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_CORS = {b"access-control-allow-origin", b"access-control-allow-credentials"}


class ForeignOrigin(ApiError):
    def __init__(self) -> None:
        super().__init__(403, "Die Anfrage kam von einer anderen Website als dieser Box und wurde abgelehnt.",
                         "The request came from another website than this box and was refused.",
                         code="foreign_origin")


def _host_port(netloc: str, scheme: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(f"//{netloc}")
        return (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError:
        return None


def same_origin(origin: str, host: str) -> bool:
    """Whether a browser's Origin names the address it sent the request to (its Host); the port counts,
    with the default of the origin's scheme (behind a proxy the Host may come without one)."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (a sandboxed document, a file) or anything odd
    theirs, ours = _host_port(parts.netloc, parts.scheme), _host_port(host, parts.scheme)
    return theirs is not None and theirs == ours


class SameOrigin:
    """Pages of another website cannot act with a person's session: a request that changes something
    (POST, PUT, PATCH, DELETE), sent by a browser from another origin (Sec-Fetch-Site other than
    same-origin or none; from browsers without it, an Origin header naming another address), is
    refused with 403 before anything reads it; and no answer grants another origin access with
    credentials (Gradio's own CORS would grant any origin when the box is reached by its LAN
    address). Clients that are not browsers send neither header and are not affected; the
    interpreter's WebSocket checks its Origin itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name: value.decode("latin-1") for name, value in scope["headers"]
                   if name in (b"origin", b"host", b"sec-fetch-site")}
        origin, site = headers.get(b"origin"), headers.get(b"sec-fetch-site")
        if site is not None:  # set by the browser itself, beyond a page's reach; with our no-referrer
            foreign = site not in ("same-origin", "none")  # policy a form's Origin is "null", this is not
        else:
            foreign = origin is not None and not same_origin(origin, headers.get(b"host", ""))
        if scope["method"] not in SAFE_METHODS and foreign:
            await error_response(Request(scope), ForeignOrigin())(scope, receive, send)
            return
        if not foreign:
            await self.app(scope, receive, send)
            return

        def without_cors(headers: Headers) -> Headers:
            return [(name, value) for name, value in headers if name.lower() not in _CORS]

        await self.app(scope, receive, rewriting_headers(send, without_cors))
