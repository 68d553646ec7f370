"""The Transcriber protocol: audio to text segments with timestamps and the spoken language.

Audio is decoded in memory with PyAV (every format ffmpeg knows); nothing is written to disk.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

SAMPLE_RATE = 16_000  # Whisper hears 16 kHz mono


@dataclass(frozen=True)
class Segment:
    start: float  # seconds from the start of the audio
    end: float
    text: str
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str  # ISO 639-1, detected or as given
    duration: float  # seconds of audio heard
    segments: list[Segment] = field(default_factory=list)
    language_probability: float = 1.0


class NotAudio(ValueError):
    """The bytes are no audio that ffmpeg can decode (or hold no audio stream)."""


class AudioTooLong(ValueError):
    def __init__(self, seconds: float, limit: float) -> None:
        self.seconds = seconds
        self.limit = limit
        super().__init__(f"audio of {seconds:.0f} s exceeds the limit of {limit:.0f} s")


class Cancelled(RuntimeError):
    """The caller gave up (its client went away); the transcription stopped early."""


@runtime_checkable
class Transcriber(Protocol):
    id: str
    device: str  # "cuda" or "cpu", as chosen at start-up
    languages: tuple[str, ...]  # what it can hear; ("en",) for English-only models

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        prompt: str | None = None,
        temperature: float = 0.0,
        live: bool = False,
        cancel: threading.Event | None = None,
    ) -> Transcript:
        """Blocking: call from a worker thread. ``live`` trades accuracy for speed (greedy search).
        Setting ``cancel`` stops a long transcription at the next segment (raises Cancelled)."""
        ...


def decode(data: bytes, *, max_seconds: float | None = None) -> np.ndarray:
    """Any container/codec ffmpeg decodes -> float32 mono at 16 kHz, in memory.

    Raises NotAudio for anything else and AudioTooLong (before decoding all of it) when the
    container says it is longer than ``max_seconds``.
    """
    import av

    if not data:
        return np.zeros(0, dtype=np.float32)
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise NotAudio(str(exc)) from None
    with container:
        if not container.streams.audio:
            raise NotAudio("no audio stream")
        stream = container.streams.audio[0]
        if max_seconds is not None:
            declared = _declared_seconds(container, stream)
            if declared is not None and declared > max_seconds:
                raise AudioTooLong(declared, max_seconds)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        chunks: list[np.ndarray] = []
        samples = 0
        limit = None if max_seconds is None else int(max_seconds * SAMPLE_RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    samples += chunk.size
                if limit is not None and samples > limit:  # the header lied or had no length
                    raise AudioTooLong(samples / SAMPLE_RATE, max_seconds or 0)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.FFmpegError as exc:
            if not chunks:
                raise NotAudio(str(exc)) from None
            # a truncated file: keep what could be decoded, as ffmpeg itself does
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return (np.concatenate(chunks).astype(np.float32) / 32768.0).astype(np.float32)


def _declared_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def pcm16_to_float(data: bytes) -> np.ndarray:
    """Raw little-endian 16-bit mono PCM at 16 kHz (what the live interpreter sends)."""
    usable = len(data) - len(data) % 2
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0


def is_silent(audio: np.ndarray, threshold: float = 0.003) -> bool:
    """No sound worth transcribing (RMS below about -50 dBFS)."""
    return audio.size == 0 or float(np.sqrt(np.mean(np.square(audio)))) < threshold
