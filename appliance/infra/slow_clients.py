"""A deadline for a request's head (slowloris): uvicorn waits for headers for ever, so a client that
sends a byte a second keeps a connection, and enough of them use up what the process may open.

This is uvicorn's own HTTP/1.1 protocol with one addition: from the first byte of a request (or the
connection's start) its head must be complete within the deadline, or the connection is closed.
Bodies have their deadline in appliance.infra.middleware.BodyLimit; behind nginx, its
client_header_timeout does the same in front.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadDeadline(H11Protocol):
    head_seconds: float = 30.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._waiting_for_head():
            self._arm()
        super().data_received(data)
        if not self._waiting_for_head():
            self._disarm()

    def handle_websocket_upgrade(self, event) -> None:  # the socket takes the connection over
        self._disarm()
        super().handle_websocket_upgrade(event)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _waiting_for_head(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self._waiting_for_head() and not self.transport.is_closing():
            self.transport.close()


def head_deadline(seconds: float) -> type[HeadDeadline]:
    """The protocol class for uvicorn's ``http`` setting, with this deadline."""
    return type("HeadDeadline", (HeadDeadline,), {"head_seconds": float(seconds)})
