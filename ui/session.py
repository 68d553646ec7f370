"""Who is using the UI: the signed-in user and their language, from the session cookie."""

from __future__ import annotations

from fastapi import Request

from appliance.people.accounts import Accounts, Principal
from appliance.people.sessions import principal_from_request
from ui.i18n import SESSION_LANG, pick_language


class UISession:
    def __init__(self, accounts: Accounts, default_language: str) -> None:
        self.accounts = accounts
        self.default_language = default_language

    def principal(self, request: Request) -> Principal | None:
        return principal_from_request(request, self.accounts)

    def language(self, request: Request) -> str:
        return pick_language(request.session.get(SESSION_LANG) if "session" in request.scope else None,
                             self.default_language)

    def who(self, request: object) -> tuple[Principal | None, str]:
        """For Gradio handlers: gr.Request wraps the Starlette request."""
        raw: Request = getattr(request, "request", request)
        return self.principal(raw), self.language(raw)

    def user_name(self, request: Request) -> str | None:
        """Gradio's auth_dependency: a name lets the request in, None answers 401."""
        principal = self.principal(request)
        return principal.name if principal else None
