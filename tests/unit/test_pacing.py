"""The browser gets streamed text at a pace it can draw, and always the whole text at the end."""

from __future__ import annotations

import asyncio

from ui.pacing import growing


async def _pieces(words: list[str], delay: float = 0.0, closed: list[bool] | None = None):
    try:
        for word in words:
            await asyncio.sleep(delay)
            yield word
    finally:
        if closed is not None:
            closed.append(True)


async def test_fast_pieces_are_gathered_and_the_end_is_always_shown() -> None:
    words = [f"w{i} " for i in range(200)]
    shown = [text async for text in growing(_pieces(words), interval=10)]
    assert shown == ["w0 ", "".join(words)]  # the first piece at once, then the rest together


async def test_slow_pieces_are_shown_one_by_one() -> None:
    shown = [text async for text in growing(_pieces(["a", "b", "c"], delay=0.03), interval=0.01)]
    assert shown == ["a", "ab", "abc"]


async def test_leaving_early_closes_the_source() -> None:
    closed: list[bool] = []
    stream = growing(_pieces(["a", "b", "c"], delay=0.01, closed=closed), interval=0)
    assert await anext(stream) == "a"
    await stream.aclose()
    assert closed == [True]
