"""What a parsed handbook looks like: pages of blocks (headings and text), in reading order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class Block:
    kind: Literal["heading", "text"]
    text: str
    level: int = 0  # heading level 1..6


@dataclass
class Page:
    number: int | None  # the PDF's physical page, 1-based; None where a format has no pages
    blocks: list[Block] = field(default_factory=list)
    label: str | None = None  # the printed page label where it differs


@dataclass
class ParsedDocument:
    title: str
    pages: list[Page]
    media_type: str

    @property
    def page_count(self) -> int:
        return sum(1 for p in self.pages if p.number is not None)

    def text_length(self) -> int:
        return sum(len(b.text) for p in self.pages for b in p.blocks)


class ParseError(ValueError):
    """The file cannot be read as a handbook; the message says why in plain German."""

    def __init__(self, message: str, status: int = 422, code: str = "unreadable_document") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
