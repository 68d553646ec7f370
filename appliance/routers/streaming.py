"""Text generated piece by piece, answered as one JSON object or as server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from appliance.routers.chat import ClosingStreamingResponse


def _event(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer(request: Request, pieces: AsyncIterator[str], stream: bool,
                 finish: Callable[[str], dict[str, Any]]) -> dict[str, Any] | StreamingResponse:
    """Non-streamed: the whole text through ``finish``. Streamed: ``{"delta"}`` events, then
    ``finish``'s object, then ``[DONE]``. A client that leaves stops the generation."""
    if not stream:
        text = ""
        try:
            async for piece in pieces:
                text += piece
                if await request.is_disconnected():
                    break
        finally:
            await pieces.aclose()
        return finish(text)
    first = await anext(pieces, "")  # errors before the first piece are real HTTP errors

    async def events():
        text = first
        try:
            yield _event({"delta": first})
            async for piece in pieces:
                text += piece
                yield _event({"delta": piece})
            yield _event(finish(text))
            yield "data: [DONE]\n\n"
        finally:
            await pieces.aclose()

    return ClosingStreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
