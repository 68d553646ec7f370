"""Re-embedding: when the embedding model changes (an upgrade, models.embedding, its dimensions), every
handbook collection gets vectors of the new model in the background, one collection per job.

The rules: vectors of two models never meet (rag.vectors keeps one Chroma collection per model); the old
vectors answer, with query vectors of the old model, until the new ones are complete, and then the
collection switches in one transaction and the old vectors are dropped; a job cut off (a crash, a restart)
resumes where it stopped, since the chunks that have a new vector already are skipped. Jobs run on their own
worker: uploads do not wait behind a long re-embedding. Progress: ``/api/jobs`` (kind ``reembed``), the
collections list, the handbook page and ``appliance documents list``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from appliance.infra.jobs import Job, Jobs
from models.embeddings import Embedder
from rag.index import UNKNOWN, Built, HandbookIndex
from rag.ingest import EMBED_BATCH

log = logging.getLogger(__name__)

ATTEMPTS = 5
"""Switch attempts per job: each one first embeds the chunks that came in since the last."""


class Embedders:
    """The embedding models other than the current one, as the index recorded them.

    ``load(model id, dimensions)`` loads one (None: it is not there); ``legacy``: the embedder of
    collections from versions that did not record it, by vector length."""

    def __init__(self, load: Callable[[str, int | None], Embedder | None] | None = None,
                 legacy: dict[int, Built] | None = None) -> None:
        self._load = load
        self.legacy = legacy or {}
        self._loaded: dict[str, Embedder | None] = {}
        self._lock = threading.Lock()

    def get(self, fingerprint: str, info: dict) -> Embedder | None:
        """The embedder that built vectors of this fingerprint, loaded once; None when it cannot be had
        (files removed, or what loads is not what built them)."""
        if fingerprint == UNKNOWN or self._load is None or not info.get("id"):
            return None
        with self._lock:
            if fingerprint not in self._loaded:
                try:
                    embedder = self._load(info["id"], info.get("dimensions"))
                except Exception as exc:  # a missing or broken model: keyword search until re-embedded
                    log.warning("Suchmodell %s der alten Vektoren nicht ladbar (%s): bis zum Neuaufbau nur"
                                " Stichwortsuche", info["id"], exc)
                    embedder = None
                if embedder is not None and embedder.fingerprint != fingerprint:
                    embedder = None
                self._loaded[fingerprint] = embedder
            return self._loaded[fingerprint]

    def keep(self, fingerprints: set[str]) -> None:
        """Let go of the models no collection's vectors come from any more (their memory)."""
        with self._lock:
            for fingerprint in set(self._loaded) - fingerprints:
                del self._loaded[fingerprint]


class Stopped(Exception):
    """The service stops: the job ends here and resumes at the next start."""


class Reembedding:
    def __init__(self, index: HandbookIndex, embedder: Embedder, embedders: Embedders, jobs: Jobs) -> None:
        self.index = index
        self.embedder = embedder
        self.embedders = embedders
        self.jobs = jobs
        self.running: dict[str, Job] = {}  # collection -> its job of this process
        self._stop = threading.Event()

    def current(self) -> Built:
        return Built(self.embedder.fingerprint, self.embedder.info)

    def older(self, fingerprint: str) -> Embedder | None:
        """For the retriever: the embedder of a collection's vectors that the current one did not build."""
        info = next((s.info for s in self.index.embedders().values() if s.fingerprint == fingerprint), None)
        return None if info is None else self.embedders.get(fingerprint, info)

    def start(self) -> list[Job]:
        """Name the vectors of earlier versions, then queue a job for each collection another embedder built."""
        current = self.current()
        adopted = self.index.adopt_legacy(self.embedders.legacy, current)
        if adopted:
            log.info("Sammlungen früherer Versionen ihrem Suchmodell zugeordnet: %s", ", ".join(adopted))
        started = []
        for name, state in self.index.embedders().items():
            if state.fingerprint == current.fingerprint:
                if state.pending is not None:  # the model was changed back before a re-embedding was done
                    self.index.set_pending(name, None)
                    self.index.vectors.keep_only(name, {current.fingerprint})
                continue
            self.index.set_pending(name, current)
            started.append(self.submit(name))
        return started

    def submit(self, name: str) -> Job:
        current = self.current()

        def work(job: Job) -> dict[str, Any]:
            job.stage = "embed"
            total = self._embed_missing(name, current, job)
            for _ in range(ATTEMPTS):
                if self.index.switch(name, current):
                    break
                total = self._embed_missing(name, current, job)
            else:
                raise RuntimeError(f"{name}: ständig neue Dokumente; weiter beim nächsten Start")
            self.embedders.keep({s.fingerprint for s in self.index.embedders().values() if s.fingerprint})
            log.info("Sammlung %s mit %s neu eingebettet (%d Abschnitte)", name, current.info.get("id"), total)
            return {"collection": name, "chunks": total, "embedder": current.info.get("id")}

        def on_error(exc: Exception) -> dict[str, Any]:
            log.error("Neuaufbau der Sammlung %s fehlgeschlagen: %s", name, exc)
            return {"message": f"Der Neuaufbau der Suche für '{name}' ist fehlgeschlagen ({exc}); er wird beim"
                               " nächsten Start fortgesetzt. Bis dahin sucht die Assistenz wie bisher.",
                    "message_en": f"Re-embedding '{name}' failed ({exc}); it resumes at the next start.",
                    "code": "reembed_failed", "status": 500}

        job = self.jobs.submit("reembed", 0, work, on_error)
        self.running[name] = job
        return job

    def _embed_missing(self, name: str, target: Built, job: Job) -> int:
        """Vectors of the target embedder for every ready chunk that has none yet; the number of chunks."""
        rows = self.index.embedding_rows(name)
        have = self.index.vectors.ids(name, target.fingerprint)
        todo = [row for row in rows if row[0] not in have]
        done = len(rows) - len(todo)
        for start in range(0, len(todo), EMBED_BATCH):
            if self._stop.is_set():
                raise Stopped("der Dienst wird beendet; weiter beim nächsten Start")
            part = todo[start:start + EMBED_BATCH]
            vectors = self.embedder.embed([text for _, _, text in part])
            self.index.vectors.add(name, target.fingerprint, [cid for cid, _, _ in part], vectors,
                                   [doc for _, doc, _ in part])
            done += len(part)
            job.progress = round(min(0.99, done / max(1, len(rows))), 3)
        return len(rows)

    def status(self) -> dict[str, dict[str, Any]]:
        return collection_status(self.index, self.running)

    def close(self) -> None:
        """Stop after the batch being embedded; what is done stays and the rest follows at the next start."""
        self._stop.set()
        self.jobs.shutdown()


def collection_status(index: HandbookIndex, running: dict[str, Job] | None = None) -> dict[str, dict[str, Any]]:
    """Per collection: the id of the embedder its vectors come from (None: unknown, earlier version) and,
    while it is re-embedded, the new one's id with the share done (0 while its job waits or no service runs)."""
    out = {}
    for name, state in index.embedders().items():
        entry: dict[str, Any] = {"embedder": state.info.get("id"), "reembedding": None}
        if state.pending is not None:
            job = (running or {}).get(name)
            entry["reembedding"] = {"embedder": state.pending_info.get("id"), "progress": job.progress if job else 0.0,
                                    "status": job.status if job else "waiting", "job": job.id if job else None}
        out[name] = entry
    return out
