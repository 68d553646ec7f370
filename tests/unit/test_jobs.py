"""Jobs kept in the database (issue 'Security and robustness', item 9d): a job outlives a restart,
one cut off by it reads failed (code interrupted), and old finished ones are deleted."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from appliance.infra.db import Database
from appliance.infra.jobs import Jobs, QueueFull


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'appliance.db'}")
    database.migrate()
    yield database
    database.dispose()


def test_a_job_cut_off_by_a_restart_reads_failed_and_a_finished_one_stays(db: Database) -> None:
    jobs = Jobs(db.engine)
    done = jobs.submit("ingest", 7, lambda job: {"n": 1}, lambda exc: {})
    jobs.wait_idle()
    go, running = threading.Event(), threading.Event()

    def work(job):
        job.stage = "embed"
        running.set()
        go.wait(30)
        return {}

    cut = jobs.submit("ingest", 7, work, lambda exc: {})
    waiting = jobs.submit("ingest", 8, lambda job: {}, lambda exc: {})
    reembed = jobs.submit("reembed", 0, lambda job: {}, lambda exc: {})
    assert running.wait(30)
    restarted = Jobs(db.engine)  # what a new process finds: the old one never wrote an end
    resumed = restarted.get(reembed.id)  # the service starts a re-embedding again by itself: no upload to repeat
    assert resumed.status == "failed" and "fortgesetzt" in resumed.error["message"]
    assert "hochladen" not in resumed.error["message"]
    for job_id in (cut.id, waiting.id):
        job = restarted.get(job_id)
        assert job is not None and job.status == "failed" and job.error["code"] == "interrupted"
        assert job.error["message"].startswith("Die Verarbeitung wurde unterbrochen")
        assert "erneut hochladen" in job.error["message"] and "upload the file again" in job.error["message_en"]
    assert restarted.get(cut.id).stage == "embed" and restarted.get(cut.id).owner == 7
    again = restarted.get(done.id)
    assert again is not None and again.status == "done" and again.result == {"n": 1} and again.progress == 1.0
    assert again.public() == done.public() and "owner" not in again.public()
    assert restarted.get("unknown") is None
    go.set()
    jobs.shutdown()
    restarted.shutdown()


def test_finished_jobs_beyond_keep_are_deleted_and_the_queue_stays_bounded(db: Database) -> None:
    jobs = Jobs(db.engine, keep=3, max_waiting=1)
    first = jobs.submit("x", 1, lambda job: {}, lambda exc: {})
    jobs.wait_idle()
    for _ in range(4):
        jobs.submit("x", 1, lambda job: {}, lambda exc: {})
        jobs.wait_idle()
    with db.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM jobs").scalar() <= 4  # keep, plus the one just added
    assert Jobs(db.engine).get(first.id) is None
    go = threading.Event()
    jobs.submit("x", 1, lambda job: {"ok": go.wait(30)}, lambda exc: {})
    with pytest.raises(QueueFull):
        jobs.submit("x", 1, lambda job: {}, lambda exc: {})
    go.set()
    jobs.shutdown()


def test_a_failed_job_keeps_its_error(db: Database) -> None:
    jobs = Jobs(db.engine)

    def broken(job):
        raise ValueError("kaputt")

    job = jobs.submit("ingest", 1, broken, lambda exc: {"message": str(exc), "code": "ingest_failed"})
    jobs.wait_idle()
    stored = Jobs(db.engine).get(job.id)
    assert stored is not None and stored.status == "failed" and stored.error == {"message": "kaputt",
                                                                                  "code": "ingest_failed"}
    jobs.shutdown()
