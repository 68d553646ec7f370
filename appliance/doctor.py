"""`appliance doctor`: what IT and the data-protection officer need to see at a glance."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from typing import Literal

from appliance.config import Settings
from appliance.infra import offline
from models.catalog import load_catalog
from models.store import FileState, check_model, fix_command

Level = Literal["ok", "warn", "fail", "info"]


@dataclass
class Check:
    area: str
    level: Level
    detail: str


def _gpu() -> Check:
    smi = shutil.which("nvidia-smi")
    names = ""
    if smi:
        result = subprocess.run([smi, "--query-gpu=name,memory.total", "--format=csv,noheader"],
                                capture_output=True, text=True, check=False, timeout=10)
        names = result.stdout.strip().replace("\n", "; ")
    try:
        import llama_cpp

        offload = bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # llama.cpp not importable is reported by the model checks
        offload = False
    if names and offload:
        return Check("GPU", "ok", f"{names}; llama.cpp mit GPU gebaut")
    if names:
        fix = "make clean, dann PIP_NO_CACHE_DIR=1 make setup"
        return Check("GPU", "warn", f"{names}; llama.cpp ohne GPU gebaut: {fix}")
    return Check("GPU", "info", "keine NVIDIA-GPU: Modelle laufen auf der CPU")


def _speech(settings: Settings) -> Check:
    """Where Whisper runs, and whether translations can be read aloud."""
    if not settings.models.speech:
        return Check("Sprache", "info", "ausgeschaltet (models.speech ist leer)")
    from models.whisper import cuda_devices

    device = settings.speech.device
    if device == "auto":
        device = "cuda" if cuda_devices() else "cpu"
    where = "GPU (float16)" if device == "cuda" else "CPU (int8)"
    voice = shutil.which("espeak-ng")
    if settings.speech.read_aloud and not voice:
        return Check("Sprache", "warn", f"Whisper auf {where}; Vorlesen fehlt: apt-get install espeak-ng")
    piper = f", Piper-Stimmen: {', '.join(settings.models.voices)}" if settings.models.voices else ""
    return Check("Sprache", "ok", f"Whisper auf {where}; Vorlesen {'mit espeak-ng' if voice else 'aus'}{piper}")


def outbound_route() -> bool:
    """Is there a route out of the building? A UDP connect picks a route but sends nothing."""
    for family, addr in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((addr, 9))
                return True
        except OSError:
            continue
    return False


def run_checks(settings: Settings) -> list[Check]:
    checks = [Check("CPU", "info", f"{os.cpu_count()} Kerne"), _gpu()]
    data = settings.storage.data_dir
    writable = data.is_dir() and os.access(data, os.W_OK)
    checks.append(Check("Datenverzeichnis", "ok" if writable else "fail",
                        f"{data} {'beschreibbar' if writable else 'fehlt oder ist nicht beschreibbar'}"))
    probe = data if data.exists() else data.parent
    if probe.exists():
        free_gb = shutil.disk_usage(probe).free / 1e9
        checks.append(Check("Speicherplatz", "ok" if free_gb > 5 else "warn", f"{free_gb:.1f} GB frei"))
    wanted = [*settings.models.chat, *([settings.models.embedding] if settings.models.embedding else []),
              *settings.models.speech, *settings.models.voices]
    catalog = load_catalog(settings.models_dir)
    for model_id in wanted:
        entry = catalog.get(model_id)
        bad = [c for c in check_model(settings.models_dir, entry, full=True) if c.state is not FileState.ok]
        if bad:
            fix = fix_command(entry)
            checks.append(Check(f"Modell {model_id}", "fail", f"{bad[0].path.name}: {bad[0].state.value} → {fix}"))
        else:
            checks.append(Check(f"Modell {model_id}", "ok", f"{entry.kind}, sha256 geprüft"))
    checks.append(_speech(settings))
    switches = offline.state()
    off = all(switches[k] == v for k, v in offline.TELEMETRY_ENV.items())
    checks.append(Check("Telemetrie", "ok" if off else "fail",
                        ", ".join(f"{k}={v}" for k, v in switches.items())))
    if outbound_route():
        checks.append(Check("Netz nach außen", "warn",
                            "Es gibt eine Route nach außen. Die Appliance lädt nichts; die Firewall sollte"
                            " ausgehende Verbindungen trotzdem sperren."))
    else:
        checks.append(Check("Netz nach außen", "ok", "keine Route nach außen"))
    checks.append(Check("Adresse", "info", f"{settings.server.scheme}://{settings.server.host}:{settings.server.port}"))
    return checks
