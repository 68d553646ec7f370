"""kill -9 of the real service (issue 'Security and robustness', item 9d): while a handbook is being
taken in, app versions are being saved and Word letters exported, the process is killed without
warning and started again. Nothing that was committed is lost, nothing half-written is visible, and
the cut-off upload reports failed (code interrupted).

The service runs as `python -m appliance serve` on a data directory of its own, with the small test
models. One kill covers all three kinds of work at once (each start costs half a minute on a small
machine); the tests below each check one promise against the restarted service."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.apps import MINIMAL
from tests.support.paths import TEST_CHAT, TEST_EMBED, require_models
from tests.support.service import Service, make_accounts

COLLECTION = "Dienstanweisungen"
PASSWORD = "Fehlertest-2026!"
SETTINGS = {"models.embedding": TEST_EMBED, "ui.max_answer_tokens": "512"}


def big_handbook(sections: int = 6000) -> bytes:
    """Markdown of some hundred pages in short sections, one passage each: the first batch of passages
    is embedded in a few seconds (then the job reports the stage 'embed'), all of them take minutes,
    far longer than the few seconds the test needs to get saves and exports under way."""
    rule = "Die Pflegekraft dokumentiert jede Maßnahme im Pflegebericht."
    parts = ["# Dienstanweisungen Haus Abendrot\n"]
    parts += [f"\n## {i} Anweisung {i}\n\nRegel {i}: {rule}\n" for i in range(1, sections + 1)]
    parts.append("\n## Schluss\n\nDer Quarkstrudel-Erlass steht nur in diesem Handbuch.\n")
    return "\n".join(parts).encode()


SMALL = (b"# Hygieneplan Haus Abendrot\n\n## Norovirus\n\nBei Norovirus wird die betroffene Person im Zimmer"
         b" isoliert; die Pflegedienstleitung informiert das Gesundheitsamt am selben Tag.\n")
LETTER = "\n\n".join(f"## Punkt {i}\n\nFrau M. hat heute gut gegessen und war **zufrieden**. Sie wünscht sich"
                     f" Besuch am Wochenende; die Tochter ist informiert." for i in range(1, 60))


def wait_job(client: httpx.Client, job_id: str, until, deadline_s: float = 120) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()["job"]
        if until(job):
            return job
        assert job["status"] in ("queued", "running"), job  # never past the state waited for
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {deadline_s} s: {job}")


@dataclass
class Crash:
    """What the clients saw before the kill, and the restarted service to check it against."""

    data: Path
    service: Service
    admin: httpx.Client
    staff: httpx.Client
    committed: dict = field(default_factory=dict)  # the upload that finished before
    interrupted: str = ""  # the upload's job that was running at the kill
    saved: list[int] = field(default_factory=list)  # app versions answered 200
    exported: int = 0  # Word letters answered 200
    in_flight: dict = field(default_factory=dict)  # requests sent and not answered at the kill


class Load:
    """Clients that save app versions and export Word letters in a loop until the service dies."""

    def __init__(self, url: str, key: str, app_id: str) -> None:
        self.url, self.key, self.app_id = url, key, app_id
        self.saved: list[int] = []
        self.exported = 0
        self.pending = {"save": 0, "export": 0}
        self.errors: list[str] = []  # answers other than 200 (asserted by the test, not in the threads)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._save, args=(n,), daemon=True) for n in range(3)]
        self.threads += [threading.Thread(target=self._export, daemon=True) for _ in range(3)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)

    def _loop(self, kind: str, send) -> None:
        with self._client() as client:
            while not self.stop.is_set():
                with self.lock:
                    self.pending[kind] += 1
                try:
                    r = send(client)
                except httpx.TransportError:
                    return  # the service is gone; what this request did is unknown and not counted
                with self.lock:
                    self.pending[kind] -= 1
                    if r.status_code != 200:
                        self.errors.append(f"{kind}: {r.status_code} {r.text[:300]}")
                    elif kind == "save":
                        self.saved.append(r.json()["version"])
                    else:
                        self.exported += 1

    def _save(self, n: int) -> None:
        counter = iter(range(10**6))
        self._loop("save", lambda client: client.put(
            f"/api/apps/{self.app_id}", json={**MINIMAL, "description": f"Fassung {n}.{next(counter)}"}))

    def _export(self) -> None:
        self._loop("export", lambda client: client.post(
            f"/api/apps/{self.app_id}/document", json={"output": LETTER, "draft": True}))

    def busy(self, saves: int, exports: int) -> bool:
        with self.lock:
            return len(self.saved) >= saves and self.exported >= exports


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    require_models(TEST_CHAT, TEST_EMBED)
    root = tmp_path_factory.mktemp("faults")
    data = root / "data"
    # a facility admin (handbooks, apps) and a staff member
    admin_key, staff_key = make_accounts(data, PASSWORD, leitung="facility_admin", pflege="staff")
    with Service(data, root / "killed.log", SETTINGS) as service, \
            httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {admin_key}"},
                         timeout=60) as admin:
        r = admin.post(f"/api/collections/{COLLECTION}/documents", files={"file": ("Hygieneplan.md", SMALL)})
        assert r.status_code == 202, r.text
        committed = wait_job(admin, r.json()["job"]["id"], lambda j: j["status"] == "done")
        assert admin.post("/api/apps", json=MINIMAL).status_code == 201

        r = admin.post(f"/api/collections/{COLLECTION}/documents",
                       files={"file": ("Dienstanweisungen.md", big_handbook())})
        assert r.status_code == 202, r.text
        interrupted = r.json()["job"]["id"]
        wait_job(admin, interrupted, lambda j: j["status"] == "running" and j["stage"] == "embed")
        with Load(service.url, admin_key, MINIMAL["id"]) as load:
            deadline = time.monotonic() + 60
            while not load.busy(saves=5, exports=1):
                assert time.monotonic() < deadline and not load.errors, f"no saves and exports: {load.errors}"
                time.sleep(0.05)
            job = admin.get(f"/api/jobs/{interrupted}").json()["job"]
            assert job["status"] == "running", f"the handbook was taken in before the kill; make it bigger: {job}"
            last = admin.put(f"/api/apps/{MINIMAL['id']}", json={**MINIMAL, "description": "Die letzte."})
            assert last.status_code == 200, last.text
            service.kill()  # right after the 200, with the ingestion, saves and exports under way
        assert load.errors == []
        in_flight = dict(load.pending)
        saved = [*load.saved, last.json()["version"]]

    with Service(data, root / "restarted.log", SETTINGS) as restarted, \
            httpx.Client(base_url=restarted.url, headers={"Authorization": f"Bearer {admin_key}"},
                         timeout=60) as admin, \
            httpx.Client(base_url=restarted.url, headers={"Authorization": f"Bearer {staff_key}"},
                         timeout=60) as staff:
        yield Crash(data, restarted, admin, staff, committed, interrupted, saved, load.exported, in_flight)


def test_the_interrupted_upload_reports_failed_to_its_owner_only(crash: Crash) -> None:
    r = crash.admin.get(f"/api/jobs/{crash.interrupted}")
    assert r.status_code == 200, r.text
    job = r.json()["job"]
    assert job["status"] == "failed" and job["error"]["code"] == "interrupted"
    assert job["error"]["message"].startswith("Die Verarbeitung wurde unterbrochen")
    assert "owner" not in job
    assert crash.staff.get(f"/api/jobs/{crash.interrupted}").status_code == 404  # not theirs
    assert crash.admin.get(f"/api/jobs/{crash.committed['id']}").json()["job"]["status"] == "done"  # kept as well


def test_no_half_document_and_no_stray_original(crash: Crash) -> None:
    documents = crash.admin.get(f"/api/collections/{COLLECTION}/documents").json()["documents"]
    assert [d["filename"] for d in documents] == ["Hygieneplan.md"]
    kept = crash.committed["result"]["document"]["id"]
    assert [p.name for p in (crash.data / "documents").iterdir()] == [f"{kept}.md"]
    hits = crash.admin.post(f"/api/collections/{COLLECTION}/search",
                            json={"query": "Quarkstrudel-Erlass", "k": 5}).json()["results"]
    assert all(h["document_id"] == kept for h in hits)


def test_the_handbook_committed_before_is_listed_and_found(crash: Crash) -> None:
    kept = crash.committed["result"]["document"]["id"]
    documents = crash.staff.get(f"/api/collections/{COLLECTION}/documents").json()["documents"]
    assert [d["id"] for d in documents] == [kept]
    hits = crash.staff.post(f"/api/collections/{COLLECTION}/search",
                            json={"query": "Was tun bei Norovirus?", "k": 3}).json()["results"]
    assert hits and hits[0]["document_id"] == kept and "Gesundheitsamt" in hits[0]["text"]


def test_every_app_version_answered_200_is_there_with_a_valid_spec(crash: Crash) -> None:
    from appliance.apps.spec import parse_spec
    from appliance.infra.db import make_engine

    assert len(crash.saved) >= 6 and len(set(crash.saved)) == len(crash.saved)
    listed = {v["version"] for v in crash.admin.get(f"/api/apps/{MINIMAL['id']}/versions").json()["versions"]}
    assert set(crash.saved) <= listed
    last = crash.admin.get(f"/api/apps/{MINIMAL['id']}", params={"draft": True}).json()
    assert last["version"] == max(listed) >= crash.saved[-1]
    engine = make_engine(f"sqlite:///{crash.data / 'appliance.db'}")
    try:
        with engine.connect() as c:
            rows = c.exec_driver_sql("SELECT version, spec FROM app_versions WHERE app_id = ?",
                                     (MINIMAL["id"],)).all()
            latest = c.exec_driver_sql("SELECT latest_version FROM apps WHERE id = ?", (MINIMAL["id"],)).scalar()
            unfinished = c.exec_driver_sql("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')").scalar()
    finally:
        engine.dispose()
    assert sorted(v for v, _ in rows) == list(range(1, latest + 1)) and latest == max(listed)
    for version, spec in rows:
        assert parse_spec(json.loads(spec)).version == version
    assert unfinished == 0


TEMPORARY = (".tmp", ".partial", ".part", "~")


def test_word_exports_leave_nothing_behind_and_the_service_starts_cleanly(crash: Crash) -> None:
    assert crash.exported >= 1  # exports were answered before the kill, and others were under way
    assert sum(crash.in_flight.values()) >= 1
    leftovers = [p for p in crash.data.rglob("*")
                 if p.name.endswith(TEMPORARY) or p.name.startswith(("tmp", ".~", "~$"))]
    assert leftovers == []
    assert crash.admin.post(f"/api/apps/{MINIMAL['id']}/document", json={"output": "Gut.", "draft": True}
                            ).status_code == 200
    log = crash.service.log.read_text()
    assert "Traceback" not in log and " ERROR " not in log
