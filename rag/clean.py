"""Clean PDF page text: join words hyphenated across lines, drop running headers and footers."""

from __future__ import annotations

import re
from collections import Counter

from rag.documents import Block, Page

EDGE_LINES = 2  # lines at the top and at the bottom of a page that may be a header or footer
# "Kinder-\nund Jugendhilfe" keeps its hyphen: the next word continues a list, not the word
_KEEP_HYPHEN_BEFORE = {"und", "oder", "bis", "bzw", "sowie", "noch", "als", "wie"}
_HYPHENATED = re.compile(r"(\w)-[ \t]*\n[ \t]*([a-zäöüß]\w*)")
# a table-of-contents entry: dot leaders ('. . . .', '....' or '……') and a page number
_TOC_ENTRY = re.compile(r"(?:\.\s*){4,}(?:\d+|[ivxlc]+)\s*$|…{2,}\s*(?:\d+|[ivxlc]+)\s*$", re.IGNORECASE)


def join_hyphenation(text: str) -> str:
    def repl(match: re.Match) -> str:
        following = match.group(2)
        if following.rstrip(".,;:").lower() in _KEEP_HYPHEN_BEFORE:
            return f"{match.group(1)}- {following}"
        return match.group(1) + following

    return _HYPHENATED.sub(repl, text)


def _shape(line: str) -> str:
    """A header line without its page number: 'Seite 3 von 90' and 'Seite 4 von 90' look alike."""
    return re.sub(r"\d+", "#", " ".join(line.split())).lower()


def clean_pages(pages: list[Page]) -> list[Page]:
    lines_per_page = [[line for b in p.blocks for line in b.text.splitlines() if line.strip()] for p in pages]
    counts: Counter[str] = Counter()
    for lines in lines_per_page:
        edges = {_shape(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:]}
        counts.update(edges)
    with_text = sum(1 for lines in lines_per_page if lines)
    threshold = max(3, with_text // 2 + 1)
    running = {shape for shape, n in counts.items() if n >= threshold}
    cleaned = []
    for page, lines in zip(pages, lines_per_page, strict=True):
        toc = {line for line in lines if _TOC_ENTRY.search(line)}
        # a contents page answers no question, but its headings match every query: leave it out
        keep = [] if len(toc) >= 5 and len(toc) * 2 >= len(set(lines)) else [line for line in lines if line not in toc]
        # drop repeating lines only at the edges of a page, never in the middle of the text
        while keep and _shape(keep[0]) in running:
            keep.pop(0)
        while keep and _shape(keep[-1]) in running:
            keep.pop()
        text = join_hyphenation("\n".join(keep)).strip()
        cleaned.append(Page(page.number, [Block("text", text)] if text else [], page.label))
    return cleaned
