"""Speech audio made during the test: espeak-ng speaks, sox converts; plus plain tones and silence."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from models.voice import wav_bytes as voice_wav


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: run `make speech-tools` (Debian packages espeak-ng and sox)")
    return path


def speak(text: str, language: str, path: Path, rate: int = 150, pad_s: float = 0.3,
          sample_rate: int = 16_000) -> Path:
    """``text`` spoken by espeak-ng as a mono WAV at ``sample_rate`` with a little silence around it."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run([_tool("espeak-ng"), "-v", language, "-s", str(rate), "-w", str(raw), text], check=True)
    subprocess.run([_tool("sox"), str(raw), "-r", str(sample_rate), "-c", "1", "-b", "16", str(path),
                    "pad", str(pad_s), str(pad_s)], check=True)
    raw.unlink()
    return path


def convert(source: Path, target: Path) -> Path:
    """Another container/codec by the target's suffix (sox: .flac, .ogg, ...)."""
    subprocess.run([_tool("sox"), str(source), str(target)], check=True)
    return target


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    return voice_wav(pcm16(samples), rate)


def tone(seconds: float, rate: int = 16_000, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float, rate: int = 16_000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def pcm16(samples: np.ndarray) -> bytes:
    """What the interpreter page sends: 16-bit little-endian mono PCM at 16 kHz."""
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c.isspace() else " " for c in text.casefold()).split()


ENGLISH = "The parents evening takes place on Monday at six o'clock in the large group room."


def wer(reference: str, heard: str) -> float:
    """Word error rate over the words as ``words`` cuts them (case and punctuation ignored)."""
    import jiwer

    return jiwer.wer(" ".join(words(reference)), " ".join(words(heard)) or "-")
