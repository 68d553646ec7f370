"""Transcriber on faster-whisper (CTranslate2): int8 on CPU, float16 on an NVIDIA GPU."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from models.speech import Cancelled, Segment, Transcript

log = logging.getLogger(__name__)


def cuda_devices() -> int:
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # no CUDA runtime at all
        return 0


class WhisperTranscriber:
    """One loaded Whisper model. Calls are thread-safe; CTranslate2 runs ``workers`` at once."""

    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        english_only: bool = False,
        device: str = "auto",
        compute_type: str = "auto",
        threads: int = 0,
        workers: int = 1,
        beam_size: int = 5,
    ) -> None:
        from faster_whisper import WhisperModel

        if device == "auto":
            device = "cuda" if cuda_devices() else "cpu"
        if compute_type == "auto":
            compute_type = "float16" if device == "cuda" else "int8"
        self.id = model_id
        self.device = device
        self.compute_type = compute_type
        self.languages: tuple[str, ...] = ("en",) if english_only else ()
        self.beam_size = beam_size
        # CTranslate2 takes 0 as "4 threads", not "all cores"
        self._model = WhisperModel(
            str(path), device=device, compute_type=compute_type, cpu_threads=threads or os.cpu_count() or 4,
            num_workers=workers, local_files_only=True,
        )
        log.info("speech model %s on %s (%s)", model_id, device, compute_type)

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
        if self.languages == ("en",):
            language = "en"
        duration = audio.size / 16_000
        if audio.size < 1_600:  # under 0.1 s: nothing to hear, and Whisper would invent something
            return Transcript(text="", language=language or "", duration=duration)
        segments, info = self._model.transcribe(
            audio,
            language=language,
            initial_prompt=prompt or None,
            # live: one greedy pass; a file: beam search, and a hotter retry where a window fails
            temperature=temperature if temperature > 0 or live else [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            beam_size=1 if live else self.beam_size,
            vad_filter=True,
            vad_parameters={"min_silence_duration_ms": 500},
            condition_on_previous_text=not live,
            without_timestamps=False,
        )
        parts = []
        for s in segments:  # decoded lazily, one 30 s window after the other
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"stopped after {s.start:.0f} s of {duration:.0f} s")
            if s.text.strip():
                parts.append(Segment(start=round(s.start, 2), end=round(s.end, 2), text=s.text.strip(),
                                     avg_logprob=s.avg_logprob, no_speech_prob=s.no_speech_prob))
        return Transcript(
            text=" ".join(p.text for p in parts),
            language=info.language,
            duration=duration,
            segments=parts,
            language_probability=float(info.language_probability),
        )

    @property
    def library_model(self):
        """faster-whisper's WhisperModel itself: benchmarks/speech.py calls it directly to measure
        what this class and the endpoint add."""
        return self._model

    def warm_up(self) -> None:
        """One short transcription at start-up, so the first person does not wait for the caches."""
        noise = np.random.default_rng(0).normal(0, 0.05, 16_000).astype(np.float32)
        segments, _ = self._model.transcribe(noise, language="de", beam_size=1, vad_filter=True)
        list(segments)
        segments, _ = self._model.transcribe(noise, language="de", beam_size=1, vad_filter=False)
        list(segments)

    def close(self) -> None:
        self._model = None
