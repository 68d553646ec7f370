"""The Embedder protocol (texts -> normalised vectors), sentence-transformers and a fake."""

from __future__ import annotations

import hashlib
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

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One L2-normalised vector per text. Blocking: call it from a worker thread."""
        ...


class SentenceTransformerEmbedder:
    """sentence-transformers loaded from a local directory; never touches a model hub."""

    def __init__(self, model_id: str, path: Path, device: str = "cpu", batch_size: int = 32) -> None:
        from sentence_transformers import SentenceTransformer

        self.id = model_id
        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        self.dimensions = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length)
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        with self._lock:  # the tokenizer keeps state while encode() runs; one user at a time
            encoded = self._model.tokenizer(list(texts), add_special_tokens=True)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self._lock:
            vectors = self._model.encode(
                list(texts),
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
