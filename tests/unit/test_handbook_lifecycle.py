"""Crash safety of replacing and removing handbooks: SQLite and Chroma cannot share a transaction,
so a power cut between the SQLite commit and the removal of the old vectors must be finished by
recover() at the next start: no orphan vector, no lost document, no orphan original."""

from pathlib import Path

import pytest
from sqlalchemy import text

from appliance.infra.db import Database
from models.embeddings import FakeEmbedder
from rag.index import HandbookIndex
from rag.ingest import Ingestor
from rag.vectors import VectorStore

OLD = b"# Norovirus\n\nBei Norovirus wird die Person im Zimmer isoliert.\n\n# W\xc3\xa4sche\n\nBei 60 Grad waschen."
NEW = b"# Norovirus\n\nBei Norovirus gilt ab sofort die Kohortenisolierung im Wohnbereich."


class PowerCut(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def start(tmp_path: Path) -> tuple[Database, Ingestor]:
    """What a (re)start of the service does: open database and Chroma, then recover()."""
    db = Database(f"sqlite:///{tmp_path / 'appliance.db'}")
    db.migrate()
    index = HandbookIndex(db.engine, VectorStore(tmp_path / "chroma"))
    ingestor = Ingestor(index, FakeEmbedder(), tmp_path / "documents")
    ingestor.recover()
    return db, ingestor


def cut_power_when_vectors_are_removed(index: HandbookIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    def delete_document(collection: str, document_id: str) -> None:
        raise PowerCut(f"power cut before the vectors of {document_id} were removed")

    monkeypatch.setattr(index.vectors, "delete_document", delete_document)


def statuses(index: HandbookIndex) -> dict[str, str]:
    with index.engine.connect() as c:
        return {r.id: r.status for r in c.execute(text("SELECT id, status FROM hb_documents"))}


def test_a_crash_while_replacing_leaves_no_orphan_vector_and_keeps_the_new_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, ingestor = start(tmp_path)
    old = ingestor.ingest("Hygieneplan", "hygiene.md", OLD).document
    assert ingestor.index.vectors.count("Hygieneplan", old.id) == old.chunks == 2

    cut_power_when_vectors_are_removed(ingestor.index, monkeypatch)
    with pytest.raises(PowerCut):
        ingestor.ingest("Hygieneplan", "hygiene.md", NEW)
    monkeypatch.undo()
    # the crash hit after the SQLite commit: the new version is in, the old one only marked
    [new] = ingestor.index.documents("Hygieneplan")
    assert new.id != old.id and statuses(ingestor.index) == {old.id: "deleting", new.id: "ready"}
    assert ingestor.index.vectors.count("Hygieneplan", old.id) == 2  # the orphans a restart must find
    assert ingestor.index.chunk_count(old.id) == 0
    db.dispose()

    db, ingestor = start(tmp_path)  # restart: recover() finishes the removal
    index = ingestor.index
    assert index.vectors.count("Hygieneplan", old.id) == 0
    assert statuses(index) == {new.id: "ready"}
    assert [d.id for d in index.documents("Hygieneplan")] == [new.id]  # nothing lost
    assert index.vectors.count("Hygieneplan", new.id) == index.chunk_count(new.id) == new.chunks
    assert index.vectors.count() == new.chunks  # not one vector more in the whole store
    assert sorted(p.name for p in (tmp_path / "documents").iterdir()) == [f"{new.id}.md"]
    found = index.keyword(["kohortenisolierung"], ["Hygieneplan"], 5)
    assert [cid for cid, _ in found] == [f"{new.id}-00000"]
    assert index.keyword(["wäsche"], ["Hygieneplan"], 5) == []  # the old text is gone from the keywords too
    db.dispose()


def test_a_crash_while_removing_is_finished_at_the_next_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, ingestor = start(tmp_path)
    gone = ingestor.ingest("Hygieneplan", "hygiene.md", OLD).document
    kept = ingestor.ingest("Hygieneplan", "neu.md", NEW).document

    cut_power_when_vectors_are_removed(ingestor.index, monkeypatch)
    with pytest.raises(PowerCut):
        ingestor.delete(gone.id)
    monkeypatch.undo()
    index = ingestor.index
    assert [d.id for d in index.documents("Hygieneplan")] == [kept.id]  # already invisible
    assert index.vectors.count("Hygieneplan", gone.id) == 2  # but its vectors and original are still there
    assert (tmp_path / "documents" / f"{gone.id}.md").exists()
    db.dispose()

    db, ingestor = start(tmp_path)
    index = ingestor.index
    assert index.vectors.count("Hygieneplan", gone.id) == 0
    assert index.document(gone.id) is None and statuses(index) == {kept.id: "ready"}
    assert not (tmp_path / "documents" / f"{gone.id}.md").exists()
    assert index.vectors.count() == index.chunk_count(kept.id) == kept.chunks  # the other one is whole
    assert (tmp_path / "documents" / f"{kept.id}.md").exists()
    db.dispose()


def test_a_removal_without_a_crash_leaves_no_mark(tmp_path: Path) -> None:
    db, ingestor = start(tmp_path)
    old = ingestor.ingest("Hygieneplan", "hygiene.md", OLD).document
    new = ingestor.ingest("Hygieneplan", "hygiene.md", NEW).document
    assert statuses(ingestor.index) == {new.id: "ready"}
    assert ingestor.index.vectors.count("Hygieneplan", old.id) == 0
    assert ingestor.delete(new.id) and statuses(ingestor.index) == {}
    assert ingestor.index.vectors.count() == 0 and not list((tmp_path / "documents").iterdir())
    assert not ingestor.delete(new.id)  # removing it again finds nothing
    db.dispose()
