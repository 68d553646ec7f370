"""Signing in to the web UI: the password check with its throttle, and the first administrator.

One place decides who gets in, so the audit trail and directory login attach here later.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from appliance.people.accounts import AccountError, Accounts, Principal
from appliance.people.sessions import SESSION_ID, SESSION_STAMP, SESSION_USER
from appliance.people.throttle import LoginThrottle

LOCAL_CLIENTS = ("127.0.0.1", "::1", "localhost")
SETUP = "\0first-run"  # the throttle's name for tries of the setup code (no account can be called so)
CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen and typed on a tablet


def new_setup_code() -> str:
    """12 characters (60 bits) in three groups: ABCD-EFGH-JKLM; tries from other devices are throttled."""
    raw = "".join(secrets.choice(CODE_LETTERS) for _ in range(12))
    return "-".join(raw[i:i + 4] for i in range(0, 12, 4))


SETUP_CODE_FILE = "setup-code"


def read_setup_code(data_dir: Path) -> str | None:
    """The code the service made for its first run, if it waits for its first account."""
    try:
        return (data_dir / SETUP_CODE_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def _setup_code(path: Path | None) -> str:
    """The first-run code, kept (0600, for the service's user only) until the first account exists, so
    the operator on the box reads it with `appliance setup-code`; it is never written to the log."""
    if path is None:
        return new_setup_code()
    known = read_setup_code(path.parent)
    if known and len(_plain(known)) == 12:
        return known
    code = new_setup_code()
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(code + "\n")
    tmp.replace(path)
    return code


def _plain(code: str) -> str:
    """A code as typed: case, spaces and dashes do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())


class Refused(Exception):
    """Not signed in. ``reason``: throttled (``minutes`` to wait), wrong, code, mismatch, or invalid
    (``detail`` says why, in German, from the account rules)."""

    def __init__(self, status: int, reason: str, minutes: int = 0, detail: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.minutes = minutes
        self.detail = detail


@dataclass
class SignIn:
    accounts: Accounts
    session_hours: int = 12
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    code_file: Path | None = None
    """Where the setup code waits for the operator (in the data directory); None: only in memory."""
    setup_code: str = field(init=False, default="")
    """Asked on the first-run page from any other device than the box itself."""

    def __post_init__(self) -> None:
        if self.accounts.count() == 0:
            self.setup_code = _setup_code(self.code_file)
        elif self.code_file is not None:
            self.code_file.unlink(missing_ok=True)  # set up already: nothing to read any more

    @staticmethod
    def is_local(client: str) -> bool:
        return client in LOCAL_CLIENTS

    def _opened(self, principal: Principal) -> tuple[Principal, dict[str, object]]:
        """The person and what their browser's signed cookie carries: who, the password's stamp, and
        the id of a session opened on the server."""
        return principal, {SESSION_USER: principal.user_id,
                           SESSION_STAMP: self.accounts.session_stamp(principal.user_id),
                           SESSION_ID: self.accounts.open_session(principal.user_id, self.session_hours)}

    def sign_out(self, cookie: dict) -> None:
        """The session ends on the server: a copy of its cookie no longer signs anyone in."""
        self.accounts.close_session(cookie.get(SESSION_ID))

    async def password(self, client: str, name: str, password: str) -> tuple[Principal, dict[str, object]]:
        """The person with this name and password and their session, unless too many tries came from
        here for that name."""
        wait = self.throttle.wait_seconds(client, name)
        if wait:
            raise Refused(429, "throttled", minutes=wait // 60 + 1)
        # argon2 takes ~0.1 s of CPU: off the event loop, so streams and pages stay fluid
        principal = await asyncio.to_thread(self.accounts.authenticate, name, password)
        if principal is None:
            self.throttle.failed(client, name)
            raise Refused(401, "wrong")
        self.throttle.succeeded(client, name)
        return await asyncio.to_thread(self._opened, principal)

    async def first_admin(self, client: str, code: str, name: str, password: str, repeated: str,
                          language: str) -> tuple[Principal, dict[str, object]]:
        """The first account, a facility admin, while there is none. From another device than the box,
        the setup code is needed (`appliance setup-code` on the box prints it): nobody else on the
        network can take over a freshly installed box."""
        if not self.is_local(client):
            wait = self.throttle.wait_seconds(client, SETUP)
            if wait:
                raise Refused(429, "throttled", minutes=wait // 60 + 1)
            if not secrets.compare_digest(_plain(code), _plain(self.setup_code)):
                self.throttle.failed(client, SETUP)
                raise Refused(403, "code")
        if password != repeated:
            raise Refused(422, "mismatch")
        try:
            principal = await asyncio.to_thread(self.accounts.add_first_admin, name, password, language)
        except AccountError as exc:
            raise Refused(422, "invalid", detail=str(exc)) from None
        if self.code_file is not None:
            self.code_file.unlink(missing_ok=True)
        return await asyncio.to_thread(self._opened, principal)
