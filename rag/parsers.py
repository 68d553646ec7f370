"""Parse handbooks (PDF, DOCX, Markdown, HTML, plain text, EPUB) into pages of blocks."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import PurePath

from rag.clean import clean_pages
from rag.documents import Block, Page, ParsedDocument, ParseError

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".txt": "text/plain",
    ".epub": "application/epub+zip",
}


def media_type_for(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    if suffix not in MEDIA_TYPES:
        allowed = ", ".join(sorted(MEDIA_TYPES))
        raise ParseError(f"Dateityp '{suffix or '(ohne Endung)'}' wird nicht unterstützt. Erlaubt: {allowed}.",
                         status=415, code="unsupported_media_type")
    return MEDIA_TYPES[suffix]


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return unicodedata.normalize("NFC", data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise ParseError("Die Datei ist kein lesbarer Text (Kodierung unbekannt).")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# DOCX and EPUB are ZIP archives: limits far beyond any real handbook, checked in the archive's directory
# before anything is unpacked (Python's zipfile never unpacks more than a member's declared size)
MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_TOTAL_MB = 200  # all members unpacked
MAX_ZIP_MEMBER_MB = 100  # one member unpacked
MAX_ZIP_RATIO = 200  # unpacked size / packed size, for members above RATIO_FROM_MB
RATIO_FROM_MB = 5


def too_complex(why: str) -> ParseError:
    return ParseError(f"Die Datei ist zu groß oder zu verschachtelt, um sie zu lesen ({why}). Bitte als PDF"
                      " speichern und erneut hochladen.", code="file_too_complex")


def check_zip(data: bytes) -> None:
    """ParseError (file_too_complex) for a ZIP bomb; a broken archive is left to the parser to report."""
    mb = 1024 * 1024
    # each entry of the central directory starts with this signature: an upper bound on the entries,
    # counted before zipfile builds an object per entry (a 50 MB file can hold 600,000 empty ones)
    if data.count(b"PK\x01\x02") > MAX_ZIP_ENTRIES:
        raise too_complex(f"mehr als {MAX_ZIP_ENTRIES:,} Teile".replace(",", "."))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return
    if len(members) > MAX_ZIP_ENTRIES:
        raise too_complex(f"mehr als {MAX_ZIP_ENTRIES:,} Teile".replace(",", "."))
    total = 0
    for member in members:
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise too_complex("ungewöhnliches Packverfahren")
        if member.file_size > MAX_ZIP_MEMBER_MB * mb:
            raise too_complex(f"ein Teil ist entpackt größer als {MAX_ZIP_MEMBER_MB} MB")
        if member.file_size > RATIO_FROM_MB * mb and member.file_size > MAX_ZIP_RATIO * max(1, member.compress_size):
            raise too_complex(f"ein Teil ist mehr als {MAX_ZIP_RATIO}-fach gepackt")
        total += member.file_size
        if total > MAX_ZIP_TOTAL_MB * mb:
            raise too_complex(f"entpackt größer als {MAX_ZIP_TOTAL_MB} MB")


def _pdf_labels(data: bytes, count: int) -> list[str | None]:
    """Printed page labels ('iv', '15'), where the PDF defines them; pdfium does not read them."""
    from pypdf import PdfReader

    try:
        labels = list(PdfReader(io.BytesIO(data)).page_labels)
    except Exception:  # labels are a nicety: a PDF that pdfium reads must not fail on them
        return [None] * count
    return [labels[i] if i < len(labels) and labels[i] != str(i + 1) else None for i in range(count)]


def parse_pdf(data: bytes, title: str) -> ParsedDocument:
    """Text per physical page through PDFium (fast; a 100-page handbook in a fraction of a second)."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ParseError("Das PDF ist verschlüsselt (Passwortschutz). Bitte eine ungeschützte Fassung hochladen.",
                             code="encrypted_document") from None
        raise ParseError(f"Das PDF ist beschädigt oder unlesbar ({exc}).") from None
    try:
        count = len(document)
        if count == 0:
            raise ParseError("Das PDF hat keine Seiten.")
        labels = _pdf_labels(data, count)
        pages = []
        for index in range(count):
            textpage = document[index].get_textpage()
            raw = textpage.get_text_range().replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
            # PDFium marks a word hyphenated at the end of a line with U+FFFE (or U+0002): give it
            # back its hyphen and line break, and let the cleaner decide whether to join the word
            text = _nfc(raw.replace("\ufffe", "-\n").replace("\x02", "-\n"))
            textpage.close()
            pages.append(Page(index + 1, [Block("text", text)] if text.strip() else [], labels[index]))
        meta_title = (document.get_metadata_dict().get("Title") or "").strip()
    except pdfium.PdfiumError as exc:
        raise ParseError(f"Das PDF ist beschädigt oder unlesbar ({exc}).") from None
    finally:
        document.close()
    if not any(p.blocks for p in pages):
        raise ParseError(
            "Das PDF enthält keinen Text, nur Bilder (ein Scan ohne Texterkennung). Bitte eine Fassung mit"
            " Textebene hochladen (OCR, z. B. mit ocrmypdf).", code="no_text_layer")
    return ParsedDocument(meta_title or title, _split_pdf_headings(clean_pages(pages)), "application/pdf")


_NUMBERED_HEADING = re.compile(r"^(\d+(?:\.\d+){0,3})\.?\s+([A-ZÄÖÜ][^\n]{2,80})$")


def _split_pdf_headings(pages: list[Page]) -> list[Page]:
    """PDF text has no styles: numbered lines ('3.2 Händehygiene') become headings."""
    for page in pages:
        blocks: list[Block] = []
        for block in page.blocks:
            buffer: list[str] = []
            for line in block.text.splitlines():
                match = _NUMBERED_HEADING.match(line.strip())
                if match and not line.strip().endswith((".", ",", ";")):
                    if buffer:
                        blocks.append(Block("text", "\n".join(buffer)))
                        buffer = []
                    blocks.append(Block("heading", line.strip(), match.group(1).count(".") + 1))
                else:
                    buffer.append(line)
            if buffer:
                blocks.append(Block("text", "\n".join(buffer)))
        page.blocks = blocks
    return pages


def parse_docx(data: bytes, title: str) -> ParsedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from lxml import etree

    check_zip(data)
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = _docx_paragraphs(document) + _docx_tables(document)
        core_title = (document.core_properties.title or "").strip()
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError, etree.LxmlError) as exc:
        raise ParseError(f"Die Word-Datei ist beschädigt oder unlesbar ({type(exc).__name__}).") from None
    return ParsedDocument(core_title or title, [Page(None, blocks)], MEDIA_TYPES[".docx"])


def _docx_paragraphs(document) -> list[Block]:
    """Paragraphs, those in a heading style as headings. Each style is looked up once: python-docx's
    paragraph.style searches all styles for each paragraph (many styles times many paragraphs)."""
    from docx.enum.style import WD_STYLE_TYPE

    styles = document.styles
    default = styles.default(WD_STYLE_TYPE.PARAGRAPH)  # a paragraph without a (known) style has this one
    default_name = default.name if default is not None else ""
    names = {s.style_id: s.name for s in styles if s.type == WD_STYLE_TYPE.PARAGRAPH}
    blocks = []
    for para in document.paragraphs:
        text = _nfc(para.text.strip())
        if not text:
            continue
        style = names.get(para._p.style, default_name) or ""
        match = re.match(r"(?:Heading|Überschrift)\s*(\d)", style)
        if match or style == "Title":
            blocks.append(Block("heading", text, int(match.group(1)) if match else 1))
        else:
            blocks.append(Block("text", text))
    return blocks


def _docx_tables(document) -> list[Block]:
    """Each table row as one block, its cells apart by " | ", a merged cell once. Read from the XML in one
    pass: python-docx's row.cells repeats a cell once per column it spans (a crafted w:gridSpan of a
    hundred million: minutes and gigabytes) and searches for the cell above a vertical merge row by row."""
    from docx.oxml.ns import qn

    blocks = []
    for tbl in document.element.body.iterchildren(qn("w:tbl")):
        above: dict[int, str] = {}  # the row above: its cells' text by the grid column they start in
        for tr in tbl.iterchildren(qn("w:tr")):
            here: dict[int, str] = {}
            column = tr.grid_before
            for tc in tr.iterchildren(qn("w:tc")):
                if tc.vMerge == "continue":  # the lower part of a vertically merged cell: the text above
                    here[column] = above.get(column, "")
                else:
                    here[column] = _nfc("\n".join(p.text for p in tc.iterchildren(qn("w:p"))).strip())
                column += tc.grid_span
            cells = [text for text in here.values() if text]
            if cells:
                blocks.append(Block("text", " | ".join(dict.fromkeys(cells))))
            above = here
    return blocks


def parse_markdown(data: bytes, title: str) -> ParsedDocument:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(_text(data))
    blocks: list[Block] = []
    heading_level = 0
    for token in tokens:
        if token.type == "heading_open":
            heading_level = int(token.tag[1])
        elif token.type == "inline" and token.content.strip():
            if heading_level:
                blocks.append(Block("heading", token.content.strip(), heading_level))
            else:
                blocks.append(Block("text", token.content.strip()))
        elif token.type == "heading_close":
            heading_level = 0
    return ParsedDocument(_first_heading(blocks) or title, [Page(None, blocks)], "text/markdown")


_BLOCK_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "pre", "blockquote", "dt", "dd"})
_SKIPPED_TAGS = frozenset({"script", "style", "nav", "footer", "header", "noscript"})
_VOID_TAGS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                        "source", "track", "wbr"})


class _HtmlBlocks(HTMLParser):
    """Headings and text blocks of an HTML page in one pass, without building a tree: each piece of text
    belongs to the innermost heading, paragraph, list item, cell, ... around it, so a page nested 100,000
    levels deep costs no more than a flat one. Text in scripts, styles, navigation, header and footer is
    left out. An end tag closes the elements opened after its own; one that was never opened is ignored."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # the open elements: (tag, index of the innermost block around it, text left out, inside <title>)
        self.stack: list[tuple[str, int | None, bool, bool]] = [("", None, False, False)]
        self.open: Counter[str] = Counter()
        self.blocks: list[tuple[str, list[str]]] = []
        self.title: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _VOID_TAGS:
            return
        _, block, skipped, in_title = self.stack[-1]
        skipped = skipped or tag in _SKIPPED_TAGS
        if tag in _BLOCK_TAGS and not skipped:
            block = len(self.blocks)
            self.blocks.append((tag, []))
        if tag == "title" and self.title is None and not skipped:
            self.title, in_title = [], True
        self.stack.append((tag, block, skipped, in_title))
        self.open[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if not self.open[tag]:
            return
        while True:
            closed = self.stack.pop()[0]
            self.open[closed] -= 1
            if closed == tag:
                return

    def handle_data(self, data: str) -> None:
        _, block, skipped, in_title = self.stack[-1]
        if skipped:
            return
        if in_title and self.title is not None:
            self.title.append(data)
        if block is not None:
            self.blocks[block][1].append(data)


def _html_blocks(html: str) -> tuple[str, list[Block]]:
    parser = _HtmlBlocks()
    parser.feed(html)
    parser.close()
    blocks = []
    for tag, pieces in parser.blocks:
        text = _nfc(" ".join(" ".join(pieces).split()))
        if not text:
            continue
        if tag[0] == "h":
            blocks.append(Block("heading", text, int(tag[1])))
        else:
            blocks.append(Block("text", text))
    return "".join(parser.title or []).strip(), blocks


def parse_html(data: bytes, title: str) -> ParsedDocument:
    page_title, blocks = _html_blocks(_text(data))
    return ParsedDocument(page_title or _first_heading(blocks) or title, [Page(None, blocks)], "text/html")


def parse_text(data: bytes, title: str) -> ParsedDocument:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", _text(data)) if p.strip()]
    return ParsedDocument(title, [Page(None, [Block("text", p) for p in paragraphs])], "text/plain")


def parse_epub(data: bytes, title: str) -> ParsedDocument:
    import ebooklib
    from ebooklib import epub

    check_zip(data)
    try:
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".epub") as tmp:  # ebooklib reads from a path
            tmp.write(data)
            tmp.flush()
            book = epub.read_epub(tmp.name, options={"ignore_ncx": True})
    except Exception as exc:  # ebooklib raises many kinds on broken archives
        raise ParseError(f"Das EPUB ist beschädigt oder unlesbar ({type(exc).__name__}).") from None
    blocks: list[Block] = []
    for item_id, _linear in book.spine:
        item = book.get_item_with_id(item_id)
        if item is not None and item.get_type() == ebooklib.ITEM_DOCUMENT:
            blocks.extend(_html_blocks(item.get_content().decode("utf-8", errors="replace"))[1])
    meta = book.get_metadata("DC", "title")
    return ParsedDocument((meta[0][0] if meta else "") or title, [Page(None, blocks)], MEDIA_TYPES[".epub"])


def _first_heading(blocks: list[Block]) -> str | None:
    return next((b.text for b in blocks if b.kind == "heading"), None)


PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    "application/pdf": parse_pdf,
    MEDIA_TYPES[".docx"]: parse_docx,
    "text/markdown": parse_markdown,
    "text/html": parse_html,
    "text/plain": parse_text,
    MEDIA_TYPES[".epub"]: parse_epub,
}


def parse(data: bytes, filename: str) -> ParsedDocument:
    """Parse a handbook file; ParseError (415 for the type, 422 for the content) says what is wrong."""
    media_type = media_type_for(filename)
    if not data:
        raise ParseError("Die Datei ist leer (0 Byte).", code="empty_document")
    title = PurePath(filename).stem.replace("_", " ").strip() or filename
    document = PARSERS[media_type](data, _nfc(title))
    if document.text_length() == 0:
        raise ParseError("In der Datei steht kein Text.", code="empty_document")
    return document
