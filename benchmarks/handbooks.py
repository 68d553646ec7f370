"""`make bench`, handbooks, for both embedding models (all-MiniLM-L6-v2 and EmbeddingGemma): retrieval
quality on two real public German handbooks (one the tuning uses, one it never sees), ingestion speed
against raw sentence-transformers, a question's embedding against the raw encode, and search latency at
1k / 10k / 100k chunks against raw Chroma.

The handbooks come from Debian's packages (debian-edu-doc-de, debian-reference-de) with `apt-get download`,
checked against the sha256 in their eval sets. Results: benchmarks/results/handbooks.json and
docs/benchmarks-handbooks.md.
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


def ingestion(embedding: str) -> dict:
    """Ingestion of the tuning handbook through the service against the raw sentence-transformers encode
    of the same chunk texts (same model, same batch size), on the same machine in the same run."""
    from appliance.engines import load_embedder
    from appliance.handbooks.service import HandbookService
    from appliance.infra.db import Database
    from models.catalog import load_catalog
    from rag.chunking import chunk_document
    from rag.ingest import EMBED_BATCH, embedding_text
    from rag.parsers import parse

    spec = json.loads(EVAL.read_text())
    pdf = handbook_pdf(spec["document"])
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp), embedding)
        embedder = load_embedder(settings, load_catalog(settings.models_dir).get(embedding))
        embedder.embed(["Aufwärmen"])
        db = Database(settings.database_url)
        db.migrate()
        service = HandbookService(settings, db.engine, embedder)
        start = time.perf_counter()
        result = service.ingestor.ingest("Eval", spec["document"]["file"], pdf)
        ingest_s = time.perf_counter() - start
        service.close()
    texts = [embedding_text(c) for c in chunk_document(parse(pdf, spec["document"]["file"]))]
    model = embedder._model  # the raw library: sentence-transformers' own encode, with the model's prompt
    start = time.perf_counter()
    model.encode(texts, prompt=embedder.prompts.get("document"), batch_size=EMBED_BATCH, normalize_embeddings=True,
                 show_progress_bar=False)
    raw_s = time.perf_counter() - start
    pages, chunks = result.document.pages, result.document.chunks
    return {"embedding": embedding, "pages": pages, "chunks": chunks,
            "pages_per_s": round(pages / ingest_s, 2), "chunks_per_s": round(chunks / ingest_s, 2),
            "raw_chunks_per_s": round(chunks / raw_s, 2), "ingest_to_raw": round(raw_s / ingest_s, 3)}


def query_embedding(embedding: str, questions: list[str]) -> dict:
    """One question's vector, as a search makes it, against the raw encode_query (ms, p50/p95)."""
    from appliance.engines import load_embedder
    from models.catalog import load_catalog
    from tests.support.paths import MODELS_DIR
    from tests.support.settings import make_settings

    settings = make_settings(Path(tempfile.gettempdir()), embedding=embedding)
    settings.models.dir = MODELS_DIR
    embedder = load_embedder(settings, load_catalog(MODELS_DIR).get(embedding))
    model = embedder._model
    ours, raw = [], []
    for q in questions * 2:
        start = time.perf_counter()
        embedder.embed_query([q])
        ours.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        model.encode([q], prompt=embedder.prompts.get("query"), normalize_embeddings=True, show_progress_bar=False)
        raw.append((time.perf_counter() - start) * 1000)
    return {"embedding": embedding, "dimensions": embedder.dimensions, **_quantiles(ours, "ms"),
            **_quantiles(raw, "raw_ms"), "ratio_p50": round(statistics.median(ours) / statistics.median(raw), 3)}


def _quantiles(values: list[float], name: str) -> dict:
    values = sorted(values)
    return {f"p50_{name}": round(statistics.median(values), 1),
            f"p95_{name}": round(values[max(0, math.ceil(len(values) * 0.95) - 1)], 1)}


def search_latency(sizes: list[int], sentences: list[str], questions: list[str], dims: int,
                   queries: int = 50) -> list[dict]:
    """Retrieval alone (vector query, keyword query, fusion input, chunk fetch), query vector given, against
    the raw Chroma query of the same vector on the same collection.

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
            timings, raw = [], []
            chroma = index.vectors._col("Last", "bench")
            for k in range(queries):
                terms = query_terms(questions[k % len(questions)])
                vector = _unit([rng.gauss(0, 1) for _ in range(dims)])
                start = time.perf_counter()
                dense = index.vectors.query(vector, ["Last"], 20, "bench")
                sparse = index.keyword(terms, ["Last"], 20)
                index.chunks(list({c for c, _ in dense} | {c for c, _ in sparse}))
                timings.append((time.perf_counter() - start) * 1000)
                start = time.perf_counter()
                chroma.query(query_embeddings=[vector], n_results=20, include=["distances"])
                raw.append((time.perf_counter() - start) * 1000)
            out.append({"chunks": size, "dimensions": dims, **_quantiles(timings, "ms"),
                        **_quantiles(raw, "raw_chroma_ms")})
    return out


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def quality() -> list[dict]:
    """recall@5, MRR and declines per embedder and document, with the settings the catalogue ships."""
    from benchmarks.handbook_tuning import HELD_OUT, TUNING, evaluate, rankings
    from models.catalog import load_catalog
    from rag.search import DEFAULT_FUSION

    rows = []
    for embedding in EMBEDDINGS:
        f = load_catalog().get(embedding).retrieval or DEFAULT_FUSION
        for role, path in (("tuning", TUNING), ("held out", HELD_OUT)):
            spec = json.loads(path.read_text())
            keyword = math.inf if f.min_keyword is None else f.min_keyword
            r = evaluate(rankings(embedding, path), f.dense_weight, f.min_similarity, keyword)
            rows.append({"embedding": embedding, "document": spec["document"]["title"], "set": role,
                         "pages": spec["document"]["pages"], **r})
    return rows


EMBEDDINGS = ("all-minilm-l6-v2", "embeddinggemma-300m")


def markdown(r: dict) -> str:
    quality = "\n".join(
        f"| `{q['embedding']}` | {q['document']} ({q['set']}) | {q['recall_at_5']} | {q['mrr']} |"
        f" {q['declined_share']} ({q['unanswerable']}) | {q['answerable_wrongly_declined']} of {q['answerable']} |"
        for q in r["quality"])
    ingest = "\n".join(
        f"| `{i['embedding']}` | {i['pages_per_s']} | {i['chunks_per_s']} | {i['raw_chunks_per_s']} |"
        f" {i['ingest_to_raw']} |" for i in r["ingestion"])
    queries = "\n".join(
        f"| `{q['embedding']}` ({q['dimensions']}) | {q['p50_ms']} | {q['p95_ms']} | {q['p50_raw_ms']} |"
        f" {q['p95_raw_ms']} | {q['ratio_p50']} |" for q in r["query_embedding"])
    lat = "\n".join(
        f"| {x['chunks']:,} | {x['dimensions']} | {x['p50_ms']} | {x['p95_ms']} | {x['p50_raw_chroma_ms']} |"
        f" {x['p95_raw_chroma_ms']} |" for x in r["latency"])
    return f"""# Benchmarks: handbooks

Measured by `make bench` ({r['date']}, {r['machine']}). Two real German handbooks: the Debian Edu manual
(Debian package debian-edu-doc-de, 104 pages, GPL-2+; `benchmarks/eval/debian-edu-de.json`, 91
questions with their page and 13 it does not answer), on which the search settings are tuned, and the
Debian-Referenz (debian-reference-de, 276 pages whose printed page labels differ from the physical ones,
GPL-2+; `benchmarks/eval/debian-reference-de.json`, 30 questions in staff's own words and 8 it does not
answer), which the tuning never sees. Each embedding model searches with the fusion weight and
thresholds the catalogue ships for it (`retrieval` in models/catalog.toml, chosen by
`python -m benchmarks.handbook_tuning` on the tuning document alone).

| embedding model | document | recall@5 | MRR | unanswerable declined (of) | answerable wrongly declined |
|---|---|---|---|---|---|
{quality}

Ingestion of the tuning handbook through the service against raw sentence-transformers encoding the same
chunks (target: ratio >= 0.8):

| embedding model | pages/s | chunks/s | raw chunks/s | ingestion / raw |
|---|---|---|---|---|
{ingest}

A question's vector as a search makes it, against the raw `encode` with the model's query prompt (ms):

| embedding model (dimensions) | p50 | p95 | raw p50 | raw p95 | p50 ratio |
|---|---|---|---|---|---|
{queries}

Search latency, retrieval alone (vector and keyword query, fusion input, chunk fetch; query vector given),
against a raw Chroma query of the same vector on the same collection (ms):

| chunks | dimensions | p50 | p95 | raw Chroma p50 | raw Chroma p95 |
|---|---|---|---|---|---|
{lat}

Target: p95 <= 50 ms at 100k chunks.
"""


def main() -> None:
    import os
    import platform

    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    from rag.parsers import parse

    spec = json.loads(EVAL.read_text())
    text = " ".join(b.text for p in parse(handbook_pdf(spec["document"]), "eval.pdf").pages for b in p.blocks)
    sentences = [s for s in (x.strip() for x in text.replace("\n", " ").split(". ")) if len(s) > 20]
    questions = [q["question"] for q in spec["questions"]]
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
               "quality": quality(),
               "ingestion": [ingestion(e) for e in EMBEDDINGS],
               "query_embedding": [query_embedding(e, questions[:25]) for e in EMBEDDINGS],
               "latency": [x for dims in (384, 768) for x in search_latency(sizes, sentences, questions, dims)]}
    save(results, "handbooks.json", "benchmarks-handbooks.md", markdown(results))


if __name__ == "__main__":
    main()
