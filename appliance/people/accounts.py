"""Accounts: users with roles, argon2 password hashes, and API keys stored only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from confusable_homoglyphs import confusables
from sqlalchemy import delete, func, select

from appliance.infra.db import Database
from appliance.infra.tables import ApiKey, UiSession, User, utcnow

KEY_PREFIX = "sk-box-"
MIN_PASSWORD = 8
NAME_RE = re.compile(r"^[^\W_](?:[\w.@ -]{0,62}[\w.@-])?$")  # letters incl. umlauts, digits, . _ @ - and spaces

_hasher = PasswordHasher()


class Role(StrEnum):
    staff = "staff"
    app_author = "app_author"
    facility_admin = "facility_admin"
    dpo = "dpo"
    it_admin = "it_admin"


class AccountError(ValueError):
    """A request about accounts cannot be done; the message says why (German first)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, through a UI session or an API key."""

    user_id: int
    name: str
    role: Role
    language: str = "de"


@dataclass(frozen=True)
class KeyInfo:
    id: int
    user: str
    label: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise AccountError(f"Unbekannte Rolle '{value}'. Erlaubt: {known}.") from None


def normalise_name(name: str) -> str:
    """One spelling per name, whether a keyboard sends 'ü' composed or as 'u' plus a diaeresis."""
    return unicodedata.normalize("NFC", name.strip())


def name_key(name: str) -> str:
    """How alike two names look to a person: width, compatibility forms and case do not count."""
    return unicodedata.normalize("NFKC", name).casefold()


def check_name(name: str, existing: list[str]) -> None:
    """A new account's name: the allowed characters, and nothing that passes for another name
    (a Cyrillic 'а' among Latin letters, full-width letters, 'Anna' beside 'anna')."""
    if not NAME_RE.match(name) or "  " in name:
        raise AccountError(
            "Ungültiger Name: 1 bis 64 Zeichen aus Buchstaben (auch ä, ö, ü, ß), Ziffern, Leerzeichen"
            " und . _ @ -; am Anfang ein Buchstabe oder eine Ziffer."
        )
    if unicodedata.normalize("NFKC", name) != name or confusables.is_dangerous(name):
        raise AccountError(
            f"Der Name '{name}' mischt Schriften oder Sonderformen von Buchstaben, die wie andere aussehen"
            " (z. B. ein kyrillisches „а“ zwischen lateinischen). Bitte in einer Schrift schreiben."
        )
    key = name_key(name)
    twin = next((other for other in existing if name_key(other) == key), None)
    if twin is not None:
        raise AccountError(f"Es gibt schon ein Konto '{twin}'; '{name}' sähe gleich aus. Bitte einen anderen Namen.")


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Das Passwort braucht mindestens {MIN_PASSWORD} Zeichen.")


def hash_key(key: str) -> str:
    # API keys carry 256 random bits, so a fast hash is safe and keeps each request cheap.
    return hashlib.sha256(key.encode()).hexdigest()


def _principal(user: User) -> Principal:
    return Principal(user.id, user.name, Role(user.role), user.language)


class Accounts:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._first_run = threading.Lock()

    def count(self) -> int:
        with self.db.session() as s:
            return s.scalar(select(func.count(User.id))) or 0

    def add(self, name: str, role: str, password: str, language: str = "de") -> Principal:
        name = normalise_name(name)
        check_name(name, [])  # the name itself first, then the role and password, then the look-alikes
        parsed = parse_role(role)
        check_password(password)
        with self.db.session() as s:
            if s.scalar(select(User).where(User.name == name)) is not None:
                raise AccountError(f"Es gibt schon ein Konto '{name}'.")
            check_name(name, list(s.scalars(select(User.name))))
            user = User(name=name, role=parsed.value, password_hash=_hasher.hash(password), language=language)
            s.add(user)
            s.flush()
            return _principal(user)

    def add_first_admin(self, name: str, password: str, language: str = "de") -> Principal:
        """Create the first account; refused once any account exists (also for a racing second post)."""
        with self._first_run:
            if self.count() > 0:
                raise AccountError("Die Einrichtung ist abgeschlossen: es gibt bereits Konten.")
            return self.add(name, Role.facility_admin, password, language)

    def list(self) -> list[tuple[str, str, bool, datetime]]:
        with self.db.session() as s:
            users = s.scalars(select(User).order_by(User.name)).all()
            return [(u.name, u.role, u.disabled, u.created_at) for u in users]

    def _get(self, s, name: str) -> User:
        user = s.scalar(select(User).where(User.name == normalise_name(name)))
        if user is None:
            raise AccountError(f"Kein Konto '{name}'.")
        return user

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        with self.db.session() as s:
            self._get(s, name).password_hash = _hasher.hash(password)

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        with self.db.session() as s:
            self._get(s, name).disabled = disabled

    def set_language(self, user_id: int, language: str) -> None:
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is not None:
                user.language = language

    def authenticate(self, name: str, password: str) -> Principal | None:
        name = normalise_name(name)
        with self.db.session() as s:
            user = s.scalar(select(User).where(User.name == name))
            if user is None:
                _hasher.hash(password)  # same cost whether or not the name exists
                return None
            try:
                _hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                return None
            if user.disabled:
                return None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            return _principal(user)

    def by_id(self, user_id: int) -> Principal | None:
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is None or user.disabled:
                return None
            return _principal(user)

    def session_stamp(self, user_id: int) -> str | None:
        """Changes with the password, so a new password ends every open browser session."""
        with self.db.session() as s:
            user = s.get(User, user_id)
            if user is None:
                return None
            return hashlib.sha256(f"{user.id}:{user.password_hash}".encode()).hexdigest()[:24]

    def by_session(self, user_id: int, stamp: object, token: object) -> Principal | None:
        """The person of a browser session: it must be open on the server (not signed out, not
        expired) and from before the last password change."""
        principal = self.by_id(user_id)
        if principal is None or not isinstance(stamp, str) or not isinstance(token, str) or not token:
            return None
        if not secrets.compare_digest(stamp, self.session_stamp(user_id) or ""):
            return None
        with self.db.session() as s:
            row = s.get(UiSession, hash_key(token))
            if row is None or row.user_id != user_id or row.expires_at <= utcnow():
                return None
        return principal

    def open_session(self, user_id: int, hours: int) -> str:
        """A new browser session for ``hours``; answers its id for the cookie (only its hash is stored).
        Sessions that ran out are cleared on the way."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.db.session() as s:
            s.execute(delete(UiSession).where(UiSession.expires_at <= now))
            s.add(UiSession(token_hash=hash_key(token), user_id=user_id, created_at=now,
                            expires_at=now + timedelta(hours=hours)))
        return token

    def close_session(self, token: object) -> None:
        """Signing out: the session ends on the server, so a copy of its cookie no longer works."""
        if isinstance(token, str) and token:
            with self.db.session() as s:
                s.execute(delete(UiSession).where(UiSession.token_hash == hash_key(token)))

    def create_key(self, user_name: str, label: str = "") -> tuple[str, KeyInfo]:
        """Create an API key; the plain key is returned once and only its hash is stored."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as s:
            user = self._get(s, user_name)
            if user.disabled:
                raise AccountError(f"Konto '{user_name}' ist gesperrt.")
            row = ApiKey(user_id=user.id, label=label, prefix=key[: len(KEY_PREFIX) + 6], key_hash=hash_key(key))
            s.add(row)
            s.flush()
            return key, KeyInfo(row.id, user.name, row.label, row.prefix, row.created_at, None)

    def list_keys(self) -> list[KeyInfo]:
        with self.db.session() as s:
            rows = s.scalars(select(ApiKey).order_by(ApiKey.id)).all()
            return [KeyInfo(k.id, k.user.name, k.label, k.prefix, k.created_at, k.revoked_at) for k in rows]

    def revoke_key(self, ident: str) -> KeyInfo:
        """Revoke by numeric id, by the shown prefix, or by the full key."""
        with self.db.session() as s:
            if ident.isdigit():
                row = s.get(ApiKey, int(ident))
            elif ident.startswith(KEY_PREFIX) and len(ident) > 20:
                row = s.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(ident)))
            else:
                rows = s.scalars(select(ApiKey).where(ApiKey.prefix == ident)).all()
                if len(rows) > 1:
                    raise AccountError(f"'{ident}' passt auf mehrere Schlüssel: bitte die Nummer angeben.")
                row = rows[0] if rows else None
            if row is None:
                raise AccountError(f"Kein Schlüssel '{ident}'.")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            return KeyInfo(row.id, row.user.name, row.label, row.prefix, row.created_at, row.revoked_at)

    def principal_for_key(self, key: str) -> Principal | None:
        with self.db.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
            if row is None or row.revoked_at is not None or row.user.disabled:
                return None
            return _principal(row.user)
