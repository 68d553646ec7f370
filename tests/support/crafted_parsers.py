"""Parsers for the child process of rag.isolation that misbehave on purpose. The child imports them by
name (module:function), so a test can make it hang or swell without touching the real parsers."""

from __future__ import annotations

import os
import signal
import threading

from rag.documents import ParsedDocument
from rag.parsers import parse


def hang(data: bytes, filename: str) -> ParsedDocument:
    """Never returns for a file whose name starts with 'haengt'; any other file is parsed as usual."""
    if filename.startswith("haengt"):
        threading.Event().wait()
    return parse(data, filename)


def swell(data: bytes, filename: str) -> ParsedDocument:
    """Asks for 8 GB at once, far beyond the child's address space."""
    bytearray(8 * 1024**3)
    return parse(data, filename)


def die(data: bytes, filename: str) -> ParsedDocument:
    """Dies the way a library's crash or the kernel's OOM killer ends a process."""
    os.kill(os.getpid(), signal.SIGKILL)
    return parse(data, filename)
