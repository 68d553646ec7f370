"""The live interpreter page (/interpreter): full screen for a tablet between two people.

A plain page rather than a Gradio tab: it streams microphone audio over the WebSocket
/api/interpret, which Gradio's components cannot do without writing the audio to disk.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from appliance import voice
from appliance.branding import DEFAULT_NAME
from appliance.deps import principal_from_request
from appliance.interpreter import LANGUAGES, RTL
from ui.auth_pages import TEMPLATES, language
from ui.i18n import t

router = APIRouter(include_in_schema=False)

PAGE_TEXTS = ("interp_title", "interp_notice", "interp_talk", "interp_release", "interp_read_aloud",
              "interp_turn", "interp_connecting", "interp_ready", "interp_closed", "interp_reconnect",
              "interp_no_mic", "mic_https", "interp_listening", "interp_back", "interp_clear", "interp_language",
              "interp_same_language")


@router.get("/interpreter")
async def interpreter(request: Request) -> Response:
    if principal_from_request(request, request.app.state.accounts) is None:
        return RedirectResponse("/login", status_code=303)
    lang = language(request)
    settings = request.app.state.settings
    engines = request.app.state.engines
    voices = voice.languages(engines.voices if engines else {}) if settings.speech.read_aloud else frozenset()
    brand = request.app.state.branding.get().name
    config = {
        "texts": {key: t(key, lang) for key in PAGE_TEXTS},
        "languages": [{"code": code, "name": f"{own} ({de if lang == 'de' else en})" if own not in (de, en) else own,
                       "rtl": code in RTL, "voice": code in voices}
                      for code, (de, en, own) in LANGUAGES.items()],
        "pair": ["de", "uk"],
    }
    return TEMPLATES.TemplateResponse(request, "interpret.html", {
        "lang": lang,
        "title": t("interp_title", lang),
        "product": brand if brand != DEFAULT_NAME else t("product", lang),
        "notice": t("interp_notice", lang),
        "texts": config["texts"],
        "config": json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
    }, headers={"Cache-Control": "no-store"})
