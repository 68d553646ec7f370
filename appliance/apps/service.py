"""The app catalogue's decisions: who sees and runs which app, saving, publishing, import, runs."""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine

from appliance.apps.files import FileLimits
from appliance.apps.runs import MIN_ANSWER_TOKENS, Prepared, prepare, result
from appliance.apps.spec import AppSpec, SpecError, load_yaml, parse_spec
from appliance.apps.store import AppStore, load_builtins
from appliance.chat.answer import Answer
from appliance.chat.service import ChatService
from appliance.infra.errors import ApiError
from appliance.people.accounts import Principal, Role
from rag.answer import NOTHING_FOUND

log = logging.getLogger(__name__)

AUTHORS = (Role.app_author, Role.facility_admin)
def spec_error(exc: SpecError) -> ApiError:
    return ApiError(422, f"Die App-Beschreibung ist ungültig: {exc}", f"Invalid app definition: {exc}",
                    code="invalid_app", param=exc.param)


def _not_found(app_id: str) -> ApiError:
    return ApiError(404, f"Die App „{app_id}“ gibt es nicht.", f"No app '{app_id}'.", code="app_not_found")


def _forbidden(de: str, en: str) -> ApiError:
    return ApiError(403, de, en, code="forbidden")


def _one_writer(method):
    """One save at a time: each reads the newest version, writes the next and answers with it, so two
    saves at once (the routes run in threads) get a version each instead of the same number twice."""

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._writing:
            return method(self, *args, **kwargs)

    return locked


class AppService:
    def __init__(self, engine: Engine, chat: ChatService | None = None, handbooks=None, branding=None,
                 usage_days: int = 730, files: FileLimits | None = None) -> None:
        """``handbooks`` None: no embedding model, so apps that draw on a collection cannot run.
        ``files``: how large a document given to a file field may be, and how long and in how much
        memory it is read (as handbook uploads)."""
        self.store = AppStore(engine)
        self._writing = threading.RLock()
        self.usage_days = usage_days
        self.files = files or FileLimits()
        self.builtins = load_builtins()
        self.chat = chat
        self.handbooks = handbooks
        self.branding = branding

    # -- reading ------------------------------------------------------------------------------

    @staticmethod
    def is_author(who: Principal) -> bool:
        return who.role in AUTHORS

    def resolve(self, who: Principal, app_id: str, draft: bool = False) -> tuple[AppSpec, int, str]:
        """(spec, version, status) of the version this person may see; 404 when none, 422 when the
        stored version no longer validates (the message says what to change)."""
        try:
            return self._resolve(who, app_id, draft)
        except SpecError as exc:
            raise ApiError(422, f"Die gespeicherte App „{app_id}“ ist nicht mehr gültig: {exc}. Eine App-Autorin"
                           " oder ein App-Autor kann sie im Baukasten korrigieren.",
                           f"The stored app '{app_id}' is no longer valid: {exc}.", code="invalid_app") from None

    def _resolve(self, who: Principal, app_id: str, draft: bool = False) -> tuple[AppSpec, int, str]:
        enabled = self.store.enabled()
        if app_id in self.builtins:
            spec = self.builtins[app_id]
            if self._offered(who, spec, enabled):
                return spec, spec.version, "builtin"
            raise _not_found(app_id)
        stored = self.store.get(app_id)
        if stored is None:
            raise _not_found(app_id)
        if stored.published_version is not None and not draft:
            spec = self.store.spec(app_id, stored.published_version)
            if self.is_author(who) or self._offered(who, spec, enabled):
                return spec, stored.published_version, "published"
        if self.is_author(who):
            status = ("published" if stored.published_version == stored.latest_version
                      else "changed" if stored.published_version else "draft")
            return self.store.spec(app_id, stored.latest_version), stored.latest_version, status
        raise _not_found(app_id)

    def _offered(self, who: Principal, spec: AppSpec, enabled: dict[str, bool]) -> bool:
        if who.role is Role.facility_admin:
            return True
        return enabled.get(spec.id, True) and who.role.value in spec.audience

    def _summary(self, spec: AppSpec, status: str, enabled: dict[str, bool], stored=None,
                 collections: set[str] | None = None) -> dict[str, Any]:
        return {"id": spec.id, "version": spec.version, "title": spec.title, "description": spec.description,
                "icon": spec.icon, "category": spec.category.value, "audience": spec.audience,
                "output": spec.output.value, "collection": spec.collection, "status": status,
                "enabled": enabled.get(spec.id, True),
                "available": self._collection_ok(spec.collection, collections),
                "published_version": stored.published_version if stored else spec.version,
                "latest_version": stored.latest_version if stored else spec.version,
                "weak": None if stored else self._weak(spec)}

    def _weak(self, spec: AppSpec) -> str | None:
        """A built-in app that the model writing it was measured to write unreliably: its grade."""
        from appliance.apps.grades import weak_grade

        loaded = self.chat.model_ids() if self.chat else []
        return weak_grade(spec.params.model or (loaded[0] if loaded else None), spec.id)

    def _collections(self) -> set[str]:
        return self.handbooks.collection_names() if self.handbooks is not None else set()

    def collection_names(self, who: Principal) -> list[str]:
        """The handbook collections an author may let an app draw on."""
        return sorted(self._collections()) if self.is_author(who) else []

    def is_builtin(self, app_id: str) -> bool:
        return app_id in self.builtins

    def _collection_ok(self, collection: str | None, known: set[str] | None = None) -> bool:
        return collection is None or collection in (self._collections() if known is None else known)

    def list(self, who: Principal) -> list[dict[str, Any]]:
        enabled = self.store.enabled()
        known = self._collections()  # once per list, not once per app
        out = [self._summary(s, "builtin", enabled, None, known) for s in self.builtins.values()
               if self._offered(who, s, enabled)]
        for stored in self.store.all():
            try:
                if self.is_author(who):
                    spec = self.store.spec(stored.id, stored.latest_version)
                    status = "published" if stored.published_version == stored.latest_version else (
                        "changed" if stored.published_version else "draft")
                    out.append(self._summary(spec, status, enabled, stored, known))
                elif stored.published_version is not None:
                    spec = self.store.spec(stored.id, stored.published_version)
                    if self._offered(who, spec, enabled):
                        out.append(self._summary(spec, "published", enabled, stored, known))
            except SpecError as exc:  # one app that no longer validates must not hide the catalogue
                log.warning("app %s is left out of the catalogue: %s", stored.id, exc)
        return sorted(out, key=lambda a: (a["category"], a["title"].lower()))

    def get(self, who: Principal, app_id: str, draft: bool = False) -> dict[str, Any]:
        """The app as this person may see it; for authors of a stored app, ``meta.versions`` lists
        every saved version (as GET .../versions does), so the builder loads an app in one call."""
        spec, _, status = self.resolve(who, app_id, draft)
        stored = self.store.get(app_id)
        meta = self._summary(spec, status, self.store.enabled(), stored)
        if stored is not None and self.is_author(who):
            meta["versions"] = self._versions(stored)
            meta["owner"] = stored.created_by
            meta["may_change"] = who.role is Role.facility_admin or stored.created_by == who.name
        return {**spec.model_dump(mode="json"), "status": status, "meta": meta}

    def spec(self, who: Principal, app_id: str, draft: bool = False) -> AppSpec:
        return self.resolve(who, app_id, draft)[0]

    # -- authoring ----------------------------------------------------------------------------

    def require_author(self, who: Principal) -> None:
        if not self.is_author(who):
            raise _forbidden("Apps bauen dürfen nur App-Autorinnen und -Autoren und die Einrichtungsleitung.",
                             "Only app authors and facility admins may build apps.")

    def require_owner(self, who: Principal, stored) -> None:
        """A stored app is changed (saved, published, restored, replaced) by the author who made it and
        by the facility admin; other authors may read it, try it and build on a copy."""
        self.require_author(who)
        if who.role is not Role.facility_admin and stored.created_by != who.name:
            raise _forbidden(f"Die App „{stored.id}“ gehört {stored.created_by}. Ändern, veröffentlichen und"
                             " wiederherstellen können sie nur sie selbst und die Einrichtungsleitung. Eine eigene"
                             " Fassung: exportieren und als Kopie importieren.",
                             f"App '{stored.id}' belongs to {stored.created_by}. Only they and facility admins may"
                             " change, publish or restore it; export it and import a copy to build your own.")

    def parse(self, data: Any) -> AppSpec:
        try:
            spec = parse_spec(data)
        except SpecError as exc:
            raise spec_error(exc) from None
        if spec.collection and not self._collection_ok(spec.collection):
            raise ApiError(422, f"Die Handbuch-Sammlung „{spec.collection}“ gibt es nicht. Bitte zuerst im"
                           " Bereich Handbuch anlegen oder eine vorhandene wählen.",
                           f"The handbook collection '{spec.collection}' does not exist.",
                           code="collection_not_found", param="collection")
        return spec

    def _taken(self, app_id: str) -> bool:
        return app_id in self.builtins or self.store.get(app_id) is not None

    @_one_writer
    def create(self, who: Principal, data: Any) -> dict[str, Any]:
        self.require_author(who)
        spec = self.parse({**data, "version": 1} if isinstance(data, dict) else data)
        if self._taken(spec.id):
            raise ApiError(409, f"Eine App mit der Kennung „{spec.id}“ gibt es schon. Bitte eine andere wählen.",
                           f"An app with id '{spec.id}' already exists.", code="app_exists", param="id")
        self.store.create(spec, who.name, "local", "angelegt")
        return self.get(who, spec.id, draft=True)

    @_one_writer
    def update(self, who: Principal, app_id: str, data: Any) -> dict[str, Any]:
        self.require_author(who)
        if app_id in self.builtins:
            raise _forbidden("Eingebaute Apps lassen sich nicht ändern. Exportieren Sie sie und importieren Sie"
                             " sie als Kopie, um eine eigene Fassung zu bauen.",
                             "Built-in apps cannot be changed; import a copy instead.")
        stored = self.store.get(app_id)
        if stored is None:
            raise _not_found(app_id)
        self.require_owner(who, stored)
        if not isinstance(data, dict):
            raise spec_error(SpecError([("", "Eine App-Beschreibung ist ein Objekt.")]))
        if data.get("id", app_id) != app_id:
            raise ApiError(422, "Die Kennung (id) einer App lässt sich nicht ändern.", "An app's id cannot change.",
                           code="invalid_app", param="id")
        sent = data.get("version")
        if sent is not None and sent != stored.latest_version:
            raise ApiError(409, f"Die App wurde inzwischen geändert (jetzt Version {stored.latest_version}, Ihre"
                           f" Fassung beruht auf Version {sent}). Bitte neu laden; frühere Versionen bleiben"
                           " erhalten.", f"The app changed meanwhile (now version {stored.latest_version}).",
                           code="version_conflict", param="version")
        spec = self.parse({**data, "id": app_id, "version": stored.latest_version + 1})
        if self._same(spec, self.store.spec(app_id, stored.latest_version)):
            return self.get(who, app_id, draft=True)
        self.store.save(spec, who.name, "gespeichert")
        return self.get(who, app_id, draft=True)

    @staticmethod
    def _same(a: AppSpec, b: AppSpec) -> bool:
        return a.model_dump(exclude={"version"}) == b.model_dump(exclude={"version"})

    @_one_writer
    def publish(self, who: Principal, app_id: str) -> dict[str, Any]:
        self.require_author(who)
        stored = self.store.get(app_id)
        if stored is None:
            raise _not_found(app_id) if app_id not in self.builtins else _forbidden(
                "Eingebaute Apps sind schon veröffentlicht.", "Built-in apps are published already.")
        self.require_owner(who, stored)
        self.parse(self.store.spec(app_id, stored.latest_version).model_dump(mode="json"))  # collection still there
        self.store.publish(app_id, stored.latest_version)
        return self.get(who, app_id)

    def versions(self, who: Principal, app_id: str) -> list[dict[str, Any]]:
        self.require_author(who)
        stored = self.store.get(app_id)
        if stored is None:
            raise _not_found(app_id)
        return self._versions(stored)

    def _versions(self, stored) -> list[dict[str, Any]]:
        return [{**asdict(v), "saved_at": v.saved_at.isoformat(timespec="seconds"),
                 "published": v.version == stored.published_version} for v in self.store.versions(stored.id)]

    def version(self, who: Principal, app_id: str, version: int) -> dict[str, Any]:
        self.require_author(who)
        if self.store.get(app_id) is None or version not in {v.version for v in self.store.versions(app_id)}:
            raise ApiError(404, f"Version {version} der App „{app_id}“ gibt es nicht.",
                           f"No version {version} of app '{app_id}'.", code="version_not_found")
        return self.store.spec(app_id, version).model_dump(mode="json")

    @_one_writer
    def restore(self, who: Principal, app_id: str, version: int) -> dict[str, Any]:
        old = self.version(who, app_id, version)
        stored = self.store.get(app_id)
        self.require_owner(who, stored)
        spec = parse_spec({**old, "version": stored.latest_version + 1})
        self.store.save(spec, who.name, f"wiederhergestellt aus Version {version}")
        return self.get(who, app_id, draft=True)

    # -- exchange between facilities ----------------------------------------------------------

    def export(self, who: Principal, app_id: str) -> tuple[str, str]:
        """(file name, YAML) of the version this person sees (authors: the newest)."""
        self.require_author(who)
        spec = self.spec(who, app_id, draft=True)
        return f"{spec.id}.yaml", spec.to_yaml()

    @_one_writer
    def import_(self, who: Principal, data: bytes, mode: str | None = None) -> dict[str, Any]:
        """Never overwrites silently: a clash answers 409 and names the choices (copy, replace)."""
        self.require_author(who)
        try:
            spec = load_yaml(data.decode("utf-8") if isinstance(data, bytes) else data)
        except UnicodeDecodeError:
            raise spec_error(SpecError([("", "Die Datei ist kein Text (UTF-8).")])) from None
        except SpecError as exc:
            raise spec_error(exc) from None
        spec = self.parse(spec.model_dump(mode="json"))
        if mode not in (None, "copy", "replace"):
            raise ApiError(422, "mode muss copy oder replace sein.", "mode must be copy or replace.",
                           code="invalid_value", param="mode")
        if not self._taken(spec.id):
            self.store.create(spec, who.name, "imported", f"importiert (Version {spec.version})")
            return {"result": "imported", "app": self.get(who, spec.id, draft=True)}
        if mode == "copy":
            new_id = self._free_id(spec.id)
            copy = parse_spec({**spec.model_dump(mode="json"), "id": new_id, "version": 1,
                               "title": f"{spec.title} (Kopie)"[:80]})
            self.store.create(copy, who.name, "local", f"Kopie von {spec.id} (Version {spec.version})")
            return {"result": "copied", "app": self.get(who, new_id, draft=True)}
        if spec.id in self.builtins and self._same(spec, self.builtins[spec.id]):
            return {"result": "unchanged", "app": self.get(who, spec.id)}
        if spec.id in self.builtins:
            raise ApiError(409, f"„{spec.id}“ ist eine eingebaute App. Als Kopie importieren (mode=copy).",
                           f"'{spec.id}' is a built-in app; import it as a copy (mode=copy).",
                           code="app_exists", param="id")
        stored = self.store.get(spec.id)
        local = self.store.spec(spec.id, stored.latest_version)
        if self._same(spec, local):
            return {"result": "unchanged", "app": self.get(who, spec.id, draft=True)}
        if mode == "replace" or (not stored.edited and spec.version > stored.latest_version):
            self.require_owner(who, stored)  # a newer file replaces it too: only for its owner
        newer_unedited = not stored.edited and spec.version > stored.latest_version
        if mode != "replace" and not newer_unedited:
            why_de = ("hier bearbeitet" if stored.edited else
                      f"hier in Version {stored.latest_version}, die Datei hat Version {spec.version}"
                      + (" mit anderem Inhalt" if spec.version == stored.latest_version else ""))
            raise ApiError(409, f"Die App „{spec.id}“ gibt es hier schon ({why_de}). Nichts wurde geändert."
                           " Als Kopie importieren (mode=copy) oder die hiesige Fassung ersetzen (mode=replace);"
                           " beim Ersetzen bleiben alle bisherigen Versionen erhalten.",
                           f"App '{spec.id}' exists here already (edited here or not older). Nothing was changed;"
                           " import as a copy (mode=copy) or replace (mode=replace, earlier versions are kept).",
                           code="app_exists", param="id")
        version = max(stored.latest_version + 1, spec.version)
        self.store.save(parse_spec({**spec.model_dump(mode="json"), "version": version}), who.name,
                        f"importiert (Version {spec.version} der Datei)", edited=False)
        return {"result": "updated" if newer_unedited and mode != "replace" else "replaced",
                "app": self.get(who, spec.id, draft=True)}

    def _free_id(self, app_id: str) -> str:
        for n in range(2, 1000):
            candidate = f"{app_id[:58]}-{n}"
            if not self._taken(candidate):
                return candidate
        raise ApiError(409, "Zu viele Kopien dieser App.", "Too many copies of this app.", code="app_exists")

    # -- facility admin -----------------------------------------------------------------------

    def set_enabled(self, who: Principal, app_id: str, enabled: bool) -> dict[str, Any]:
        if who.role is not Role.facility_admin:
            raise _forbidden("Welche Apps angeboten werden, legt die Einrichtungsleitung fest.",
                             "Only facility admins choose which apps are offered.")
        if not self._taken(app_id):
            raise _not_found(app_id)
        self.store.set_enabled(app_id, enabled)
        return {"id": app_id, "enabled": enabled}

    def offer(self, who: Principal, chosen: list[str]) -> None:
        """Offer exactly the ``chosen`` apps to staff (the admin page's checklist); the rest are hidden."""
        for app in self.list(who):
            if (app["id"] in chosen) != app["enabled"]:
                self.set_enabled(who, app["id"], app["id"] in chosen)

    def usage(self, who: Principal, days: int = 30) -> list[dict[str, Any]]:
        if who.role not in (Role.facility_admin, Role.dpo):
            raise _forbidden("Die Nutzungszahlen sehen die Einrichtungsleitung und der Datenschutz.",
                             "Only facility admins and the data-protection officer see usage.")
        since = date.today() - timedelta(days=max(1, min(days, 366)) - 1)
        return [{"app": a, "day": d.isoformat(), "runs": n} for a, d, n in self.store.usage(since)]

    def document(self, who: Principal, app_id: str, output: str, draft: bool = False,
                 language: str | None = None, unverified: list[dict] | None = None) -> tuple[str, bytes]:
        """(file name, DOCX) of a generated text, on the facility's letterhead, marked as an AI draft;
        ``language`` (a run's "language") sets Arabic, Farsi, ... right to left; ``unverified`` (the
        run's fact check) is noted under the text."""
        from appliance.apps import document, fact_check

        spec = self.spec(who, app_id, draft)
        brand = self.branding.get() if self.branding else None
        letterhead = document.Letterhead(brand.name if brand else "KI-Assistenz",
                                         self.branding.logo() if self.branding else None,
                                         brand.address if brand else "")
        notes = [fact_check.note(unverified or []), self.chat.demo_notice(spec.params.model) if self.chat else ""]
        return document.file_name(spec.title), document.build(spec.title, output, letterhead, spec.title,
                                                                language=language,
                                                                note="\n".join(n for n in notes if n))

    # -- runs -----------------------------------------------------------------------------------

    async def run(self, who: Principal, app_id: str, inputs: Any, draft: bool = False) -> Answer:
        """Run the version of an app this person may use (authors: ``draft`` runs the newest saved
        one) on their inputs: the draft as it is written, then the result with its AI-draft label
        (and sources for apps that draw on handbooks). Each finished run counts once for the
        per-app usage figures. Errors in the inputs come before any text."""
        prepared = await asyncio.to_thread(self._prepare_run, who, app_id, inputs, draft)  # SQLite, templates
        return Answer(self._generate(prepared), lambda text: self._result(prepared, text, count=True))

    async def preview(self, who: Principal, app: Any, inputs: Any) -> Answer:
        """The builder's try-out: an app definition that need not be saved, run for its author; not counted."""
        prepared = await asyncio.to_thread(self._prepare_preview, who, app, inputs)  # validation, templates
        return Answer(self._generate(prepared), lambda text: self._result(prepared, text, count=False))

    def _prepare_run(self, who: Principal, app_id: str, inputs: Any, draft: bool) -> Prepared:
        spec, version, _ = self.resolve(who, app_id, draft)
        return self._prepare(who, spec, version, inputs)

    def _prepare_preview(self, who: Principal, app: Any, inputs: Any) -> Prepared:
        spec = self.trial_spec(who, app)
        return self._prepare(who, spec, spec.version, inputs)

    def trial_spec(self, who: Principal, app: Any) -> AppSpec:
        """An app definition an author tries out (the builder's try-out and test cases), checked, unsaved."""
        self.require_author(who)
        if not isinstance(app, dict):
            raise spec_error(SpecError([("", "Eine App-Beschreibung ist ein Objekt.")]))
        try:
            return parse_spec({**app, "version": app.get("version") or 1})
        except SpecError as exc:
            raise spec_error(exc) from None

    def _prepare(self, who: Principal, spec: AppSpec, version: int, inputs: Any) -> Prepared:
        collection_ok = spec.collection is not None and self._collection_ok(spec.collection)
        prepared = prepare(who, spec, version, inputs, self.handbooks, collection_ok, self.files)
        prepared.demo_notice = self.chat.demo_notice(spec.params.model, who.language) if self.chat else ""
        return prepared

    async def _generate(self, prepared: Prepared) -> AsyncIterator[str]:
        if prepared.declined:
            yield NOTHING_FOUND
            return
        if self.chat is None:
            raise RuntimeError("this app service was built without a chat model")
        # the app's max_tokens is a ceiling: with a long input, the answer gets what is left
        # the app's instructions are the same for everyone: the engine reads them once for all runs
        async for piece in self.chat.texts(prepared.spec.params.model, prepared.messages, prepared.params,
                                           shrink_to_fit=MIN_ANSWER_TOKENS, owner=prepared.owner,
                                           system_shared=True):
            yield piece

    def _result(self, prepared: Prepared, output: str, count: bool) -> dict[str, Any]:
        if count:
            self.store.count_run(prepared.spec.id, self.usage_days)
        return result(prepared, output)
