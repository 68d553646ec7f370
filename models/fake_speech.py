"""A small deterministic Transcriber for fast tests of the layers above the engine."""

from __future__ import annotations

import threading

import numpy as np

from models.speech import Segment, Transcript, is_silent

WORDS = ("eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn")


class FakeTranscriber:
    """Hears one word per started half second of sound, counting; a sentence ends every 4 words.

    Silence is heard as nothing. Deterministic, so streaming and formats can be tested exactly.
    """

    def __init__(self, model_id: str = "fake-speech") -> None:
        self.id = model_id
        self.device = "cpu"
        self.languages: tuple[str, ...] = ()
        self.calls = 0

    def transcribe(self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None,
                   temperature: float = 0.0, live: bool = False, cancel: threading.Event | None = None) -> Transcript:
        self.calls += 1
        duration = audio.size / 16_000
        if is_silent(audio):
            return Transcript(text="", language=language or "de", duration=duration)
        count = int(np.ceil(duration / 0.5))
        segments = []
        for first in range(0, count, 4):
            words = [WORDS[i % len(WORDS)] for i in range(first, min(first + 4, count))]
            text = " ".join(words)
            if first + 4 <= count:
                text = text[0].upper() + text[1:] + "."
            segments.append(Segment(start=first * 0.5, end=min(count, first + 4) * 0.5, text=text))
        return Transcript(text=" ".join(s.text for s in segments), language=language or "de",
                          duration=duration, segments=segments)

    def close(self) -> None:
        return None
