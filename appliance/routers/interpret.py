"""The live interpreter: WebSocket /api/interpret, its languages, and reading a translation aloud."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from appliance import voice
from appliance.deps import PrincipalDep, SettingsDep, principal_from_request
from appliance.errors import ApiError
from appliance.interpreter import LANGUAGES, RTL, Busy, Conversation, InterpreterHub

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["speech"])

# WebSocket close codes (RFC 6455 and the IANA registry)
POLICY = 1008  # not signed in, or too many bad messages
TRY_AGAIN_LATER = 1013  # all places taken, or the models are still loading


@router.get("/interpret/languages")
async def languages(request: Request, settings: SettingsDep, _: PrincipalDep) -> dict:
    voices = voice.languages(_voices(request)) if settings.speech.read_aloud else frozenset()
    return {"languages": [
        {"code": code, "name_de": de, "name_en": en, "name": own, "rtl": code in RTL, "voice": code in voices}
        for code, (de, en, own) in LANGUAGES.items()
    ]}


def _voices(request: Request) -> dict:
    """The loaded Piper voices by language (none while the models are still loading)."""
    engines = request.app.state.engines
    return engines.voices if engines is not None else {}


class SayRequest(BaseModel):
    text: str = Field(min_length=1, max_length=voice.MAX_CHARS)
    language: str = Field(min_length=2, max_length=8)


@router.post("/speech/say")
async def say(req: SayRequest, request: Request, settings: SettingsDep, _: PrincipalDep) -> Response:
    if not settings.speech.read_aloud:
        raise ApiError(403, "Vorlesen ist auf diesem Gerät ausgeschaltet (speech.read_aloud).",
                       "Reading aloud is turned off on this box (speech.read_aloud).", code="read_aloud_off")
    try:
        wav = await run_in_threadpool(voice.speak, req.text, req.language, _voices(request))
    except voice.VoiceUnavailable:
        raise ApiError(404, f"Für die Sprache '{req.language}' ist keine Vorlesestimme installiert.",
                       f"No voice for reading aloud is installed for '{req.language}'.",
                       code="voice_unavailable", param="language") from None
    return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})


def _hub(ws: WebSocket) -> InterpreterHub:
    state = ws.app.state
    if getattr(state, "interpreters", None) is None:
        state.interpreters = InterpreterHub(state.settings.speech.max_interpreters)
    return state.interpreters


async def _refuse(ws: WebSocket, code: str, de: str, en: str, close_code: int) -> None:
    await ws.accept()
    await ws.send_json({"type": "error", "code": code, "message": de, "message_en": en})
    await ws.close(close_code)


@router.websocket("/interpret")
async def interpret(ws: WebSocket) -> None:
    """Client -> server: JSON {"type": "languages", "languages": ["de", "uk"]}, {"type": "start",
    "speaker": "a"|"b"}, binary frames of 16-bit mono PCM at 16 kHz, {"type": "stop"}.
    Server -> client: ready, languages, started, partial, final, translation, done, notice, error."""
    origin = ws.headers.get("origin")
    if origin and urlsplit(origin).netloc != ws.headers.get("host"):
        # a page of another site must not use a signed-in browser's cookie to listen in
        await ws.close(POLICY, reason="fremde Herkunft / cross-origin")
        return
    principal = principal_from_request(ws, ws.app.state.accounts)  # type: ignore[arg-type]
    if principal is None:
        await ws.close(POLICY, reason="Anmeldung erforderlich / sign-in required")
        return
    engines = ws.app.state.engines
    if engines is None or not engines.transcribers:
        await _refuse(ws, "not_ready", "Das Sprachmodell ist nicht geladen (noch nicht oder models.speech leer).",
                      "The speech model is not loaded (not yet, or models.speech is empty).", TRY_AGAIN_LATER)
        return
    hub = _hub(ws)
    try:
        with hub.place():
            await ws.accept()
            await _converse(ws, engines, principal.name)
    except Busy:
        await _refuse(ws, "busy", f"Es laufen schon {hub.limit} Übersetzungen gleichzeitig. Bitte gleich noch einmal"
                      " versuchen.", f"{hub.limit} interpreter conversations are already running. Please try again"
                      " in a moment.", TRY_AGAIN_LATER)


async def _converse(ws: WebSocket, engines, owner: str) -> None:
    settings = ws.app.state.settings
    lock = asyncio.Lock()

    async def send(message: dict) -> None:
        async with lock:
            await ws.send_json(message)

    conversation = Conversation(engines.transcriber(None), engines.chat(None), send,
                                max_utterance_s=settings.speech.max_utterance_s, owner=owner)
    await send({"type": "ready", "languages": list(conversation.languages.values()),
                "model": engines.transcriber(None).id})
    worker = asyncio.create_task(conversation.run())
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes") is not None:
                keep = await conversation.audio(message["bytes"])
            else:
                try:
                    data = json.loads(message.get("text") or "")
                except ValueError:
                    data = None
                keep = await conversation.control(data)
            if not keep:
                await ws.close(POLICY, reason="too many bad messages")
                break
            if worker.done():  # the work failed: report it instead of going on silently
                worker.result()
    except WebSocketDisconnect:
        pass
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker
