"""Parse handbooks (PDF, DOCX, Markdown, HTML, plain text, EPUB) into pages of blocks."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
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

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ParseError(f"Die Word-Datei ist beschädigt oder unlesbar ({type(exc).__name__}).") from None
    blocks = []
    for para in document.paragraphs:
        text = _nfc(para.text.strip())
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        match = re.match(r"(?:Heading|Überschrift)\s*(\d)", style)
        if match or style == "Title":
            blocks.append(Block("heading", text, int(match.group(1)) if match else 1))
        else:
            blocks.append(Block("text", text))
    for table in document.tables:
        for row in table.rows:
            cells = [_nfc(c.text.strip()) for c in row.cells if c.text.strip()]
            if cells:
                blocks.append(Block("text", " | ".join(dict.fromkeys(cells))))
    core_title = (document.core_properties.title or "").strip()
    return ParsedDocument(core_title or title, [Page(None, blocks)], MEDIA_TYPES[".docx"])


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


def _html_blocks(html: str) -> tuple[str, list[Block]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "nav", "footer", "header", "noscript"]):
        tag.decompose()
    blocks = []
    for el in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "pre", "blockquote", "dt", "dd"]):
        if el.find(["p", "li", "h1", "h2", "h3", "h4", "h5", "h6"]):
            continue  # the inner elements carry the text
        text = _nfc(" ".join(el.get_text(" ").split()))
        if not text:
            continue
        if el.name[0] == "h" and el.name[1:].isdigit():
            blocks.append(Block("heading", text, int(el.name[1])))
        else:
            blocks.append(Block("text", text))
    page_title = soup.title.get_text().strip() if soup.title else ""
    return page_title, blocks


def parse_html(data: bytes, title: str) -> ParsedDocument:
    page_title, blocks = _html_blocks(_text(data))
    return ParsedDocument(page_title or _first_heading(blocks) or title, [Page(None, blocks)], "text/html")


def parse_text(data: bytes, title: str) -> ParsedDocument:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", _text(data)) if p.strip()]
    return ParsedDocument(title, [Page(None, [Block("text", p) for p in paragraphs])], "text/plain")


def parse_epub(data: bytes, title: str) -> ParsedDocument:
    import ebooklib
    from ebooklib import epub

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
