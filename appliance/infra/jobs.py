"""Background jobs with progress (handbook ingestion): one worker thread, status kept in memory."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass
class Job:
    id: str
    kind: str
    owner: int
    status: str = "queued"  # queued, running, done, failed
    stage: str = ""
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "owner"}


class QueueFull(RuntimeError):
    """As many jobs as allowed wait already; ``waiting`` says how many."""

    def __init__(self, waiting: int) -> None:
        super().__init__(waiting)
        self.waiting = waiting


class Jobs:
    def __init__(self, keep: int = 200, max_waiting: int = 16) -> None:
        """``max_waiting``: jobs queued or running at once; each holds its input (a file) in memory."""
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jobs")  # one writer at a time
        self._keep = keep
        self.max_waiting = max_waiting

    def waiting(self) -> int:
        return sum(1 for job in list(self._jobs.values()) if job.status in ("queued", "running"))

    def submit(self, kind: str, owner: int, work: Callable[[Job], dict[str, Any]],
               on_error: Callable[[Exception], dict[str, Any]]) -> Job:
        """Raises QueueFull when ``max_waiting`` jobs are queued or running already."""
        job = Job(uuid.uuid4().hex, kind, owner)
        with self._lock:
            waiting = self.waiting()
            if waiting >= self.max_waiting:
                raise QueueFull(waiting)
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

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def wait_idle(self) -> None:
        self._pool.submit(lambda: None).result()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
