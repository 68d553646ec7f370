"""Background jobs with progress (handbook ingestion): one worker thread; with an engine each job's
state is also kept in the ``jobs`` table, so a job outlives a restart and one cut off by it reads failed."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

INTERRUPTED = {
    "message": "Die Verarbeitung wurde unterbrochen (Neustart des Dienstes). Bitte die Datei erneut hochladen.",
    "message_en": "Processing was interrupted (the service restarted). Please upload the file again.",
    "code": "interrupted", "status": 503,
}
"""The error of a job that was queued or running when the service stopped (power cut, kill, restart)."""

INTERRUPTED_REEMBED = {
    "message": "Der Neuaufbau der Suche wurde unterbrochen (Neustart des Dienstes); er wird beim Start fortgesetzt.",
    "message_en": "Re-embedding was interrupted (the service restarted); it resumes at the start.",
    "code": "interrupted", "status": 503,
}
"""The same for a re-embedding job, which the service starts again by itself (appliance/handbooks/reembed.py)."""

WRITTEN = ("status", "stage")
"""Changes of these are written at once (with the rest of the job); progress alone is not."""


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _stamp(when: datetime) -> str:
    return when.replace(tzinfo=UTC).isoformat(timespec="seconds")


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


@dataclass
class Job:
    """A job as the worker changes it (``job.stage = ...`` in the work itself); with a store attached,
    each change of status or stage is written at once."""

    id: str
    kind: str
    owner: int
    status: str = "queued"  # queued, running, done, failed
    stage: str = ""
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: str = field(default_factory=lambda: _stamp(_utcnow()))

    def __setattr__(self, name: str, value: Any) -> None:
        changed = name in WRITTEN and self.__dict__.get(name, value) != value
        super().__setattr__(name, value)
        sink = self.__dict__.get("_sink")
        if changed and sink is not None:
            sink(self)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "owner" and not k.startswith("_")}


class QueueFull(RuntimeError):
    """As many jobs as allowed wait already; ``waiting`` says how many."""

    def __init__(self, waiting: int) -> None:
        super().__init__(waiting)
        self.waiting = waiting


COLUMNS = "id, kind, owner, status, stage, progress, result, error, created_at"


class Jobs:
    def __init__(self, engine: Engine | None = None, keep: int = 200, max_waiting: int = 16) -> None:
        """``engine``: where jobs are kept (none: in memory only); jobs that a stopped service left queued
        or running are marked failed (code ``interrupted``) here. ``keep``: finished jobs kept.
        ``max_waiting``: jobs queued or running at once; each holds its input (a file) in memory."""
        self._jobs: dict[str, Job] = {}  # this process's jobs, the live objects the worker changes
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")  # one writer at a time
        self._engine = engine
        self._keep = keep
        self.max_waiting = max_waiting
        if engine is not None:
            self._mark_interrupted()

    # -- storage --------------------------------------------------------------------------------

    def _mark_interrupted(self) -> None:
        assert self._engine is not None
        with self._engine.begin() as c:
            cut = c.execute(text("UPDATE jobs SET status = 'failed', error = :e, updated_at = :now"
                                 " WHERE status IN ('queued', 'running') AND kind = 'reembed'"),
                            {"e": _json(INTERRUPTED_REEMBED), "now": _utcnow()}).rowcount
            cut += c.execute(text("UPDATE jobs SET status = 'failed', error = :e, updated_at = :now"
                                  " WHERE status IN ('queued', 'running')"),
                             {"e": _json(INTERRUPTED), "now": _utcnow()}).rowcount
        if cut:
            log.warning("%d Auftrag/Aufträge durch einen Neustart unterbrochen, als fehlgeschlagen markiert", cut)

    def _insert(self, job: Job, now: datetime) -> None:
        assert self._engine is not None
        with self._engine.begin() as c:
            c.execute(text(f"INSERT INTO jobs ({COLUMNS}, updated_at) VALUES (:id, :kind, :owner, :status,"
                           " :stage, :progress, NULL, NULL, :now, :now)"),
                      {"id": job.id, "kind": job.kind, "owner": job.owner, "status": job.status, "stage": job.stage,
                       "progress": job.progress, "now": now})
            c.execute(text("DELETE FROM jobs WHERE status IN ('done', 'failed') AND id NOT IN"
                           " (SELECT id FROM jobs ORDER BY created_at DESC LIMIT :keep)"), {"keep": self._keep})

    def _write(self, job: Job) -> None:
        """The job as it is now; a write that fails is logged and the job goes on (the table is its
        report; the work's own data is written, or not, by the work)."""
        assert self._engine is not None
        try:
            with self._engine.begin() as c:
                c.execute(text("UPDATE jobs SET status = :status, stage = :stage, progress = :progress,"
                               " result = :result, error = :error, updated_at = :now WHERE id = :id"),
                          {"id": job.id, "status": job.status, "stage": job.stage, "progress": job.progress,
                           "result": _json(job.result), "error": _json(job.error),
                           "now": _utcnow()})
        except SQLAlchemyError:
            log.exception("Auftrag %s: Stand (%s) nicht gespeichert", job.id, job.status)

    def _load(self, job_id: str) -> Job | None:
        assert self._engine is not None
        with self._engine.connect() as c:
            r = c.execute(text(f"SELECT {COLUMNS} FROM jobs WHERE id = :id"), {"id": job_id}).first()
        if r is None:
            return None
        created = r.created_at if isinstance(r.created_at, datetime) else datetime.fromisoformat(r.created_at)
        return Job(r.id, r.kind, r.owner, r.status, r.stage, r.progress,
                   json.loads(r.result) if r.result else None, json.loads(r.error) if r.error else None,
                   _stamp(created))

    # -- jobs -----------------------------------------------------------------------------------

    def waiting(self) -> int:
        return sum(1 for job in list(self._jobs.values()) if job.status in ("queued", "running"))

    def submit(self, kind: str, owner: int, work: Callable[[Job], dict[str, Any]],
               on_error: Callable[[Exception], dict[str, Any]]) -> Job:
        """Raises QueueFull when ``max_waiting`` jobs are queued or running already. The job is
        stored before this returns, so its id is known even if the service stops next."""
        now = _utcnow()
        job = Job(uuid.uuid4().hex, kind, owner, created_at=_stamp(now))
        with self._lock:
            waiting = self.waiting()
            if waiting >= self.max_waiting:
                raise QueueFull(waiting)
            if self._engine is not None:
                self._insert(job, now)
                object.__setattr__(job, "_sink", self._write)
            self._jobs[job.id] = job
            for old in list(self._jobs)[: max(0, len(self._jobs) - self._keep)]:
                if self._jobs[old].status in ("done", "failed"):
                    del self._jobs[old]

        def run() -> None:
            job.status = "running"
            try:
                job.result = work(job)
                job.progress = 1.0
                job.status = "done"
            except Exception as exc:  # reported through the job, never lost
                job.error = on_error(exc)
                job.status = "failed"

        self._pool.submit(run)
        return job

    def live(self) -> list[Job]:
        """This process's jobs as they are now (the finished ones it keeps included), oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def get(self, job_id: str) -> Job | None:
        """A job of this process as it is now, else one stored earlier (finished, or cut off by a restart)."""
        job = self._jobs.get(job_id)
        if job is None and self._engine is not None:
            job = self._load(job_id)
        return job

    def wait_idle(self) -> None:
        self._pool.submit(lambda: None).result()

    def shutdown(self) -> None:
        """Waits for the running job; queued ones stay queued in the table and read failed after the restart."""
        self._pool.shutdown(wait=True, cancel_futures=True)
