"""Piper voices (piper-tts, ONNX through onnxruntime on the CPU): text to WAV in memory, nothing on disk.

piper-tts brings its own espeak-ng phonemizer data, so a Piper voice does not need Debian's espeak-ng.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np

from models.voice import wav_bytes

PHONEME_TYPES = ("espeak", "text")
"""Phonemizers that need nothing beyond piper-tts (Chinese would download g2pW at run time)."""


class VoiceConfigError(ValueError):
    """The voice's .onnx.json is not a usable Piper voice config; the message names the file."""


def read_voice_config(path: Path) -> tuple[int, str]:
    """Sample rate and language family (``de`` for de_DE) from a Piper voice's .onnx.json."""
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        rate = int(config["audio"]["sample_rate"])
        language = config.get("language", {}).get("family") or config.get("language", {}).get("code", "")
        language = language or config.get("espeak", {}).get("voice", "")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise VoiceConfigError(f"{path}: keine Piper-Stimmenbeschreibung (audio.sample_rate fehlt oder JSON"
                               f" ungültig: {exc}).") from None
    language = language.replace("_", "-").split("-")[0].lower()
    if not language:
        raise VoiceConfigError(f"{path}: Die Sprache der Stimme fehlt (language.family oder language.code).")
    phoneme_type = config.get("phoneme_type", "espeak")
    if phoneme_type not in PHONEME_TYPES:
        raise VoiceConfigError(f"{path}: Stimmen mit phoneme_type '{phoneme_type}' werden nicht unterstützt"
                               f" (nur {', '.join(PHONEME_TYPES)}).")
    if rate <= 0:
        raise VoiceConfigError(f"{path}: audio.sample_rate muss positiv sein.")
    return rate, language


class PiperVoice:
    """One loaded Piper voice. Synthesis is serialised by a lock (one ONNX session per voice)."""

    def __init__(self, model_id: str, model_path: Path, language: str) -> None:
        from piper import PiperVoice as _Piper

        self.id = model_id
        self.language = language
        self.sample_rate, _ = read_voice_config(Path(f"{model_path}.json"))
        self._voice = _Piper.load(model_path, config_path=f"{model_path}.json", use_cuda=False)
        self._lock = threading.Lock()

    def speak(self, text: str) -> bytes:
        with self._lock:
            chunks = [chunk.audio_int16_array for chunk in self._voice.synthesize(text)]
        pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        return wav_bytes(pcm.astype("<i2").tobytes(), self.sample_rate)
