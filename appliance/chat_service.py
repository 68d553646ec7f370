"""Chat for the API and the UI: pick the model, check the request, start the stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from appliance.engines import Engines, UnknownModel
from appliance.errors import ApiError
from models.chat import (
    ChatEvent,
    ChatModel,
    ContextLengthExceeded,
    Finish,
    Message,
    QueueFull,
    SamplingParams,
    TextDelta,
)

__all__ = ["ChatService", "Finish", "Message", "SamplingParams", "TextDelta"]  # what the UI may use


def unknown_model_error(exc: UnknownModel) -> ApiError:
    known = ", ".join(exc.known) or "-"
    return ApiError(
        404,
        f"Das Modell '{exc.model_id}' gibt es hier nicht (als {exc.kind}-Modell). Verfügbar: {known}.",
        f"The model '{exc.model_id}' does not exist here (as a {exc.kind} model). Available: {known}.",
        code="model_not_found",
        param="model",
    )


class ChatService:
    def __init__(self, engines: Engines) -> None:
        self.engines = engines

    def model(self, model_id: str | None) -> ChatModel:
        try:
            return self.engines.chat(model_id)
        except UnknownModel as exc:
            raise unknown_model_error(exc) from None

    async def start(
        self,
        model_id: str | None,
        messages: Sequence[Message],
        params: SamplingParams,
        shrink_to_fit: int = 0,
        *,
        owner: str = "",
        system_shared: bool = False,
    ) -> tuple[ChatModel, AsyncIterator[ChatEvent]]:
        """With ``shrink_to_fit``, max_tokens is a ceiling: when the prompt leaves less room but at
        least that many tokens, the answer gets what is left instead of an error. ``owner`` and
        ``system_shared``: see ChatModel.stream."""
        model = self.model(model_id)
        who = {"owner": owner, "system_shared": system_shared}
        try:
            try:
                return model, await model.stream(messages, params, **who)
            except ContextLengthExceeded as exc:
                room = exc.limit - exc.prompt_tokens
                if not shrink_to_fit or room < shrink_to_fit or room >= (params.max_tokens or 0):
                    raise
                return model, await model.stream(messages, replace(params, max_tokens=room), **who)
        except ContextLengthExceeded as exc:
            raise ApiError(
                400,
                f"Die Anfrage ist zu lang für das Modell: höchstens {exc.limit} Token Kontext, angefragt"
                f" {exc.requested} ({exc.prompt_tokens} in den Nachrichten, {exc.max_tokens or 0}"
                " für die Antwort). Bitte kürzen.",
                f"This model's maximum context length is {exc.limit} tokens. However, you requested"
                f" {exc.requested} tokens ({exc.prompt_tokens} in the messages, {exc.max_tokens or 0}"
                " in the completion). Please reduce the length of the messages or completion.",
                code="context_length_exceeded",
                param="max_tokens" if exc.prompt_tokens < exc.limit else "messages",
            ) from None
        except QueueFull as exc:
            raise ApiError(
                503,
                f"Gerade sind sehr viele Anfragen in Arbeit ({exc.waiting} warten). Bitte in"
                f" {exc.retry_after} Sekunden erneut versuchen.",
                f"Too many requests are in progress ({exc.waiting} waiting). Retry in"
                f" {exc.retry_after} seconds.",
                code="queue_full",
                headers={"Retry-After": str(exc.retry_after)},
            ) from None

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
