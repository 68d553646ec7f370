"""Changing the embedding model: every collection is re-embedded in the background, the old vectors answer
(asked with the old model) until the new ones are complete, a job cut off half-way resumes, collections of
earlier versions are adopted, and vectors of two models never meet in one Chroma collection.

The embedders are fakes with different ids and lengths (the real upgrade, MiniLM to EmbeddingGemma, is in
tests/integration/test_handbooks.py); every wait is on an event, none on the clock."""

import threading
from pathlib import Path

from sqlalchemy import text

from appliance.handbooks.reembed import Embedders
from appliance.handbooks.service import HandbookService
from appliance.infra.db import Database
from appliance.people.accounts import Principal, Role
from models.embeddings import FakeEmbedder
from rag.index import UNKNOWN, Built
from rag.ingest import EMBED_BATCH
from rag.vectors import chroma_name
from tests.support.settings import make_settings

COLLECTION = "Hygieneplan"
LEITUNG = Principal(1, "leitung", Role.facility_admin)
PFLEGE = Principal(2, "pflege", Role.staff)
SECTIONS = 20  # more than two embedding batches
HANDBOOK = "\n\n".join(f"# Abschnitt {n}\n\nRegel {n}: Händedesinfektion vor Kontakt Nummer {n}."
                       for n in range(SECTIONS)).encode()


class Counting(FakeEmbedder):
    """A fake embedder that counts what it embeds; ``gate`` holds its second passage batch until set;
    ``fail_at`` makes that batch fail (a crash half-way)."""

    def __init__(self, model_id: str, dimensions: int, gate: threading.Event | None = None,
                 fail_at: int | None = None) -> None:
        super().__init__(model_id, dimensions)
        self.passages = 0
        self.queries = 0
        self.batches = 0
        self.gate = gate
        self.waiting = threading.Event()
        self.fail_at = fail_at

    def embed(self, texts):
        self.batches += 1
        if self.fail_at == self.batches:
            raise RuntimeError("power cut")
        if self.gate is not None and self.batches == 2:
            self.waiting.set()
            assert self.gate.wait(60), "the test never released the gate"
        self.passages += len(texts)
        return super().embed(texts)

    def embed_query(self, texts):
        self.queries += len(texts)
        return super().embed(texts)


def service(tmp_path: Path, embedder, others: dict | None = None, legacy: dict | None = None) -> HandbookService:
    settings = make_settings(tmp_path / "data")
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.migrate()
    known = others or {}
    return HandbookService(settings, db.engine, embedder, None,
                           Embedders(lambda model_id, _dims: known.get(model_id), legacy))


def built_with(tmp_path: Path, embedder, name: str = "hygiene.md", data: bytes = HANDBOOK):
    """A data directory whose collection the given embedder built (the box before the change)."""
    before = service(tmp_path, embedder)
    doc = before.ingestor.ingest(COLLECTION, name, data).document
    before.close()
    return doc


def spaces(svc: HandbookService) -> dict[str, int]:
    """Chroma collections of the handbook collection: embedder fingerprint -> vectors."""
    return {c.metadata.get("embedder"): c.count() for c in svc.index.vectors._spaces(COLLECTION)}


def test_the_old_vectors_answer_until_the_new_ones_are_complete(tmp_path: Path) -> None:
    old = Counting("old-model", 64)
    doc = built_with(tmp_path, old)

    gate = threading.Event()
    new = Counting("new-model", 32, gate=gate)
    after = service(tmp_path, new, others={"old-model": old})
    assert spaces(after) == {old.fingerprint: doc.chunks}
    [job] = after.reembedding.start()
    assert new.waiting.wait(60)  # half-way: the first batch has its new vectors, the rest not yet
    state = after.index.embedders()[COLLECTION]
    assert (state.fingerprint, state.pending) == (old.fingerprint, new.fingerprint)
    [listed] = after.collections(LEITUNG)
    assert listed["embedder"] == "old-model" and listed["reembedding"]["embedder"] == "new-model"
    assert listed["reembedding"]["job"] == job.id and listed["reembedding"]["status"] == "running"
    assert [j.id for j in after.job_list(LEITUNG)] == [job.id]  # GET /api/jobs: managers see the service's jobs
    assert after.job(LEITUNG, job.id) is job  # live, with its progress
    assert after.job_list(PFLEGE) == []  # staff see their own uploads only
    hits = after.retriever.search("Händedesinfektion Regel 7", [COLLECTION], k=3)
    assert hits and hits[0].similarity > 0  # a vector match, from the old model's vectors
    assert (old.queries, new.queries) == (1, 0)  # asked with the model that built them

    gate.set()
    after.reembedding.jobs.wait_idle()
    assert job.status == "done" and job.result["chunks"] == doc.chunks
    state = after.index.embedders()[COLLECTION]
    assert (state.fingerprint, state.pending, state.info["id"]) == (new.fingerprint, None, "new-model")
    assert spaces(after) == {new.fingerprint: doc.chunks}  # the old vectors are gone, nothing mixed
    assert new.passages == doc.chunks
    assert after.collections(LEITUNG)[0] | {"documents": 0} == {
        "name": COLLECTION, "roles": [], "documents": 0, "embedder": "new-model", "reembedding": None}
    after.retriever.search("Händedesinfektion", [COLLECTION], k=3)
    assert (old.queries, new.queries) == (1, 1)
    after.close()


def test_a_reembedding_cut_off_half_way_resumes_where_it_stopped(tmp_path: Path) -> None:
    old = Counting("old-model", 64)
    doc = built_with(tmp_path, old)
    assert doc.chunks > 2 * EMBED_BATCH

    crashing = Counting("new-model", 32, fail_at=2)
    first = service(tmp_path, crashing, others={"old-model": old})
    [job] = first.reembedding.start()
    first.reembedding.jobs.wait_idle()
    assert job.status == "failed" and job.error["code"] == "reembed_failed"
    assert first.index.embedders()[COLLECTION].fingerprint == old.fingerprint  # still the old one answers
    assert spaces(first) == {old.fingerprint: doc.chunks, crashing.fingerprint: EMBED_BATCH}
    first.close()

    resumed = Counting("new-model", 32)  # the restart: the same model again
    second = service(tmp_path, resumed, others={"old-model": old})
    [job] = second.reembedding.start()
    second.reembedding.jobs.wait_idle()
    assert job.status == "done"
    assert resumed.passages == doc.chunks - EMBED_BATCH  # what was done stays done
    assert spaces(second) == {resumed.fingerprint: doc.chunks}
    second.close()


def test_documents_added_and_removed_while_reembedding_are_not_lost_or_left(tmp_path: Path) -> None:
    old = Counting("old-model", 64)
    before = service(tmp_path, old)
    gone = before.ingestor.ingest(COLLECTION, "alt.md", b"# Alt\n\nDiese Regel gilt nicht mehr.").document
    before.ingestor.ingest(COLLECTION, "hygiene.md", HANDBOOK)
    before.close()

    gate = threading.Event()
    new = Counting("new-model", 32, gate=gate)
    after = service(tmp_path, new, others={"old-model": old})
    after.reembedding.start()
    assert new.waiting.wait(60)
    added = after.ingestor.ingest(COLLECTION, "neu.md", b"# Neu\n\nNeue Regel zur Wundversorgung.").document
    assert after.ingestor.delete(gone.id)
    gate.set()
    after.reembedding.jobs.wait_idle()
    state = after.index.embedders()[COLLECTION]
    assert state.fingerprint == new.fingerprint and state.pending is None
    ready = {cid for cid, _, _ in after.index.embedding_rows(COLLECTION)}
    assert after.index.vectors.ids(COLLECTION, new.fingerprint) == ready  # every chunk once, no orphan
    assert any(cid.startswith(added.id) for cid in ready)
    assert not any(cid.startswith(gone.id) for cid in ready)
    assert set(spaces(after)) == {new.fingerprint}
    after.close()


def _as_earlier_version(svc: HandbookService) -> None:
    """Make the collection look as an earlier version left it: no embedder recorded, vectors unversioned."""
    fingerprint = svc.index.embedders()[COLLECTION].fingerprint
    col = svc.index.vectors._col(COLLECTION, fingerprint)
    col.modify(name=chroma_name(COLLECTION), metadata={"handbook_collection": COLLECTION})
    with svc.index.engine.begin() as c:
        c.execute(text("UPDATE hb_collections SET embedder = NULL, embedder_info = NULL"))


def test_a_collection_of_an_earlier_version_is_adopted_then_reembedded(tmp_path: Path) -> None:
    old = Counting("old-model", 64)
    before = service(tmp_path, old)
    doc = before.ingestor.ingest(COLLECTION, "hygiene.md", HANDBOOK).document
    _as_earlier_version(before)
    before.close()

    gate = threading.Event()
    new = Counting("new-model", 32, gate=gate)
    legacy = {64: Built(old.fingerprint, old.info)}
    after = service(tmp_path, new, others={"old-model": old}, legacy=legacy)
    after.reembedding.start()
    assert new.waiting.wait(60)
    assert after.index.embedders()[COLLECTION].fingerprint == old.fingerprint  # named by its vectors' length
    assert after.retriever.search("Händedesinfektion", [COLLECTION], k=3)[0].similarity > 0
    gate.set()
    after.reembedding.jobs.wait_idle()
    assert spaces(after) == {new.fingerprint: doc.chunks}
    after.close()


def test_vectors_of_an_unknown_model_are_never_compared_and_keywords_answer(tmp_path: Path) -> None:
    old = Counting("local-model", 48)
    before = service(tmp_path, old)
    before.ingestor.ingest(COLLECTION, "hygiene.md", HANDBOOK)
    _as_earlier_version(before)
    before.close()

    gate = threading.Event()
    new = Counting("new-model", 32, gate=gate)
    after = service(tmp_path, new)  # no known embedder has 48 dimensions
    after.reembedding.start()
    assert new.waiting.wait(60)
    assert after.index.embedders()[COLLECTION].fingerprint == UNKNOWN
    hits = after.retriever.search("Händedesinfektion Regel", [COLLECTION], k=3)
    assert hits and all(h.similarity == 0 and h.keyword > 0 for h in hits)  # keywords alone, meanwhile
    assert new.queries == 0
    gate.set()
    after.reembedding.jobs.wait_idle()
    assert after.index.embedders()[COLLECTION].fingerprint == new.fingerprint
    after.close()


def test_changing_back_before_the_reembedding_finished_drops_the_half(tmp_path: Path) -> None:
    old = Counting("old-model", 64)
    doc = built_with(tmp_path, old)
    crashing = Counting("new-model", 32, fail_at=2)
    half = service(tmp_path, crashing, others={"old-model": old})
    half.reembedding.start()
    half.reembedding.jobs.wait_idle()
    half.close()

    back = service(tmp_path, Counting("old-model", 64))
    assert back.reembedding.start() == []
    state = back.index.embedders()[COLLECTION]
    assert (state.fingerprint, state.pending) == (old.fingerprint, None)
    assert spaces(back) == {old.fingerprint: doc.chunks}
    back.close()


def test_each_embedder_searches_with_its_own_measured_settings(tmp_path: Path) -> None:
    """The fusion weight and the thresholds for declining come from the catalogue per embedding model; a
    collection still answering with the old model's vectors keeps the old model's until it is switched;
    IT may set any of them in handbooks.*."""
    import math

    from rag.search import DEFAULT_FUSION, Fusion

    svc = service(tmp_path, Counting("embeddinggemma-300m", 32))
    assert svc.fusion("embeddinggemma-300m") == Fusion(0.9, 0.40, math.inf)  # similarity alone declines
    assert svc.fusion("all-minilm-l6-v2") == Fusion(0.4, 0.45, 9.0)
    assert svc.fusion("a-local-model") == svc.fusion(None) == DEFAULT_FUSION
    svc.settings.min_keyword = 12.0
    assert svc.fusion("embeddinggemma-300m") == Fusion(0.9, 0.40, 12.0)
    svc.close()

    old = Counting("all-minilm-l6-v2", 64)
    before = service(tmp_path / "b", old)
    before.ingestor.ingest(COLLECTION, "hygiene.md", HANDBOOK)
    before.close()
    gate = threading.Event()
    new = Counting("embeddinggemma-300m", 32, gate=gate)
    after = service(tmp_path / "b", new, others={"all-minilm-l6-v2": old})
    after.reembedding.start()
    assert new.waiting.wait(60)
    assert after.retriever.fusion_for([COLLECTION]) == Fusion(0.4, 0.45, 9.0)  # the old vectors' own
    gate.set()
    after.reembedding.jobs.wait_idle()
    assert after.retriever.fusion_for([COLLECTION]) == Fusion(0.9, 0.40, math.inf)
    after.close()
