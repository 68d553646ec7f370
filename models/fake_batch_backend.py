"""A small deterministic backend for the batching scheduler (models/batching.py): fast unit tests of
its admission, fairness, prefix reuse and cancellation, without a model file.

A token is a character (its code point; 0 ends an answer; other tokens may stand for any bytes, so
a character can be split between tokens). What a sequence writes next is a function of the tokens
in its own KV cells (a ``Writer``): an answer shows which cells its sequence really had, so one
given another's cells, or a prefix that was never written, writes something else.

The context keeps the cells of every sequence as llama.cpp's unified cache does (a cell shared by
several sequences is one cell), records each step, share and forget, and refuses what llama.cpp
would refuse or silently get wrong: a token at a position that is not the next of its sequence,
a share of cells that are not there, more cells than it has. Its clock advances by a fixed cost
per step and token, so the scheduler's step cost model sees the same numbers on every machine. A
test may hold decodes (``hold``) and let them go on one step at a time (``let``), so the order in
which requests arrive and run is the test's, never the machine's speed.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from models.batch_backend import BatchContext, DecodeError, Sampling

END = 0
"""The token that ends an answer."""

Writer = Callable[[Sequence[int]], int]
"""The next token of a sequence, from the tokens in its cells."""


def text_tokens(text: str) -> list[int]:
    return [ord(c) for c in text]


def repeat_last(tokens: Sequence[int]) -> int:
    """Writes the last token of the prompt again and again (an answer shows which prompt it read)."""
    return tokens[-1]


def scripted(answers: Mapping[str, str | Sequence[int]], otherwise: Writer = repeat_last) -> Writer:
    """After a sequence that starts with one of the prompts (the longest that fits), write its answer
    token by token, then END; any other sequence goes to ``otherwise``."""
    table = sorted(((text_tokens(prompt), text_tokens(a) if isinstance(a, str) else list(a))
                    for prompt, a in answers.items()), key=lambda entry: -len(entry[0]))

    def write(tokens: Sequence[int]) -> int:
        for prompt, answer in table:
            if list(tokens[: len(prompt)]) == prompt:
                i = len(tokens) - len(prompt)
                return answer[i] if i < len(answer) else END
        return otherwise(tokens)

    return write


class FakeBackendError(AssertionError):
    """The scheduler asked something of the context that llama.cpp would refuse or get wrong."""


class FakeBatchModel:
    def __init__(self, pieces: Mapping[int, bytes] | None = None) -> None:
        """``pieces``: tokens that stand for other bytes than their character."""
        self.pieces = dict(pieces or {})
        self.vocab_size = max([0x110000, *self.pieces]) + 1

    def is_end(self, token: int) -> bool:
        return token == END

    def piece(self, token: int) -> bytes:
        return self.pieces[token] if token in self.pieces else chr(token).encode("utf-8")


@dataclass(frozen=True)
class Added:
    """One token of a batch."""

    token: int
    position: int
    seqs: tuple[int, ...]
    logits: bool


class FakeSampler:
    """Draws what the context's writer says; keeps what it was told, for the tests."""

    def __init__(self, sampling: Sampling, vocab_size: int) -> None:
        self.sampling = sampling
        self.remembered: list[int] = []
        self.drawn: list[int] = []
        self.freed = False

    def remember(self, tokens: Sequence[int]) -> None:
        self.remembered = list(tokens)

    def sample(self, context: BatchContext, index: int) -> int:
        if self.freed or not isinstance(context, FakeBatchContext):
            raise FakeBackendError("a freed sampler, or another context")
        token = context.next_token(index)
        self.drawn.append(token)
        return token

    def free(self) -> None:
        self.freed = True


class FakeBatchContext:
    """The context: the batch, the cells of each sequence, what was done to them, and the hold."""

    def __init__(self, writer: Writer = repeat_last, *, cells: int = 1 << 16, batch_size: int = 512,
                 step_seconds: float = 0.01, token_seconds: float = 0.001) -> None:
        self.writer = writer
        self.cells = cells
        self.batch_size = batch_size
        self.size = 0
        self.step_seconds = step_seconds
        self.token_seconds = token_seconds
        self.now = 0.0
        self.steps: list[list[Added]] = []
        """Every batch given to decode, in order (while a decode is held, the last is its batch)."""
        self.events: list[tuple] = []
        """("decode", step number), ("share", source, target, length), ("forget", sequence), in order."""
        self.errors: list[str] = []
        self._batch: list[Added] = []
        self._kv: dict[int, list[int]] = {}  # sequence -> its cells, by position
        self._tokens: dict[int, int] = {}  # cell -> token
        self._refs: Counter[int] = Counter()  # cell -> sequences that hold it
        self._cell_ids = itertools.count()
        self._next: dict[int, int] = {}  # batch index -> what its sequence writes next
        self._lock = threading.Condition()
        self._permits: int | None = None  # decodes that may start; None: all
        self._held = False
        self._failure: DecodeError | None = None

    # -- the batch ----------------------------------------------------------------------------

    def clear(self) -> None:
        self._batch = []
        self.size = 0

    def add(self, token: int, position: int, sequence: int | Sequence[int], logits: bool) -> int:
        if self.size >= self.batch_size:
            self._refuse(f"batch full: {self.size} of {self.batch_size}")
        seqs = (sequence,) if isinstance(sequence, int) else tuple(sequence)
        self._batch.append(Added(token, position, seqs, logits))
        self.size += 1
        return self.size - 1

    def decode(self) -> None:
        with self._lock:
            batch = list(self._batch)
            self.steps.append(batch)
            self.events.append(("decode", len(self.steps) - 1))
            while self._permits == 0:
                self._held = True
                self._lock.notify_all()
                self._lock.wait()
            if self._permits is not None:
                self._permits -= 1
            self.now += self.step_seconds + self.token_seconds * len(batch)
            if self._failure is not None:
                failure, self._failure = self._failure, None
                raise failure
            for added in batch:
                cell = next(self._cell_ids)
                self._tokens[cell] = added.token
                for seq in added.seqs:
                    cells = self._kv.setdefault(seq, [])
                    if added.position != len(cells):
                        self._refuse(f"sequence {seq}: a token at {added.position}, the next position is {len(cells)}")
                    cells.append(cell)
                    self._refs[cell] += 1
            if self.used_cells > self.cells:
                self._refuse(f"{self.used_cells} cells used, the context has {self.cells}")
            self._next = {}
            for index, added in enumerate(batch):
                if added.logits:
                    if len(added.seqs) != 1:
                        self._refuse("logits for a token of several sequences")
                    self._next[index] = self.writer(self.tokens(added.seqs[0])[: added.position + 1])

    def next_token(self, index: int) -> int:
        """What the sequence of the token at ``index`` of the last decode writes next."""
        if index not in self._next:
            self._refuse(f"no logits at {index}")
        return self._next[index]

    # -- the KV memory ------------------------------------------------------------------------

    def forget(self, sequence: int) -> None:
        with self._lock:
            self.events.append(("forget", sequence))
            for cell in self._kv.pop(sequence, []):
                self._refs[cell] -= 1
                if not self._refs[cell]:
                    del self._refs[cell], self._tokens[cell]

    def share(self, source: int, target: int, length: int) -> None:
        with self._lock:
            self.events.append(("share", source, target, length))
            cells = self._kv.get(source, [])[:length]
            if len(cells) < length:
                self._refuse(f"share of {length} cells of sequence {source}, which holds {len(cells)}")
            if self._kv.get(target):
                self._refuse(f"share into sequence {target}, which is not empty")
            self._kv[target] = list(cells)
            self._refs.update(cells)

    def tokens(self, sequence: int) -> list[int]:
        """The tokens in a sequence's cells, by position."""
        with self._lock:
            return [self._tokens[cell] for cell in self._kv.get(sequence, [])]

    @property
    def used_cells(self) -> int:
        return len(self._refs)

    # -- for the tests ------------------------------------------------------------------------

    def clock(self) -> float:
        """Seconds of the steps decoded so far: the scheduler's clock in tests."""
        return self.now

    def hold(self) -> None:
        """Every decode from now on waits until ``let`` or ``release``."""
        with self._lock:
            self._permits = 0

    def let(self, steps: int = 1) -> None:
        """Let so many more decodes run; the one after them waits again."""
        with self._lock:
            self._permits = (self._permits or 0) + steps
            self._held = False
            self._lock.notify_all()

    def release(self) -> None:
        """Decodes run freely again."""
        with self._lock:
            self._permits = None
            self._held = False
            self._lock.notify_all()

    def wait_held(self, timeout: float = 10.0) -> bool:
        """Wait until a decode waits (its batch is complete); False if none came within ``timeout``."""
        with self._lock:
            return self._lock.wait_for(lambda: self._held, timeout)

    def fail_next_decode(self, message: str = "llama_decode failed (fake)") -> None:
        with self._lock:
            self._failure = DecodeError(message)

    def _refuse(self, message: str) -> None:
        self.errors.append(message)
        raise FakeBackendError(message)


class FakeBatchBackend:
    """A model, a context and the sampler factory, for ``Scheduler(backend.model, backend.context,
    samplers=backend.sampler, clock=backend.context.clock, ...)``."""

    def __init__(self, writer: Writer = repeat_last, *, pieces: Mapping[int, bytes] | None = None,
                 cells: int = 1 << 16, batch_size: int = 512) -> None:
        self.model = FakeBatchModel(pieces)
        self.context = FakeBatchContext(writer, cells=cells, batch_size=batch_size)
        self.samplers: list[FakeSampler] = []
        """Every sampler made, in the order the requests were admitted."""

    def sampler(self, sampling: Sampling, vocab_size: int) -> FakeSampler:
        sampler = FakeSampler(sampling, vocab_size)
        self.samplers.append(sampler)
        return sampler
