"""Reading text aloud with an imported voice model: the Protocol, and a small fake for tests."""

from __future__ import annotations

import io
import wave
from typing import Protocol


class Voice(Protocol):
    id: str
    language: str
    sample_rate: int

    def speak(self, text: str) -> bytes:
        """WAV bytes (16-bit mono) of ``text``, made in memory. Safe to call from several threads."""
        ...


def wav_bytes(pcm16: bytes, sample_rate: int) -> bytes:
    """16-bit mono PCM as a WAV file in memory."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm16)
    return buffer.getvalue()


class FakeVoice:
    """A deterministic stand-in: a tenth of a second of silence per word, at its own sample rate."""

    def __init__(self, language: str = "en", sample_rate: int = 16000, model_id: str = "fake-voice") -> None:
        self.id = model_id
        self.language = language
        self.sample_rate = sample_rate

    def speak(self, text: str) -> bytes:
        return wav_bytes(b"\0\0" * (self.sample_rate // 10) * len(text.split()), self.sample_rate)
