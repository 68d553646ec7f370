"""Typed configuration: appliance.toml plus APPLIANCE__SECTION__KEY environment overrides."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from models.catalog import CatalogError, load_catalog

DEFAULT_CHAT_MODELS = ["qwen2.5-coder-1.5b-instruct-q4_k_m", "smollm2-135m-instruct-q4_1"]


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message names the key."""


class KeyValueError(ValueError):
    """A value found wrong after the sections were read (by the model validator): it names its key."""

    def __init__(self, loc: tuple[str, ...], value: object, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.value = value


class Section(BaseModel):
    """A config section: unknown keys are refused, so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="Address to listen on; the installer sets the LAN address.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the web UI and the API.")
    session_hours: int = Field(12, ge=1, le=24 * 14, description="How long a UI login lasts (a shift or two).")
    max_request_mb: int = Field(10, ge=1, le=1024, description="Largest request body in MB.")
    slow_client_s: int = Field(
        30, ge=5, le=600, description="A client that takes longer for a request's head, or sends nothing of its"
        " body for this long (or under 1 KB/s after it), is cut off (slowloris); the connection is free again.",
    )
    tls_cert: Path | None = Field(
        None, description="Certificate (PEM, with its chain) for HTTPS; browsers allow the microphone only over"
        " HTTPS (or on the box itself). Empty: plain HTTP.",
    )
    tls_key: Path | None = Field(None, description="Private key (PEM) belonging to server.tls_cert.")
    trusted_proxies: list[str] = Field(
        default_factory=list, max_length=16,
        description="Addresses (or networks) of a TLS proxy in front of the service, e.g. [\"127.0.0.1\"]: only"
        " from these are X-Forwarded-For and X-Forwarded-Proto believed (the devices' addresses for the login"
        " lock and the setup code; https for the Secure cookie and HSTS). Empty: no proxy headers are read.",
    )

    @field_validator("tls_cert", "tls_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(f"server.trusted_proxies: {item!r} ist keine IP-Adresse und kein Netz"
                                 " (z. B. \"127.0.0.1\" oder \"10.0.0.0/24\")") from None
        return [item.strip() for item in value]

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("server.tls_cert und server.tls_key nur zusammen angeben (both or neither)")
        return self

    @property
    def scheme(self) -> str:
        return "https" if self.tls_cert else "http"


class StorageSettings(Section):
    data_dir: Path = Field(Path("var"), description="Data directory: database, indexes, documents, models.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; empty means SQLite appliance.db in the data directory."
    )


class ModelSettings(Section):
    dir: Path | None = Field(None, description="Model files; empty means <data_dir>/models.")
    chat: list[str] = Field(
        default_factory=lambda: list(DEFAULT_CHAT_MODELS),
        description="Chat models to load, by catalogue id (built-in or imported into models.dir); the first answers"
        " when a request names none.",
    )
    embedding: str | None = Field(
        "embeddinggemma-300m", description="Embedding model id for the handbooks and /v1/embeddings; empty disables"
        " both. Changing it re-embeds every handbook collection in the background.",
    )
    embedding_dimensions: int | None = Field(
        None, ge=32, le=8192, description="Keep only the first n dimensions of each vector (Matryoshka models:"
        " EmbeddingGemma 768, 512, 256 or 128); empty keeps the model's own. Changing it re-embeds too.",
    )
    embedding_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where the embedding model runs: auto takes the GPU when there is one."
    )
    extra_embeddings: list[str] = Field(
        default_factory=list, description="Further embedding models for /v1/embeddings only, picked by id (e.g."
        " all-minilm-l6-v2 for an application whose vectors were made with it); the handbooks use models.embedding.",
    )
    speech: list[str] = Field(
        default_factory=lambda: ["whisper-base"],
        description="Speech models (Whisper) to load; the first transcribes when a request names none;"
        " empty turns speech off.",
    )
    voices: list[str] = Field(
        default_factory=list,
        description="Piper voices to read translations aloud with, by catalogue id (kind voice, imported with"
        " `appliance models import DIR --kind voice`); one per language. Languages without one use espeak-ng.",
    )
    threads: int = Field(0, ge=0, le=512, description="CPU threads for llama.cpp; 0 means all cores.")
    context_size: int = Field(4096, ge=256, le=262144, description="Context window per chat model, in tokens.")
    gpu_layers: int = Field(-1, ge=-1, description="Layers offloaded to the GPU (-1 all); ignored without GPU.")
    max_queue: int = Field(
        32, ge=1, le=10000, description="Chat requests that may wait while every sequence is busy; more get 503."
    )
    parallel: int = Field(
        24, ge=1, le=200, description="Chat requests a model writes at the same time, decoded together in one"
        " batch; each also needs room in the KV cache (models.kv_cache) for its prompt and answer.",
    )
    kv_cache: int = Field(
        0, ge=0, le=4_194_304, description="KV cache per chat model in tokens, shared by the requests it writes"
        " at once (each holds its prompt plus its longest answer); 0 means 8 x context_size. Kept system prompts"
        " get context_size more.",
    )
    prefix_cache: int = Field(
        8, ge=0, le=64, description="System prompts (of apps, the handbook assistant, API callers) kept computed in"
        " the KV cache, so the next request that starts with one skips reading it; 0 turns reuse off.",
    )
    batch_size: int = Field(
        512, ge=32, le=8192, description="Most tokens decoded in one step (prompt slices plus one per writing"
        " request).",
    )

    @field_validator("chat")
    @classmethod
    def _some_chat(cls, ids: list[str]) -> list[str]:
        if not ids:
            raise ValueError("mindestens ein Chat-Modell angeben (at least one chat model)")
        return ids

    @field_validator("embedding")
    @classmethod
    def _empty_embedding(cls, model_id: str | None) -> str | None:
        return model_id or None

    @model_validator(mode="after")
    def _kv_cache_holds_a_context(self) -> ModelSettings:
        if self.kv_cache and self.kv_cache < self.context_size:
            raise ValueError(
                f"models.kv_cache ({self.kv_cache}) muss mindestens models.context_size ({self.context_size}) fassen,"
                " sonst passt die längste Anfrage nie hinein (must hold at least one whole context)"
            )
        return self


class HandbookSettings(Section):
    max_upload_mb: int = Field(50, ge=1, le=2048, description="Largest handbook file in MB (larger: 413).")
    top_k: int = Field(5, ge=1, le=20, description="Passages given to the chat model for an answer.")
    dense_weight: float | None = Field(
        None, ge=0.0, le=1.0, description="Share of the vector ranking in a search (the keyword ranking has the"
        " rest); empty: the value measured for the embedding model (models/catalog.toml, retrieval).",
    )
    min_similarity: float | None = Field(
        None, ge=0.0, le=1.0, description="Vector similarity that makes a passage relevant on its own; empty: the"
        " embedding model's measured value.",
    )
    min_keyword: float | None = Field(
        None, ge=0.0, description="Keyword (BM25) score that makes a passage relevant on its own; empty: the"
        " embedding model's measured value.",
    )
    sample: bool = Field(True, description="Offer the sample handbook in a new data directory.")
    parse_timeout_s: int = Field(
        120, ge=1, le=3600, description="Seconds reading one handbook file may take (in a child process of its own);"
        " longer: the child is stopped and the upload fails with parse_timeout."
    )
    parse_memory_mb: int = Field(
        2048, ge=256, le=65536, description="Memory (address space) in MB of the child process that reads one"
        " handbook file; more: the upload fails with file_too_complex."
    )


class AppsSettings(Section):
    usage_days: int = Field(
        730, ge=1, le=3650, description="Days the per-app usage counts (per app and day, never per person) are kept."
    )


class SpeechSettings(Section):
    max_upload_mb: int = Field(25, ge=1, le=1024, description="Largest audio file to transcribe, in MB (larger: 413).")
    max_minutes: int = Field(
        60, ge=1, le=600, description="Longest recording to transcribe in one request, in minutes (longer: refused)."
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where Whisper runs: auto takes an NVIDIA GPU (float16) when present, else the CPU (int8)."
    )
    threads: int = Field(0, ge=0, le=512, description="CPU threads for Whisper; 0 means all cores.")
    workers: int = Field(1, ge=1, le=16, description="Transcriptions that run at the same time; more wait their turn.")
    max_queue: int = Field(
        8, ge=0, le=1000, description="Transcriptions that may wait for their turn; more get 503 with Retry-After."
    )
    max_interpreters: int = Field(
        2, ge=1, le=64, description="Live interpreter conversations at the same time; one more is told to wait."
    )
    max_interpreters_per_person: int = Field(
        1, ge=1, le=64, description="Live interpreter conversations one person may hold at the same time (so one"
        " person cannot take every place)."
    )
    max_queue_per_person: int = Field(
        2, ge=1, le=1000, description="Transcriptions of one person that may run or wait at the same time (so one"
        " person cannot queue hours of audio ahead of everyone); more get 503 with Retry-After."
    )
    max_utterance_s: int = Field(
        120, ge=5, le=600, description="Longest single turn in the interpreter (push-to-talk), in seconds."
    )
    read_aloud: bool = Field(
        True, description="Offer reading translations aloud (a Piper voice from models.voices, else espeak-ng; on the"
        " box)."
    )


class UISettings(Section):
    language: Literal["de", "en"] = Field("de", description="Default language of the web UI.")
    max_answer_tokens: int = Field(
        1024, ge=16, le=262144, description="Longest chat answer in the web UI, in tokens (Stop ends it sooner)."
    )
    uploads_per_session_mb: int = Field(
        200, ge=1, le=10240, description="Files one web UI session may have in the upload cache at once, in MB"
        " (more: 413 until older ones are cleaned)."
    )
    upload_cache_mb: int = Field(
        2048, ge=16, le=102400, description="All files in the web UI's upload cache together, in MB (more: 503)."
    )
    upload_cache_minutes: int = Field(
        60, ge=5, le=24 * 60, description="Uploaded and generated files of the web UI are deleted after this many"
        " minutes (checked every 10 minutes) and when the service stops."
    )


def _check_model_ids(models: ModelSettings, models_dir: Path) -> None:
    """Every configured id is in the catalogue (built-in or imported into models_dir) with the right kind."""
    try:
        catalog = load_catalog(models_dir)
    except CatalogError as exc:
        raise KeyValueError(("models", "dir"), str(models_dir), str(exc)) from None
    wanted = [("chat", "chat", models.chat), ("speech", "speech", models.speech),
              ("embedding", "embedding", [models.embedding] if models.embedding else []),
              ("embedding", "extra_embeddings", models.extra_embeddings), ("voice", "voices", models.voices)]
    voice_languages: dict[str, str] = {}
    for kind, key, ids in wanted:
        value = getattr(models, key)
        for model_id in ids:
            try:
                entry = catalog.get(model_id)
            except KeyError as exc:
                raise KeyValueError(("models", key), value, str(exc.args[0])) from None
            if entry.kind != kind:
                raise KeyValueError(("models", key), value, f"'{model_id}' ist ein {entry.kind}-Modell, kein"
                                    f" {kind}-Modell")
            if kind != "voice":
                continue
            if len(entry.languages) != 1:
                raise KeyValueError(("models", key), value, f"Stimme '{model_id}' braucht genau eine Sprache im"
                                    f" Katalog (hat {entry.languages})")
            other = voice_languages.setdefault(entry.languages[0], model_id)
            if other != model_id:
                raise KeyValueError(("models", key), value, f"'{other}' und '{model_id}' sprechen beide"
                                    f" '{entry.languages[0]}'; eine Stimme je Sprache")


BOX_CONFIG = Path("/etc/appliance/appliance.toml")


def config_path() -> Path:
    """APPLIANCE_CONFIG, else ./appliance.toml in a checkout, else the box's /etc file."""
    if "APPLIANCE_CONFIG" in os.environ:
        return Path(os.environ["APPLIANCE_CONFIG"])
    local = Path("appliance.toml")
    return local if local.is_file() or not BOX_CONFIG.is_file() else BOX_CONFIG


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="APPLIANCE__",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    ui: UISettings = Field(default_factory=UISettings)
    handbooks: HandbookSettings = Field(default_factory=HandbookSettings)
    apps: AppsSettings = Field(default_factory=AppsSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if len(set(self.models.chat)) != len(self.models.chat):
            raise ValueError("models.chat: ein Modell steht doppelt in der Liste (a model is listed twice)")
        if len(set(self.models.speech)) != len(self.models.speech):
            raise ValueError("models.speech: ein Modell steht doppelt in der Liste (a model is listed twice)")
        if len(set(self.models.voices)) != len(self.models.voices):
            raise ValueError("models.voices: eine Stimme steht doppelt in der Liste (a voice is listed twice)")
        if self.ui.max_answer_tokens >= self.models.context_size:
            raise ValueError(
                f"ui.max_answer_tokens ({self.ui.max_answer_tokens}) muss kleiner sein als models.context_size"
                f" ({self.models.context_size}), sonst bleibt kein Platz für die Frage"
            )
        return self

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.storage.data_dir = self.storage.data_dir.expanduser().absolute()
        if self.models.dir is None:
            self.models.dir = self.storage.data_dir / "models"
        self.models.dir = self.models.dir.expanduser().absolute()
        return self

    @model_validator(mode="after")
    def _known_models(self) -> Settings:
        # after _resolve_paths: models imported into the models directory count as well
        _check_model_ids(self.models, self.models_dir)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, toml)

    @property
    def models_dir(self) -> Path:
        assert self.models.dir is not None
        return self.models.dir

    @property
    def database_url(self) -> str:
        return self.storage.database_url or f"sqlite:///{self.storage.data_dir / 'appliance.db'}"


def load_settings(**overrides: object) -> Settings:
    """Read the configuration; any invalid value raises ConfigError naming its key."""
    path = config_path()
    if "APPLIANCE_CONFIG" in os.environ and not path.is_file():
        raise ConfigError(f"Konfigurationsdatei {path} (APPLIANCE_CONFIG) nicht gefunden.")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc, value = err["loc"], err.get("input")
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, KeyValueError):
                loc, value = cause.loc, cause.value
            key = ".".join(str(p) for p in loc) or "(Datei)"
            env = "APPLIANCE__" + "__".join(str(p).upper() for p in loc)
            lines.append(f"  {key}: {err['msg']} (Wert: {value!r}; Umgebung: {env})")
        raise ConfigError(
            f"Ungültige Konfiguration in {path} oder der Umgebung:\n" + "\n".join(lines)
        ) from None
    except SettingsError as exc:  # an environment value that is not valid JSON for a list/section
        raise ConfigError(
            f"Ein Wert aus der Umgebung ist nicht lesbar: {exc}. Listen als JSON angeben, z. B."
            ' APPLIANCE__MODELS__CHAT=\'["smollm2-135m-instruct-q4_1"]\'.'
        ) from None
    except (OSError, ValueError) as exc:  # malformed TOML
        raise ConfigError(f"Konfigurationsdatei {path} ist nicht lesbar: {exc}") from None
