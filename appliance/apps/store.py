"""Where apps live: built-in YAML in the package, authored and imported apps in SQLite.

Every save is a new row in app_versions, so nothing an author wrote is ever overwritten;
`published_version` says which one staff run.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, text

from appliance.apps.spec import AppSpec, SpecError, load_yaml, parse_spec

BUILTIN_DIR = Path(__file__).with_name("builtin")
SPEC_CACHE = 2048  # checked app versions kept in memory (a few KB each)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _dt(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def load_builtins(folder: Path = BUILTIN_DIR) -> dict[str, AppSpec]:
    """The apps that ship with the box; a broken one stops start-up with the file's name."""
    apps: dict[str, AppSpec] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            spec = load_yaml(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise RuntimeError(f"Eingebaute App {path.name} ist ungültig: {exc}") from None
        if spec.id != path.stem or spec.id in apps:
            raise RuntimeError(f"Eingebaute App {path.name}: id '{spec.id}' passt nicht zum Dateinamen.")
        apps[spec.id] = spec
    return apps


@dataclass(frozen=True)
class StoredApp:
    id: str
    origin: str
    latest_version: int
    published_version: int | None
    edited: bool
    created_by: str
    updated_at: datetime


@dataclass(frozen=True)
class Version:
    version: int
    saved_by: str
    saved_at: datetime
    note: str


class AppStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._specs: dict[tuple[str, int], AppSpec] = {}
        self._specs_lock = threading.Lock()

    def all(self) -> list[StoredApp]:
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT id, origin, latest_version, published_version, edited, created_by,"
                                  " updated_at FROM apps ORDER BY id")).all()
        return [StoredApp(*r[:6], _dt(r[6])) for r in rows]

    def get(self, app_id: str) -> StoredApp | None:
        with self.engine.connect() as c:
            r = c.execute(text("SELECT id, origin, latest_version, published_version, edited, created_by, updated_at"
                               " FROM apps WHERE id = :id"), {"id": app_id}).first()
        return StoredApp(*r[:6], _dt(r[6])) if r else None

    def spec(self, app_id: str, version: int) -> AppSpec:
        """A saved version, checked once: versions never change, so the catalogue does not validate
        every stored app on every view. Raises SpecError for one that no longer validates (rules
        changed since it was saved)."""
        key = (app_id, version)
        cached = self._specs.get(key)
        if cached is None:
            with self.engine.connect() as c:
                raw = c.execute(text("SELECT spec FROM app_versions WHERE app_id = :a AND version = :v"),
                                {"a": app_id, "v": version}).scalar_one()
            try:
                spec = parse_spec(json.loads(raw))
            except ValueError as exc:  # SpecError, or JSON that is not a spec at all
                raise exc if isinstance(exc, SpecError) else SpecError([("", str(exc))]) from None
            with self._specs_lock:
                if len(self._specs) >= SPEC_CACHE:
                    self._specs.pop(next(iter(self._specs)))
                self._specs[key] = spec
            return spec
        return cached

    def versions(self, app_id: str) -> list[Version]:
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT version, saved_by, saved_at, note FROM app_versions WHERE app_id = :a"
                                  " ORDER BY version DESC"), {"a": app_id}).all()
        return [Version(r.version, r.saved_by, _dt(r.saved_at), r.note) for r in rows]

    def create(self, spec: AppSpec, by: str, origin: str, note: str) -> None:
        now = _now()
        with self.engine.begin() as c:
            c.execute(text("INSERT INTO apps (id, origin, latest_version, published_version, edited, created_by,"
                           " created_at, updated_at) VALUES (:id, :o, :v, NULL, :e, :by, :now, :now)"),
                      {"id": spec.id, "o": origin, "v": spec.version, "e": origin == "local", "by": by, "now": now})
            self._add_version(c, spec, by, now, note)

    def save(self, spec: AppSpec, by: str, note: str, *, edited: bool = True) -> None:
        """A new version (spec.version must be new); the app's earlier versions stay."""
        now = _now()
        with self.engine.begin() as c:
            self._add_version(c, spec, by, now, note)
            c.execute(text("UPDATE apps SET latest_version = :v, edited = :e, updated_at = :now WHERE id = :id"),
                      {"v": spec.version, "e": edited, "now": now, "id": spec.id})

    def publish(self, app_id: str, version: int) -> None:
        with self.engine.begin() as c:
            c.execute(text("UPDATE apps SET published_version = :v, updated_at = :now WHERE id = :id"),
                      {"v": version, "now": _now(), "id": app_id})

    @staticmethod
    def _add_version(c, spec: AppSpec, by: str, now: datetime, note: str) -> None:
        c.execute(text("INSERT INTO app_versions (app_id, version, spec, saved_by, saved_at, note)"
                       " VALUES (:a, :v, :s, :by, :now, :n)"),
                  {"a": spec.id, "v": spec.version, "s": spec.model_dump_json(), "by": by, "now": now,
                   "n": note[:200]})

    # -- visibility and usage -------------------------------------------------------------------

    def enabled(self) -> dict[str, bool]:
        with self.engine.connect() as c:
            return {r.app_id: bool(r.enabled) for r in c.execute(text("SELECT app_id, enabled FROM app_visibility"))}

    def set_enabled(self, app_id: str, enabled: bool) -> None:
        with self.engine.begin() as c:
            c.execute(text("INSERT INTO app_visibility (app_id, enabled) VALUES (:a, :e)"
                           " ON CONFLICT (app_id) DO UPDATE SET enabled = excluded.enabled"),
                      {"a": app_id, "e": enabled})

    def count_run(self, app_id: str, keep_days: int = 730) -> None:
        """One more run today; days older than ``keep_days`` are deleted on the way."""
        with self.engine.begin() as c:
            c.execute(text("DELETE FROM app_usage WHERE day < :d"), {"d": date.today() - timedelta(days=keep_days)})
            c.execute(text("INSERT INTO app_usage (app_id, day, runs) VALUES (:a, :d, 1)"
                           " ON CONFLICT (app_id, day) DO UPDATE SET runs = runs + 1"),
                      {"a": app_id, "d": date.today()})

    def usage(self, since: date) -> list[tuple[str, date, int]]:
        with self.engine.connect() as c:
            rows = c.execute(text("SELECT app_id, day, runs FROM app_usage WHERE day >= :d ORDER BY day, app_id"),
                             {"d": since}).all()
        return [(r.app_id, r.day if isinstance(r.day, date) else date.fromisoformat(r.day), r.runs) for r in rows]
