"""Fixed sections of an app's output: the grammar that keeps the model to them, and the text made of them.

An app that declares ``sections`` (the care report's "Beobachtung", "Maßnahme", ...) is written under a
llama.cpp grammar: every required section in its order, each starting a line with its title, so no
section can go missing, be renamed or be wrapped in other Markdown. Two layouts:

- ``line``: ``Titel: Text`` (the care report; further lines where the section allows them);
- ``bold``: ``**Titel:** Text``, a blank line between sections (Markdown: the handover);
- ``heading``: ``## Titel`` on its own line, the text below it (minutes, conversation notes).

Consecutive sections marked ``repeat`` form a block written once per resident or event (up to
MAX_BLOCKS times, a blank line between). The grammar bounds every section (lines and characters), so
the whole answer is bounded too. Should an answer still end early (its token limit), ``complete`` adds
the required sections it lacks, marked ``[fehlt]``, to the text the person sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_SECTIONS = 12
MAX_LINES = 60  # lines in one section
MAX_LINE_CHARS = 600
MAX_BLOCKS = 10
MISSING = "[fehlt]"


class Layout(StrEnum):
    line = "line"
    bold = "bold"
    heading = "heading"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[^\n\r:#*\[\]|]+$",
                                description="Überschrift oder Zeilenanfang ohne Doppelpunkt, z. B. Beobachtung")]
    optional: bool = False  # the model may leave it out (e.g. "Zu prüfen" when nothing is unclear)
    lines: Annotated[int, Field(ge=1, le=MAX_LINES)] = 1  # more than 1: the section may go on over lines
    repeat: bool = False  # with its repeating neighbours: once per resident or event


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section_rule(section: Section, layout: Layout) -> str:
    more = f' ("\\n" blank? line){{0,{section.lines - 1}}}' if section.lines > 1 else ""
    if layout is Layout.heading:
        return f'{_literal("## " + section.title)} "\\n" line{more} "\\n"'
    head = f"**{section.title}:**" if layout is Layout.bold else f"{section.title}:"
    if section.lines > 1:  # the text may begin on the title's line or below it (a list, a table)
        return f'{_literal(head)} (" " | "\\n") line{more} "\\n"'
    return f'{_literal(head + " ")} line "\\n"'


def grammar(sections: list[Section], layout: Layout = Layout.line) -> str:
    """GBNF for the answer: the sections in their order, a repeating block up to MAX_BLOCKS times."""
    rules = [f"line ::= [^ \\n] [^\\n]{{0,{MAX_LINE_CHARS - 1}}}", 'blank ::= "\\n"']  # no line of spaces
    parts: list[str] = []
    block: list[str] = []
    gap = {Layout.heading: "blank? ", Layout.bold: "blank "}.get(layout, "")

    def close_block() -> None:
        if block:
            name = f"b{len(rules)}"
            rules.append(f"{name} ::= {' '.join(block)}")
            parts.append(f'{gap}{name} (blank {name}){{0,{MAX_BLOCKS - 1}}}')
            block.clear()

    for n, section in enumerate(sections):
        rules.append(f"s{n} ::= {_section_rule(section, layout)}")
        ref = f"{gap}s{n}" if not section.repeat or block else f"s{n}"
        ref = f"({ref})?" if section.optional else ref
        if section.repeat:
            block.append(ref)
        else:
            close_block()
            parts.append(ref)
    close_block()
    parts[0] = parts[0].removeprefix(gap)
    return "\n".join([f"root ::= {' '.join(parts)}", *rules])


@dataclass(frozen=True)
class Part:
    title: str
    text: str


def _head(section: Section) -> re.Pattern:
    title = re.escape(section.title)
    return re.compile(rf"^\s*(?:#{{1,4}}\s*)?[*_]*\s*{title}\s*[*_]*\s*(?::|$)|^\s*#{{1,4}}\s*{title}\b",
                      re.IGNORECASE)


def _next(sections: list[Section], at: int) -> list[int]:
    """The sections that may follow section ``at`` (-1: the start), as the grammar allows them."""
    after = []
    for j in range(at + 1, len(sections)):
        after.append(j)
        if not sections[j].optional:
            break
    block = [j for j, s in enumerate(sections) if s.repeat]
    if at >= 0 and sections[at].repeat and all(sections[j].optional for j in block if j > at):
        after.append(block[0])  # the block again, for the next resident or event
    return after


def split(text: str, sections: list[Section]) -> list[Part]:
    """The sections of an answer in the order the grammar wrote them (a repeating block gives several
    parts with the same title). A line starts a section only where that section may come next, so a
    topic called "Aufgaben" inside the minutes' "Themen" stays part of them."""
    heads = [_head(s) for s in sections]
    parts: list[tuple[str, list[str]]] = []
    at = -1
    for line in text.replace("\r\n", "\n").split("\n"):
        found = next((j for j in _next(sections, at) if heads[j].match(line)), None)
        if found is not None:
            rest = line.split(":", 1)[1].lstrip("*_ ") if ":" in line else ""
            parts.append((sections[found].title, [rest]))
            at = found
        elif parts:
            parts[-1][1].append(line)
    return [Part(title, "\n".join(lines).strip()) for title, lines in parts]


def missing(text: str, sections: list[Section]) -> list[str]:
    """Titles of the required sections an answer lacks (a care report without "Maßnahme", say)."""
    found = {p.title for p in split(text, sections)}
    return [s.title for s in sections if not s.optional and s.title not in found]


def complete(text: str, sections: list[Section], layout: Layout = Layout.line) -> str:
    """The answer with every required section: those it lacks are added, marked [fehlt]. An answer cut
    off by its token limit lacks the sections after its last one (in a repeating block too)."""
    parts = split(text, sections)
    titles = [s.title for s in sections]
    after = titles.index(parts[-1].title) + 1 if parts else 0
    lacking = [s.title for s in sections[after:] if not s.optional]
    lacking = [t for t in missing(text, sections) if t not in lacking] + lacking
    if not lacking:
        return text
    form = {Layout.heading: "## {}\n{}", Layout.bold: "**{}:** {}"}.get(layout, "{}: {}")
    glue = "\n" if layout is Layout.line else "\n\n"
    return glue.join([text.rstrip(), *(form.format(title, MISSING) for title in lacking)]).strip()
