"""Nothing leaves the box: a whole workflow while every connect() of the process is watched."""

import contextlib
import os
import re
import subprocess
import sys

import httpx
import pytest

from tests.support.network import CONNECTS, is_loopback
from tests.support.server import LiveServer
from tests.support.settings import make_settings

pytestmark = pytest.mark.models


def test_telemetry_switches_are_set_before_heavy_imports() -> None:
    """Even with telemetry switched on in the environment, importing appliance turns it off."""
    code = (
        "import appliance, appliance.server, ui.mount\n"
        "import gradio.analytics, huggingface_hub.constants as c\n"
        "assert gradio.analytics.analytics_enabled() is False\n"
        "assert c.HF_HUB_OFFLINE and c.HF_HUB_DISABLE_TELEMETRY\n"
        "import os\n"
        "assert os.environ['ANONYMIZED_TELEMETRY'] == 'False' and os.environ['DO_NOT_TRACK'] == '1'\n"
        "import models.whisper, onnxruntime\n"  # Whisper's voice filter brings onnxruntime
        "assert os.environ['ORT_DISABLE_TELEMETRY'] == '1'\n"
    )
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "True", "HF_HUB_OFFLINE": "0", "DO_NOT_TRACK": "0",
           "ORT_DISABLE_TELEMETRY": "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_full_workflow_makes_no_outside_connection(tmp_path, real_engines) -> None:
    from appliance.server import create_app

    start = len(CONNECTS)
    app = create_app(make_settings(tmp_path / "data"), engines=real_engines)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=60) as browser:
        # start: health and the first-run page
        assert browser.get("/healthz").status_code == 200
        assert browser.get("/readyz").json()["status"] == "ready"
        first = browser.get("/", follow_redirects=True)
        assert first.url.path == "/setup"
        # the first admin, signed in at once
        r = browser.post("/setup", data={"name": "leitung", "password": "geheim123", "password2": "geheim123"},
                         follow_redirects=True)
        assert r.status_code == 200 and r.url.path == "/"
        # log out and in again
        browser.get("/logout")
        assert browser.get("/", follow_redirects=True).url.path == "/login"
        assert browser.post("/login", data={"name": "leitung", "password": "falsch123"}).status_code == 401
        assert browser.post("/login", data={"name": "leitung", "password": "geheim123"}).status_code == 303
        page = browser.get("/")
        assert page.status_code == 200 and "gradio" in page.text.lower()
        # every asset the page references is served by the box itself, and no address points outside
        for ref in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert not re.match(r"^(https?:)?//", ref) or ref.startswith(server.url), ref
        outside_urls = [u for u in re.findall(r"https?://[^\s\"'<>)]+", page.text) if not u.startswith(server.url)]
        assert outside_urls == []
        # chat and embeddings with the session cookie
        chat = browser.post("/v1/chat/completions",
                            json={"messages": [{"role": "user", "content": "Hallo!"}], "max_tokens": 8})
        assert chat.status_code == 200 and chat.json()["choices"][0]["message"]["content"]
        emb = browser.post("/v1/embeddings", json={"input": "Hygieneplan"})
        assert emb.status_code == 200 and len(emb.json()["data"][0]["embedding"]) == 384
    outside = [a for a in CONNECTS[start:] if not is_loopback(a)]
    assert outside == [], f"connections leaving the box: {outside}"
    assert len(CONNECTS) > start  # the watch saw the loopback traffic, so it works


def test_the_watch_would_catch_an_outside_connection() -> None:
    import socket

    start = len(CONNECTS)
    # TEST-NET over UDP: no packet is sent; without a route (no network) the attempt is still seen
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, contextlib.suppress(OSError):
        sock.connect(("192.0.2.1", 9))
    assert [a for a in CONNECTS[start:] if not is_loopback(a)] == [("192.0.2.1", 9)]
