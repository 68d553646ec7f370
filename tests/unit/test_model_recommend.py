"""An honest model choice: hardware tiers, the production chat models the catalogue recommends for each,
and `appliance models recommend` as IT uses it to fetch one on a networked PC and import it on the box."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from appliance.cli.main import app
from models import hardware
from models.catalog import LOCAL_CATALOG, TIERS, load_catalog, local_entries, save_local_entries
from models.hardware import Gpu, Hardware, models_for_tier, parse_meminfo, parse_nvidia_smi, recommend, tier_for

GIB = 1024  # MiB

# -- tiers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("gpu_mib", "ram_mib", "tier"), [
    (None, 8 * GIB, "cpu"),
    (None, 512 * GIB, "cpu"),          # RAM does not make a GPU
    (0, 64 * GIB, "cpu"),
    (6 * GIB, 64 * GIB, "cpu"),        # a 6 GB card: too small for a 7B model with the default KV cache
    (7680 - 1, 64 * GIB, "cpu"),
    (7680, 64 * GIB, "gpu8"),
    (8192, 4 * GIB, "gpu8"),           # RTX 3070; little RAM does not lower a GPU tier
    (12 * GIB, 32 * GIB, "gpu8"),
    (14848 - 1, 32 * GIB, "gpu8"),
    (14848, 32 * GIB, "gpu16"),
    (15360, 32 * GIB, "gpu16"),        # T4, sold as 16 GB
    (16376, 32 * GIB, "gpu16"),
    (22528 - 1, 32 * GIB, "gpu16"),
    (22528, 32 * GIB, "gpu24"),
    (23034, 32 * GIB, "gpu24"),        # L4, sold as 24 GB
    (24564, 64 * GIB, "gpu24"),        # RTX 4090
    (40960, 64 * GIB, "gpu24"),        # A100 40 GB
    (45056 - 1, 64 * GIB, "gpu24"),
    (45056, 64 * GIB, "gpu48"),
    (46068, 64 * GIB, "gpu48"),        # L40S, sold as 48 GB
    (81559, 128 * GIB, "gpu48"),       # H100 80 GB
])
def test_tier_boundaries(gpu_mib: int | None, ram_mib: int, tier: str) -> None:
    assert tier_for(gpu_mib, ram_mib) == tier


# -- probing ----------------------------------------------------------------------------------------


def test_parse_nvidia_smi_one_gpu() -> None:
    gpus = parse_nvidia_smi("NVIDIA GeForce RTX 4090, 24564\n")
    assert gpus == (Gpu("NVIDIA GeForce RTX 4090", 24564),)
    box = Hardware(gpus=gpus, ram_mib=64 * GIB, cores=16)
    assert (box.gpu_mib, box.tier) == (24564, "gpu24")


def test_parse_nvidia_smi_several_gpus_add_up() -> None:
    text = "NVIDIA GeForce RTX 4090, 24564\r\nNVIDIA GeForce RTX 4090, 24564\r\n\n"
    box = Hardware(gpus=parse_nvidia_smi(text), ram_mib=128 * GIB, cores=32)
    assert len(box.gpus) == 2 and box.gpu_mib == 49128 and box.tier == "gpu48"


def test_parse_nvidia_smi_leaves_out_what_is_not_a_gpu() -> None:
    text = "NVIDIA A100-SXM4-40GB, [N/A]\nNo devices were found\n\nTesla T4, 15360\n"
    assert parse_nvidia_smi(text) == (Gpu("Tesla T4", 15360),)
    assert parse_nvidia_smi("") == ()
    assert Hardware(gpus=(), ram_mib=16 * GIB, cores=4).gpu_mib is None


def test_parse_meminfo() -> None:
    text = "MemFree:         1024000 kB\nMemTotal:       65843232 kB\nSwapTotal:             0 kB\n"
    assert parse_meminfo(text) == 65843232 // 1024
    assert parse_meminfo("") == 0


def test_probe_describes_this_machine() -> None:
    box = hardware.probe()  # whatever this machine has; nvidia-smi may be missing
    assert box.cores >= 1 and box.ram_mib > 0 and box.tier in TIERS


# -- the catalogue ----------------------------------------------------------------------------------


def test_every_imported_chat_model_is_pinned_and_placed() -> None:
    catalog = load_catalog()
    imported = [m for m in catalog.models if m.kind == "chat" and m.source == "import"]
    assert imported
    for m in imported:
        (f,) = m.files
        assert m.tiers and not m.demo and not m.default, m.id
        assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), m.id
        assert f.size > 0 and f.name.endswith(".gguf"), m.id
        assert f.url and f.url.startswith("https://huggingface.co/") and f.url.endswith("/" + f.name), m.id
        assert m.licence and m.languages and "de" in m.languages and m.hardware and m.context_length, m.id
    for tier in TIERS:
        assert models_for_tier(catalog, tier), f"no model for {tier}"


def test_the_small_chat_models_are_demo_models() -> None:
    catalog = load_catalog()
    for model_id in ("qwen2.5-coder-1.5b-instruct-q4_k_m", "smollm2-135m-instruct-q4_1"):
        entry = catalog.get(model_id)
        assert entry.demo and not entry.tiers
    assert not any(m.demo for tier in TIERS for m in models_for_tier(catalog, tier))


def test_recommend_picks_the_tiers_models() -> None:
    catalog = load_catalog()
    big_ram = 256 * GIB
    for tier, gpus in [("cpu", ()), ("gpu8", (Gpu("RTX 3070", 8192),)), ("gpu16", (Gpu("Tesla T4", 15360),)),
                       ("gpu24", (Gpu("RTX 4090", 24564),)), ("gpu48", (Gpu("H100", 81559),))]:
        picked = recommend(catalog, Hardware(gpus=gpus, ram_mib=big_ram, cores=16))
        assert picked == [m for m in catalog.models if tier in m.tiers]  # catalogue order: first choice first
    assert [m.id for m in recommend(catalog, Hardware(gpus=(Gpu("RTX 4090", 24564),), ram_mib=64 * GIB, cores=16))] \
        == ["mistral-small-3.2-24b-instruct-2506-q4_k_m", "qwen3-30b-a3b-instruct-2507-q4_k_m"]
    with pytest.raises(ValueError, match="Unbekannte Stufe"):
        models_for_tier(catalog, "gpu12")


def test_a_cpu_box_gets_only_what_fits_its_ram() -> None:
    catalog = load_catalog()
    cpu = [m.id for m in models_for_tier(catalog, "cpu")]

    def picked(ram_gib: int) -> list[str]:
        return [m.id for m in recommend(catalog, Hardware(gpus=(), ram_mib=ram_gib * GIB, cores=8))]

    assert picked(64) == cpu
    assert picked(12) == ["qwen3-4b-instruct-2507-q4_k_m"]
    assert picked(8) == []
    # a GPU box is not held to its RAM: the model lives in GPU memory
    assert recommend(catalog, Hardware(gpus=(Gpu("RTX 4090", 24564),), ram_mib=8 * GIB, cores=8))


def test_a_local_catalogue_of_an_older_version_still_loads(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / LOCAL_CATALOG).write_text(
        '# Lokal importierte Modelle (appliance models import).\n'
        '[[model]]\nid = "whisper-large-v3-turbo"\nkind = "speech"\ntitle = "Whisper large-v3-turbo"\n'
        'licence = "MIT"\nsource = "local"\nlanguages = ["de", "en"]\nimported_at = 2025-03-01T10:00:00Z\n\n'
        '[[model.files]]\nname = "model.bin"\nsha256 = "' + "a" * 64 + '"\nsize = 3000\n',
        encoding="utf-8")
    entry = load_catalog(models).get("whisper-large-v3-turbo")
    assert (entry.source, entry.tiers, entry.demo, entry.files[0].url) == ("local", [], False, None)
    save_local_entries(models, local_entries(models))  # written back without the new keys: older versions read it
    text = (models / LOCAL_CATALOG).read_text(encoding="utf-8")
    assert "tiers" not in text and "demo" not in text and "url" not in text
    assert local_entries(models)[0] == entry


# -- appliance models recommend / list --------------------------------------------------------------


def cli(tmp_path: Path, *args: str):
    env = {"APPLIANCE__STORAGE__DATA_DIR": str(tmp_path / "data"), "APPLIANCE__MODELS__DIR": str(tmp_path / "models"),
           "COLUMNS": "250"}
    return CliRunner().invoke(app, ["models", *args], env=env)


@pytest.fixture
def box_with_a_4090(monkeypatch: pytest.MonkeyPatch) -> Hardware:
    box = Hardware(gpus=(Gpu("NVIDIA GeForce RTX 4090", 24564),), ram_mib=64 * GIB, cores=16)
    monkeypatch.setattr(hardware, "probe", lambda: box)
    return box


def test_recommend_names_the_box_the_tier_and_the_steps(tmp_path: Path, box_with_a_4090: Hardware) -> None:
    r = cli(tmp_path, "recommend")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == "Erkannt: 1 GPU, NVIDIA GeForce RTX 4090, 24 GB; 64 GB RAM; 16 Kerne"
    assert lines[1].startswith("Stufe: gpu24")
    catalog = load_catalog()
    for model_id in ("mistral-small-3.2-24b-instruct-2506-q4_k_m", "qwen3-30b-a3b-instruct-2507-q4_k_m"):
        entry = catalog.get(model_id)
        f = entry.main_file
        assert f"    curl -L -o {f.name} '{f.url}'" in lines
        assert f"    sha256sum {f.name}" in lines and f"  sha256: {f.sha256}" in lines
        assert f"    appliance models import /media/usb/{f.name} --id {model_id}" in lines
        assert f"    appliance models check {model_id}" in lines
        assert entry.licence in r.stdout
    assert '  chat = ["mistral-small-3.2-24b-instruct-2506-q4_k_m"]' in lines
    assert "llama-3.3-70b" not in r.stdout and "qwen2.5-coder" not in r.stdout


def test_recommend_plans_for_another_tier(tmp_path: Path, box_with_a_4090: Hardware) -> None:
    r = cli(tmp_path, "recommend", "--tier", "gpu48")
    assert r.exit_code == 0, r.output
    assert "Stufe: gpu48 (GPU 48 GB+), mit --tier gewählt; erkannt: gpu24" in r.stdout
    assert "llama-3.3-70b-instruct-q4_k_m" in r.stdout and "mistral-small" not in r.stdout
    r = cli(tmp_path, "recommend", "--tier", "gpu12")
    assert r.exit_code == 1 and "Unbekannte Stufe 'gpu12'" in r.stderr


def test_recommend_as_json(tmp_path: Path, box_with_a_4090: Hardware) -> None:
    r = cli(tmp_path, "recommend", "--json", "--tier", "cpu")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["detected"] == {"gpus": [{"name": "NVIDIA GeForce RTX 4090", "memory_mib": 24564}],
                                  "gpu_mib": 24564, "ram_mib": 64 * GIB, "cores": 16, "tier": "gpu24"}
    assert result["tier"] == "cpu"
    first = result["models"][0]
    entry = load_catalog().get(first["id"])
    assert first == {"id": entry.id, "title": entry.title, "file": entry.main_file.name, "size": entry.main_file.size,
                     "sha256": entry.main_file.sha256, "url": entry.main_file.url, "licence": entry.licence,
                     "languages": entry.languages, "hardware": entry.hardware,
                     "context_length": entry.context_length, "tiers": entry.tiers}


def test_recommend_on_a_cpu_box_without_enough_ram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "probe", lambda: Hardware(gpus=(), ram_mib=8 * GIB, cores=4))
    r = cli(tmp_path, "recommend")
    assert r.exit_code == 1
    assert "Erkannt: keine NVIDIA-GPU; 8 GB RAM; 4 Kerne" in r.stdout
    assert "Kein Produktionsmodell passt in 8 GB RAM" in r.stderr


def test_list_shows_demo_models_and_tiers(tmp_path: Path) -> None:
    r = cli(tmp_path, "list")
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.count("│") > 2}
    assert "Demo" in rows["qwen2.5-coder-1.5b-instruct-q4_k_m"]
    assert "GPU 24 GB" in rows["mistral-small-3.2-24b-instruct-2506-q4_k_m"]
    assert "CPU, GPU 8 GB" in rows["qwen2.5-7b-instruct-q4_k_m"]
