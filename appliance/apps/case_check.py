"""An author runs the test cases of the app being built (the builder's "Testfälle", POST /api/apps/check):
the same evaluation as ``appliance models check`` (appliance.apps.evaluation), for one unsaved app, on the
model the app names or the box's default."""

from __future__ import annotations

import asyncio
from typing import Any

from appliance.apps.evaluation import evaluate
from appliance.apps.service import AppService
from appliance.chat.service import ChatService
from appliance.infra.errors import ApiError
from appliance.people.accounts import Principal


class CaseCheck:
    def __init__(self, apps: AppService, chat: ChatService | None) -> None:
        self.apps = apps
        self.chat = chat

    async def run(self, who: Principal, app: Any, model: str | None = None) -> dict[str, Any]:
        """The app's cases written and scored: per case the draft, the facts found and missed, the
        invented items, structure and language; for the app its figures and grade."""
        spec = await asyncio.to_thread(self.apps.trial_spec, who, app)  # authors only; validation
        if not spec.cases:
            raise ApiError(422, "Diese App hat noch keine Testfälle. Im Baukasten: ausprobieren, dann „Als Testfall"
                           " übernehmen“.", "This app has no test cases yet.", code="no_cases", param="app.cases")
        if self.chat is None:
            raise RuntimeError("this case check was built without a chat model")
        known = self.chat.model_ids()
        model_id = model or spec.params.model or (known[0] if known else "")
        try:
            report = await evaluate(self.chat, model_id, [spec], handbooks=self.apps.handbooks, files=self.apps.files)
        except LookupError as exc:
            raise ApiError(404, str(exc), f"The chat model '{model_id}' is not loaded.", code="model_not_found",
                           param="model") from None
        return report.as_dict()
