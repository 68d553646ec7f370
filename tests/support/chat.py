"""A chat model for the layers above the engine (API, web UI) whose answers do not depend on luck
or speed: it writes one word every ``pace`` seconds, endlessly when the question holds ``endless``
(so a test can always see it grow and stop it), and a short answer otherwise."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Sequence

from models.chat import ChatEvent, Finish, Message, SamplingParams, TextDelta
from models.fake_chat import FakeChatModel


class EndlessChat(FakeChatModel):
    def __init__(self, model_id: str = "endless-chat", endless: str = "", pace: float = 0.01) -> None:
        """``endless`` empty: every answer is endless."""
        super().__init__(model_id, context_length=100_000)
        self.endless = endless
        self.pace = pace
        self.began = threading.Event()
        """Set once an endless answer has written its first word."""
        self.closed = threading.Event()
        """Set once an endless answer's stream was closed (its client left, or Stop)."""
        self.open = 0

    @property
    def busy(self) -> bool:
        return self.open > 0

    async def stream(self, messages: Sequence[Message], params: SamplingParams, *, owner: str = "",
                     system_shared: bool = False) -> AsyncIterator[ChatEvent]:
        last = next((m.content for m in reversed(messages) if m.role == "user"), "")
        self.open += 1
        return self._forever() if self.endless in last else self._short(last)

    async def _forever(self) -> AsyncIterator[ChatEvent]:
        try:
            n = 0
            while True:
                n += 1
                yield TextDelta(f" Wort{n}")
                self.began.set()
                await asyncio.sleep(self.pace)  # room for the server's loop to notice a client that left
        finally:
            self.open -= 1
            self.closed.set()

    async def _short(self, question: str) -> AsyncIterator[ChatEvent]:
        try:
            words = ["Hallo!", "Sie", "fragten:", *question.split()[:8]]
            for word in words:
                yield TextDelta(word + " ")
                await asyncio.sleep(self.pace)
            yield Finish("stop", 10, len(words))
        finally:
            self.open -= 1
