"""Who is using the UI: the signed-in user and their language, from the session cookie."""

from __future__ import annotations

from fastapi import FastAPI, Request

from appliance.accounts import Principal
from appliance.chat_service import SamplingParams
from appliance.deps import principal_from_request
from ui.i18n import SESSION_LANG, pick_language


class UISession:
    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def principal(self, request: Request) -> Principal | None:
        return principal_from_request(request, self.app.state.accounts)

    def who(self, request: object) -> tuple[Principal | None, str]:
        """For Gradio handlers: gr.Request wraps the Starlette request."""
        raw: Request = getattr(request, "request", request)
        principal = self.principal(raw)
        default = self.app.state.settings.ui.language
        lang = pick_language(raw.session.get(SESSION_LANG) if "session" in raw.scope else None, default)
        return principal, lang

    def sampling(self) -> SamplingParams:
        """Sampling for chat in the UI: a bounded answer, so nobody waits on a runaway reply."""
        return SamplingParams(temperature=0.7, max_tokens=self.app.state.settings.ui.max_answer_tokens)

    def user_name(self, request: Request) -> str | None:
        """Gradio's auth_dependency: a name lets the request in, None answers 401."""
        principal = self.principal(request)
        return principal.name if principal else None
