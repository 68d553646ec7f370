"""A generated text as a Word document: the facility's letterhead, the AI-draft mark on every
page and in the file's properties, Markdown turned into Word paragraphs, lists and tables.

A letter in two languages ("## Deutsch" then "## <Sprache>") is laid out side by side. Text in
a language written right to left (Arabic, Farsi, Dari, ...) is set right to left: the paragraph
(w:bidi, so it starts at the right margin and its bullets stand on the right) and its runs (w:rtl).
Which column is right to left follows the language the user chose, else the column's heading,
else the letters of the text itself; outside the two columns, each paragraph by its letters.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT, WD_TABLE_DIRECTION
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.shared import Cm, Emu, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from markdown_it import MarkdownIt

from appliance.apps.text_direction import is_german, language_is_rtl, one_way_pieces, text_is_rtl

AI_MARK = "KI-Entwurf – von einem Menschen zu prüfen, bevor er verwendet wird."
AI_KEYWORDS = "KI-generiert; AI-generated; Entwurf"
_SECTION = re.compile(r"^##\s+(.+?)\s*$", re.MULTILINE)
_MD = MarkdownIt("commonmark").enable("table")  # nesting deeper than 20 levels is left out (maxNesting)
MAX_TABLE_ROWS, MAX_TABLE_COLUMNS = 500, 50  # far beyond a letter; beyond them a table becomes paragraphs
# what may follow w:bidi in a paragraph's properties (ECMA-376 CT_PPrBase), in order
_AFTER_BIDI = ("w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing",
               "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
               "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")


@dataclass(frozen=True)
class Letterhead:
    name: str
    logo: Path | None = None
    address: str = ""


def _inline(paragraph, children) -> None:
    bold = italic = False
    for tok in children or []:
        if tok.type == "strong_open":
            bold = True
        elif tok.type == "strong_close":
            bold = False
        elif tok.type == "em_open":
            italic = True
        elif tok.type == "em_close":
            italic = False
        elif tok.type in ("softbreak", "hardbreak"):
            paragraph.add_run().add_break()
        elif tok.type in ("text", "code_inline", "html_inline"):
            for piece in one_way_pieces(tok.content):  # an Arabic run and a Latin placeholder apart
                run = paragraph.add_run(piece)
                if bold:  # only then: setting None would still add an empty w:rPr to every run
                    run.bold = True
                if italic:
                    run.italic = True


def _markdown(container, text: str) -> None:
    """Markdown into a document or a table cell (both have add_paragraph and add_table)."""
    tokens = _MD.parse(text)
    lists: list[str] = []
    style_ids: dict[str, str | None] = {}

    def styled(name: str):
        """A paragraph in a style looked up once (python-docx looks it up among all styles on each set)."""
        if name not in style_ids:
            style_ids[name] = container.part.get_style_id(name, WD_STYLE_TYPE.PARAGRAPH)
        paragraph = container.add_paragraph()
        paragraph._p.style = style_ids[name]
        return paragraph

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            lists.append("List Bullet" if tok.type == "bullet_list_open" else "List Number")
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif tok.type == "heading_open":
            level = int(tok.tag[1])
            paragraph = styled(f"Heading {min(level + 1, 4)}")
            _inline(paragraph, tokens[i + 1].children)
            i += 2
        elif tok.type == "paragraph_open":
            paragraph = styled(lists[-1]) if lists else container.add_paragraph()
            _inline(paragraph, tokens[i + 1].children)
            i += 2
        elif tok.type == "table_open":
            i = _table(container, tokens, i)
        elif tok.type in ("fence", "code_block"):
            container.add_paragraph(tok.content.rstrip())
        elif tok.type == "hr":
            container.add_paragraph("―" * 20)
        i += 1


def _table(container, tokens, i: int) -> int:
    """A Markdown table as a Word table, filled row by row (python-docx's table.cell() walks the whole
    table on each call). Rows beyond MAX_TABLE_ROWS, and a table wider than MAX_TABLE_COLUMNS (no page
    holds it), become plain paragraphs with the cells apart by " | ": nothing is lost, the export never fails."""
    rows: list[list[list]] = []
    while tokens[i].type != "table_close":
        if tokens[i].type == "tr_open":
            rows.append([])
        elif tokens[i].type == "inline":
            rows[-1].append(tokens[i].children)
        i += 1
    width = max((len(r) for r in rows), default=0)
    kept = rows[:MAX_TABLE_ROWS] if 0 < width <= MAX_TABLE_COLUMNS else []
    if kept:
        table = container.add_table(rows=len(kept), cols=width)
        table.style = "Table Grid"
        for r, (tr, row) in enumerate(zip(table._tbl.tr_lst, kept, strict=True)):
            for tc, children in zip(tr.tc_lst, row, strict=False):
                paragraph = _Cell(tc, table).paragraphs[0]
                _inline(paragraph, children)
                if r == 0:
                    for run in paragraph.runs:
                        run.bold = True
    for row in rows[len(kept):]:
        paragraph = container.add_paragraph()
        for c, children in enumerate(row):
            if c:
                paragraph.add_run(" | ")
            _inline(paragraph, children)
    return i


class _Body:
    """The document's body for _markdown: each paragraph or table added in constant time (python-docx
    looks for the section properties, the body's last element, among all its elements on each add,
    which made a long text quadratic)."""

    def __init__(self, doc) -> None:
        self._doc = doc
        self._end = doc.element.body.sectPr
        section = doc.sections[-1]
        self._width = Emu(section.page_width - section.left_margin - section.right_margin)

    def _insert(self, element):
        if self._end is None:
            self._doc.element.body.append(element)
        else:
            self._end.addprevious(element)
        return element

    @property
    def part(self):
        return self._doc.part

    def add_paragraph(self, text: str = "") -> Paragraph:
        paragraph = Paragraph(self._insert(OxmlElement("w:p")), self._doc)
        if text:
            paragraph.add_run(text)
        return paragraph

    def add_table(self, rows: int, cols: int) -> Table:
        return Table(self._insert(CT_Tbl.new_tbl(rows, cols, self._width)), self._doc)


def _text(element) -> str:
    return "".join(t.text or "" for t in element.iter(qn("w:t")))


def _right_to_left(p) -> None:
    """One paragraph (a w:p) right to left. No w:jc: a w:bidi paragraph starts at the right margin by
    itself, and Word reads jc "right" in it as the paragraph's end, the left margin."""
    ppr = p.get_or_add_pPr()
    if ppr.find(qn("w:bidi")) is None:
        ppr.insert_element_before(OxmlElement("w:bidi"), *_AFTER_BIDI)
    for r in p.iter(qn("w:r")):
        if not text_is_rtl(_text(r), default=True):  # a Latin placeholder or name stays a left-to-right run
            continue
        rpr = r.get_or_add_rPr()
        rpr.get_or_add_rtl()
        # right-to-left runs take bold and italic from the complex-script twins
        if rpr.b is not None and rpr.b.val:
            rpr.get_or_add_bCs()
        if rpr.i is not None and rpr.i.val:
            rpr.get_or_add_iCs()


def _column_right_to_left(cell) -> None:
    for p in cell._tc.iter(qn("w:p")):
        _right_to_left(p)
    for tbl in cell._tc.iter(qn("w:tbl")):  # a table in the column reads from the right too
        tbl.bidiVisual_val = WD_TABLE_DIRECTION.RTL


def _column_is_rtl(heading: str, body: str, language: str | None) -> bool:
    """The language the user chose for the column that is not German; else the heading; else the letters."""
    for name in ((heading,) if is_german(heading) or not language else (language, heading)):
        known = language_is_rtl(name)
        if known is not None:
            return known
    return text_is_rtl(body)


def two_languages(text: str) -> list[tuple[str, str]] | None:
    """[(language, text), (language, text)] when the text is one letter in exactly two languages."""
    parts = _SECTION.split(text)
    if len(parts) != 5 or parts[0].strip():
        return None
    return [(parts[1], parts[2].strip()), (parts[3], parts[4].strip())]


# characters a Word file (XML 1.0) cannot hold: control characters other than tab and line breaks,
# lone surrogates and the two non-characters; a pasted text may carry them, a model may write them
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    return _NOT_XML.sub("", text)


def build(title: str, text: str, letterhead: Letterhead, app_title: str, when: datetime | None = None,
          language: str | None = None, note: str = "") -> bytes:
    """The DOCX; ``language`` is the language the user chose for the letter (e.g. "Arabisch"), if any;
    ``note`` (the fact check's line) stands under the text, marked like the AI-draft banner.
    Characters Word cannot hold are left out (never a failed export)."""
    when = when or datetime.now()
    title, text, app_title = xml_safe(title), xml_safe(text), xml_safe(app_title)
    letterhead = Letterhead(xml_safe(letterhead.name), letterhead.logo, xml_safe(letterhead.address))
    doc = Document()
    section = doc.sections[0]
    section.left_margin = section.right_margin = Cm(2.2)
    head = section.header.paragraphs[0]
    if letterhead.logo and letterhead.logo.exists():
        head.add_run().add_picture(str(letterhead.logo), height=Cm(1.4))
        head.add_run("   ")
    name = head.add_run(letterhead.name)
    name.bold, name.font.size = True, Pt(13)
    if letterhead.address:
        section.header.add_paragraph(letterhead.address).runs[0].font.size = Pt(9)
    foot = section.footer.paragraphs[0]
    mark = foot.add_run(f"{AI_MARK} Erstellt mit „{app_title}“ am {when:%d.%m.%Y}.")
    mark.font.size, mark.font.color.rgb = Pt(8), RGBColor(0x80, 0x30, 0x00)

    banner = doc.add_paragraph()
    run = banner.add_run(AI_MARK)
    run.bold, run.font.color.rgb = True, RGBColor(0x80, 0x30, 0x00)
    heading_1 = doc.add_heading(title, level=1)._p
    pair = two_languages(text)
    if pair:
        table = doc.add_table(rows=1, cols=2)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        for cell, (heading, body) in zip(table.rows[0].cells, pair, strict=True):
            cell.paragraphs[0].add_run(heading).bold = True
            _markdown(cell, body)
            if _column_is_rtl(heading, body, language):
                _column_right_to_left(cell)
    else:
        _markdown(_Body(doc), text)
        default = bool(language_is_rtl(language))  # for a line without letters (a date, a line to sign)
        for element in heading_1.itersiblings():
            for p in element.iter(qn("w:p")):
                if text_is_rtl(_text(p), default):
                    _right_to_left(p)
            if element.tag == qn("w:tbl") and text_is_rtl(_text(element), default):
                element.bidiVisual_val = WD_TABLE_DIRECTION.RTL  # its first column on the right
    if note:
        checked = doc.add_paragraph().add_run(xml_safe(note))
        checked.bold, checked.font.color.rgb = True, RGBColor(0x80, 0x30, 0x00)

    props = doc.core_properties
    props.title = title
    props.subject = app_title
    props.author = letterhead.name
    props.last_modified_by = letterhead.name
    props.keywords = AI_KEYWORDS
    props.category = "KI-Entwurf"
    props.content_status = "KI-Entwurf – ungeprüft"
    props.comments = f"{AI_MARK} AI-generated draft, to be reviewed by a person. App: {app_title}."
    props.created = when
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def file_name(title: str, when: datetime | None = None) -> str:
    when = when or datetime.now()
    safe = re.sub(r"[^\w\-]+", "-", title, flags=re.UNICODE).strip("-")[:60] or "Entwurf"
    return f"{safe}-{when:%Y-%m-%d}.docx"
