"""`appliance ingest` and `appliance ask`: through the running service, and directly without one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS_DIR, TEST_CHAT, free_port
from tests.support import handbooks as hb

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


def test_ingest_goes_through_the_running_service(live_server, files: Path) -> None:
    data = live_server.app.state.settings.storage.data_dir
    r = cli(["ingest", str(files / "Hygieneplan.pdf"), "--collection", "Hygieneplan"], data, live_server.port)
    assert r.returncode == 0, r.stderr
    assert "über den laufenden Dienst" in r.stderr
    docs = live_server.app.state.handbooks.index.documents("Hygieneplan")
    assert [d.filename for d in docs] == ["Hygieneplan.pdf"]
    keys = live_server.app.state.accounts.list_keys()
    assert keys and all(k.revoked_at is not None for k in keys)  # the command's key lived only for it
