"""A live server (uvicorn in a thread) on a free loopback port, for the openai client and browsers."""

from __future__ import annotations

import socket
import threading
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, app, slow_client_s: float = 30, **tls: str) -> None:
        """``tls``: ssl_certfile and ssl_keyfile for an HTTPS server. The HTTP protocol is the one
        `appliance serve` runs, with its deadline for a request's head."""
        import uvicorn

        from appliance.infra.slow_clients import head_deadline

        self.app = app
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    http=head_deadline(slow_client_s), **tls))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:  # uvicorn has no event for it; the deadline only catches a hang
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
