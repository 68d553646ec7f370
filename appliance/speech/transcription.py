"""Transcribing a recording (the OpenAI-compatible endpoint, dictation in the apps): in memory only.

File transcriptions take turns: ``workers`` at once, ``max_waiting`` in line, the rest 503.
Decoding happens inside a turn, so at most ``workers`` decoded recordings are in memory. (The live
interpreter does not queue here: its short pieces go straight to the model.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from appliance.config import SpeechSettings
from appliance.engines import Models
from appliance.infra.errors import ApiError
from models.speech import AudioTooLong, NotAudio, Transcript, decode

AUDIO_TYPES = "WAV, MP3, M4A, OGG, OPUS, WEBM, FLAC"


def bad(param: str, de: str, en: str, status: int = 400, code: str = "invalid_value") -> ApiError:
    return ApiError(status, de, en, code=code, param=param)


def temperature_from(raw: float | str | None) -> float:
    """A temperature from 0 to 1, also as a form's text ("0,2"); none is 0."""
    if raw is None:
        return 0.0
    try:
        value = float(raw.replace(",", ".")) if isinstance(raw, str) else float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise bad("temperature", "Feld 'temperature' muss eine Zahl von 0 bis 1 sein.",
                  "Field 'temperature' must be a number from 0 to 1.")
    return value


class Turns:
    def __init__(self, workers: int, max_waiting: int, per_person: int = 2) -> None:
        """``per_person``: recordings of one person running or waiting at once."""
        self._slots = asyncio.Semaphore(workers)
        self.max_waiting = max_waiting
        self.per_person = per_person
        self.waiting = 0
        self._mine: dict[str, int] = {}

    @asynccontextmanager
    async def turn(self, owner: str = "") -> AsyncIterator[None]:
        if self._slots.locked() and self.waiting >= self.max_waiting:
            raise ApiError(503, f"Gerade werden viele Aufnahmen verschriftet ({self.waiting} warten). Bitte in einer"
                           " Minute erneut versuchen.", f"Many recordings are being transcribed ({self.waiting}"
                           " waiting). Please try again in a minute.", code="queue_full",
                           headers={"Retry-After": "60"})
        if self._mine.get(owner, 0) >= self.per_person:
            raise ApiError(503, f"Von Ihnen werden schon {self.per_person} Aufnahmen verschriftet. Bitte warten, bis"
                           " eine fertig ist.", f"{self.per_person} of your recordings are already being"
                           " transcribed. Please wait until one is done.", code="queue_full",
                           headers={"Retry-After": "30"})
        self._mine[owner] = self._mine.get(owner, 0) + 1
        try:
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
            try:
                yield
            finally:
                self._slots.release()
        finally:
            left = self._mine[owner] - 1
            if left:
                self._mine[owner] = left
            else:
                del self._mine[owner]


class TranscriptionService:
    def __init__(self, models: Models, settings: SpeechSettings) -> None:
        self.models = models
        self.settings = settings
        self.turns = Turns(settings.workers, settings.max_queue, settings.max_queue_per_person)

    async def transcribe(self, data: bytes, filename: str, *, owner: str = "", model: str | None = None,
                         language: str | None = None,
                         prompt: str | None = None, temperature: float | str | None = None,
                         cancel: threading.Event | None = None) -> Transcript:
        """The text of a recording in any format ffmpeg reads. ``temperature`` may come as a form's
        text ("0,2"). ``cancel`` set (the client left) stops the work (models.speech.Cancelled).
        Bad input answers with the field it concerns."""
        temperature = temperature_from(temperature)
        transcriber = self.models.transcriber(model)
        if language and transcriber.languages and language not in transcriber.languages:
            raise bad("language", f"Das Modell {transcriber.id} versteht nur: {', '.join(transcriber.languages)}.",
                      f"The model {transcriber.id} only understands: {', '.join(transcriber.languages)}.")
        async with self.turns.turn(owner):
            audio = await asyncio.to_thread(self._decode, data, filename or "Datei")
            try:
                return await asyncio.to_thread(transcriber.transcribe, audio, language=language, prompt=prompt,
                                               temperature=temperature, cancel=cancel or threading.Event())
            except ValueError as exc:  # faster-whisper: "'xx' is not a valid language code"
                if language and language in str(exc):
                    raise bad("language", f"Sprache '{language}' ist unbekannt: bitte einen ISO-639-1-Code wie de,"
                              " en, uk, ar, tr angeben.", f"Unknown language '{language}': give an ISO 639-1 code"
                              " such as de, en, uk, ar, tr.") from None
                raise

    def _decode(self, data: bytes, name: str):
        minutes = self.settings.max_minutes
        try:
            return decode(data, max_seconds=minutes * 60)
        except NotAudio:
            raise bad("file", f"'{name}' ist keine Audiodatei, die hier gelesen werden kann ({AUDIO_TYPES}).",
                      f"'{name}' is not an audio file that can be read here ({AUDIO_TYPES}).",
                      status=415, code="unsupported_media_type") from None
        except AudioTooLong as exc:
            raise bad("file", f"Die Aufnahme ist {exc.seconds / 60:.0f} Minuten lang; höchstens {minutes} Minuten"
                      " pro Datei (speech.max_minutes). Bitte in kürzere Teile schneiden.",
                      f"The recording is {exc.seconds / 60:.0f} minutes long; at most {minutes} minutes per file"
                      " (speech.max_minutes). Please cut it into shorter parts.",
                      status=413, code="audio_too_long") from None
