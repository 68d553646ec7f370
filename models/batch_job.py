"""One request of the batching engine (models/batching.py) and its text: the tokens it writes become
text piece by piece (a character may be split between tokens), and a stop string may be split
between tokens too, so text that could still become a stop is held back until it cannot."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from models.batch_backend import BatchSampler, Sampling
from models.prefix_cache import Prefix


def safe_prefix_len(text: str, stops: Sequence[str]) -> int:
    """Length of the part of text that cannot be the start of a stop string."""
    hold = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                hold = max(hold, n)
                break
    return len(text) - hold


@dataclass(eq=False)
class Job:
    """One request, from submission to its Finish."""

    tokens: list[int]
    budget: int
    stops: list[str]
    sampling: Sampling
    owner: str
    emit: Callable[[object], None]
    shared_len: int = 0
    """tokens[:shared_len] may be kept and reused (0: nothing of this request is shared); less than
    len(tokens), as the last prompt token is always read (its logits give the first answer token)."""
    scope: str = ""
    """Who may reuse this request's prefix: "" everyone, else the owner."""
    number: int = 0
    times: dict[str, float] = field(default_factory=dict)
    """When it was submitted, admitted, and wrote its first token (the scheduler's clock)."""
    seq: int = -1
    past: int = 0
    """Prompt tokens already in the KV cache."""
    produced: int = 0
    reserved: int = 0
    """KV cells held for this request: its prompt (minus a reused prefix) and its whole answer."""
    last: int = -1
    cancelled: bool = False
    waiting_for: Prefix | None = None
    wait_len: int = 0
    uses: Prefix | None = None
    makes: Prefix | None = None
    sampler: BatchSampler | None = None
    pending: str = ""
    """Text written but held back: it may still become a stop string."""
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace")
    )

    @property
    def reading(self) -> bool:
        return self.past < len(self.tokens)

    def send(self, item: object) -> None:
        """Hand an event to the client; one whose event loop is gone is cancelled."""
        try:
            self.emit(item)
        except RuntimeError:
            self.cancelled = True

    def take(self, token: int, piece: bytes) -> tuple[str, str | None]:
        """A token just written (not an end token) and its bytes: answers the text that may go out
        now, and why the answer ends here: "stop" (a stop string), "length" (the budget), or None."""
        self.produced += 1
        self.last = token
        text, stopped = self.write(piece)
        if stopped:
            return text, "stop"
        return text, "length" if self.produced >= self.budget else None

    def write(self, piece: bytes) -> tuple[str, bool]:
        """Take the bytes of a token just written: answers the text that may go out now, and
        whether a stop string was hit (the text then ends before it)."""
        self.pending += self.decoder.decode(piece)
        hit = min((i for s in self.stops if (i := self.pending.find(s)) != -1), default=-1)
        if hit != -1:
            text, self.pending = self.pending[:hit], ""
            return text, True
        safe = safe_prefix_len(self.pending, self.stops)
        text, self.pending = self.pending[:safe], self.pending[safe:]
        return text, False

    def rest(self, flush: bool) -> str:
        """The text held back, at the end; ``flush`` also gives out an unfinished character."""
        return self.pending + (self.decoder.decode(b"", final=True) if flush else "")
