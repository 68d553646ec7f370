"""The vector side of the index: Chroma (PersistentClient), always with our own embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

COLLECTION = "handbooks"


class VectorStore:
    def __init__(self, path: Path) -> None:
        import chromadb
        from chromadb.config import Settings

        path.mkdir(parents=True, exist_ok=True)
        self._client = chromadb.PersistentClient(
            path=str(path), settings=Settings(anonymized_telemetry=False, allow_reset=False)
        )
        # no embedding function: Chroma must never load (or download) a model of its own
        self._col = self._client.get_or_create_collection(
            COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

    def add(self, ids: Sequence[str], vectors: Sequence[Sequence[float]], metadatas: Sequence[dict]) -> None:
        for start in range(0, len(ids), 1000):
            self._col.add(
                ids=list(ids[start:start + 1000]),
                embeddings=[list(v) for v in vectors[start:start + 1000]],
                metadatas=list(metadatas[start:start + 1000]),
            )

    def query(self, vector: Sequence[float], collections: Sequence[str], n: int) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity), best first, from the given handbook collections."""
        if self._col.count() == 0 or not collections:
            return []
        where = {"collection": collections[0]} if len(collections) == 1 else {"collection": {"$in": list(collections)}}
        result = self._col.query(query_embeddings=[list(vector)], n_results=n, where=where,
                                 include=["distances"])
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result.get("distances") else []
        return [(i, 1.0 - d) for i, d in zip(ids, distances, strict=True)]

    def delete_document(self, document_id: str) -> None:
        self._col.delete(where={"document_id": document_id})

    def count(self, document_id: str | None = None) -> int:
        if document_id is None:
            return self._col.count()
        return len(self._col.get(where={"document_id": document_id}, include=[])["ids"])
