"""What the batching scheduler (models/batching.py) needs of a model, so that it runs on llama.cpp
(models/llama_runtime.py) in the appliance and on a small scripted fake (models/fake_batch_backend.py)
in fast unit tests of its admission, fairness, prefix reuse and cancellation.

Three parts: the model (which token ends an answer, the bytes of a token), one context (a batch
of tokens for many sequences, decoded together, and the KV memory of each sequence), and one
sampler per request (made by a factory, reading the logits the last decode left in the context).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class DecodeError(RuntimeError):
    """Decoding a batch failed; the sequences in it cannot go on."""


@dataclass(frozen=True)
class Sampling:
    """How one request draws its tokens."""

    temperature: float
    top_p: float
    repeat_penalty: float
    seed: int
    grammar: str | None = None  # GBNF every token must keep to (structured output)


class BatchModel(Protocol):
    vocab_size: int

    def is_end(self, token: int) -> bool:
        """The token ends an answer (end of turn, end of text)."""
        ...

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (a UTF-8 character may be split between tokens)."""
        ...


class BatchContext(Protocol):
    """One batch being built, its decode, and the KV cells of every sequence."""

    batch_size: int
    size: int
    """Tokens in the batch being built."""

    def clear(self) -> None:
        """Start a new batch."""
        ...

    def add(self, token: int, position: int, sequence: int | Sequence[int], logits: bool) -> int:
        """Add one token at ``position`` of one sequence or of several (a prefix read once for all of
        them); answers its index in the batch, where its logits will be when ``logits``."""
        ...

    def decode(self) -> None:
        """Decode the batch; raises DecodeError."""
        ...

    def forget(self, sequence: int) -> None:
        """Free all cells of a sequence."""
        ...

    def share(self, source: int, target: int, length: int) -> None:
        """Positions [0, length) of ``source`` also belong to ``target`` (the cells are shared)."""
        ...


class BatchSampler(Protocol):
    """One request's sampler: it keeps state (a repeat penalty's window, a seeded draw)."""

    def remember(self, tokens: Sequence[int]) -> None:
        """Take the prompt into account as if it had been sampled."""
        ...

    def sample(self, context: BatchContext, index: int) -> int:
        """The next token from the logits at ``index`` of the context's last decode."""
        ...

    def free(self) -> None: ...


SamplerFactory = Callable[[Sampling, int], BatchSampler]
"""Makes a request's sampler from its Sampling and the model's vocabulary size (a grammar the
engine cannot follow is refused before a request is queued: see LlamaChatModel.stream)."""
