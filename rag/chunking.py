"""Chunks that follow headings and keep document, page(s) and section path."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.documents import ParsedDocument

MAX_CHARS = 900
_SENTENCE = re.compile(r"(?<=[.!?:])\s+(?=[A-ZÄÖÜ0-9„\"(])")


@dataclass
class Chunk:
    index: int
    text: str
    section: str
    pages: list[int] = field(default_factory=list)

    @property
    def page(self) -> int | None:
        return self.pages[0] if self.pages else None


def _pieces(text: str, max_chars: int) -> list[str]:
    """Sentences, with over-long ones cut at word boundaries."""
    out: list[str] = []
    for sentence in _SENTENCE.split(" ".join(text.split())):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            out.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if sentence:
            out.append(sentence)
    return out


def chunk_document(document: ParsedDocument, max_chars: int = MAX_CHARS) -> list[Chunk]:
    chunks: list[Chunk] = []
    headings: list[tuple[int, str]] = []
    buffer: list[str] = []
    pages: list[int] = []

    def flush() -> None:
        if buffer:
            section = " > ".join(h for _, h in headings)
            chunks.append(Chunk(len(chunks), " ".join(buffer), section, sorted(set(pages))))
        buffer.clear()
        pages.clear()

    for page in document.pages:
        for block in page.blocks:
            if block.kind == "heading":
                flush()
                while headings and headings[-1][0] >= block.level:
                    headings.pop()
                headings.append((block.level, " ".join(block.text.split())))
                continue
            for piece in _pieces(block.text, max_chars):
                if buffer and sum(len(b) + 1 for b in buffer) + len(piece) > max_chars:
                    flush()
                buffer.append(piece)
                if page.number is not None:
                    pages.append(page.number)
    flush()
    return chunks


def vector_text(section: str, text: str) -> str:
    """What a chunk's vector stands for: the text under its heading path, which says what it is about
    (measured on benchmarks/eval: better than the last heading alone). Not the document title: repeated
    in every chunk it makes all vectors alike and eats the model's token window (the keyword index has it)."""
    return f"{section}\n{text}" if section else text
