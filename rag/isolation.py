"""Parse an uploaded file in a child process with a time and a memory limit: a crafted file that makes
a parser hang or swell fails its own upload with a clear error, never the worker that takes every upload.

The child is a fresh interpreter (``python -m rag.isolation``), not a fork of a process that holds
models and threads, and not multiprocessing's spawn (which would import the service's main module in
each child first). It reads a JSON header line and the file's bytes on stdin, limits its address space
(RLIMIT_AS), parses, and answers one JSON object on its own copy of stdout: plain data both ways, no pickle.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from rag.documents import Block, Page, ParsedDocument, ParseError
from rag.parsers import too_complex

PARSER = "rag.parsers:parse"
"""What the child calls, as module:function; tests name one that hangs or swells."""


def parse_isolated(data: bytes, filename: str, timeout_s: float, memory_mb: int, parser: str = PARSER
                   ) -> ParsedDocument:
    """``parser(data, filename)`` in a child process: killed after ``timeout_s`` seconds (ParseError
    parse_timeout), at most ``memory_mb`` MB of address space (ParseError file_too_complex)."""
    header = json.dumps({"parser": parser, "filename": filename, "memory_mb": memory_mb}).encode()
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parent.parent)  # where this rag package lies: the child imports the same
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run([sys.executable, "-m", "rag.isolation"], input=header + b"\n" + data, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:  # run() has killed the child
        seconds = f"{timeout_s:g} Sekunde" + ("" if timeout_s == 1 else "n")
        raise ParseError(f"Das Lesen der Datei hat länger als {seconds} gedauert und wurde abgebrochen."
                         " Bitte die Datei als PDF speichern (oder in kleinere Teile teilen) und erneut hochladen.",
                         code="parse_timeout") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:  # no answer: the child died (out of memory in a library, a crash, a signal)
        raise too_complex(f"Abbruch beim Lesen, Status {done.returncode}") from None
    if "error" in answer:
        raise ParseError(answer["error"]["message"], answer["error"]["status"], answer["error"]["code"])
    return _document(answer["document"])


def _document(d: dict[str, Any]) -> ParsedDocument:
    pages = [Page(p["number"], [Block(b["kind"], b["text"], b["level"]) for b in p["blocks"]], p["label"])
             for p in d["pages"]]
    return ParsedDocument(d["title"], pages, d["media_type"])


def _json(document: ParsedDocument) -> dict[str, Any]:
    return {"title": document.title, "media_type": document.media_type,
            "pages": [{"number": p.number, "label": p.label,
                       "blocks": [{"kind": b.kind, "text": b.text, "level": b.level} for b in p.blocks]}
                      for p in document.pages]}


def _child() -> None:
    answer_to = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a library prints goes where stderr goes, never into the answer
    header = json.loads(sys.stdin.buffer.readline())
    limit = header["memory_mb"] * 1024 * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        data = sys.stdin.buffer.read()
        module, _, name = header["parser"].partition(":")
        parse = getattr(importlib.import_module(module), name)
        answer: dict[str, Any] = {"document": _json(parse(data, header["filename"]))}
    except ParseError as exc:
        answer = {"error": {"message": str(exc), "status": exc.status, "code": exc.code}}
    except MemoryError:
        error = too_complex(f"mehr als {header['memory_mb']} MB Arbeitsspeicher")
        answer = {"error": {"message": str(error), "status": error.status, "code": error.code}}
    except Exception as exc:  # a parser's failure on a file it cannot read: said like the others
        answer = {"error": {"message": f"Die Datei konnte nicht gelesen werden ({type(exc).__name__}).",
                            "status": 422, "code": "unreadable_document"}}
    answer_to.write(json.dumps(answer).encode())  # ASCII: a lone surrogate from a PDF travels too
    answer_to.close()


if __name__ == "__main__":
    _child()
