"""Hybrid retrieval: dense vectors and BM25 keywords, fused by reciprocal rank fusion."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from models.embeddings import Embedder
from rag.index import HandbookIndex

RRF_K = 60
MAX_QUERY_CHARS = 2000
_WORD = re.compile(r"\w+", re.UNICODE)
# German question words and fillers say nothing about the topic
_STOP = {"was", "wie", "wer", "wann", "wo", "warum", "welche", "welcher", "welches", "mache", "ich", "bei",
         "der", "die", "das", "den", "dem", "des", "ein", "eine", "einer", "und", "oder", "mit", "für", "von",
         "auf", "ist", "sind", "wird", "werden", "muss", "soll", "kann", "darf", "zu", "im", "in", "an", "am",
         "the", "what", "how", "do", "does", "is", "are", "of", "to", "a", "for", "on", "verdacht"}


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document_id: str
    title: str
    page: int | None
    pages: list[int]
    section: str
    text: str
    score: float  # fused RRF score
    similarity: float  # cosine similarity of the dense match (0 when found by keywords only)
    keyword: float  # bm25 score (0 when found by vectors only)


def query_terms(query: str) -> list[str]:
    words = _WORD.findall(unicodedata.normalize("NFC", query.lower()))
    return [w for w in dict.fromkeys(words) if w not in _STOP and len(w) >= 3]


class Retriever:
    def __init__(self, index: HandbookIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def search(self, query: str, collections: list[str], k: int = 5) -> list[Hit]:
        query = unicodedata.normalize("NFC", query)[:MAX_QUERY_CHARS]
        pool = max(20, k * 4)
        vector = self.embedder.embed([query])[0]
        dense = self.index.vectors.query(vector, collections, pool)
        sparse = self.index.keyword(query_terms(query), collections, pool)
        fused: dict[str, float] = {}
        for ranking in (dense, sparse):
            for rank, (chunk_id, _) in enumerate(ranking):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        similarity = dict(dense)
        keyword = dict(sparse)
        rows = self.index.chunks(list(fused))
        ranked = sorted((cid for cid in fused if cid in rows), key=lambda c: fused[c], reverse=True)[:k]
        return [Hit(cid, rows[cid].document_id, rows[cid].title, rows[cid].page, rows[cid].pages, rows[cid].section,
                    rows[cid].text, fused[cid], similarity.get(cid, 0.0), keyword.get(cid, 0.0)) for cid in ranked]
