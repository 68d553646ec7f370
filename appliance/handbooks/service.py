"""Handbooks for the API, the UI and the CLI: collections, uploads as jobs, search and answers."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import rag
from appliance.chat.answer import Answer
from appliance.chat.service import ChatService
from appliance.config import Settings
from appliance.handbooks.reembed import Embedders, Reembedding, collection_status
from appliance.infra.errors import ApiError
from appliance.infra.jobs import Job, Jobs, QueueFull
from appliance.people.accounts import Principal, Role
from models.catalog import CatalogError, load_catalog
from models.chat import Message, SamplingParams
from models.embeddings import Embedder
from rag.answer import NOTHING_FOUND, build_messages, citations, passages, relevant
from rag.documents import ParseError
from rag.index import DocumentInfo, HandbookIndex
from rag.ingest import Ingestor, safe_filename
from rag.parsers import media_type_for
from rag.search import DEFAULT_FUSION, Fusion, Hit, Retriever
from rag.vectors import VectorStore

log = logging.getLogger(__name__)

MANAGERS = {Role.facility_admin, Role.it_admin}
COLLECTION_RE = re.compile(r"^[\w][\w .-]{0,62}[\w]$|^\w$")
MAX_QUESTION = 2000
SAMPLE_COLLECTION = "Pflegehandbuch"
SAMPLE = Path(rag.__file__).parent / "samples" / "Beispiel-Pflegehandbuch.md"


def parse_error(exc: Exception) -> ApiError:
    if isinstance(exc, ParseError):
        return ApiError(exc.status, str(exc), str(exc), code=exc.code, param="file")
    return ApiError(500, f"Die Datei konnte nicht verarbeitet werden ({type(exc).__name__}).",
                    f"The file could not be processed ({type(exc).__name__}).", code="ingest_failed")


def doc_json(d: DocumentInfo) -> dict[str, Any]:
    out = asdict(d)
    out["created_at"] = d.created_at.isoformat(timespec="seconds")
    return out


def hit_json(h: Hit) -> dict[str, Any]:
    return {"document_id": h.document_id, "title": h.title, "page": h.page, "section": h.section,
            "text": h.text, "score": round(h.score, 6)}


class HandbookService:
    def __init__(self, settings: Settings, engine, embedder: Embedder | None, chat: ChatService | None = None,
                 embedders: Embedders | None = None) -> None:
        """Without an embedder (the command line's `documents list|remove` with no service running)
        it can list and remove documents, but not ingest or search; without ``chat`` not answer.
        ``embedders``: the other embedding models a collection's vectors may come from (an upgrade, a
        changed models.embedding); without it those collections are searched by keywords only until
        re-embedded."""
        data = settings.storage.data_dir
        self.chat = chat
        self.settings = settings.handbooks
        self.index = HandbookIndex(engine, VectorStore(data / "chroma"))
        self.ingestor = Ingestor(self.index, embedder, data / "documents", self.settings.parse_timeout_s,
                                 self.settings.parse_memory_mb)
        self.embedders = embedders or Embedders()
        self.reembedding = Reembedding(self.index, embedder, self.embedders,
                                       Jobs(engine, max_waiting=10_000)) if embedder else None
        self.models_dir = settings.models_dir
        self.retriever = Retriever(self.index, embedder, older=self.reembedding.older if self.reembedding else None,
                                   fusion=self.fusion)
        self.jobs = Jobs(engine)
        self.ingestor.recover()

    def start(self, data_dir: Path, sample: bool) -> None:
        """Once the models are loaded: re-embed what another embedder built, then offer the sample."""
        if self.reembedding is not None:
            self.reembedding.start()
            self._say_overrides()
        if sample:
            self.offer_sample(data_dir)

    # -- access ---------------------------------------------------------------------------------

    @staticmethod
    def check_name(name: str) -> str:
        name = unicodedata.normalize("NFC", name.strip())
        if not COLLECTION_RE.match(name):
            raise ApiError(422, "Ungültiger Name der Sammlung: 1 bis 64 Zeichen aus Buchstaben, Ziffern, Leerzeichen,"
                           " Punkt und Bindestrich.", "Invalid collection name.", code="invalid_value", param="name")
        return name

    def readable(self, principal: Principal) -> list[str]:
        return [name for name, roles in self.index.collections() if not roles or principal.role.value in roles]

    def require_read(self, principal: Principal, collection: str) -> str:
        collection = unicodedata.normalize("NFC", collection)
        if collection not in self.readable(principal):
            raise ApiError(404, f"Die Sammlung '{collection}' gibt es nicht (oder sie ist für Sie nicht freigegeben).",
                           f"The collection '{collection}' does not exist (or is not shared with you).",
                           code="collection_not_found", param="collection")
        return collection

    @staticmethod
    def require_manager(principal: Principal) -> None:
        if principal.role not in MANAGERS:
            raise ApiError(403, "Handbücher verwalten darf nur die Einrichtungsleitung (facility_admin) oder die IT.",
                           "Only facility admins or IT may manage handbooks.", code="forbidden")

    # -- collections and documents ------------------------------------------------------------

    def collections(self, principal: Principal) -> list[dict[str, Any]]:
        """Each readable collection with its roles, documents, the embedding model its vectors come from and,
        while it is re-embedded, the new model and the share done (``reembedding``)."""
        status = self.reembedding.status() if self.reembedding is not None else collection_status(self.index)
        return [{"name": name, "roles": roles, "documents": len(self.index.documents(name)),
                 **status.get(name, {"embedder": None, "reembedding": None})}
                for name, roles in self.index.collections() if not roles or principal.role.value in roles]

    @staticmethod
    def _check_roles(roles: list[str]) -> list[str]:
        for role in roles:
            if role not in {r.value for r in Role}:
                raise ApiError(422, f"Unbekannte Rolle '{role}'.", f"Unknown role '{role}'.", code="invalid_value",
                               param="roles")
        return sorted(set(roles))

    def _existing_roles(self, name: str) -> list[str] | None:
        return next((roles for n, roles in self.index.collections() if n == name), None)

    def create_collection(self, principal: Principal, name: str, roles: list[str]) -> tuple[dict[str, Any], bool]:
        """(the collection, whether it is new). Asking again with the same roles changes nothing;
        other roles for an existing collection answer 409: who may read it changes only on purpose
        (set_roles), never as a side effect of creating it twice."""
        self.require_manager(principal)
        name = self.check_name(name)
        roles = self._check_roles(roles)
        existing = self._existing_roles(name)
        if existing is not None:
            self.require_read(principal, name)
            if sorted(existing) != roles:
                shown = ", ".join(existing) or "alle"
                raise ApiError(409, f"Die Sammlung '{name}' gibt es schon (lesen dürfen: {shown}). Nichts wurde"
                               " geändert; die Rollen ändert PUT /api/collections/{name}.",
                               f"The collection '{name}' exists already (readable by: {shown or 'everyone'})."
                               " Nothing was changed; PUT /api/collections/{name} changes its roles.",
                               code="collection_exists", param="name")
            return {"name": name, "roles": existing, "documents": len(self.index.documents(name))}, False
        self.index.ensure_collection(name, roles)
        return {"name": name, "roles": roles, "documents": 0}, True

    def set_roles(self, principal: Principal, collection: str, roles: list[str]) -> dict[str, Any]:
        """Who may read a collection (empty: everyone); only a manager who can read it changes that."""
        self.require_manager(principal)
        collection = self.require_read(principal, collection)
        roles = self._check_roles(roles)
        self.index.ensure_collection(collection, roles)
        return {"name": collection, "roles": roles, "documents": len(self.index.documents(collection))}

    def documents(self, principal: Principal, collection: str) -> list[dict[str, Any]]:
        return [doc_json(d) for d in self.index.documents(self.require_read(principal, collection))]

    def upload(self, principal: Principal, collection: str, filename: str, data: bytes) -> Job:
        """Check what can be checked at once (type, size, name), then ingest in the background."""
        self.require_manager(principal)
        collection = self.check_name(collection)
        if self._existing_roles(collection) is not None:  # into an existing one only with the right to read it
            self.require_read(principal, collection)
        try:
            filename = safe_filename(filename or "")
            media_type_for(filename)
        except ParseError as exc:
            raise parse_error(exc) from None
        limit = self.settings.max_upload_mb
        if len(data) > limit * 1024 * 1024:
            raise ApiError(413, f"Die Datei ist zu groß (höchstens {limit} MB).",
                           f"File too large (at most {limit} MB).", code="file_too_large", param="file")
        if not data:
            raise ApiError(422, "Die Datei ist leer (0 Byte).", "The file is empty (0 bytes).", code="empty_document",
                           param="file")
        self.index.ensure_collection(collection)

        def work(job: Job) -> dict[str, Any]:
            def progress(stage: str, share: float) -> None:
                weights = {"parse": (0.0, 0.2), "embed": (0.2, 0.75), "index": (0.95, 0.05)}
                start, span = weights.get(stage, (0.0, 1.0))
                job.stage = stage
                job.progress = round(start + span * share, 3)

            result = self.ingestor.ingest(collection, filename, data, progress)
            return {"status": result.status, "document": doc_json(result.document)}

        def on_error(exc: Exception) -> dict[str, Any]:
            err = parse_error(exc)
            return {"message": err.de, "code": err.code, "status": err.status}

        try:
            return self.jobs.submit("ingest", principal.user_id, work, on_error)
        except QueueFull as exc:
            raise ApiError(503, f"Gerade warten schon {exc.waiting} Dateien darauf, aufgenommen zu werden. Bitte in"
                           " einer Minute erneut hochladen.", f"{exc.waiting} files are already waiting to be taken"
                           " in. Please upload again in a minute.", code="queue_full",
                           headers={"Retry-After": "60"}) from None

    def _all_live_jobs(self) -> list[Job]:
        return self.jobs.live() + (self.reembedding.jobs.live() if self.reembedding is not None else [])

    def job(self, principal: Principal, job_id: str) -> Job:
        """An upload's or a re-embedding's job: to whoever started it and to the managers."""
        job = next((j for j in self._all_live_jobs() if j.id == job_id), None) or self.jobs.get(job_id)
        if job is None or (job.owner != principal.user_id and principal.role not in MANAGERS):
            raise ApiError(404, "Diesen Auftrag gibt es nicht.", "No such job.", code="job_not_found")
        return job

    def job_list(self, principal: Principal) -> list[Job]:
        """This run's jobs the caller may see (their own; managers: all, the service's re-embeddings too),
        newest first."""
        jobs = [j for j in self._all_live_jobs() if j.owner == principal.user_id or principal.role in MANAGERS]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def delete(self, principal: Principal, collection: str, document_id: str) -> dict[str, Any]:
        """Remove a document with every chunk, vector and its original; answers what was removed."""
        self.require_manager(principal)
        collection = self.require_read(principal, collection)
        info = self.index.document(document_id)
        if info is None or info.collection != collection or not self.ingestor.delete(document_id):
            raise ApiError(404, "Dieses Dokument gibt es nicht.", "No such document.", code="document_not_found")
        return doc_json(info)

    def original(self, principal: Principal, collection: str, document_id: str) -> tuple[Path, DocumentInfo]:
        collection = self.require_read(principal, collection)
        info = self.index.document(document_id)
        if info is None or info.collection != collection or info.status != "ready":
            raise ApiError(404, "Dieses Dokument gibt es nicht.", "No such document.", code="document_not_found")
        return self.ingestor.original_path(info.id, info.filename), info

    # -- search and answers -----------------------------------------------------------------

    @staticmethod
    def _question(text: str, field: str) -> str:
        text = unicodedata.normalize("NFC", text or "").strip()
        if not text:
            raise ApiError(422, f"Feld '{field}' ist leer.", f"Field '{field}' is empty.", code="invalid_value",
                           param=field)
        if len(text) > MAX_QUESTION:
            raise ApiError(422, f"Feld '{field}' ist zu lang ({len(text)} Zeichen, höchstens {MAX_QUESTION}).",
                           f"Field '{field}' is too long ({len(text)} characters, at most {MAX_QUESTION}).",
                           code="invalid_value", param=field)
        return text

    def search(self, principal: Principal, collection: str, query: str, k: int) -> list[Hit]:
        collection = self.require_read(principal, collection)
        return self.retriever.search(self._question(query, "query"), [collection], k)

    def _say_overrides(self) -> None:
        """Search settings set in the config replace the ones measured for the model: say so once, since a
        config copied from an earlier example (min_similarity = 0.45, min_keyword = 9.0) carries MiniLM's."""
        model_id = self.reembedding.embedder.id if self.reembedding else None
        own = self.fusion(model_id)
        for key in ("dense_weight", "min_similarity", "min_keyword"):
            value = getattr(self.settings, key)
            if value is not None:
                log.warning("handbooks.%s = %s ersetzt den für %s gemessenen Wert; ohne den Eintrag gilt der gemessene"
                            " (docs/benchmarks-handbooks.md)", key, value, model_id)
        log.info("Handbuchsuche mit %s: Vektoranteil %.2f, Mindestähnlichkeit %.2f, Stichwortschwelle %s", model_id,
                 own.dense_weight, own.min_similarity, own.min_keyword)

    def fusion(self, model_id: str | None) -> Fusion:
        """The search settings for an embedding model: measured per model (the catalogue's retrieval), each
        replaced by handbooks.dense_weight, min_similarity or min_keyword where IT set one."""
        measured = DEFAULT_FUSION
        try:
            found = load_catalog(self.models_dir).get(model_id).retrieval if model_id else None
        except (KeyError, CatalogError):
            found = None
        if found is not None:
            keyword = math.inf if found.min_keyword is None else found.min_keyword
            measured = Fusion(found.dense_weight, found.min_similarity, keyword)
        s = self.settings
        return Fusion(measured.dense_weight if s.dense_weight is None else s.dense_weight,
                      measured.min_similarity if s.min_similarity is None else s.min_similarity,
                      measured.min_keyword if s.min_keyword is None else s.min_keyword)

    def _passages(self, principal: Principal, collection: str, question: str) -> list[Hit]:
        names = [self.require_read(principal, collection)]
        fusion = self.retriever.fusion_for(names)
        hits = self.retriever.search(question, names, self.settings.top_k, fusion)
        return relevant(hits, fusion.min_similarity, fusion.min_keyword)

    async def answer(self, principal: Principal, collection: str, question: str) -> Answer:
        """The answer to a question from a collection's handbooks: its text as the model writes it,
        then the citations and every passage it was given. Nothing is generated when no passage
        fits (the answer says the handbooks do not cover it)."""
        question = self._question(question, "question")
        hits = await asyncio.to_thread(self._passages, principal, collection, question)
        return Answer(self._write(question, hits, principal.name), self._answered(hits))

    async def _write(self, question: str, hits: list[Hit], owner: str) -> AsyncIterator[str]:
        if not hits:
            yield NOTHING_FOUND
            return
        if self.chat is None:
            raise RuntimeError("this handbook service was built without a chat model")
        messages = [Message(role, content) for role, content in build_messages(question, hits)]
        params = SamplingParams(temperature=0.1, max_tokens=400)
        async for piece in self.chat.texts(None, messages, params, owner=owner, system_shared=True):
            yield piece

    @staticmethod
    def _answered(hits: list[Hit]) -> Callable[[str], dict[str, Any]]:
        def result(answer: str) -> dict[str, Any]:
            return {"answer": answer.strip(), "citations": [asdict(c) for c in citations(answer, hits)],
                    "passages": [asdict(c) for c in passages(answer, hits)], "ai_generated": True}

        return result

    def passages_for(self, principal: Principal, collection: str, text: str) -> list[Hit]:
        """The passages an app that draws on a collection gives the model with its input."""
        return self._passages(principal, collection, self._question(text, "question"))

    def collection_names(self) -> set[str]:
        return {name for name, _ in self.index.collections()}

    def offer_sample(self, data_dir: Path) -> None:
        """A new box gets the sample handbook once, so a newcomer can try the assistant at once.
        Removed by the facility, it does not come back."""
        marker = data_dir / ".sample-offered"
        if marker.exists() or self.index.documents(SAMPLE_COLLECTION):
            return
        marker.write_text("1")
        self.index.ensure_collection(SAMPLE_COLLECTION)
        self.jobs.submit("ingest", 0, lambda job: {"status": self.ingestor.ingest(
            SAMPLE_COLLECTION, SAMPLE.name, SAMPLE.read_bytes()).status}, lambda exc: {"message": str(exc)})

    def ingest_file(self, principal: Principal, collection: str, filename: str, data: bytes,
                    progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
        """Ingest one file now, in this thread (the command line with no service running)."""
        self.require_manager(principal)
        collection = self.check_name(collection)
        if self._existing_roles(collection) is not None:
            self.require_read(principal, collection)
        try:
            result = self.ingestor.ingest(collection, filename, data, progress)
        except Exception as exc:  # the caller reports it beside the other files
            raise parse_error(exc) from None
        return {"status": result.status, "document": doc_json(result.document)}

    def close(self) -> None:
        self.jobs.shutdown()
        if self.reembedding is not None:
            self.reembedding.close()
