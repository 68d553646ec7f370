"""The real service, `python -m appliance serve`, as a child process on a data directory of its own with
the small test models, and the accounts it is used with."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.support.paths import MODELS_DIR, TEST_CHAT
from tests.support.server import free_port

START_DEADLINE_S = 180  # for a start with model loading on a busy two-core machine; a hang shows as this running out
DEFAULTS = {"models.chat": f'["{TEST_CHAT}"]', "models.embedding": "", "models.speech": "[]",
            "models.context_size": "2048", "models.threads": "2", "handbooks.sample": "false"}
"""Only the small chat model; a test adds what it needs in ``settings``."""


def make_accounts(data: Path, password: str, **roles: str) -> list[str]:
    """Creates ``data`` with its database, an account a name in ``roles`` (name=role, all with
    ``password``) and an API key each; the keys in the order of ``roles``. Before the service starts."""
    from appliance.infra.db import Database
    from appliance.people.accounts import Accounts

    data.mkdir(mode=0o700, parents=True)
    db = Database(f"sqlite:///{data / 'appliance.db'}")
    try:
        db.migrate()
        accounts = Accounts(db)
        for name, role in roles.items():
            accounts.add(name, role, password)
        return [accounts.create_key(name)[0] for name in roles]
    finally:
        db.dispose()


class Service:
    """`appliance serve` on ``data``, run in data's parent with an empty appliance.toml there, its output
    appended to ``log``. ``settings`` go over DEFAULTS, by their dotted names ("models.parallel": "4").
    ``with Service(...) as service`` starts it and waits until it is ready; leaving the block stops it."""

    def __init__(self, data: Path, log: Path, settings: Mapping[str, str] | None = None) -> None:
        self.data = data
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = {**DEFAULTS, **(settings or {}), "storage.data_dir": str(data),
                         "models.dir": str(MODELS_DIR), "server.port": str(self.port)}
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Service:
        config = self.data.parent / "appliance.toml"
        if not config.exists():
            config.write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPLIANCE")}
        env["APPLIANCE_CONFIG"] = str(config)
        env.update({"APPLIANCE__" + name.upper().replace(".", "__"): value for name, value in self.settings.items()})
        with self.log.open("ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "appliance", "serve"], env=env,
                                            cwd=self.data.parent, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_ready(self) -> None:
        """Until /readyz says ready (the models are loaded); fails early if the process ends or the
        models failed to load."""
        deadline = time.monotonic() + START_DEADLINE_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the service ended (exit {self.process.returncode}):\n{self.log.read_text()}")
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=5)
                if r.status_code == 200:
                    return
                assert r.json()["status"] == "loading", r.text
            except httpx.TransportError:
                pass  # not listening yet
            time.sleep(0.2)
        raise AssertionError(f"the service was not ready after {START_DEADLINE_S} s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """kill -9: no warning, nothing the service can clean up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, the ordinary shutdown; kill -9 if it has not ended after 30 s. Nothing if it has ended."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
