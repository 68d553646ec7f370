"""A small deterministic ChatModel for fast tests of the layers above the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from models.chat import ChatEvent, Finish, Message, SamplingParams, TextDelta, check_fits


class FakeChatModel:
    """Answers 'Echo: <last user message>' one word per token; a token is a word."""

    def __init__(self, model_id: str = "fake-chat", context_length: int = 512, delay: float = 0.0) -> None:
        self.id = model_id
        self.context_length = context_length
        self.delay = delay
        self.callers: list[tuple[str, bool]] = []
        """(owner, system_shared) of every request, for tests of the layers above."""

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return sum(len(m.content.split()) + 2 for m in messages) + 1

    async def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, owner: str = "", system_shared: bool = False
    ) -> AsyncIterator[ChatEvent]:
        self.callers.append((owner, system_shared))
        prompt = self.count_prompt_tokens(messages)
        budget = check_fits(self.context_length, prompt, params.max_tokens)
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        words = ["Echo:", *last.split()]
        return self._events(words, prompt, budget, params.stop)

    async def _events(
        self, words: list[str], prompt: int, budget: int, stops: Sequence[str]
    ) -> AsyncIterator[ChatEvent]:
        text = ""
        for n, word in enumerate(words[:budget], start=1):
            piece = word if n == 1 else " " + word
            if any(s and s in text + piece for s in stops):
                yield Finish("stop", prompt, n - 1)
                return
            text += piece
            await asyncio.sleep(self.delay)
            yield TextDelta(piece)
        yield Finish("length" if len(words) > budget else "stop", prompt, min(len(words), budget))

    def close(self) -> None:
        return None
