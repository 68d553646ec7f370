"""`make bench`, handbooks: retrieval quality on a real public German handbook, ingestion speed
against the raw embedding throughput, and search latency at 1k / 10k / 100k chunks.

The handbook is the German Debian Edu manual (104 pages, GPL-2+), taken from Debian's package
debian-edu-doc-de with `apt-get download` and checked against the sha256 in the eval set.
Results: benchmarks/results/handbooks.json and docs/benchmarks-handbooks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import appliance  # noqa: F401  (telemetry off first)
from benchmarks.report import save

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "benchmarks" / "eval" / "debian-edu-de.json"
CACHE = ROOT / "benchmarks" / ".cache"


def handbook_pdf(doc: dict) -> bytes:
    """The PDF from Debian's package (downloaded once into benchmarks/.cache), sha256-checked."""
    target = CACHE / doc["file"]
    if not target.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["apt-get", "download", f"{doc['package']}={doc['version']}"], cwd=tmp, check=True,
                           capture_output=True)
            deb = next(Path(tmp).glob("*.deb"))
            subprocess.run(["dpkg-deb", "-x", str(deb), str(Path(tmp) / "x")], check=True)
            target.write_bytes((Path(tmp) / "x" / doc["path_in_package"]).read_bytes())
    data = target.read_bytes()
    if hashlib.sha256(data).hexdigest() != doc["sha256"]:
        raise SystemExit(f"{target}: sha256 differs from the eval set; delete it and run again")
    return data


def settings_for(data_dir: Path, embedding: str):
    from tests.support.paths import MODELS_DIR
    from tests.support.settings import make_settings

    s = make_settings(data_dir, embedding=embedding)
    s.models.dir = MODELS_DIR
    return s


def quality_and_ingestion(embedding: str) -> dict:
    from appliance.handbooks.service import HandbookService
    from appliance.infra.db import Database
    from models.embeddings import SentenceTransformerEmbedder
    from rag.answer import relevant
    from rag.chunking import chunk_document
    from rag.ingest import embedding_text
    from rag.parsers import parse
    from tests.support.paths import MODELS_DIR

    spec = json.loads(EVAL.read_text())
    pdf = handbook_pdf(spec["document"])
    embedder = SentenceTransformerEmbedder(embedding, MODELS_DIR / embedding)
    embedder.embed(["Aufwärmen"])
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp), embedding)
        db = Database(settings.database_url)
        db.migrate()
        service = HandbookService(settings, db.engine, embedder)
        start = time.perf_counter()
        result = service.ingestor.ingest("Eval", spec["document"]["file"], pdf)
        ingest_s = time.perf_counter() - start
        parsed = parse(pdf, spec["document"]["file"])
        chunks = chunk_document(parsed)
        texts = [embedding_text(c) for c in chunks]
        start = time.perf_counter()
        embedder.embed(texts)
        raw_embed_s = time.perf_counter() - start

        ranks, found = [], 0
        for q in spec["questions"]:
            hits = service.retriever.search(q["question"], ["Eval"], 5)
            rank = next((i for i, h in enumerate(hits, 1) if set(h.pages) & set(q["pages"])), None)
            found += rank is not None
            ranks.append(1 / rank if rank else 0.0)
        wrongly_declined = sum(
            1 for q in spec["questions"]
            if not relevant(service.retriever.search(q["question"], ["Eval"], 5), settings.handbooks.min_similarity,
                                  settings.handbooks.min_keyword))
        declined = sum(
            1 for u in spec["unanswerable"]
            if not relevant(service.retriever.search(u["question"], ["Eval"], 5), settings.handbooks.min_similarity,
                                  settings.handbooks.min_keyword))
        service.close()
    pages = result.document.pages
    return {
        "embedding": embedding,
        "questions": len(spec["questions"]),
        "unanswerable": len(spec["unanswerable"]),
        "recall_at_5": round(found / len(spec["questions"]), 3),
        "mrr": round(sum(ranks) / len(ranks), 3),
        "declined_share": round(declined / len(spec["unanswerable"]), 3),
        "answerable_wrongly_declined": wrongly_declined,
        "pages": pages,
        "chunks": result.document.chunks,
        "ingest_pages_per_s": round(pages / ingest_s, 2),
        "raw_embedding_pages_per_s": round(pages / raw_embed_s, 2),
        "ingest_to_raw_embedding_ratio": round(raw_embed_s / ingest_s, 3),
    }


def search_latency(sizes: list[int], sentences: list[str], questions: list[str], queries: int = 50) -> list[dict]:
    """Retrieval alone (vector query, keyword query, fusion input, chunk fetch), query vector given.

    Chunks are built from the real handbook's sentences, shuffled, so the keyword index sees German
    text with its real word frequencies; vectors are random unit vectors (embedding 100k chunks would
    measure the embedding model, not the search).
    """
    from appliance.infra.db import Database
    from rag.chunking import Chunk
    from rag.index import DocumentInfo, HandbookIndex, _now
    from rag.search import query_terms
    from rag.vectors import VectorStore

    rng = random.Random(7)
    dims = 384
    out = []
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'b.db'}")
            db.migrate()
            index = HandbookIndex(db.engine, VectorStore(Path(tmp) / "chroma"))
            index.ensure_collection("Last")
            per_doc = 1000
            for d in range(math.ceil(size / per_doc)):
                n = min(per_doc, size - d * per_doc)
                chunks = [Chunk(i, " ".join(rng.sample(sentences, 6)), f"Kapitel {i % 40}", [i % 300 + 1])
                          for i in range(n)]
                vectors = [_unit([rng.gauss(0, 1) for _ in range(dims)]) for _ in range(n)]
                info = DocumentInfo(f"doc{d:05d}", "Last", f"d{d}.pdf", f"Dokument {d}", f"{d:064d}",
                                    "application/pdf", 1, 300, n, "indexing", _now())
                index.add(info, chunks, vectors, "bench")
            timings = []
            for k in range(queries):
                terms = query_terms(questions[k % len(questions)])
                vector = _unit([rng.gauss(0, 1) for _ in range(dims)])
                start = time.perf_counter()
                dense = index.vectors.query(vector, ["Last"], 20, "bench")
                sparse = index.keyword(terms, ["Last"], 20)
                index.chunks(list({c for c, _ in dense} | {c for c, _ in sparse}))
                timings.append((time.perf_counter() - start) * 1000)
            timings.sort()
            out.append({"chunks": size, "p50_ms": round(statistics.median(timings), 1),
                        "p95_ms": round(timings[max(0, math.ceil(len(timings) * 0.95) - 1)], 1)})
    return out


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def markdown(r: dict) -> str:
    q = r["quality"]
    lat = "\n".join(f"| {x['chunks']:,} | {x['p50_ms']} | {x['p95_ms']} |" for x in r["latency"])
    return f"""# Benchmarks: handbooks

Measured by `make bench` ({r['date']}, {r['machine']}). Handbook: German Debian Edu manual
(Debian package debian-edu-doc-de, {q['pages']} pages, GPL-2+), eval set
`benchmarks/eval/debian-edu-de.json` ({q['questions']} questions with their page, {q['unanswerable']}
questions the manual does not answer). Embedding model: `{q['embedding']}`.

| measurement | result | target |
|---|---|---|
| recall@5 of the right page | {q['recall_at_5']} | >= 0.85 |
| MRR | {q['mrr']} | |
| unanswerable questions declined | {q['declined_share']} | >= 0.8 |
| answerable questions wrongly declined | {q['answerable_wrongly_declined']} of {q['questions']} | |
| ingestion, pages/s ({q['chunks']} chunks) | {q['ingest_pages_per_s']} | |
| raw embedding of the same chunks, pages/s | {q['raw_embedding_pages_per_s']} | |
| ingestion / raw embedding throughput | {q['ingest_to_raw_embedding_ratio']} | >= 0.8 |

Multilingual embedding model: none is provided by the package index yet, so its gain is not measured.

Search latency, retrieval alone (vector + keyword query, fusion, chunk fetch; query vector given):

| chunks | p50 ms | p95 ms |
|---|---|---|
{lat}

Target: p95 <= 50 ms at 100k chunks.
"""


def main() -> None:
    import os
    import platform

    parser = argparse.ArgumentParser()
    parser.add_argument("--embedding", default="all-minilm-l6-v2")
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    from rag.parsers import parse

    spec = json.loads(EVAL.read_text())
    text = " ".join(b.text for p in parse(handbook_pdf(spec["document"]), "eval.pdf").pages for b in p.blocks)
    sentences = [s for s in (x.strip() for x in text.replace("\n", " ").split(". ")) if len(s) > 20]
    questions = [q["question"] for q in spec["questions"]]
    results = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
               "quality": quality_and_ingestion(args.embedding),
               "latency": search_latency([int(s) for s in args.sizes.split(",")], sentences, questions)}
    save(results, "handbooks.json", "benchmarks-handbooks.md", markdown(results))


if __name__ == "__main__":
    main()
