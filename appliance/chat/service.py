"""Chat for the API, the UI and the interpreter: pick the model, check the request, start the stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from appliance.chat.structured import grammar_for
from appliance.engines import Models
from appliance.infra.errors import ApiError
from models.chat import (
    ChatEvent,
    ChatModel,
    ContextLengthExceeded,
    Finish,
    GrammarError,
    Message,
    QueueFull,
    SamplingParams,
    TextDelta,
)

DEMO_NOTICE = ("Demo-Modell – für echte Einträge lässt die IT ein größeres Modell einspielen.",
               "Demo model – for real records, IT installs a larger model.")

__all__ = ["DEMO_NOTICE", "ChatService", "Finish", "Message", "SamplingParams", "TextDelta"]  # what the UI may use


def context_error(exc: ContextLengthExceeded) -> ApiError:
    return ApiError(
        400,
        f"Die Anfrage ist zu lang für das Modell: höchstens {exc.limit} Token Kontext, angefragt"
        f" {exc.requested} ({exc.prompt_tokens} in den Nachrichten, {exc.max_tokens or 0}"
        " für die Antwort). Bitte kürzen.",
        f"This model's maximum context length is {exc.limit} tokens. However, you requested"
        f" {exc.requested} tokens ({exc.prompt_tokens} in the messages, {exc.max_tokens or 0}"
        " in the completion). Please reduce the length of the messages or completion.",
        code="context_length_exceeded",
        param="max_tokens" if exc.prompt_tokens < exc.limit else "messages",
    )


def queue_error(exc: QueueFull) -> ApiError:
    return ApiError(
        503,
        f"Gerade sind sehr viele Anfragen in Arbeit ({exc.waiting} warten). Bitte in"
        f" {exc.retry_after} Sekunden erneut versuchen.",
        f"Too many requests are in progress ({exc.waiting} waiting). Retry in {exc.retry_after} seconds.",
        code="queue_full",
        headers={"Retry-After": str(exc.retry_after)},
    )


class ChatService:
    def __init__(self, models: Models, ui_max_tokens: int = 1024) -> None:
        """``ui_max_tokens``: the bound on a chat answer in the web UI (ui.max_answer_tokens)."""
        self.models = models
        self.ui_max_tokens = ui_max_tokens

    def demo_notice(self, model_id: str | None, lang: str = "de") -> str:
        """One line for every draft and the chat while a small demo model writes them; "" otherwise."""
        if not self.models.is_demo(model_id):
            return ""
        return DEMO_NOTICE[0] if lang == "de" else DEMO_NOTICE[1]

    def model_ids(self) -> list[str]:
        """The chat models to choose from; the first answers when none is named."""
        return self.models.chat_ids()

    async def start(
        self,
        model_id: str | None,
        messages: Sequence[Message],
        params: SamplingParams,
        shrink_to_fit: int = 0,
        *,
        owner: str = "",
        system_shared: bool = False,
        response_format: dict | None = None,
    ) -> tuple[ChatModel, AsyncIterator[ChatEvent]]:
        """With ``shrink_to_fit``, max_tokens is a ceiling: when the prompt leaves less room but at
        least that many tokens, the answer gets what is left instead of an error. ``owner`` and
        ``system_shared``: see ChatModel.stream. ``response_format`` (OpenAI's): the answer is JSON,
        or JSON following a schema, kept to by a grammar (appliance.chat.structured)."""
        model = self.models.chat(model_id)
        who = {"owner": owner, "system_shared": system_shared}
        if response_format is not None:
            params = replace(params, grammar=await asyncio.to_thread(grammar_for, response_format))
        try:
            try:
                return model, await model.stream(messages, params, **who)
            except ContextLengthExceeded as exc:
                room = exc.limit - exc.prompt_tokens
                if not shrink_to_fit or room < shrink_to_fit or room >= (params.max_tokens or 0):
                    raise
                return model, await model.stream(messages, replace(params, max_tokens=room), **who)
        except ContextLengthExceeded as exc:
            raise context_error(exc) from None
        except QueueFull as exc:
            raise queue_error(exc) from None
        except GrammarError as exc:
            raise ApiError(400, f"Das Modell kann diesem Format nicht folgen ({exc}).",
                           f"The model cannot follow this format ({exc}).", code="invalid_response_format",
                           param="response_format") from None

    async def texts(
        self,
        model_id: str | None,
        messages: Sequence[Message],
        params: SamplingParams,
        shrink_to_fit: int = 0,
        *,
        owner: str = "",
        system_shared: bool = False,
    ) -> AsyncIterator[str]:
        """Just the text pieces of an answer; the model's stream is closed however this one ends."""
        _, events = await self.start(model_id, messages, params, shrink_to_fit, owner=owner,
                                     system_shared=system_shared)
        try:
            async for event in events:
                if isinstance(event, TextDelta):
                    yield event.text
        finally:
            await events.aclose()

    async def converse(self, model_id: str | None, turns: Sequence[Message], owner: str) -> AsyncIterator[str]:
        """A conversation in the web UI: a bounded answer (ui.max_answer_tokens), so nobody waits on a
        runaway reply; when the conversation has grown beyond the model's context, its oldest turns
        are left out until it fits. Errors come before the first piece."""
        params = SamplingParams(temperature=0.7, max_tokens=self.ui_max_tokens)
        messages = list(turns)
        while True:
            try:
                _, events = await self.start(model_id, messages, params, owner=owner)
                break
            except ApiError as exc:
                if exc.code != "context_length_exceeded" or len(messages) <= 1:
                    raise
                messages = messages[2:] if len(messages) > 2 else messages[1:]  # forget the oldest turn
        return _texts(events)


async def _texts(events: AsyncIterator[ChatEvent]) -> AsyncIterator[str]:
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                yield event.text
    finally:
        await events.aclose()
