"""Ingestion: parse -> clean -> chunk -> embed -> index, with progress and a content hash."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

from models.embeddings import Embedder
from rag.chunking import Chunk, chunk_document, vector_text
from rag.documents import ParseError
from rag.index import Built, DocumentInfo, HandbookIndex, _now
from rag.isolation import PARSER, parse_isolated

Progress = Callable[[str, float], None]
"""Called with a stage ('parse', 'embed', 'index') and the share done (0..1)."""

EMBED_BATCH = 8
"""Chunks per embedding call: small, so a question waits for at most one such call while a long file is read
(the model serves one call at a time)."""


@dataclass(frozen=True)
class IngestResult:
    document: DocumentInfo
    status: str  # 'added', 'replaced', 'unchanged'


def safe_filename(name: str) -> str:
    """The bare file name: no folders, no traversal, NFC, at most 200 characters."""
    base = PurePath(name.replace("\\", "/")).name
    base = unicodedata.normalize("NFC", base).strip().lstrip(".")
    if not base or base in (".", ".."):
        raise ParseError("Ungültiger Dateiname.", code="invalid_filename")
    return base[:200]


def embedding_text(chunk: Chunk) -> str:
    return vector_text(chunk.section, chunk.text)


def _noop(_: str, __: float) -> None:
    return None


class Ingestor:
    def __init__(self, index: HandbookIndex, embedder: Embedder, originals: Path, parse_timeout_s: float = 120,
                 parse_memory_mb: int = 2048) -> None:
        """Each file is parsed in a child process, killed after ``parse_timeout_s`` seconds and limited
        to ``parse_memory_mb`` MB (rag.isolation): a crafted file cannot hold up the uploads after it."""
        self.index = index
        self.embedder = embedder
        self.originals = originals
        self.parse_timeout_s = parse_timeout_s
        self.parse_memory_mb = parse_memory_mb
        self.parser = PARSER  # module:function the child calls (tests: one that hangs)

    def original_path(self, document_id: str, filename: str) -> Path:
        return self.originals / f"{document_id}{PurePath(filename).suffix.lower()}"

    def ingest(self, collection: str, filename: str, data: bytes, progress: Progress = _noop) -> IngestResult:
        filename = safe_filename(filename)
        digest = hashlib.sha256(data).hexdigest()
        previous = self.index.find(collection, filename)
        same = next((d for d in self.index.documents(collection) if d.sha256 == digest), None)
        if same is not None:  # the same content, under this or another file name
            progress("index", 1.0)
            return IngestResult(same, "unchanged")
        progress("parse", 0.0)
        parsed = parse_isolated(data, filename, self.parse_timeout_s, self.parse_memory_mb, self.parser)
        chunks = chunk_document(parsed)
        progress("parse", 1.0)
        texts = [embedding_text(c) for c in chunks]
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            vectors.extend(self.embedder.embed(texts[start:start + EMBED_BATCH]))
            progress("embed", min(1.0, (start + EMBED_BATCH) / max(1, len(texts))))
        document_id = hashlib.sha256(f"{collection}\0{filename}\0{digest}".encode()).hexdigest()[:32]
        info = DocumentInfo(document_id, collection, filename, parsed.title[:255], digest, parsed.media_type,
                            len(data), parsed.page_count, len(chunks), "indexing", _now())
        self.index.ensure_collection(collection, embedder=Built(self.embedder.fingerprint, self.embedder.info))
        self.originals.mkdir(parents=True, exist_ok=True)
        stored = self.original_path(document_id, filename)
        tmp = stored.with_suffix(stored.suffix + ".partial")
        tmp.write_bytes(data)
        tmp.replace(stored)
        progress("index", 0.0)
        self.index.add(info, chunks, vectors, self.embedder.fingerprint)
        if previous is not None:
            self.original_path(previous.id, previous.filename).unlink(missing_ok=True)
        progress("index", 1.0)
        return IngestResult(self.index.document(document_id) or info, "replaced" if previous else "added")

    def recover(self) -> None:
        """After a crash: no half document in the index, no original without its document."""
        for info in self.index.recover():
            self.original_path(info.id, info.filename).unlink(missing_ok=True)
        if self.originals.is_dir():
            known = self.index.document_ids()
            for path in self.originals.iterdir():
                if path.name.split(".")[0] not in known:
                    path.unlink(missing_ok=True)

    def delete(self, document_id: str) -> bool:
        info = self.index.document(document_id)
        if info is None or not self.index.delete(document_id):
            return False
        self.original_path(document_id, info.filename).unlink(missing_ok=True)
        return True
