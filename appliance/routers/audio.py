"""POST /v1/audio/transcriptions, OpenAI-compatible. The audio stays in memory from upload to text."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from appliance.chat_service import unknown_model_error
from appliance.config import Settings
from appliance.deps import EnginesDep, PrincipalDep, SettingsDep
from appliance.engines import UnknownModel
from appliance.errors import ApiError
from appliance.speech_formats import FORMATS, MEDIA_TYPES, render
from models.speech import AudioTooLong, Cancelled, NotAudio, Transcriber, Transcript, decode

router = APIRouter(prefix="/v1", tags=["openai"])

AUDIO_TYPES = "WAV, MP3, M4A, OGG, OPUS, WEBM, FLAC"


class InMemoryMultiPart(MultiPartParser):
    """Starlette spools uploads over 1 MB to a temporary file; audio must never touch the disk.

    The body limit (BodyLimit middleware, speech.max_upload_mb) bounds what is held in memory.
    """

    spool_max_size = 1 << 40


class Turns:
    """File transcriptions take turns: ``workers`` at once, ``max_waiting`` in line, the rest 503.

    Decoding happens inside a turn, so at most ``workers`` decoded recordings are in memory. (The
    live interpreter does not queue here: its short pieces go straight to the model.)
    """

    def __init__(self, workers: int, max_waiting: int) -> None:
        self._slots = asyncio.Semaphore(workers)
        self.max_waiting = max_waiting
        self.waiting = 0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._slots.locked() and self.waiting >= self.max_waiting:
            raise ApiError(503, f"Gerade werden viele Aufnahmen verschriftet ({self.waiting} warten). Bitte in einer"
                           " Minute erneut versuchen.", f"Many recordings are being transcribed ({self.waiting}"
                           " waiting). Please try again in a minute.", code="queue_full",
                           headers={"Retry-After": "60"})
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()


def _turns(request: Request) -> Turns:
    state = request.app.state
    if getattr(state, "transcription_turns", None) is None:
        speech = state.settings.speech
        state.transcription_turns = Turns(speech.workers, speech.max_queue)
    return state.transcription_turns


def _bad(param: str, de: str, en: str, status: int = 400, code: str = "invalid_value") -> ApiError:
    return ApiError(status, de, en, code=code, param=param)


async def _form(request: Request) -> dict[str, object]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise _bad("file", "Bitte die Aufnahme als multipart/form-data im Feld 'file' senden.",
                   "Send the recording as multipart/form-data in the field 'file'.")
    parser = InMemoryMultiPart(request.headers, request.stream(), max_files=4, max_fields=32)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise _bad("file", f"Das Formular ist nicht lesbar: {exc.message}", f"Unreadable form: {exc.message}") from None
    return {key: form.get(key) for key in form}


def _text_field(form: dict[str, object], name: str) -> str | None:
    value = form.get(name)
    if value is None or isinstance(value, str):
        return value.strip() if isinstance(value, str) and value.strip() else None
    raise _bad(name, f"Feld '{name}' muss Text sein, keine Datei.", f"Field '{name}' must be text, not a file.")


def _temperature(form: dict[str, object]) -> float:
    raw = _text_field(form, "temperature")
    if raw is None:
        return 0.0
    try:
        value = float(raw.replace(",", "."))
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise _bad("temperature", "Feld 'temperature' muss eine Zahl von 0 bis 1 sein.",
                   "Field 'temperature' must be a number from 0 to 1.")
    return value


@router.post("/audio/transcriptions")
async def transcriptions(request: Request, engines: EnginesDep, settings: SettingsDep, _: PrincipalDep) -> Response:
    form = await _form(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _bad("file", "Feld 'file' fehlt: bitte eine Audiodatei mitschicken.",
                   "Field 'file' is missing: attach an audio file.")
    fmt = _text_field(form, "response_format") or "json"
    if fmt not in FORMATS:
        raise _bad("response_format", f"Feld 'response_format' kennt nur: {', '.join(FORMATS)}.",
                   f"Field 'response_format' accepts only: {', '.join(FORMATS)}.")
    temperature = _temperature(form)
    language = _text_field(form, "language")
    prompt = _text_field(form, "prompt")
    try:
        transcriber = engines.transcriber(_text_field(form, "model"))
    except UnknownModel as exc:
        raise unknown_model_error(exc) from None
    if language and transcriber.languages and language not in transcriber.languages:
        raise _bad("language", f"Das Modell {transcriber.id} versteht nur: {', '.join(transcriber.languages)}.",
                   f"The model {transcriber.id} only understands: {', '.join(transcriber.languages)}.")

    data = await upload.read()
    await upload.close()  # the in-memory copy of the form goes now, not at the end of the request
    cancel = threading.Event()
    watcher = asyncio.create_task(_watch(request, cancel))
    try:
        async with _turns(request).turn():
            transcript = await _transcribe(data, upload.filename or "Datei", transcriber, settings, language,
                                           prompt, temperature, cancel)
    except Cancelled:  # nobody is left to answer; the worker is free for the next recording
        return Response(status_code=499)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    body = render(transcript, fmt, temperature)
    if isinstance(body, dict):
        return JSONResponse(body)
    return PlainTextResponse(body, media_type=MEDIA_TYPES[fmt])


async def _watch(request: Request, cancel: threading.Event) -> None:
    """Stop a long transcription when its client goes away (a script's timeout, a closed tab)."""
    while not await request.is_disconnected():
        await asyncio.sleep(0.5)
    cancel.set()


async def _transcribe(data: bytes, name: str, transcriber: Transcriber, settings: Settings, language: str | None,
                      prompt: str | None, temperature: float, cancel: threading.Event) -> Transcript:
    max_seconds = settings.speech.max_minutes * 60
    try:
        audio = await run_in_threadpool(decode, data, max_seconds=max_seconds)
    except NotAudio:
        raise _bad("file", f"'{name}' ist keine Audiodatei, die hier gelesen werden kann ({AUDIO_TYPES}).",
                   f"'{name}' is not an audio file that can be read here ({AUDIO_TYPES}).",
                   status=415, code="unsupported_media_type") from None
    except AudioTooLong as exc:
        minutes = settings.speech.max_minutes
        raise _bad("file", f"Die Aufnahme ist {exc.seconds / 60:.0f} Minuten lang; höchstens {minutes} Minuten"
                   " pro Datei (speech.max_minutes). Bitte in kürzere Teile schneiden.",
                   f"The recording is {exc.seconds / 60:.0f} minutes long; at most {minutes} minutes per file"
                   " (speech.max_minutes). Please cut it into shorter parts.",
                   status=413, code="audio_too_long") from None
    try:
        transcript = await run_in_threadpool(
            transcriber.transcribe, audio, language=language, prompt=prompt, temperature=temperature, cancel=cancel
        )
    except ValueError as exc:  # faster-whisper: "'xx' is not a valid language code"
        if language and language in str(exc):
            raise _bad("language", f"Sprache '{language}' ist unbekannt: bitte einen ISO-639-1-Code wie de, en,"
                       " uk, ar, tr angeben.",
                       f"Unknown language '{language}': give an ISO 639-1 code such as de, en, uk, ar, tr.") from None
        raise
    return transcript
