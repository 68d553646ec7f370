"""`appliance ingest`, `ask` and `documents list|remove`: through the running service, and directly
without one."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rag.answer import NOTHING_FOUND
from tests.support import handbooks as hb
from tests.support.paths import MODELS_DIR, TEST_CHAT
from tests.support.server import free_port

pytestmark = pytest.mark.models


def cli(args: list[str], data: Path, port: int) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE")}
    env.update({"APPLIANCE__STORAGE__DATA_DIR": str(data), "APPLIANCE__MODELS__DIR": str(MODELS_DIR),
                "APPLIANCE__MODELS__CHAT": f'["{TEST_CHAT}"]', "APPLIANCE__MODELS__CONTEXT_SIZE": "2048",
                "APPLIANCE__SERVER__PORT": str(port), "APPLIANCE__HANDBOOKS__SAMPLE": "false", "COLUMNS": "200"})
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "handbuecher"
    folder.mkdir()
    (folder / "Hygieneplan.pdf").write_bytes(hb.make_pdf())
    (folder / "hygiene.md").write_bytes(hb.make_markdown())
    (folder / "kaputt.pdf").write_bytes(b"%PDF-1.4 kaputt")
    (folder / "notizen.xyz").write_bytes(b"wird ignoriert")
    return folder


def test_ingest_and_ask_without_a_service(tmp_path: Path, files: Path) -> None:
    data = tmp_path / "data"
    r = cli(["ingest", str(files), "--collection", "Hygieneplan"], data, free_port())
    assert r.returncode == 1  # one file failed
    assert "kaputt.pdf" in r.stderr and "beschädigt" in r.stderr
    assert "│ 3 " in r.stdout and "│ 4 " in r.stdout  # 3 files tried, 4 pages
    again = cli(["ingest", str(files / "Hygieneplan.pdf"), "--collection", "Hygieneplan"], data, free_port())
    assert again.returncode == 0 and "│ 1 " in again.stdout  # unchanged: counted, skipped
    r = cli(["ask", "Was ist bei Norovirus zu tun?", "--collection", "Hygieneplan"], data, free_port())
    assert r.returncode == 0 and r.stdout.strip() and "KI-Entwurf" in r.stderr
    r = cli(["ask", "Norovirus?", "--collection", "Gibtsnicht"], data, free_port())
    assert r.returncode == 1 and "Gibtsnicht" in r.stderr


def what_is_left(data: Path, document_id: str) -> tuple[int, int, list[str]]:
    """Rows, vectors and original files of a document, read from the data directory itself."""
    from appliance.infra.db import Database
    from rag.index import HandbookIndex
    from rag.vectors import VectorStore

    db = Database(f"sqlite:///{data / 'appliance.db'}")
    index = HandbookIndex(db.engine, VectorStore(data / "chroma"))
    try:
        return (index.chunk_count(document_id), index.vectors.count(document_id=document_id),
                [p.name for p in (data / "documents").iterdir() if p.name.startswith(document_id)])
    finally:
        db.dispose()


def test_documents_list_and_remove_without_a_service(tmp_path: Path, files: Path) -> None:
    data = tmp_path / "data"
    assert cli(["ingest", str(files / "Hygieneplan.pdf"), str(files / "hygiene.md"), "-c", "Hygieneplan"], data,
               free_port()).returncode == 0
    assert cli(["ingest", str(files / "hygiene.md"), "-c", "Förder richtlinien"], data, free_port()).returncode == 0
    r = cli(["documents", "list", "--json"], data, free_port())
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert sorted((d["collection"], d["filename"]) for d in listed) == [
        ("Förder richtlinien", "hygiene.md"), ("Hygieneplan", "Hygieneplan.pdf"), ("Hygieneplan", "hygiene.md")]
    pdf = next(d for d in listed if d["filename"] == "Hygieneplan.pdf")
    assert pdf["pages"] == 4 and pdf["chunks"] > 0 and pdf["title"] == "Hygieneplan"
    r = cli(["documents", "list", "--collection", "Hygieneplan"], data, free_port())
    assert r.returncode == 0 and pdf["id"] in r.stdout and "Hygieneplan.pdf" in r.stdout
    assert "Förder" not in r.stdout  # only the collection asked for
    assert cli(["documents", "list", "-c", "Gibtsnicht"], data, free_port()).returncode == 1
    assert what_is_left(data, pdf["id"])[0] > 0

    r = cli(["documents", "remove", "0" * 32, "-c", "Hygieneplan"], data, free_port())
    assert r.returncode == 1 and "appliance documents list --collection Hygieneplan" in r.stderr
    r = cli(["documents", "remove", pdf["id"], "-c", "Förder richtlinien"], data, free_port())
    assert r.returncode == 1  # not in that collection: nothing removed
    r = cli(["documents", "remove", pdf["id"], "--collection", "Hygieneplan"], data, free_port())
    assert r.returncode == 0, r.stderr
    assert "„Hygieneplan“ (Hygieneplan.pdf)" in r.stderr and "entfernt" in r.stderr
    assert what_is_left(data, pdf["id"]) == (0, 0, [])  # no section, no vector, no original
    left = json.loads(cli(["documents", "list", "--json", "-c", "Hygieneplan"], data, free_port()).stdout)
    assert [d["filename"] for d in left] == ["hygiene.md"]


def test_ingest_goes_through_the_running_service(live_server, files: Path) -> None:
    data = live_server.app.state.services.settings.storage.data_dir
    r = cli(["ingest", str(files / "Hygieneplan.pdf"), "--collection", "Hygieneplan"], data, live_server.port)
    assert r.returncode == 0, r.stderr
    assert "über den laufenden Dienst" in r.stderr
    docs = live_server.app.state.services.handbooks.index.documents("Hygieneplan")
    assert [d.filename for d in docs] == ["Hygieneplan.pdf"]

    # list and remove go through the service too (it owns the indexes)
    r = cli(["documents", "list"], data, live_server.port)
    assert r.returncode == 0, r.stderr
    assert "Hygieneplan.pdf" in r.stdout and docs[0].id in r.stdout
    r = cli(["documents", "remove", docs[0].id, "-c", "Hygieneplan"], data, live_server.port)
    assert r.returncode == 0, r.stderr
    index = live_server.app.state.services.handbooks.index
    assert index.documents("Hygieneplan") == [] and index.chunk_count(docs[0].id) == 0
    assert index.vectors.count("Hygieneplan", docs[0].id) == 0
    r = cli(["ask", "Was ist bei Norovirus zu tun?", "--collection", "Hygieneplan"], data, live_server.port)
    assert r.returncode == 0 and r.stdout.strip() == NOTHING_FOUND  # its content is gone from answers
    keys = live_server.app.state.services.accounts.list_keys()
    assert len(keys) == 4 and all(k.revoked_at is not None for k in keys)  # each command's key lived only for it
