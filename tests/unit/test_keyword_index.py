"""The keyword side of the handbook index: words, prefixes, collections, bounded work, migration."""

from pathlib import Path

import pytest
from sqlalchemy import text

import rag.index
from appliance.infra.db import Database
from rag.chunking import Chunk
from rag.index import DocumentInfo, HandbookIndex, _now
from rag.search import query_terms
from rag.vectors import VectorStore


def _add(index: HandbookIndex, doc: str, collection: str, texts: list[str]) -> None:
    index.ensure_collection(collection)
    chunks = [Chunk(i, t, "Kapitel", [i + 1]) for i, t in enumerate(texts)]
    info = DocumentInfo(doc, collection, f"{doc}.md", doc.title(), doc.ljust(64, "0"), "text/markdown", 1,
                        len(texts), len(texts), "indexing", _now())
    index.add(info, chunks, [[1.0, 0.0, 0.0]] * len(chunks), "test")


@pytest.fixture
def index(tmp_path: Path) -> HandbookIndex:
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    db.migrate()
    idx = HandbookIndex(db.engine, VectorStore(tmp_path / "chroma"))
    yield idx
    db.dispose()


def test_query_terms_drop_fillers_but_keep_acronyms() -> None:
    assert query_terms("Was mache ich bei Verdacht auf Norovirus?") == ["norovirus"]
    assert query_terms("Wie bekommt der Rechner eine IP-Adresse über DNS?") == ["bekommt", "rechner", "ip", "adresse",
                                                                                  "dns"]
    assert query_terms("wer ist da") == []


def test_inflected_forms_umlauts_and_collections(index: HandbookIndex) -> None:
    _add(index, "hygiene", "Hygieneplan", ["Die Händedesinfektion erfolgt vor jedem Kontakt mit Bewohnern.",
                                           "Flächen werden täglich gereinigt."])
    _add(index, "pflege", "Pflegehandbuch", ["Bewohner mit Norovirus werden isoliert.",
                                             "Die Dokumentation erfolgt im Pflegebericht."])
    found = index.keyword(["bewohner"], ["Hygieneplan", "Pflegehandbuch"], 10)
    assert {cid for cid, _ in found} == {"hygiene-00000", "pflege-00000"}  # "Bewohnern" by prefix
    assert [cid for cid, _ in index.keyword(["bewohner"], ["Hygieneplan"], 10)] == ["hygiene-00000"]
    assert [cid for cid, _ in index.keyword(["handedesinfektion"], ["Hygieneplan"], 10)] == ["hygiene-00000"]
    assert [cid for cid, _ in index.keyword(["händedesinfektion"], ["Hygieneplan"], 10)] == ["hygiene-00000"]
    assert index.keyword(["norovirus"], ["Hygieneplan"], 10) == []
    assert index.keyword(['"; DROP TABLE hb_chunks; --', "*", "OR"], ["Pflegehandbuch"], 10) == []


def test_deleting_a_document_empties_its_keyword_rows_and_words(index: HandbookIndex) -> None:
    _add(index, "pflege", "Pflegehandbuch", ["Bewohnerin Friederike Mustermann hat Norovirus."])
    _add(index, "hygiene", "Hygieneplan", ["Bei Norovirus wird isoliert."])
    assert index.keyword(["norovirus"], ["Pflegehandbuch"], 10)
    index.delete("pflege")
    assert index.keyword(["norovirus"], ["Pflegehandbuch"], 10) == []
    with index.engine.connect() as c:
        ends = {r[0][::-1] for r in c.execute(text("SELECT rev FROM hb_word_ends"))}
    assert "mustermann" not in ends and "friederike" not in ends  # no name outlives its document
    assert "norovirus" in ends  # still in the other handbook
    index.delete("hygiene")
    with index.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM hb_word_ends")).scalar() == 0
    with index.engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM hb_words")).scalar() == 0


def test_common_words_are_skipped_when_they_would_cost_too_much(index: HandbookIndex, monkeypatch) -> None:
    texts = [f"Der Server Nummer {i} steht im Keller." for i in range(30)] + ["Der Server mit dem Drucker."]
    _add(index, "netz", "Netz", texts)
    monkeypatch.setattr(rag.index, "POSTINGS_BUDGET", 10)
    # "server" is in every row: only the rare "drucker" is ranked
    assert [cid for cid, _ in index.keyword(["server", "drucker"], ["Netz"], 50)] == ["netz-00030"]
    # a query of common words alone still finds something (the rarest term is always kept)
    assert len(index.keyword(["server"], ["Netz"], 50)) == 31


def test_a_0002_database_is_migrated_with_its_chunks_searchable(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    db.migrate("0002")
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO hb_collections (name, roles, created_at) VALUES ('Alt', '[]', '2026-01-01')"))
        c.execute(text("INSERT INTO hb_documents VALUES ('d1', 'Alt', 'a.md', 'Altes Handbuch', :sha,"
                       " 'text/markdown', 10, 1, 1, 'ready', '2026-01-01')"), {"sha": "0" * 64})
        c.execute(text("INSERT INTO hb_chunks VALUES ('d1-00000', 'd1', 'Alt', 0, 'Notfallnummern hängen aus.',"
                       " 'Notfall', '[1]', 1)"))
        c.execute(text("INSERT INTO hb_chunks_fts (text, section, title, chunk_id)"
                       " VALUES ('Notfallnummern hängen aus.', 'Notfall', 'Altes Handbuch', 'd1-00000')"))
    db.migrate()
    index = HandbookIndex(db.engine, VectorStore(tmp_path / "chroma"))
    assert [cid for cid, _ in index.keyword(["notfallnummern"], ["Alt"], 5)] == ["d1-00000"]
    index.delete("d1")
    assert index.keyword(["notfallnummern"], ["Alt"], 5) == []
    db.dispose()


def test_a_word_finds_the_compounds_it_ends(index: HandbookIndex) -> None:
    _add(index, "hygiene", "Hygieneplan", ["Die Flächendesinfektion erfolgt täglich.",
                                           "Händedesinfektionsmittel stehen an jeder Tür.",
                                           "Die Wäsche wird bei 60 Grad gewaschen."])
    # the head of a compound is found; a word in its middle is not
    assert [cid for cid, _ in index.keyword(["desinfektion"], ["Hygieneplan"], 10)] == ["hygiene-00000"]
    assert [cid for cid, _ in index.keyword(["desinfektionsmittel"], ["Hygieneplan"], 10)] == ["hygiene-00001"]


def test_a_compound_in_the_question_finds_its_parts(index: HandbookIndex) -> None:
    _add(index, "netz", "Netz", ["Die Verwaltung der Rechner geschieht im Browser.",
                                 "Jede Adresse wird automatisch vergeben.",
                                 "Die Wäsche wird bei 60 Grad gewaschen."])

    def found(term: str) -> set[str]:
        return {cid for cid, _ in index.keyword([term], ["Netz"], 10)}

    assert found("rechnerverwaltung") == {"netz-00000"}
    assert found("verwaltungsrechner") == {"netz-00000"}  # linking "s"
    assert found("adresswasche") == {"netz-00001", "netz-00002"}  # "adress" for "adresse"
    assert found("adressbereich") == set()  # "bereich" is no word of the index
    assert found("webbrowser") == set()  # "web" is too short a part
