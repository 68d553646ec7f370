"""An answer being written, as every feature that writes text returns it (handbooks, apps)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any


class Answer:
    """Iterate for the text pieces as the model writes them; once the last one is out, ``result``
    holds the whole answer object (the text with its sources and AI-draft label) as the API answers
    it. Closing it (a client that left, the stop button) stops the writing and frees the model.

    The pieces and the result come from one service call, so what is checked, counted or cited
    for an answer is decided in one place (as PrivateGPT's chat service returns the completion
    together with its sources)."""

    def __init__(self, pieces: AsyncIterator[str], finish: Callable[[str], dict[str, Any]]) -> None:
        self._pieces = pieces
        self._finish = finish
        self.text = ""
        self.result: dict[str, Any] | None = None

    def __aiter__(self) -> Answer:
        return self

    async def __anext__(self) -> str:
        try:
            piece = await anext(self._pieces)
        except StopAsyncIteration:
            if self.result is None:  # off the event loop: finishing may write (a run is counted)
                self.result = await asyncio.to_thread(self._finish, self.text)
            raise
        self.text += piece
        return piece

    async def aclose(self) -> None:
        await self._pieces.aclose()
