"""The Embedder protocol (texts -> normalised vectors), sentence-transformers and a fake.

Models trained with prompts (EmbeddingGemma: "task: search result | query: " for questions, "title: none |
text: " for passages) get them from their own sentence-transformers config: ``embed`` is for passages
(and the embeddings API), ``embed_query`` for search questions. ``fingerprint`` names what built a vector
(model id, weights, dimensions, prompts): vectors of two fingerprints are never compared.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Embedder(Protocol):
    id: str
    dimensions: int
    max_tokens: int
    fingerprint: str
    info: dict  # what the index records: id, sha256 (of the weights), dimensions, prompts

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per passage. Blocking: call it from a worker thread."""
        ...

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per search question (the model's query prompt, where it has one)."""
        ...


def fingerprint(model_id: str, weights_sha256: str, dimensions: int, prompts: dict[str, str]) -> str:
    """A short name for what built a vector; the index keeps it per collection."""
    key = json.dumps([model_id, weights_sha256, dimensions, prompts], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def embedding_device(device: str) -> str:
    """'auto': the GPU where torch sees one, else the CPU."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerEmbedder:
    """sentence-transformers loaded from a local directory; never touches a model hub.

    ``dimensions``: keep only the first n dimensions (Matryoshka models such as EmbeddingGemma:
    768, 512, 256, 128), re-normalised; None keeps the model's own."""

    def __init__(self, model_id: str, path: Path, device: str = "cpu", batch_size: int = 32,
                 weights_sha256: str = "", dimensions: int | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.id = model_id
        self.device = embedding_device(device)
        self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True,
                                          truncate_dim=dimensions)
        self.dimensions = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length)
        prompts = self._model.prompts or {}
        self.prompts = {role: prompts[role] for role in ("query", "document") if prompts.get(role)}
        self.fingerprint = fingerprint(model_id, weights_sha256, self.dimensions, self.prompts)
        self.info = {"id": model_id, "sha256": weights_sha256, "dimensions": self.dimensions, "prompts": self.prompts}
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self._lock:  # the tokenizer keeps state while encode() runs; one user at a time
            encoded = self._model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode(texts, "document")

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode(texts, "query")

    def _encode(self, texts: Sequence[str], role: str) -> list[list[float]]:
        with self._lock:
            vectors = self._model.encode(
                list(texts),
                prompt=self.prompts.get(role),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.tolist()


class FakeEmbedder:
    """Deterministic bag-of-words hashing vectors: similar texts share dimensions."""

    def __init__(self, model_id: str = "fake-embedding", dimensions: int = 64) -> None:
        self.id = model_id
        self.dimensions = dimensions
        self.max_tokens = 256
        self.fingerprint = fingerprint(model_id, "", dimensions, {})
        self.info = {"id": model_id, "sha256": "", "dimensions": dimensions, "prompts": {}}

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            vec = [0.0] * self.dimensions
            for word in text.lower().split():
                h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big")
                vec[h % self.dimensions] += 1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embed(texts)
