"""Parsing, cleaning and chunking of handbooks in every supported format, and the bad files."""

import unicodedata

import pytest

from rag.chunking import chunk_document
from rag.clean import join_hyphenation
from rag.documents import ParseError
from rag.ingest import safe_filename
from rag.parsers import parse
from tests.support import handbooks as hb


def test_pdf_pages_headings_headers_and_hyphenation() -> None:
    doc = parse(hb.make_pdf(), "Hygieneplan_2026.pdf")
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    text = " ".join(b.text for p in doc.pages for b in p.blocks)
    assert "Hygieneplan Haus Sonnenschein" not in text  # running header dropped
    assert "Seite 2 von 4" not in text  # running footer dropped
    assert "Pflegedokumentation" in text  # hyphenation across lines joined
    headings = [b.text for p in doc.pages for b in p.blocks if b.kind == "heading"]
    assert headings == ["1 Einleitung", "2 Händehygiene", "3 Norovirus", "4 Wäsche"]
    chunks = chunk_document(doc)
    noro = next(c for c in chunks if "Norovirus" in c.text)
    assert noro.pages == [3] and noro.section == "3 Norovirus"


def test_hyphen_kept_before_a_conjunction() -> None:
    assert join_hyphenation("Kinder-\nund Jugendhilfe") == "Kinder- und Jugendhilfe"
    assert join_hyphenation("Desinfek-\ntionsmittel") == "Desinfektionsmittel"
    assert join_hyphenation("Wasch-\nMaschine") == "Wasch-\nMaschine"  # a capital: a real hyphen


@pytest.mark.parametrize(
    ("maker", "name", "title"),
    [
        (hb.make_docx, "handbuch.docx", "Pflegehandbuch"),
        (hb.make_markdown, "hygiene.md", "1 Einleitung"),
        (hb.make_html, "hygiene.html", "Hygieneplan"),
        (hb.make_epub, "hygiene.epub", "Hygieneplan als EPUB"),
    ],
)
def test_other_formats_keep_headings(maker, name: str, title: str) -> None:
    doc = parse(maker(), name)
    assert doc.title == title
    chunks = chunk_document(doc)
    noro = next(c for c in chunks if "Norovirus" in c.text)
    assert noro.section.endswith("3 Norovirus")
    assert all("alert(1)" not in c.text and "Menü" not in c.text for c in chunks)


def test_plain_text_and_legacy_encoding() -> None:
    doc = parse("Händehygiene ist Pflicht.\n\nZweiter Absatz.".encode("cp1252"), "notiz.txt")
    assert [b.text for b in doc.pages[0].blocks] == ["Händehygiene ist Pflicht.", "Zweiter Absatz."]


def test_long_sections_are_split_and_ids_are_stable() -> None:
    long_body = " ".join(f"Satz Nummer {i} über die Reinigung der Flächen." for i in range(200))
    doc = parse(f"# Reinigung\n\n{long_body}".encode(), "lang.md")
    chunks = chunk_document(doc)
    assert len(chunks) > 5 and all(len(c.text) <= 900 for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert [c.text for c in chunk_document(parse(f"# Reinigung\n\n{long_body}".encode(), "lang.md"))] == [
        c.text for c in chunks]


@pytest.mark.parametrize(
    ("data", "name", "status", "words"),
    [
        (b"", "leer.pdf", 422, "leer"),
        (b"%PDF-1.4 kaputt", "kaputt.pdf", 422, "beschädigt"),
        (b"PK\x03\x04 kaputt", "kaputt.docx", 422, "beschädigt"),
        (b"hallo", "bild.png", 415, "nicht unterstützt"),
        (b"hallo", "ohne_endung", 415, "nicht unterstützt"),
        (b"   \n\n  ", "leer.txt", 422, "kein Text"),
    ],
)
def test_bad_files_get_clear_errors(data: bytes, name: str, status: int, words: str) -> None:
    with pytest.raises(ParseError) as err:
        parse(data, name)
    assert err.value.status == status
    assert words in str(err.value)


def test_encrypted_and_scanned_pdfs_say_so() -> None:
    with pytest.raises(ParseError, match="verschlüsselt"):
        parse(hb.make_encrypted_pdf(), "geschuetzt.pdf")
    with pytest.raises(ParseError, match="Scan ohne Texterkennung") as err:
        parse(hb.make_image_only_pdf(), "scan.pdf")
    assert err.value.code == "no_text_layer"


def test_file_names_cannot_escape() -> None:
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..\\..\\windows\\hygiene.pdf") == "hygiene.pdf"
    assert safe_filename(".versteckt.pdf") == "versteckt.pdf"
    nfd = unicodedata.normalize("NFD", "Hygiene_Küche.pdf")
    assert safe_filename(nfd) == "Hygiene_Küche.pdf"
    for bad in ("", "..", "/", "."):
        with pytest.raises(ParseError):
            safe_filename(bad)
