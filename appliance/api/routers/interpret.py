"""The live interpreter: WebSocket /api/interpret, its languages, and reading a translation aloud."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import Response
from pydantic import BaseModel, Field

from appliance.api.deps import InterpreterDep, PrincipalDep, ReadAloudDep, services_of
from appliance.infra.errors import ApiError
from appliance.infra.middleware import same_origin
from appliance.people.sessions import principal_from_request
from appliance.speech.interpreter import Busy, Conversation
from appliance.speech.read_aloud import MAX_CHARS

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["speech"])

# WebSocket close codes (RFC 6455 and the IANA registry)
POLICY = 1008  # not signed in, or too many bad messages
TRY_AGAIN_LATER = 1013  # all places taken, or the models are still loading


@router.get("/interpret/languages")
async def languages(interpreter: InterpreterDep, _: PrincipalDep) -> dict:
    return {"languages": interpreter.languages()}


class SayRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_CHARS)
    language: str = Field(min_length=2, max_length=8)


@router.post("/speech/say")
async def say(req: SayRequest, read_aloud: ReadAloudDep, _: PrincipalDep) -> Response:
    wav = await read_aloud.say(req.text, req.language)
    return Response(wav, media_type="audio/wav", headers={"Cache-Control": "no-store"})


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
    if origin and not same_origin(origin, ws.headers.get("host", "")):
        # a page of another site must not use a signed-in browser's cookie to listen in
        await ws.close(POLICY, reason="fremde Herkunft / cross-origin")
        return
    services = services_of(ws.app)
    principal = principal_from_request(ws, services.accounts)
    if principal is None:
        await ws.close(POLICY, reason="Anmeldung erforderlich / sign-in required")
        return
    lock = asyncio.Lock()

    async def send(message: dict) -> None:
        async with lock:
            await ws.send_json(message)

    interpreter = services.interpreter
    with contextlib.ExitStack() as place:
        try:
            conversation = place.enter_context(interpreter.conversation(principal.name, send))
        except ApiError as exc:  # no speech model (yet)
            await _refuse(ws, exc.code or "not_ready", exc.de, exc.en, TRY_AGAIN_LATER)
            return
        except Busy as busy:
            if busy.mine:
                await _refuse(ws, "busy", f"Sie haben schon {busy.limit} Übersetzung(en) offen (auf einem anderen Gerät"
                              " oder Tab). Bitte dort beenden.", f"You already have {busy.limit} interpreter"
                              " conversation(s) open (on another device or tab). Please end it there.",
                              TRY_AGAIN_LATER)
            else:
                await _refuse(ws, "busy", f"Es laufen schon {busy.limit} Übersetzungen gleichzeitig. Bitte gleich"
                              " noch einmal versuchen.", f"{busy.limit} interpreter conversations are already"
                              " running. Please try again in a moment.", TRY_AGAIN_LATER)
            return
        await ws.accept()
        await _converse(ws, conversation)


async def _converse(ws: WebSocket, conversation: Conversation) -> None:
    await conversation.send({"type": "ready", "languages": list(conversation.languages.values()),
                             "model": conversation.transcriber.id})
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
