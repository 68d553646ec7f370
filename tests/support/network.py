"""Every connect() of the test process, to prove that nothing leaves the box.

conftest.py installs the audit hook at start-up; tests read CONNECTS.
"""

from __future__ import annotations

CONNECTS: list[tuple] = []


def audit(event: str, args: tuple) -> None:
    # connect() and sendto() carry the address; getaddrinfo() is a name lookup, which in a namespace
    # without network fails before any connect() could be seen
    if event in ("socket.connect", "socket.sendto"):
        CONNECTS.append(args[1] if len(args) > 1 else args)
    elif event == "socket.getaddrinfo" and args and args[0] not in (None, "", b""):
        CONNECTS.append((args[0].decode() if isinstance(args[0], bytes) else str(args[0]), args[1]))


def is_loopback(address: object) -> bool:
    if isinstance(address, str):  # unix socket path
        return True
    if isinstance(address, tuple) and address:
        host = str(address[0])
        return host.startswith("127.") or host in ("::1", "localhost", "0.0.0.0") or host.startswith("::ffff:127.")
    return False
