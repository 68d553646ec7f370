"""Who is asking, before anything of the body is read (pure ASGI, in front of the API's routes).

FastAPI reads and parses a request's body before it resolves the route's dependencies, so a stranger
could make the box read 50 MB or parse deep JSON before learning they are not signed in. Here, when
a route first asks for its body, the routing has chosen it already: if its dependencies ask for the
principal and there is none, the request is refused with 401 before a byte is handed over. The
principal found is kept for the route's own dependency, so a key is looked up once.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from appliance.api.deps import PRINCIPAL_STATE, asks_who, get_principal, get_services
from appliance.infra.errors import REFUSED_STATE, ApiError


class CallerFirst:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        checked = False

        async def after_the_caller() -> Message:
            nonlocal checked
            if not checked:
                checked = True
                await self._check(scope)
            return await receive()

        await self.app(scope, after_the_caller, send)

    @staticmethod
    async def _check(scope: Scope) -> None:
        route = scope.get("route")  # set by the routing, which the body's first read comes after
        if not asks_who(getattr(route, "dependant", None)):
            return
        request = Request(scope)
        state = scope.setdefault("state", {})
        try:
            state[PRINCIPAL_STATE] = await run_in_threadpool(get_principal, request, get_services(request))
        except ApiError as refused:
            # FastAPI turns an error while reading a body into a 400; the mark lets the error
            # handler answer with the real reason
            state[REFUSED_STATE] = refused
            raise
