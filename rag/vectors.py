"""The vector side of the index: Chroma (PersistentClient), always with our own embeddings.

One Chroma collection per handbook collection, so a search is a plain HNSW query with no
metadata filter (the filter made Chroma scan: slow at 100k chunks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

BATCH = 1000


def chroma_name(collection: str) -> str:
    """Chroma allows only [a-zA-Z0-9._-] names; 'Förderrichtlinien' needs a stable stand-in."""
    return "hb-" + hashlib.sha256(collection.encode("utf-8")).hexdigest()[:24]


class VectorStore:
    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings

        path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )
        self._cache: dict[str, object] = {}

    def _col(self, collection: str):
        if collection not in self._cache:
            # no embedding function: Chroma must never load (or download) a model of its own
            self._cache[collection] = self._client.get_or_create_collection(
                chroma_name(collection), embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                metadata={"handbook_collection": collection},
            )
        return self._cache[collection]

    def add(self, collection: str, ids: Sequence[str], vectors: Sequence[Sequence[float]],
            document_id: str) -> None:
        col = self._col(collection)
        for start in range(0, len(ids), BATCH):
            part = list(ids[start:start + BATCH])
            col.add(ids=part, embeddings=[list(v) for v in vectors[start:start + BATCH]],
                    metadatas=[{"document_id": document_id} for _ in part])

    def query(self, vector: Sequence[float], collections: Sequence[str], n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first, from the given handbook collections."""
        found: list[tuple[str, float]] = []
        for collection in collections:
            col = self._col(collection)
            size = col.count()
            if size == 0:
                continue
            result = col.query(query_embeddings=[list(vector)], n_results=min(n, size), include=["distances"])
            found += [(i, 1.0 - d) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]
        return sorted(found, key=lambda item: item[1], reverse=True)[:n]

    def delete_document(self, collection: str, document_id: str) -> None:
        self._col(collection).delete(where={"document_id": document_id})

    def count(self, collection: str | None = None, document_id: str | None = None) -> int:
        names = [collection] if collection else [c.metadata.get("handbook_collection", "")
                                                 for c in self._client.list_collections() if c.metadata]
        total = 0
        for name in names:
            col = self._col(name)
            total += col.count() if document_id is None else len(
                col.get(where={"document_id": document_id}, include=[])["ids"])
        return total
