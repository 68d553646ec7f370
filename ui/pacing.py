"""Streamed text for the browser at a pace it can draw.

The model writes up to a hundred pieces a second; re-rendering a growing Markdown answer that often
keeps a tablet's (or a busy box's) browser so occupied that a tap on "Stop" waits behind the
drawing. The page gets the text so far at most every ``INTERVAL`` seconds, and always at the end.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

INTERVAL = 0.1


async def growing(pieces: AsyncIterator[str], interval: float = INTERVAL) -> AsyncIterator[str]:
    """The whole text so far, each time at least ``interval`` seconds after the last, then the end."""
    text = ""
    shown_at = 0.0
    unshown = False
    try:
        async for piece in pieces:
            text += piece
            now = time.monotonic()
            if now - shown_at >= interval:
                shown_at = now
                unshown = False
                yield text
            else:
                unshown = True
    finally:
        await pieces.aclose()
    if unshown:
        yield text
