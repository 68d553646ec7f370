"""The one owner of the loaded models: built from the catalogue in the lifespan, closed at exit."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field

from appliance.config import Settings
from appliance.infra.errors import ApiError
from models.catalog import CatalogEntry, load_catalog
from models.chat import ChatModel
from models.embeddings import Embedder
from models.speech import Transcriber
from models.store import require_model
from models.voice import Voice

log = logging.getLogger(__name__)

# names that OpenAI clients send by default; they mean "the box's speech model"
OPENAI_SPEECH_ALIASES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")


class UnknownModel(LookupError):
    def __init__(self, model_id: str, kind: str, known: list[str]) -> None:
        self.model_id = model_id
        self.kind = kind
        self.known = known
        super().__init__(model_id)


@dataclass
class Engines:
    chat_models: dict[str, ChatModel] = field(default_factory=dict)
    embedder: Embedder | None = None
    extra_embedders: dict[str, Embedder] = field(default_factory=dict)
    """Further embedding models for the embeddings API only (models.extra_embeddings)."""
    transcribers: dict[str, Transcriber] = field(default_factory=dict)
    entries: dict[str, CatalogEntry] = field(default_factory=dict)
    voices: dict[str, Voice] = field(default_factory=dict)
    """Piper voices by language (``de``); languages without one are read aloud with espeak-ng."""

    @property
    def default_chat(self) -> str:
        return next(iter(self.chat_models))

    def chat(self, model_id: str | None) -> ChatModel:
        if not model_id:
            return self.chat_models[self.default_chat]
        try:
            return self.chat_models[model_id]
        except KeyError:
            raise UnknownModel(model_id, "chat", list(self.chat_models)) from None

    def embeddings(self, model_id: str | None) -> Embedder:
        """The named embedding model; none means models.embedding (the handbooks' one)."""
        if self.embedder is not None and (not model_id or model_id == self.embedder.id):
            return self.embedder
        if model_id and model_id in self.extra_embedders:
            return self.extra_embedders[model_id]
        known = ([self.embedder.id] if self.embedder else []) + list(self.extra_embedders)
        raise UnknownModel(model_id or "", "embedding", known)

    def transcriber(self, model_id: str | None) -> Transcriber:
        """The named speech model; none or OpenAI's ``whisper-1`` means the first one configured."""
        if self.transcribers and (not model_id or model_id in OPENAI_SPEECH_ALIASES):
            return next(iter(self.transcribers.values()))
        try:
            return self.transcribers[model_id or ""]
        except KeyError:
            raise UnknownModel(model_id or "", "speech", list(self.transcribers)) from None

    def close(self) -> None:
        for model in self.chat_models.values():
            model.close()
        self.chat_models.clear()
        for transcriber in self.transcribers.values():
            transcriber.close()
        self.transcribers.clear()
        self.embedder = None
        self.extra_embedders.clear()
        self.voices.clear()


def unknown_model_error(exc: UnknownModel) -> ApiError:
    known = ", ".join(exc.known) or "-"
    return ApiError(
        404,
        f"Das Modell '{exc.model_id}' gibt es hier nicht (als {exc.kind}-Modell). Verfügbar: {known}.",
        f"The model '{exc.model_id}' does not exist here (as a {exc.kind} model). Available: {known}.",
        code="model_not_found",
        param="model",
    )


def not_ready_error() -> ApiError:
    return ApiError(503, "Die Modelle werden noch geladen. Bitte kurz warten.",
                    "The models are still loading. Please wait a moment.", code="not_ready",
                    headers={"Retry-After": "5"})


class Models:
    """The engines as the services see them, from the moment the service is built: the lifespan
    loads the models in the background and hands them over here; until then (or when loading
    failed) asking for a model answers 503. Unknown model names answer 404 here, in one place."""

    def __init__(self, engines: Engines | None = None) -> None:
        self._engines = engines
        self.load_error: str | None = None

    def loaded(self, engines: Engines) -> None:
        self._engines = engines

    def failed(self, error: str) -> None:
        self.load_error = error

    @property
    def ready(self) -> bool:
        return self._engines is not None

    @property
    def engines(self) -> Engines:
        if self._engines is None:
            if self.load_error:  # it will not get better by waiting: say so
                raise ApiError(503, "Die Modelle konnten nicht geladen werden. Bitte die IT informieren (Grund:"
                               " GET /readyz und das Protokoll des Dienstes).", "The models could not be loaded."
                               " Please tell IT (the reason: GET /readyz and the service's log).",
                               code="models_failed")
            raise not_ready_error()
        return self._engines

    def chat_ids(self) -> list[str]:
        """The chat models to choose from (none while loading); the first answers by default."""
        return list(self._engines.chat_models) if self._engines is not None else []

    def chat(self, model_id: str | None) -> ChatModel:
        try:
            return self.engines.chat(model_id)
        except UnknownModel as exc:
            raise unknown_model_error(exc) from None

    def is_demo(self, model_id: str | None) -> bool:
        """Whether the chat model that answers for ``model_id`` (None: the default) is a small demo model
        (catalogue: ``demo``); false while the models load and for models the catalogue does not know."""
        if self._engines is None or not self._engines.chat_models:
            return False
        chosen = model_id or self._engines.default_chat
        entry = self._engines.entries.get(chosen)
        return bool(entry and entry.demo)

    def embedder(self, model_id: str | None = None) -> Embedder:
        try:
            return self.engines.embeddings(model_id)
        except UnknownModel as exc:
            raise unknown_model_error(exc) from None

    def transcriber(self, model_id: str | None = None) -> Transcriber:
        try:
            return self.engines.transcriber(model_id)
        except UnknownModel as exc:
            raise unknown_model_error(exc) from None

    def voices(self) -> dict[str, Voice]:
        """The loaded Piper voices by language (none while loading)."""
        return self._engines.voices if self._engines is not None else {}

    def close(self) -> None:
        if self._engines is not None:
            self._engines.close()


class LoadingEmbedder:
    """The embedding model of ``Models`` as an Embedder, for the handbook index built before the
    models are loaded: until then each call answers 503 (the models are still loading)."""

    def __init__(self, models: Models) -> None:
        self._models = models

    @property
    def id(self) -> str:
        return self._models.embedder().id

    @property
    def dimensions(self) -> int:
        return self._models.embedder().dimensions

    @property
    def max_tokens(self) -> int:
        return self._models.embedder().max_tokens

    @property
    def fingerprint(self) -> str:
        return self._models.embedder().fingerprint

    @property
    def info(self) -> dict:
        return self._models.embedder().info

    def count_tokens(self, texts):
        return self._models.embedder().count_tokens(texts)

    def embed(self, texts):
        return self._models.embedder().embed(texts)

    def embed_query(self, texts):
        return self._models.embedder().embed_query(texts)


def load_engines(settings: Settings) -> Engines:
    """Verify and load every configured model (blocking: run it in a worker thread).

    Fails closed: a missing or corrupt file raises ModelFileError naming the file and the fix.
    """
    from models.llama_chat import LlamaChatModel

    catalog = load_catalog(settings.models_dir)
    engines = Engines()
    m = settings.models
    for model_id in m.chat:
        entry = catalog.get(model_id)
        directory = require_model(settings.models_dir, entry)
        started = time.monotonic()
        engines.chat_models[model_id] = LlamaChatModel(
            model_id,
            directory / entry.main_file.name,
            context_size=m.context_size,
            threads=m.threads,
            gpu_layers=m.gpu_layers,
            max_queue=m.max_queue,
            parallel=m.parallel,
            prefix_cache=m.prefix_cache,
            batch_size=m.batch_size,
            kv_cache=m.kv_cache,
        )
        engines.entries[model_id] = entry
        log.info("chat model %s loaded in %.1f s", model_id, time.monotonic() - started)
    if m.embedding:
        entry = catalog.get(m.embedding)
        engines.embedder = load_embedder(settings, entry)
        engines.entries[m.embedding] = entry
        log.info("embedding model %s loaded (%s, %d dimensions)", m.embedding, engines.embedder.device,
                 engines.embedder.dimensions)
    for model_id in m.extra_embeddings:
        if model_id != m.embedding:
            entry = catalog.get(model_id)
            engines.extra_embedders[model_id] = load_embedder(settings, entry, dimensions=None)
            engines.entries[model_id] = entry
    for model_id in m.speech:
        entry = catalog.get(model_id)
        engines.transcribers[model_id] = load_transcriber(settings, entry)
        engines.entries[model_id] = entry
    for model_id in m.voices:
        entry = catalog.get(model_id)
        engines.voices.update(load_voice(settings, entry))
        engines.entries[model_id] = entry
    return engines


def weights_sha256(entry: CatalogEntry) -> str:
    """The sha256 of a model's weights (model.safetensors), else one over all its files' sha256."""
    weights = next((f for f in entry.files if f.name in ("model.safetensors", "pytorch_model.bin")), None)
    if weights is not None:
        return weights.sha256
    return hashlib.sha256("".join(sorted(f.sha256 for f in entry.files)).encode()).hexdigest()


_CONFIGURED = object()


def load_embedder(settings: Settings, entry: CatalogEntry, dimensions=_CONFIGURED):
    """The embedding model of an entry, verified, on the configured device; with models.embedding_dimensions
    unless ``dimensions`` is given (None: the model's own)."""
    from models.embeddings import SentenceTransformerEmbedder

    directory = require_model(settings.models_dir, entry)
    m = settings.models
    size = m.embedding_dimensions if dimensions is _CONFIGURED else dimensions
    return SentenceTransformerEmbedder(entry.id, directory, device=m.embedding_device,
                                       weights_sha256=weights_sha256(entry), dimensions=size)


LEGACY_EMBEDDER = "all-minilm-l6-v2"
"""The one embedding model of the catalogue before collections recorded theirs (384 dimensions)."""


def other_embedders(settings: Settings):
    """The embedding models a handbook collection's vectors may come from besides the configured one: any
    catalogued or imported one, loaded when a collection being re-embedded needs it for its questions."""
    from appliance.handbooks.reembed import Embedders
    from models.embeddings import fingerprint
    from rag.index import Built

    def load(model_id: str, dimensions: int | None):
        return load_embedder(settings, load_catalog(settings.models_dir).get(model_id), dimensions=dimensions)

    legacy = {}
    try:
        entry = load_catalog().get(LEGACY_EMBEDDER)
        legacy[384] = Built(fingerprint(entry.id, weights_sha256(entry), 384, {}),
                            {"id": entry.id, "sha256": weights_sha256(entry), "dimensions": 384, "prompts": {}})
    except KeyError:
        pass
    return Embedders(load, legacy)


def load_voice(settings: Settings, entry: CatalogEntry) -> dict[str, Voice]:
    """A Piper voice for the one language of its catalogue entry (checked by the config)."""
    from models.piper_voice import PiperVoice

    directory = require_model(settings.models_dir, entry)
    voice = PiperVoice(entry.id, directory / entry.main_file.name, entry.languages[0])
    log.info("voice %s (%s, %d Hz) loaded", entry.id, voice.language, voice.sample_rate)
    return {voice.language: voice}


def load_transcriber(settings: Settings, entry: CatalogEntry) -> Transcriber:
    """Whisper on the GPU when there is one; a GPU that cannot run it (a CUDA library missing,
    which shows only at the first transcription) falls back to the CPU when the device is auto."""
    from models.whisper import WhisperTranscriber, cuda_devices

    directory = require_model(settings.models_dir, entry)
    s = settings.speech

    def load(device: str) -> WhisperTranscriber:
        transcriber = WhisperTranscriber(entry.id, directory, english_only=list(entry.languages) == ["en"],
                                         device=device, threads=s.threads, workers=s.workers)
        transcriber.warm_up()
        return transcriber

    try:
        return load(s.device)
    except (RuntimeError, OSError) as exc:
        if s.device != "auto" or not cuda_devices():  # it failed on the CPU already: nothing to fall back to
            raise
        log.warning("speech model %s cannot run on the GPU (%s); it runs on the CPU", entry.id, exc)
        return load("cpu")
