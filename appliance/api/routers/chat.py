"""POST /v1/chat/completions, streamed (SSE ending in [DONE]) and not."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from appliance.api.deps import ChatDep, PrincipalDep
from appliance.api.openai_types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatMessageOut,
    Choice,
    ChunkChoice,
    Delta,
    Usage,
)
from appliance.api.streaming import ClientLeft, ClosingStreamingResponse, first_item, left_response
from models.chat import ChatEvent, Finish, Message, SamplingParams, TextDelta

router = APIRouter(prefix="/v1", tags=["openai"])

DISCONNECT_CHECK_EVERY = 8


def to_messages(req: ChatCompletionRequest) -> list[Message]:
    return [Message("system" if m.role == "developer" else m.role, m.text()) for m in req.messages]


def to_params(req: ChatCompletionRequest) -> SamplingParams:
    return SamplingParams(
        max_tokens=req.max_tokens,
        temperature=req.temperature,
        top_p=req.top_p,
        seed=req.seed,
        stop=tuple(req.stop_list()),
    )


def _usage(finish: Finish) -> Usage:
    return Usage(
        prompt_tokens=finish.prompt_tokens,
        completion_tokens=finish.completion_tokens,
        total_tokens=finish.prompt_tokens + finish.completion_tokens,
    )


def _finish_reason(finish: Finish) -> str:
    return "length" if finish.reason == "length" else "stop"


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    req: ChatCompletionRequest, chat: ChatDep, who: PrincipalDep, request: Request
) -> ChatCompletion | StreamingResponse:
    # a system message sent with the request is this person's: its computed prefix serves only them
    model, events = await chat.start(req.model, to_messages(req), to_params(req), owner=who.name,
                                     response_format=req.response_format.as_dict() if req.response_format else None)
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    try:
        # wait for the first event before answering 200, so a failure is still a real HTTP error
        first = await first_item(request, events)
    except ClientLeft:
        return left_response()
    if not req.stream:
        return await _complete(first, events, model.id, cid, created, request)
    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    return ClosingStreamingResponse(
        _sse(first, events, model.id, cid, created, include_usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _complete(
    first: ChatEvent, events: AsyncIterator[ChatEvent], model_id: str, cid: str, created: int, request: Request
) -> ChatCompletion:
    parts: list[str] = []
    finish: Finish | None = None
    try:
        async for n, event in _enumerate(_chain(first, events)):
            if isinstance(event, TextDelta):
                parts.append(event.text)
            else:
                finish = event
            if n % DISCONNECT_CHECK_EVERY == 0 and await request.is_disconnected():
                break
    finally:
        await events.aclose()
    finish = finish or Finish("cancelled", 0, 0)
    return ChatCompletion(
        id=cid,
        created=created,
        model=model_id,
        choices=[Choice(message=ChatMessageOut(content="".join(parts)), finish_reason=_finish_reason(finish))],
        usage=_usage(finish),
    )


async def _chain(first: ChatEvent, events: AsyncIterator[ChatEvent]) -> AsyncIterator[ChatEvent]:
    yield first
    async for event in events:
        yield event


async def _enumerate(events: AsyncIterator[ChatEvent]) -> AsyncIterator[tuple[int, ChatEvent]]:
    n = 0
    async for event in events:
        n += 1
        yield n, event


def _chunk(cid: str, created: int, model_id: str, delta: Delta, finish_reason: str | None = None) -> str:
    chunk = ChatCompletionChunk(
        id=cid, created=created, model=model_id,
        choices=[ChunkChoice(delta=delta, finish_reason=finish_reason)],
    )
    return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"


async def _sse(
    first: ChatEvent,
    events: AsyncIterator[ChatEvent],
    model_id: str,
    cid: str,
    created: int,
    include_usage: bool,
) -> AsyncIterator[str]:
    try:
        yield _chunk(cid, created, model_id, Delta(role="assistant", content=""))
        event: ChatEvent | None = first
        while event is not None:
            if isinstance(event, TextDelta):
                yield _chunk(cid, created, model_id, Delta(content=event.text))
            else:
                yield _chunk(cid, created, model_id, Delta(), _finish_reason(event))
                if include_usage:
                    usage = ChatCompletionChunk(
                        id=cid, created=created, model=model_id, choices=[], usage=_usage(event)
                    )
                    yield f"data: {usage.model_dump_json()}\n\n"
                break
            event = await anext(events, None)
        yield "data: [DONE]\n\n"
    finally:
        # a client that went away lands here too: stop its generation at once
        await events.aclose()
