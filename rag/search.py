"""Hybrid retrieval: dense vectors and BM25 keywords, fused by their normalised scores."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from models.embeddings import Embedder
from rag.index import HandbookIndex

MAX_QUERY_CHARS = 2000
_WORD = re.compile(r"\w+", re.UNICODE)
# German question words, auxiliaries and fillers say nothing about the topic
_STOP = {
    "was", "wie", "wer", "wann", "wo", "warum", "welche", "welcher", "welches", "mache", "ich", "bei", "der", "die",
    "das", "den", "dem", "des", "ein", "eine", "einer", "und", "oder", "mit", "für", "von", "auf", "ist", "sind",
    "wird", "werden", "muss", "soll", "kann", "darf", "zu", "im", "in", "an", "am", "the", "what", "how", "do",
    "does", "is", "are", "of", "to", "a", "for", "on", "verdacht", "über",
}


@dataclass(frozen=True)
class Fusion:
    """How the two rankings are weighed, and when a question counts as not covered, for one embedding model:
    measured by benchmarks/handbook_tuning.py on the tuning handbook only, kept per model in the catalogue.

    ``dense_weight``: share of the vector ranking in the fused score (the keyword ranking has the rest);
    ``min_similarity``, ``min_keyword``: a passage with a cosine similarity or a BM25 score this high makes
    the question covered; without one the answer is declined (rag.answer.relevant)."""

    dense_weight: float = 0.4
    min_similarity: float = 0.45
    min_keyword: float = 9.0


DEFAULT_FUSION = Fusion()
"""For an embedding model the catalogue has no measured values for: all-MiniLM-L6-v2's."""


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    document_id: str
    title: str
    page: int | None
    pages: list[int]
    section: str
    text: str
    score: float  # fused score, 0..1
    similarity: float  # cosine similarity of the dense match (0 when found by keywords only)
    keyword: float  # bm25 score (0 when found by vectors only)


def _normalised(ranking: list[tuple[str, float]]) -> dict[str, float]:
    """Scores mapped onto 0..1 within one list: its best 1, the last of the pool 0. Score fusion keeps how
    far ahead a match is, which rank fusion loses; BM25 and cosine scales differ, hence per list."""
    if not ranking:
        return {}
    best, last = ranking[0][1], ranking[-1][1]
    return {cid: (score - last) / (best - last) if best > last else 1.0 for cid, score in ranking}


def query_terms(query: str) -> list[str]:
    """Words worth looking up: no stop words; short words only as acronyms written in capitals (IP, DNS)."""
    terms = []
    for word in _WORD.findall(unicodedata.normalize("NFC", query)):
        lower = word.lower()
        if lower not in _STOP and (len(lower) >= 4 or (len(lower) >= 2 and word.isupper())):
            terms.append(lower)
    return list(dict.fromkeys(terms))


class Retriever:
    def __init__(self, index: HandbookIndex, embedder: Embedder,
                 older: Callable[[str], Embedder | None] | None = None,
                 fusion: Callable[[str | None], Fusion] | None = None) -> None:
        """``older``: the embedder of another fingerprint, for collections whose vectors it built and that
        are being re-embedded (None where it cannot be loaded: those are searched by keywords only).
        ``fusion``: the fusion for an embedding model's id."""
        self.index = index
        self.embedder = embedder
        self.older = older or (lambda _fingerprint: None)
        self.fusion = fusion or (lambda _model_id: DEFAULT_FUSION)

    def fusion_for(self, collections: list[str]) -> Fusion:
        """The fusion of the model whose vectors answer: a collection still answering with an earlier
        model's vectors keeps that model's weights and thresholds until it is re-embedded."""
        states = self.index.embedders()
        models = {states[c].info.get("id") for c in collections if c in states and states[c].fingerprint}
        if len(models) == 1:
            return self.fusion(models.pop())
        return self.fusion(self.embedder.id)

    def _embedder(self, fingerprint: str) -> Embedder | None:
        return self.embedder if fingerprint == self.embedder.fingerprint else self.older(fingerprint)

    def dense(self, query: str, collections: list[str], n: int) -> list[tuple[str, float]]:
        """The vector matches; each collection is asked with a query vector of the model that built it."""
        states = self.index.embedders()
        groups: dict[str, list[str]] = {}
        for collection in collections:
            state = states.get(collection)
            fingerprint = state.fingerprint if state and state.fingerprint else self.embedder.fingerprint
            groups.setdefault(fingerprint, []).append(collection)
        found: list[tuple[str, float]] = []
        for fingerprint, names in groups.items():
            embedder = self._embedder(fingerprint)
            if embedder is not None:
                vector = embedder.embed_query([query])[0]
                found += self.index.vectors.query(vector, names, n, fingerprint)
        return sorted(found, key=lambda item: item[1], reverse=True)[:n]

    def search(self, query: str, collections: list[str], k: int = 5, fusion: Fusion | None = None) -> list[Hit]:
        query = unicodedata.normalize("NFC", query)[:MAX_QUERY_CHARS]
        fusion = fusion or self.fusion_for(collections)
        pool = max(30, k * 6)
        dense = self.dense(query, collections, pool)
        sparse = self.index.keyword(query_terms(query), collections, pool)
        fused: dict[str, float] = {}
        for weight, ranking in ((fusion.dense_weight, dense), (1.0 - fusion.dense_weight, sparse)):
            for chunk_id, score in _normalised(ranking).items():
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight * score
        similarity = dict(dense)
        keyword = dict(sparse)
        rows = self.index.chunks(list(fused))
        ranked = sorted((cid for cid in fused if cid in rows), key=lambda c: fused[c], reverse=True)[:k]
        return [Hit(cid, rows[cid].document_id, rows[cid].title, rows[cid].page, rows[cid].pages, rows[cid].section,
                    rows[cid].text, fused[cid], similarity.get(cid, 0.0), keyword.get(cid, 0.0)) for cid in ranked]
