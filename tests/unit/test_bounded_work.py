"""Work bounded in time and memory (issue 'Security and robustness'): a signed-in user cannot stall the
box with a crafted file. Word export and handbook parsing are linear in the input; ZIP bombs are refused
from the archive's directory; parsing runs in a child process that is stopped at a time limit and
limited in memory, and the upload worker goes on with the next file."""

from __future__ import annotations

import io
import os
import zipfile

import httpx
import pytest
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.table import _Cell

from appliance.apps.document import MAX_TABLE_COLUMNS, MAX_TABLE_ROWS, Letterhead, build
from appliance.server import create_app
from rag import parsers
from rag.documents import ParseError
from rag.isolation import parse_isolated
from rag.parsers import parse
from tests.support import handbooks as hb

# The crafted inputs below are sized so that the old, quadratic code took from seconds to many
# minutes on them; the tests check what comes out, not how fast (timings belong in make bench).


# -- the Word export ---------------------------------------------------------------------------


def _export(text: str):
    return Document(io.BytesIO(build("Brief", text, Letterhead("Haus Sonnenschein"), "Brief")))


def test_a_long_table_exports_in_linear_time_and_its_rest_becomes_paragraphs() -> None:
    rows = 1000
    text = "| Nr. | Name | Zimmer |\n|---|---|---|\n" + "".join(f"| {i} | Person {i} | {i % 40} |\n"
                                                           for i in range(rows))
    doc = _export(text)
    [table] = doc.tables
    assert len(table.rows) == MAX_TABLE_ROWS
    assert [c.text for c in table.rows[1].cells] == ["0", "Person 0", "0"]
    assert table.rows[0].cells[0].paragraphs[0].runs[0].bold  # the head row stays bold
    rest = [p.text for p in doc.paragraphs if " | " in p.text]
    assert len(rest) == rows + 1 - MAX_TABLE_ROWS  # nothing is lost
    assert rest[-1] == f"{rows - 1} | Person {rows - 1} | {(rows - 1) % 40}"


def test_a_table_wider_than_a_page_becomes_paragraphs() -> None:
    width = MAX_TABLE_COLUMNS + 1
    text = "|" + "".join(f" K{i} |" for i in range(width)) + "\n|" + "---|" * width + "\n|" + " x |" * width + "\n"
    doc = _export(text)
    assert doc.tables == []
    assert any(p.text.startswith("K0 | K1 | K2") for p in doc.paragraphs)


def test_a_long_letter_exports_in_linear_time() -> None:
    text = "".join(f"Absatz {i}.\n\n" for i in range(10_000)) + "".join(f"- Punkt {i}\n" for i in range(2000))
    doc = _export(text)
    assert doc.paragraphs[-1].text == "Punkt 1999" and doc.paragraphs[-1].style.name == "List Bullet"


def test_markdown_nested_thousands_of_levels_deep_exports() -> None:
    text = "Vorher.\n\n" + "> " * 10_000 + "tief\n\n" + "".join("  " * i + "- x\n" for i in range(300))
    doc = _export(text)
    assert doc.paragraphs[2].text == "Vorher."  # after the AI mark and the title; deeper than 20 levels is left out


# -- ZIP bombs (DOCX, EPUB) ------------------------------------------------------------------------


def _with_member(archive: bytes, name: str, data: bytes, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO(archive)
    with zipfile.ZipFile(out, "a") as z:
        z.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    return out.getvalue()


@pytest.mark.parametrize(("maker", "name"), [(hb.make_docx, "handbuch.docx"), (hb.make_epub, "handbuch.epub")])
def test_a_zip_bomb_is_refused_before_it_is_unpacked(maker, name: str) -> None:
    bomb = _with_member(maker(), "word/media/image1.png", b"\0" * (20 * 1024 * 1024))  # 20 MB in 20 KB
    assert len(bomb) < 100_000
    with pytest.raises(ParseError) as err:
        parse(bomb, name)
    assert err.value.code == "file_too_complex" and err.value.status == 422
    assert "zu groß oder zu verschachtelt" in str(err.value) and "200-fach" in str(err.value)


def test_an_archive_of_too_many_parts_is_refused() -> None:
    out = io.BytesIO(hb.make_docx())
    with zipfile.ZipFile(out, "a") as z:
        for i in range(parsers.MAX_ZIP_ENTRIES):
            z.writestr(f"word/parts/part{i}.xml", b"")
    with pytest.raises(ParseError) as err:
        parse(out.getvalue(), "viele.docx")
    assert err.value.code == "file_too_complex" and "mehr als 10.000 Teile" in str(err.value)


@pytest.mark.parametrize(("limit", "sizes", "words"), [
    ("MAX_ZIP_MEMBER_MB", [2 * 1024 * 1024], "ein Teil ist entpackt größer als 1 MB"),
    ("MAX_ZIP_TOTAL_MB", [600_000, 600_000], "entpackt größer als 1 MB"),
])
def test_the_unpacked_sizes_are_limited(monkeypatch: pytest.MonkeyPatch, limit: str, sizes: list[int],
                                        words: str) -> None:
    monkeypatch.setattr(parsers, limit, 1)  # the real limits (100 and 200 MB) would make a slow test
    data = hb.make_docx()
    for i, size in enumerate(sizes):
        data = _with_member(data, f"word/media/image{i}.jpeg", os.urandom(size), zipfile.ZIP_STORED)
    with pytest.raises(ParseError, match=words):
        parse(data, "gross.docx")


def test_an_unusual_compression_is_refused() -> None:
    data = _with_member(hb.make_docx(), "word/media/image1.png", b"x" * 1000, zipfile.ZIP_BZIP2)
    with pytest.raises(ParseError, match="ungewöhnliches Packverfahren"):
        parse(data, "bzip2.docx")


# -- DOCX tables and styles ------------------------------------------------------------------------


def _docx(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_docx_cell_spanning_a_hundred_million_columns_reads_at_once() -> None:
    document = Document()
    table = document.add_table(rows=2, cols=2)
    for tc, text in zip(table._tbl.iter_tcs(), ["Bereich", "Maßnahme", "Küche", "Flächen wischen"], strict=True):
        _Cell(tc, table).text = text
    table._tbl.tr_lst[1].tc_lst[0].get_or_add_tcPr().grid_span = 100_000_000
    doc = parse(_docx(document), "tabelle.docx")
    assert [b.text for b in doc.pages[0].blocks] == ["Bereich | Maßnahme", "Küche | Flächen wischen"]


def test_a_docx_cell_merged_down_thousands_of_rows_reads_at_once() -> None:
    rows = 1500  # python-docx looked for the text of a merged cell row by row upwards, recursively
    document = Document()
    table = document.add_table(rows=rows, cols=2)
    for i, tr in enumerate(table._tbl.tr_lst):
        first, second = tr.tc_lst
        _Cell(second, table).text = f"Maßnahme {i}"
        if i == 0:
            _Cell(first, table).text = "Küche"
        first.vMerge = "restart" if i == 0 else "continue"
    doc = parse(_docx(document), "verbunden.docx")
    texts = [b.text for b in doc.pages[0].blocks]
    assert len(texts) == rows and texts[0] == "Küche | Maßnahme 0" and texts[-1] == f"Küche | Maßnahme {rows - 1}"


def test_a_docx_with_thousands_of_styles_reads_at_once() -> None:
    document = Document()
    styles = document.styles.element
    for i in range(3000):
        styles.append(parse_xml(f'<w:style {nsdecls("w")} w:type="paragraph" w:styleId="S{i}">'
                                f'<w:name w:val="Stil {i}"/></w:style>'))
    document.add_heading("Händehygiene", level=1)
    for i in range(3000):
        document.add_paragraph(f"Absatz {i}.")
    document.add_paragraph("Mit Stil.")._p.style = "S7"
    doc = parse(_docx(document), "stile.docx")
    blocks = doc.pages[0].blocks
    assert (blocks[0].kind, blocks[0].text, blocks[0].level) == ("heading", "Händehygiene", 1)
    assert len(blocks) == 3002 and {b.kind for b in blocks[1:]} == {"text"}


def test_a_docx_with_broken_xml_is_a_clear_error() -> None:
    data = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(hb.make_docx())) as src, zipfile.ZipFile(data, "w") as out:
        for item in src.infolist():
            body = src.read(item)
            out.writestr(item, body.replace(b"<w:body>", b"<w:body><w:p>") if item.filename == "word/document.xml"
                         else body)
    with pytest.raises(ParseError, match="beschädigt"):
        parse(data.getvalue(), "kaputt.docx")


# -- HTML and Markdown nested deep -----------------------------------------------------------------


def test_html_nested_a_hundred_thousand_levels_deep_reads() -> None:
    html = "<html><body>" + "<div>" * 100_000 + "<p>Händehygiene</p>" + "</div>" * 100_000 + "</body></html>"
    doc = parse(html.encode(), "tief.html")
    assert [b.text for b in doc.pages[0].blocks] == ["Händehygiene"]


def test_html_cells_nested_in_cells_cost_their_text_once() -> None:
    depth = 5000  # each cell held all cells inside it: text quadratic in the depth (125 million characters)
    doc = parse(("<td>Zelle " * depth).encode(), "zellen.html")
    assert doc.text_length() == depth * len("Zelle")


def test_html_text_belongs_to_the_innermost_block() -> None:
    html = ("<title>Plan</title><nav>Menü</nav><ul><li>Hände <b>waschen</b><ul><li>vor dem Essen</li></ul>"
            "und danach</li></ul><h2>Küche</h2><script>alert(1)</script><p>Flächen&nbsp;wischen</p></span></p>")
    doc = parse(html.encode(), "plan.html")
    assert doc.title == "Plan"
    assert [(b.kind, b.text) for b in doc.pages[0].blocks] == [
        ("text", "Hände waschen und danach"), ("text", "vor dem Essen"), ("heading", "Küche"),
        ("text", "Flächen wischen")]


def test_markdown_nested_a_hundred_thousand_levels_deep_reads() -> None:
    text = "# Hygiene\n\nText davor.\n\n" + "> " * 100_000 + "tief\n\n" + "- " * 100_000 + "x\n"
    doc = parse(text.encode(), "tief.md")
    assert [b.text for b in doc.pages[0].blocks][:2] == ["Hygiene", "Text davor."]


# -- parsing in a child process with a time and a memory limit -------------------------------------


@pytest.mark.parametrize(("maker", "name"), [(hb.make_pdf, "plan.pdf"), (hb.make_docx, "plan.docx"),
                                             (hb.make_markdown, "plan.md"), (hb.make_html, "plan.html"),
                                             (hb.make_epub, "plan.epub")])
def test_the_child_reads_a_file_as_the_service_would(maker, name: str) -> None:
    data = maker()
    assert parse_isolated(data, name, 60, 2048) == parse(data, name)


def test_the_child_reports_a_parse_error_as_it_is() -> None:
    with pytest.raises(ParseError, match="beschädigt") as err:
        parse_isolated(b"%PDF-1.4 kaputt", "kaputt.pdf", 60, 2048)
    assert (err.value.status, err.value.code) == (422, "unreadable_document")


def test_a_parser_that_hangs_is_stopped_at_the_time_limit() -> None:
    with pytest.raises(ParseError, match="länger als 1 Sekunde gedauert") as err:
        parse_isolated(b"# Plan", "haengt.md", 1, 2048, parser="tests.support.crafted_parsers:hang")
    assert err.value.code == "parse_timeout"


@pytest.mark.parametrize(("parser", "words"), [("swell", "mehr als 256 MB Arbeitsspeicher"),
                                               ("die", "Abbruch beim Lesen")])
def test_a_parser_that_swells_or_dies_is_a_file_too_complex(parser: str, words: str) -> None:
    with pytest.raises(ParseError, match=words) as err:
        parse_isolated(b"# Plan", "plan.md", 60, 256, parser=f"tests.support.crafted_parsers:{parser}")
    assert err.value.code == "file_too_complex"


async def test_an_upload_that_hangs_fails_and_the_worker_takes_the_next(settings, fake_engines) -> None:
    settings.handbooks.parse_timeout_s = 1
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    services = app.state.services
    services.accounts.add("lea", "facility_admin", "geheim123")
    key, _ = services.accounts.create_key("lea")
    handbooks = services.handbooks
    assert handbooks.ingestor.parse_timeout_s == 1 and handbooks.ingestor.parse_memory_mb == 2048
    handbooks.ingestor.parser = "tests.support.crafted_parsers:hang"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as lea:
        stuck = await lea.post("/api/collections/Hygiene/documents", files={"file": ("haengt.md", b"# Plan\n\nText.")})
        assert stuck.status_code == 202
        handbooks.jobs.wait_idle()
        stuck_job = (await lea.get(f"/api/jobs/{stuck.json()['job']['id']}")).json()["job"]
        assert stuck_job["status"] == "failed"
        assert stuck_job["error"]["code"] == "parse_timeout" and "1 Sekunde" in stuck_job["error"]["message"]
        # the worker is free again: the next upload is read (with time enough for a loaded machine)
        handbooks.ingestor.parse_timeout_s = 120
        fine = await lea.post("/api/collections/Hygiene/documents", files={"file": ("Plan.md", b"# Plan\n\nText.")})
        assert fine.status_code == 202
        handbooks.jobs.wait_idle()
        assert (await lea.get(f"/api/jobs/{fine.json()['job']['id']}")).json()["job"]["status"] == "done"
        docs = (await lea.get("/api/collections/Hygiene/documents")).json()["documents"]
    assert [d["filename"] for d in docs] == ["Plan.md"]
    services.close()
