"""The vector side of the index: Chroma (PersistentClient), always with our own embeddings.

One Chroma collection per handbook collection and embedder (its fingerprint), so a search is a plain
HNSW query with no metadata filter (the filter made Chroma scan: slow at 100k chunks), and vectors of two
embedding models never meet in one collection: while a collection is re-embedded, the old model's vectors
answer from one Chroma collection and the new ones are written into another.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

BATCH = 1000


def chroma_name(collection: str, fingerprint: str | None = None) -> str:
    """Chroma allows only [a-zA-Z0-9._-] names; 'Förderrichtlinien' needs a stable stand-in. Without a
    fingerprint: the name of the one Chroma collection of versions before embedders were recorded."""
    key = collection if fingerprint is None else f"{collection}\0{fingerprint}"
    return "hb-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:24]


class VectorStore:
    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings

        path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )
        self._cache: dict[str, object] = {}

    def _col(self, collection: str, fingerprint: str):
        name = chroma_name(collection, fingerprint)
        if name not in self._cache:
            # no embedding function: Chroma must never load (or download) a model of its own
            self._cache[name] = self._client.get_or_create_collection(
                name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                metadata={"handbook_collection": collection, "embedder": fingerprint},
            )
        return self._cache[name]

    def _spaces(self, collection: str | None = None) -> list:
        """The Chroma collections of one handbook collection (of all without one), every embedder's."""
        return [c for c in self._client.list_collections()
                if c.metadata and (collection is None or c.metadata.get("handbook_collection") == collection)]

    def add(self, collection: str, fingerprint: str, ids: Sequence[str], vectors: Sequence[Sequence[float]],
            document_ids: str | Sequence[str]) -> None:
        col = self._col(collection, fingerprint)
        owners = [document_ids] * len(ids) if isinstance(document_ids, str) else list(document_ids)
        for start in range(0, len(ids), BATCH):
            part = list(ids[start:start + BATCH])
            col.add(ids=part, embeddings=[list(v) for v in vectors[start:start + BATCH]],
                    metadatas=[{"document_id": d} for d in owners[start:start + BATCH]])

    def query(self, vector: Sequence[float], collections: Sequence[str], n: int,
              fingerprint: str) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first, from the given handbook collections' vectors of one
        embedder (the one that embedded the query)."""
        found: list[tuple[str, float]] = []
        for collection in collections:
            col = self._col(collection, fingerprint)
            size = col.count()
            if size == 0:
                continue
            result = col.query(query_embeddings=[list(vector)], n_results=min(n, size), include=["distances"])
            found += [(i, 1.0 - d) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]
        return sorted(found, key=lambda item: item[1], reverse=True)[:n]

    def ids(self, collection: str, fingerprint: str) -> set[str]:
        """The chunk ids that have a vector of this embedder (what a resumed re-embedding skips)."""
        return set(self._col(collection, fingerprint).get(include=[])["ids"])

    def remove(self, collection: str, fingerprint: str, ids: Sequence[str]) -> None:
        col = self._col(collection, fingerprint)
        for start in range(0, len(ids), BATCH):
            col.delete(ids=list(ids[start:start + BATCH]))

    def delete_document(self, collection: str, document_id: str) -> None:
        for col in self._spaces(collection):
            col.delete(where={"document_id": document_id})

    def dimensions(self, collection: str) -> int | None:
        """The length of the vectors under the unversioned name of earlier versions (None: none there)."""
        legacy = chroma_name(collection)
        col = next((c for c in self._spaces(collection) if c.name == legacy), None)
        if col is None:
            return None
        got = col.get(limit=1, include=["embeddings"])["embeddings"]
        return len(got[0]) if got is not None and len(got) else 0

    def adopt(self, collection: str, fingerprint: str) -> None:
        """Give the vectors of an earlier version the name of the embedder that built them."""
        legacy = chroma_name(collection)
        col = next((c for c in self._spaces(collection) if c.name == legacy), None)
        if col is not None:
            col.modify(name=chroma_name(collection, fingerprint),
                       metadata={"handbook_collection": collection, "embedder": fingerprint})
            self._cache.pop(legacy, None)

    def keep_only(self, collection: str, fingerprints: set[str]) -> None:
        """Drop the collection's vectors of every other embedder (after a re-embedding is complete)."""
        for col in self._spaces(collection):
            if col.metadata.get("embedder") not in fingerprints:
                self._cache.pop(col.name, None)
                self._client.delete_collection(col.name)

    def count(self, collection: str | None = None, document_id: str | None = None) -> int:
        total = 0
        for col in self._spaces(collection):
            total += col.count() if document_id is None else len(
                col.get(where={"document_id": document_id}, include=[])["ids"])
        return total
