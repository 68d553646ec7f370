"""POST /v1/audio/transcriptions, OpenAI-compatible. The audio stays in memory from upload to text."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from appliance.api.deps import PrincipalDep, TranscriptionDep
from appliance.api.forms import UploadFile, is_multipart, read_form, text_field
from appliance.api.speech_formats import FORMATS, MEDIA_TYPES, render
from appliance.infra.errors import ApiError
from appliance.speech.transcription import temperature_from
from models.speech import Cancelled

router = APIRouter(prefix="/v1", tags=["openai"])


def _bad(param: str, de: str, en: str) -> ApiError:
    return ApiError(400, de, en, code="invalid_value", param=param)


@router.post("/audio/transcriptions")
async def transcriptions(request: Request, transcription: TranscriptionDep, who: PrincipalDep) -> Response:
    if not is_multipart(request):
        raise _bad("file", "Bitte die Aufnahme als multipart/form-data im Feld 'file' senden.",
                   "Send the recording as multipart/form-data in the field 'file'.")
    form = await read_form(request, param="file")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise _bad("file", "Feld 'file' fehlt: bitte eine Audiodatei mitschicken.",
                   "Field 'file' is missing: attach an audio file.")
    fmt = text_field(form, "response_format") or "json"
    if fmt not in FORMATS:
        raise _bad("response_format", f"Feld 'response_format' kennt nur: {', '.join(FORMATS)}.",
                   f"Field 'response_format' accepts only: {', '.join(FORMATS)}.")
    temperature = temperature_from(text_field(form, "temperature"))
    options = {name: text_field(form, name) for name in ("language", "prompt", "model")}
    data = await upload.read()
    await upload.close()  # the in-memory copy of the form goes now, not at the end of the request
    cancel = threading.Event()
    watcher = asyncio.create_task(_watch(request, cancel))
    try:
        transcript = await transcription.transcribe(data, upload.filename or "Datei", owner=who.name,
                                                    temperature=temperature, cancel=cancel, **options)
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
