"""Kept prompt prefixes of the batching engine (models/batching.py): which prefixes are held in the
KV cache, in which sequences, which one serves a new request best, and which to drop for a new one.

A prefix is the start of a prompt (an app's instructions, the handbook assistant's rules) that many
requests share. Once read it stays in a sequence of its own, so later requests share its cells
instead of reading it again. The cache only keeps the books; the scheduler reads prompts and moves
cells, and hears of every prefix dropped (its cells must be freed, whoever waited for it must go on).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass(eq=False)
class Prefix:
    """Cached KV cells of a prompt's start, held by a sequence of their own."""

    seq: int
    scope: str
    """Who may reuse it: "" everyone (the operator's texts), else only this owner."""
    tokens: tuple[int, ...]
    ready: bool = False
    """Its cells are written (or are being written by the step that marked it)."""
    users: int = 0
    """Running requests whose cells are shared with it: while any, it is never dropped for room."""
    used: int = 0
    """When it was made or last used, as a count: the least recently used idle one is dropped first."""


class PrefixCache:
    def __init__(self, seqs: Iterable[int], cells: int, dropped: Callable[[Prefix], None]) -> None:
        """``seqs``: the sequences that may hold prefixes; ``cells``: the KV cells all of them may
        take together; ``dropped``: called for every prefix removed (its sequence must be freed)."""
        self._free = sorted(seqs, reverse=True)  # the lowest first
        self.cells = cells
        self.entries: list[Prefix] = []
        self._dropped = dropped
        self._uses = itertools.count(1)

    @property
    def held(self) -> int:
        """Cells the kept prefixes take."""
        return sum(len(p.tokens) for p in self.entries)

    def best(self, tokens: Sequence[int], owner: str) -> tuple[Prefix | None, int]:
        """The prefix that shares the most leading tokens with ``tokens`` among those ``owner`` may
        use (never another person's own system message), and how many it shares."""
        best, best_len = None, 0
        for prefix in self.entries:
            if prefix.scope not in ("", owner):
                continue
            n = common_length(prefix.tokens, tokens)
            if n > best_len:
                best, best_len = prefix, n
        return best, best_len

    def reserve(self, tokens: Sequence[int], scope: str) -> Prefix | None:
        """A new entry, not ready, for a prefix someone is about to read; room is made by dropping
        idle prefixes, least recently used first. None when there is no room even so."""
        while not self._fits(len(tokens)) and self._evict():
            pass
        if not self._fits(len(tokens)):
            return None
        prefix = Prefix(self._free.pop(), scope, tuple(tokens), used=next(self._uses))
        self.entries.append(prefix)
        return prefix

    def _fits(self, length: int) -> bool:
        return bool(self._free) and self.held + length <= self.cells

    def _evict(self) -> bool:
        """Drop the least recently used prefix that nobody reads from; False when there is none."""
        idle = [p for p in self.entries if p.ready and p.users == 0]
        if not idle:
            return False
        self.drop(min(idle, key=lambda p: p.used))
        return True

    def use(self, prefix: Prefix) -> None:
        """A request shares its cells from now on."""
        prefix.users += 1
        prefix.used = next(self._uses)

    def drop(self, prefix: Prefix) -> None:
        self.entries.remove(prefix)
        self._free.append(prefix.seq)
        self._dropped(prefix)

    def clear(self) -> None:
        """Forget every entry (at shutdown; the context goes with it)."""
        self.entries.clear()
