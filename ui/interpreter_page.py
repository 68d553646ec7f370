"""The live interpreter page (/interpreter): full screen for a tablet between two people.

A plain page rather than a Gradio tab: it streams microphone audio over the WebSocket
/api/interpret, which Gradio's components cannot do without writing the audio to disk.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from appliance.people.branding import DEFAULT_NAME
from appliance.services import Services
from ui.auth_pages import TEMPLATES
from ui.i18n import t
from ui.session import UISession

PAGE_TEXTS = ("interp_title", "interp_notice", "interp_talk", "interp_release", "interp_read_aloud",
              "interp_turn", "interp_connecting", "interp_ready", "interp_closed", "interp_reconnect",
              "interp_no_mic", "mic_https", "interp_listening", "interp_back", "interp_clear", "interp_language",
              "interp_same_language")


def interpreter_router(services: Services, session: UISession) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/interpreter")
    def interpreter(request: Request) -> Response:
        if session.principal(request) is None:
            return RedirectResponse("/login", status_code=303)
        lang = session.language(request)
        brand = services.branding.get().name
        config = {
            "texts": {key: t(key, lang) for key in PAGE_TEXTS},
            "languages": [{"code": e["code"], "rtl": e["rtl"], "voice": e["voice"],
                           "name": e["name"] if e["name"] in (e["name_de"], e["name_en"])
                           else f"{e['name']} ({e['name_de'] if lang == 'de' else e['name_en']})"}
                          for e in services.interpreter.languages()],
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

    return router
