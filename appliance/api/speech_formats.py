"""The response formats of /v1/audio/transcriptions: json, text, verbose_json, srt and vtt."""

from __future__ import annotations

from typing import Literal

from models.speech import Transcript

ResponseFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]
FORMATS: tuple[str, ...] = ("json", "text", "verbose_json", "srt", "vtt")
MEDIA_TYPES = {"json": "application/json", "verbose_json": "application/json", "text": "text/plain",
               "srt": "application/x-subrip", "vtt": "text/vtt"}


def _clock(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(transcript: Transcript) -> str:
    blocks = [
        f"{n}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text}\n"
        for n, s in enumerate(transcript.segments, start=1)
    ]
    return "\n".join(blocks)


def vtt(transcript: Transcript) -> str:
    blocks = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text}\n" for s in transcript.segments]
    return "WEBVTT\n\n" + "\n".join(blocks)


def verbose(transcript: Transcript, temperature: float) -> dict:
    """OpenAI's verbose_json; token ids and compression ratios are not kept, so they are empty/0."""
    return {
        "task": "transcribe",
        "language": transcript.language,
        "duration": round(transcript.duration, 2),
        "text": transcript.text,
        "segments": [
            {"id": n, "seek": 0, "start": s.start, "end": s.end, "text": s.text, "tokens": [],
             "temperature": temperature, "avg_logprob": round(s.avg_logprob, 4), "compression_ratio": 0.0,
             "no_speech_prob": round(s.no_speech_prob, 4)}
            for n, s in enumerate(transcript.segments)
        ],
    }


def render(transcript: Transcript, fmt: str, temperature: float = 0.0) -> dict | str:
    if fmt == "json":
        return {"text": transcript.text}
    if fmt == "verbose_json":
        return verbose(transcript, temperature)
    if fmt == "srt":
        return srt(transcript)
    if fmt == "vtt":
        return vtt(transcript)
    return transcript.text
