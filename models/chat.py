"""The ChatModel protocol: stream tokens for a list of messages with sampling parameters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int | None = None  # None: up to the end of the context
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: Sequence[str] = field(default_factory=tuple)
    repeat_penalty: float = 1.0  # above 1 small models loop less in long texts (apps use 1.1)
    grammar: str | None = None  # GBNF the answer must follow (structured output); None: free text


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Finish:
    reason: Literal["stop", "length", "cancelled"]
    prompt_tokens: int
    completion_tokens: int


ChatEvent = TextDelta | Finish


class ContextLengthExceeded(ValueError):
    """The prompt (plus the requested completion) does not fit in the model's context."""

    def __init__(self, limit: int, prompt_tokens: int, max_tokens: int | None) -> None:
        self.limit = limit
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens
        self.requested = prompt_tokens + (max_tokens or 0)
        super().__init__(
            f"context length {limit} exceeded: {self.requested} tokens requested"
            f" ({prompt_tokens} in the messages, {max_tokens or 0} for the completion)"
        )


class GrammarError(ValueError):
    """The engine cannot follow the requested grammar (``GrammarError.detail`` says why, in English)."""


class QueueFull(RuntimeError):
    """Too many requests are already waiting for this model."""

    def __init__(self, waiting: int, retry_after: int = 5) -> None:
        self.waiting = waiting
        self.retry_after = retry_after
        super().__init__(f"{waiting} requests already waiting")


@runtime_checkable
class ChatModel(Protocol):
    id: str
    context_length: int

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens the messages take once the chat template is applied."""
        ...

    async def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, owner: str = "", system_shared: bool = False
    ) -> AsyncIterator[ChatEvent]:
        """Check the request, then return its events: text deltas, then exactly one Finish.

        Raises ContextLengthExceeded or QueueFull here, before any event, so callers can answer
        with a real HTTP error. Closing the returned iterator stops generation.

        ``owner`` is the person asking: requests are scheduled fairly between owners, and a system
        message that came with the request is reused only for the same owner. ``system_shared``
        says the leading system message is the operator's fixed text (an app's instructions, the
        handbook assistant's rules), whose computed prefix may serve everyone.
        """
        ...

    def close(self) -> None: ...


def check_fits(limit: int, prompt_tokens: int, max_tokens: int | None) -> int:
    """Return the completion budget, or raise ContextLengthExceeded."""
    if prompt_tokens + (max_tokens or 0) > limit or prompt_tokens >= limit:
        raise ContextLengthExceeded(limit, prompt_tokens, max_tokens)
    return max_tokens if max_tokens is not None else limit - prompt_tokens
