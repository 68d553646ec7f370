"""What the box has to run chat models on, and which catalogue models fit it.

``probe()`` reads the GPUs from ``nvidia-smi`` (any failure means no GPU), the RAM from
/proc/meminfo and the CPU cores. ``tier_for`` turns that into one of the catalogue's hardware tiers
and ``recommend`` picks the production chat models the catalogue lists for it (``tiers`` in
catalog.toml). The tiers go by total GPU memory, since llama.cpp spreads a model's layers over
every GPU it sees; a GPU below 7.5 GiB is too small for a 7B model with the default KV cache, so
such a box is ``cpu``. The lower bounds sit below the nominal sizes because cards report less than
printed on the box: a 16 GB T4 15360 MiB, a 24 GB L4 23034 MiB, a 48 GB L40S 46068 MiB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from models.catalog import TIERS, Catalog, CatalogEntry, Tier

NVIDIA_SMI_QUERY = ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
NVIDIA_SMI_TIMEOUT_S = 5
MEMINFO = Path("/proc/meminfo")

# Least total GPU memory (MiB, as nvidia-smi reports it) for each GPU tier, largest first
GPU_TIER_MIB: tuple[tuple[Tier, int], ...] = (
    ("gpu48", 44 * 1024),
    ("gpu24", 22 * 1024),
    ("gpu16", 14 * 1024 + 512),
    ("gpu8", 7 * 1024 + 512),
)
TIER_DE: dict[str, str] = {"cpu": "CPU", "gpu8": "GPU 8 GB", "gpu16": "GPU 16 GB", "gpu24": "GPU 24 GB",
                           "gpu48": "GPU 48 GB+"}


@dataclass(frozen=True)
class Gpu:
    name: str
    memory_mib: int


@dataclass(frozen=True)
class Hardware:
    gpus: tuple[Gpu, ...]
    ram_mib: int
    cores: int

    @property
    def gpu_mib(self) -> int | None:
        """All GPUs' memory together, None without a GPU."""
        return sum(g.memory_mib for g in self.gpus) if self.gpus else None

    @property
    def tier(self) -> Tier:
        return tier_for(self.gpu_mib, self.ram_mib)


def tier_for(gpu_mib: int | None, ram_mib: int) -> Tier:
    """The hardware tier of a box with ``gpu_mib`` of GPU memory in all (None: no GPU) and ``ram_mib`` of RAM.

    The GPU memory alone decides: a model on the GPU keeps its weights and KV cache there. RAM is
    what a ``cpu`` box runs its model in; ``recommend`` leaves out the cpu models that would not fit
    (``fits_ram``), so ``ram_mib`` does not move the tier.
    """
    if gpu_mib is not None:
        for tier, least in GPU_TIER_MIB:
            if gpu_mib >= least:
                return tier
    return "cpu"


def ram_needed_mib(entry: CatalogEntry) -> int:
    """RAM a box needs to run a model on the CPU: its files plus 8 GiB.

    Rough, on purpose: the default KV cache of the cpu models takes 2-5 GiB, the service with Whisper
    and the embedding model and the system another 2-3 GiB.
    """
    return sum(f.size for f in entry.files) // 1024**2 + 8 * 1024


def fits_ram(entry: CatalogEntry, ram_mib: int) -> bool:
    return ram_needed_mib(entry) <= ram_mib


def models_for_tier(catalog: Catalog, tier: str) -> list[CatalogEntry]:
    """The production chat models the catalogue recommends for a tier, first choice first."""
    if tier not in TIERS:
        raise ValueError(f"Unbekannte Stufe '{tier}'. Stufen: {', '.join(TIERS)}")
    return [m for m in catalog.models if m.kind == "chat" and tier in m.tiers]


def recommend(catalog: Catalog, hardware: Hardware) -> list[CatalogEntry]:
    """The chat models the catalogue recommends for this box (a cpu box: those that fit its RAM)."""
    entries = models_for_tier(catalog, hardware.tier)
    if hardware.tier == "cpu":
        entries = [m for m in entries if fits_ram(m, hardware.ram_mib)]
    return entries


# -- probing ------------------------------------------------------------------------------------


def parse_nvidia_smi(text: str) -> tuple[Gpu, ...]:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader,nounits``.

    One line per GPU, e.g. ``NVIDIA GeForce RTX 4090, 24564``; a line without a number (``[N/A]``)
    is left out.
    """
    gpus = []
    for line in text.splitlines():
        name, _, memory = line.rpartition(",")
        name, memory = name.strip(), memory.strip()
        if name and memory.isdigit():
            gpus.append(Gpu(name, int(memory)))
    return tuple(gpus)


def parse_meminfo(text: str) -> int:
    """MemTotal from /proc/meminfo, in MiB (0 if it is missing)."""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        number = value.split()[0] if value.split() else ""
        if key == "MemTotal" and number.isdigit():
            return int(number) // 1024  # the kernel counts in kB (KiB)
    return 0


def query_gpus() -> tuple[Gpu, ...]:
    """The NVIDIA GPUs nvidia-smi reports; none when it is missing, fails or takes over 5 s."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return ()
    try:
        result = subprocess.run([smi, *NVIDIA_SMI_QUERY], capture_output=True, text=True, check=False,
                                timeout=NVIDIA_SMI_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return ()
    if result.returncode != 0:
        return ()
    return parse_nvidia_smi(result.stdout)


def probe() -> Hardware:
    """This machine: its NVIDIA GPUs, RAM and CPU cores."""
    try:
        ram_mib = parse_meminfo(MEMINFO.read_text(encoding="ascii", errors="replace"))
    except OSError:
        ram_mib = 0
    return Hardware(gpus=query_gpus(), ram_mib=ram_mib, cores=os.cpu_count() or 1)
