"""The "Apps" tab: the catalogue (tiles by area, search) and a run page generated from the
chosen app's fields, with the draft streamed, copy, Word download and start again. Facility
admins also choose here which apps staff see, and see the use per app and day."""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr

from appliance.apps.fact_check import KINDS
from appliance.apps.files import FileInput
from appliance.apps.service import AppService
from appliance.apps.spec import AppSpec, InputField, InputType
from appliance.infra.errors import ApiError
from appliance.people.accounts import Role
from appliance.people.branding import BrandingService
from ui.dictation import dictate_button
from ui.handbook_page import sources_html
from ui.i18n import t
from ui.pacing import growing
from ui.scripts import DOWNLOAD_JS
from ui.session import UISession

AREAS = ["Pflege", "Kita", "Beratung", "Verwaltung", "Team", "Alle"]
FILE_TYPES = [".pdf", ".docx", ".md", ".html", ".htm", ".txt", ".epub"]

def _error(exc: ApiError, lang: str) -> gr.Error:
    return gr.Error(exc.message(lang))

# Gradio's renders of one session share its page state, and two at once can break each other
# ("dictionary changed size during iteration", gradio-app/gradio#9991): one render at a time, each
# takes milliseconds
ONE_RENDER_AT_A_TIME = {"concurrency_id": "render", "concurrency_limit": 1}


def _component(field: InputField, lang: str):
    label = field.label + ("" if field.required else f" ({'optional' if lang == 'en' else 'freiwillig'})")
    common = {"label": label, "info": field.help or None, "elem_id": f"field-{field.name}"}
    if field.type is InputType.choice:
        return gr.Dropdown(choices=field.options, value=None, **common)
    if field.type is InputType.multi_choice:
        return gr.CheckboxGroup(choices=field.options, value=[], **common)
    if field.type is InputType.number:
        return gr.Number(value=None, **common)
    if field.type is InputType.date:
        return gr.Textbox(placeholder=t("apps_date_placeholder", lang), max_lines=1, **common)
    if field.type is InputType.file:
        return gr.File(type="filepath", file_types=FILE_TYPES, **common)
    if field.type is InputType.audio:  # a recording, transcribed into the box before the prompt sees it
        common["info"] = field.help or t("dictate_hint", lang)
    lines = 1 if field.type is InputType.text else 6
    return gr.Textbox(lines=lines, max_lines=1 if lines == 1 else 30, max_length=field.limit, **common)


def _upload(path: Any) -> FileInput | None:
    """The uploaded document for the app service to read; Gradio's copy is removed at once."""
    if not path:
        return None
    file = Path(str(path))
    try:
        return FileInput(file.name, file.read_bytes())
    finally:
        file.unlink(missing_ok=True)


def _values(fields: Sequence[InputField], raw: tuple) -> dict[str, Any]:
    """The form's values by field name, as the app service takes them (documents as uploads)."""
    values: dict[str, Any] = {}
    for field, value in zip(fields, raw, strict=True):
        if field.type is InputType.file:
            value = _upload(value)
        elif field.type is InputType.number and value is not None:
            value = float(value)
        values[field.name] = value
    return values


def _example(spec: AppSpec) -> list:
    example = spec.examples[0].inputs if spec.examples else {}
    out = []
    for field in spec.inputs:
        value = example.get(field.name)
        if field.type is InputType.date and isinstance(value, str) and len(value) == 10 and value[4] == "-":
            value = f"{value[8:10]}.{value[5:7]}.{value[0:4]}"
        if field.type is InputType.file:
            value = None
        out.append(value if value is not None else ([] if field.type is InputType.multi_choice else None))
    return out


def _plain(text: str) -> str:
    """A piece of the draft, shown as it is: no Markdown, no HTML, one line."""
    return re.sub(r"([\\`*_\[\]#|~>])", r"\\\1", html.escape(re.sub(r"\s+", " ", text), quote=False))


def label_md(result: dict[str, Any]) -> str:
    """The AI-draft label under a result, and the demo model's notice when a demo model wrote it."""
    notice = result.get("demo_notice")
    return f"*{result['label']}*" + (f"  \n⚠️ **{notice}**" if notice else "")


def unverified_md(result: dict[str, Any], lang: str) -> str:
    """The fact check under the draft: each item of the draft that the inputs do not hold, with the words
    around it, so the person finds and checks it (in words, not by colour alone)."""
    items = result.get("unverified") or []
    if not items:
        return ""
    output = result.get("output", "")
    lines = [f"⚠️ **{t('apps_unverified', lang)}:**", ""]
    for item in items:
        start, end = item["start"], item["end"]
        before, after = output[max(0, start - 40):start], output[end:end + 40]
        context = f"…{_plain(before)}**{_plain(item['text'])}**{_plain(after)}…"
        label = KINDS.get(item["kind"], ("Angabe", "Item"))[0 if lang == "de" else 1]
        quoted = f"„{_plain(item['text'])}“" if lang == "de" else f"“{_plain(item['text'])}”"
        lines.append(f"- {label} {quoted}: {context}")
    return "\n".join([*lines, "", f"*{t('apps_unverified_hint', lang)}*"])


def _tile_html(app: dict[str, Any], lang: str = "de") -> str:
    weak = app.get("weak")
    return (f"<div class='app-desc'>{html.escape(app['description'])}</div>"
            + ("<div class='app-badge'>Entwurf</div>" if app["status"] in ("draft", "changed") else "")
            + (f"<div class='app-badge app-weak'>⚠️ {html.escape(t('apps_weak_badge', lang).format(grade=weak))}</div>"
               if weak else ""))


def _tools(lang: str) -> list[dict[str, Any]]:
    """Tools with a page of their own that staff look for among the apps."""
    return [{"id": "simultan-uebersetzer", "title": t("interp_title", lang), "icon": "🗣️", "category": "Beratung",
             "description": t("interp_tile", lang), "status": "published", "enabled": True, "link": "/interpreter"}]


def render(session: UISession, apps: AppService, branding: BrandingService, page: gr.Blocks) -> None:
    selected = gr.State("")
    with gr.Column(elem_id="apps-catalogue") as catalogue:
        with gr.Row():
            query = gr.Textbox(label=t("apps_search", "de"), placeholder=t("apps_search_placeholder", "de"),
                               scale=3, elem_id="apps-search")
            area = gr.Dropdown(choices=[(t("apps_all_areas", "de"), "")] + [(a, a) for a in AREAS], value="",
                               label=t("apps_area", "de"), scale=1, elem_id="apps-area")

        @gr.render(inputs=[query, area], triggers=[page.load, query.change, area.change],
                   **ONE_RENDER_AT_A_TIME)
        def tiles(text: str, chosen: str, request: gr.Request) -> None:
            principal, lang = session.who(request)
            service = apps
            if principal is None:
                return
            needle = (text or "").casefold().strip()
            shown = [a for a in [*service.list(principal), *_tools(lang)]
                     if (a["enabled"] or principal.role is not Role.facility_admin)
                     and (not chosen or a["category"] in (chosen, "Alle"))  # "Alle": apps for every area
                     and (not needle or needle in f"{a['title']} {a['description']} {a['id']}".casefold())]
            if not shown:
                gr.Markdown(t("apps_none", lang), elem_id="apps-none")
            for name in AREAS:
                group = [a for a in shown if a["category"] == name]
                if not group:
                    continue
                gr.Markdown(f"### {name}", elem_classes=["apps-area-title"])
                with gr.Row(elem_classes=["app-tiles"]):
                    for app in group:
                        with gr.Column(elem_classes=["app-card"], min_width=220):
                            button = gr.Button(f"{app['icon']}  {app['title']}", elem_id=f"tile-{app['id']}",
                                               elem_classes=["app-tile"], link=app.get("link"))
                            gr.HTML(_tile_html(app, lang))
                        if app.get("link"):  # a tool with its own page, not a form
                            continue
                        button.click(lambda app_id=app["id"]: (app_id, gr.update(visible=False),
                                                               gr.update(visible=True)),
                                     None, [selected, catalogue, runner])

    with gr.Column(visible=False, elem_id="apps-runner") as runner:
        back = gr.Button(t("apps_back", "de"), size="sm", elem_id="apps-back")

        @gr.render(inputs=[selected], triggers=[selected.change], **ONE_RENDER_AT_A_TIME)
        def form(app_id: str, request: gr.Request) -> None:
            principal, lang = session.who(request)
            service = apps
            if not app_id or principal is None:
                return
            draft = service.is_author(principal)
            try:
                detail = service.get(principal, app_id, draft)
                meta = detail["meta"]
                spec = AppSpec.model_validate({k: v for k, v in detail.items() if k not in ("status", "meta")})
            except ApiError as exc:
                gr.Markdown(exc.message(lang))
                return
            head = f"## {spec.icon} {html.escape(spec.title)}\n\n{html.escape(spec.description)}"
            if spec.note:
                head += f"\n\n*{html.escape(spec.note)}*"
            if meta["status"] in ("draft", "changed"):
                head += f"\n\n**{t('apps_draft_badge', lang)}**"
            if not meta["available"]:
                head += f"\n\n⚠️ {t('apps_unavailable', lang).format(collection=spec.collection)}"
            if meta.get("weak"):
                head += f"\n\n⚠️ {t('apps_weak', lang).format(grade=meta['weak'])}"
            gr.Markdown(head, elem_id="app-head")
            fields = []
            for f in spec.inputs:
                fields.append(_component(f, lang))
                if f.type in (InputType.long_text, InputType.audio):
                    dictate_button(fields[-1], f.name, lang)
            with gr.Row():
                example = gr.Button(t("apps_example", lang), elem_id="app-example", visible=bool(spec.examples))
                generate = gr.Button(t("apps_generate", lang), variant="primary", elem_id="app-generate")
                stop = gr.Button(t("stop", lang), variant="stop", elem_id="app-stop")
            output = gr.Markdown(elem_id="app-output", buttons=["copy"], min_height=80)
            checked = gr.Markdown(elem_id="app-unverified")  # the fact check: under the draft, not in its copy
            raw = gr.Textbox(visible=False, elem_id="app-raw")
            draft_flag = gr.Checkbox(value=draft, visible=False)
            app_box = gr.Textbox(value=app_id, visible=False)  # a State never reaches the browser's JS
            language = gr.Textbox(visible=False, elem_id="app-language")  # the chosen one: Arabic is set RTL
            unverified = gr.Textbox(visible=False, elem_id="app-unverified-raw")  # the fact check for Word
            with gr.Row():
                download = gr.Button(t("apps_download", lang), elem_id="app-download", interactive=False)
                restart = gr.Button(t("apps_restart", lang), elem_id="app-restart")

            async def run(*raw_values) -> AsyncIterator[tuple[str, str, str, dict, str, str]]:
                principal, lang = session.who(request)
                if principal is None:
                    raise gr.Error(t("models_loading", lang))
                try:
                    values = await asyncio.to_thread(_values, spec.inputs, raw_values)
                    answer = await service.run(principal, app_id, values, draft)
                    yield "", "", "", gr.update(interactive=False), "", ""
                    async for text in growing(answer):
                        yield text, "", "", gr.update(interactive=False), "", ""
                except ApiError as exc:
                    raise _error(exc, lang) from None
                result = answer.result or {}
                sources = sources_html(spec.collection or "", result, lang) if spec.collection else ""
                shown = f"{result['output']}\n\n{sources}\n\n---\n{label_md(result)}"
                yield (shown, f"{result['output']}", result.get("language", ""), gr.update(interactive=True),
                       unverified_md(result, lang), json.dumps(result.get("unverified") or [], ensure_ascii=False))

            running = generate.click(run, fields, [output, raw, language, download, checked, unverified],
                                     concurrency_limit=None)
            stop.click(None, None, None, cancels=[running])
            example.click(lambda: _example(spec), None, fields)
            download.click(None, [raw, app_box, draft_flag, language, unverified], None, js=DOWNLOAD_JS)
            restart.click(lambda: [*([None] * len(fields)), "", "", "", gr.update(interactive=False), "", ""], None,
                          [*fields, output, raw, language, download, checked, unverified])

    back.click(lambda: ("", gr.update(visible=True), gr.update(visible=False)), None, [selected, catalogue, runner])

    with gr.Accordion(t("apps_offer", "de"), open=False, visible=False, elem_id="apps-admin") as admin:
        offered = gr.CheckboxGroup(label=t("apps_offer_hint", "de"), elem_id="apps-offered")
        save = gr.Button(t("apps_save", "de"), elem_id="apps-save")
        saved = gr.Markdown()
        usage = gr.Dataframe(headers=["App", "Tag", "Aufrufe"], interactive=False, label=t("apps_usage", "de"),
                             elem_id="apps-usage")
        gr.Markdown(f"### {t('brand_title', 'de')}")
        brand_name = gr.Textbox(label=t("brand_name", "de"), elem_id="brand-name")
        brand_address = gr.Textbox(label=t("brand_address", "de"), elem_id="brand-address")
        brand_logo = gr.File(label=t("brand_logo", "de"), type="filepath", file_types=[".png", ".jpg", ".jpeg"],
                             elem_id="brand-logo")
        brand_save = gr.Button(t("brand_save", "de"), elem_id="brand-save")
        brand_status = gr.Markdown(elem_id="brand-status")

    def on_load(request: gr.Request):
        principal, lang = session.who(request)
        is_admin = bool(principal and principal.role is Role.facility_admin)
        every = apps.list(principal) if is_admin else []
        rows = [[u["app"], u["day"], u["runs"]] for u in apps.usage(principal)] if is_admin else []
        brand = branding.get()
        return (gr.update(label=t("apps_search", lang), placeholder=t("apps_search_placeholder", lang)),
                gr.update(label=t("apps_area", lang),
                          choices=[(t("apps_all_areas", lang), "")] + [(a, a) for a in AREAS]),
                gr.update(value=t("apps_back", lang)),
                gr.update(visible=is_admin, label=t("apps_offer", lang)),
                gr.update(choices=[(f"{a['icon']} {a['title']}", a["id"]) for a in every],
                          value=[a["id"] for a in every if a["enabled"]], label=t("apps_offer_hint", lang)),
                gr.update(value=t("apps_save", lang)), rows, brand.name, brand.address)

    page.load(on_load, None, [query, area, back, admin, offered, save, usage, brand_name, brand_address])

    def save_brand(name: str, address: str, logo: str | None, request: gr.Request) -> str:
        principal, lang = session.who(request)
        if principal is None or principal.role is not Role.facility_admin:
            return ""
        upload = _upload(logo)
        try:
            branding.update(principal, logo=upload.data if upload else None, name=name, address=address)
        except ApiError as exc:
            raise _error(exc, lang) from None
        return t("apps_saved", lang) + " " + ("Die Kopfzeile zeigt den Namen nach dem Neuladen der Seite."
                                              if lang == "de" else "The header shows the name after a reload.")

    brand_save.click(save_brand, [brand_name, brand_address, brand_logo], brand_status)

    def save_offer(chosen: list[str], request: gr.Request) -> str:
        principal, lang = session.who(request)
        if principal is None:
            return ""
        try:
            apps.offer(principal, chosen)
        except ApiError as exc:
            raise _error(exc, lang) from None
        return t("apps_saved", lang)

    save.click(save_offer, offered, saved)
