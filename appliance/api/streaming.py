"""Text generated piece by piece, answered as one JSON object or as server-sent events."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from appliance.chat.answer import Answer

DISCONNECT_POLL_S = 0.5


class ClientLeft(Exception):
    """The client went away before its answer began."""


class ClosingStreamingResponse(StreamingResponse):
    """Closes its iterator however the response ends, so a client that left never keeps a
    generation (and a sequence of the model) busy."""

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with contextlib.suppress(RuntimeError):  # already closed by the cancellation itself
                await self.body_iterator.aclose()


async def first_item(request: Request, items: AsyncIterator[Any], default: Any = None) -> Any:
    """The first item, while watching the client: one that leaves while its request still waits
    for the model withdraws it from the queue (ClientLeft), so it never runs for nobody."""
    first = asyncio.ensure_future(anext(items, default))
    try:
        while True:
            done, _ = await asyncio.wait({first}, timeout=DISCONNECT_POLL_S)
            if done:
                return first.result()
            if await request.is_disconnected():
                raise ClientLeft
    finally:
        if not first.done():
            first.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await first
            await items.aclose()


def left_response() -> Response:
    """What a client that left gets (nobody reads it; 499 as nginx logs it)."""
    return Response(status_code=499)


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer(request: Request, answer: Answer, stream: bool) -> dict[str, Any] | Response:
    """Non-streamed: the whole answer object. Streamed: ``{"delta"}`` events, then the answer
    object, then ``[DONE]``. A client that leaves stops the generation."""
    if not stream:
        try:
            await first_item(request, answer)
            async for _ in answer:
                if await request.is_disconnected():
                    return left_response()
        except ClientLeft:
            return left_response()
        finally:
            await answer.aclose()
        return answer.result or {}
    try:
        first = await first_item(request, answer, "")  # errors before the first piece are real HTTP errors
    except ClientLeft:
        return left_response()

    async def events():
        try:
            yield _event({"delta": first})
            async for piece in answer:
                yield _event({"delta": piece})
            yield _event(answer.result or {})
            yield "data: [DONE]\n\n"
        finally:
            await answer.aclose()

    return ClosingStreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
