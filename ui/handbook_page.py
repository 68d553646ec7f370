"""The "Handbuch" tab: ask the facility's handbooks (answers with sources that open the original
at that page) and, for facility admins and IT, upload with progress, list and remove documents."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import gradio as gr

from appliance.handbooks.service import MANAGERS, HandbookService
from appliance.infra.errors import ApiError
from ui.i18n import t
from ui.pacing import growing
from ui.session import UISession

DEFAULT_COLLECTION = "Pflegehandbuch"


def sources_html(collection: str, answer: dict, lang: str) -> str:
    """The cited passages as links that open the original at its page (`#page=N`, as PDF viewers take
    it). An answer that cites none still lists the passages it was drawn from, marked as such."""
    cited = answer.get("citations") or []
    found = [] if cited else answer.get("passages") or []
    if not cited and not found:
        return ""
    items = []
    for c in cited or found:
        page = f"#page={int(c['page'])}" if c["page"] else ""
        where = html.escape(c["title"]) + (f", {t('page', lang)} {int(c['page'])}" if c["page"] else "")
        path = f"/api/collections/{quote(collection, safe='')}/documents/{quote(c['document_id'], safe='')}/file"
        href = html.escape(path + page)
        items.append(f"<li><a href='{href}' target='_blank' rel='noopener'>[{int(c['n'])}] {where}</a>"
                     f"<br><small>„{html.escape(c['quote'])}“</small></li>")
    title = t("sources", lang) if cited else t("sources_found", lang)
    return f"<div id='hb-sources'><b>{title}</b><ol>{''.join(items)}</ol></div>"


def render(session: UISession, handbooks: HandbookService | None, page: gr.Blocks) -> None:
    """``handbooks`` None: no embedding model is configured, so the tab says handbooks are off."""
    with gr.Row():
        collection = gr.Dropdown(choices=[], label=t("collection", "de"), scale=3, allow_custom_value=True,
                                 elem_id="hb-collection")
        refresh = gr.Button(t("refresh", "de"), scale=1)
    search_note = gr.Markdown(elem_id="hb-search-note")
    question = gr.Textbox(label=t("hb_question", "de"), placeholder=t("hb_question_placeholder", "de"),
                          lines=1, elem_id="hb-question")
    ask_button = gr.Button(t("hb_ask", "de"), variant="primary", elem_id="hb-ask")
    answer_box = gr.Markdown(elem_id="hb-answer")
    sources = gr.HTML(elem_id="hb-sources-box")
    with gr.Accordion(t("hb_manage", "de"), open=False, visible=False, elem_id="hb-manage") as manage:
        upload = gr.File(label=t("hb_upload", "de"), file_count="multiple", type="filepath", elem_id="hb-upload",
                         file_types=[".pdf", ".docx", ".md", ".html", ".htm", ".txt", ".epub"])
        status = gr.Markdown(elem_id="hb-status")
        documents = gr.Dataframe(headers=["Titel", "Datei", "Seiten", "Abschnitte", "Id"], interactive=False,
                                 elem_id="hb-documents")
        with gr.Row():
            remove_choice = gr.Dropdown(choices=[], label=t("hb_remove_choice", "de"), scale=3)
            remove = gr.Button(t("hb_remove", "de"), variant="stop", scale=1, elem_id="hb-remove")

    def names(request: gr.Request) -> list[str]:
        service = handbooks
        principal, _ = session.who(request)
        return service.readable(principal) if service and principal else []

    def table(name: str | None, request: gr.Request) -> tuple[list[list], dict]:
        service = handbooks
        principal, _ = session.who(request)
        if not service or not principal or not name or name not in service.readable(principal):
            return [], gr.update(choices=[], value=None)
        docs = service.documents(principal, name)
        rows = [[d["title"], d["filename"], d["pages"], d["chunks"], d["id"]] for d in docs]
        return rows, gr.update(choices=[(f"{d['title']} ({d['filename']})", d["id"]) for d in docs], value=None)

    def search_state(name: str | None, request: gr.Request) -> str:
        """One line while the collection is re-embedded for a new embedding model (else nothing)."""
        principal, lang = session.who(request)
        if not handbooks or not principal or not name:
            return ""
        entry = next((c for c in handbooks.collections(principal) if c["name"] == name), None)
        change = entry and entry["reembedding"]
        if not change:
            return ""
        key = "hb_reembedding" if entry["embedder"] else "hb_reembedding_keywords"
        return t(key, lang).format(name=name, percent=int(change["progress"] * 100))

    def on_load(request: gr.Request):
        principal, lang = session.who(request)
        options = names(request)
        chosen = DEFAULT_COLLECTION if DEFAULT_COLLECTION in options else (options[0] if options else None)
        rows, choice = table(chosen, request)
        return (
            gr.update(choices=options, value=chosen, label=t("collection", lang)),
            gr.update(value=t("refresh", lang)),
            gr.update(label=t("hb_question", lang), placeholder=t("hb_question_placeholder", lang)),
            gr.update(value=t("hb_ask", lang)),
            gr.update(visible=bool(principal and principal.role in MANAGERS), label=t("hb_manage", lang)),
            gr.update(label=t("hb_upload", lang)),
            rows,
            choice,
            gr.update(value=t("hb_remove", lang)),
            search_state(chosen, request),
        )

    page.load(on_load, None, [collection, refresh, question, ask_button, manage, upload, documents,
                              remove_choice, remove, search_note])
    refresh.click(table, collection, [documents, remove_choice])
    collection.change(table, collection, [documents, remove_choice])
    refresh.click(search_state, collection, search_note)
    collection.change(search_state, collection, search_note)

    async def ask(name: str | None, text: str, request: gr.Request) -> AsyncIterator[tuple[str, str]]:
        principal, lang = session.who(request)
        if handbooks is None:  # no embedding model
            raise gr.Error(t("handbooks_off", lang))
        if principal is None:
            raise gr.Error(t("models_loading", lang))
        try:
            answer = await handbooks.answer(principal, name or "", text)
            async for shown in growing(answer):
                yield shown, ""
        except ApiError as exc:
            raise gr.Error(exc.message(lang)) from None
        result = answer.result or {}
        yield f"{result['answer']}\n\n*{t('ai_watermark', lang)}*", sources_html(name or "", result, lang)

    ask_button.click(ask, [collection, question], [answer_box, sources], concurrency_limit=None)
    question.submit(ask, [collection, question], [answer_box, sources], concurrency_limit=None)

    async def add_files(name: str | None, files: list | None, request: gr.Request) -> AsyncIterator[str]:
        principal, lang = session.who(request)
        service = handbooks
        if not files or service is None or principal is None:
            yield ""
            return
        target = (name or DEFAULT_COLLECTION).strip()
        lines: list[str] = []
        for item in files:
            path = Path(str(item))
            filename, data = path.name, path.read_bytes()
            path.unlink(missing_ok=True)  # the handbook service keeps its own copy; no stray upload stays
            try:
                job = service.upload(principal, target, filename, data)
            except ApiError as exc:
                lines.append(f"✘ {filename}: {exc.message(lang)}")
                yield "\n\n".join(lines)
                continue
            while job.status in ("queued", "running"):
                yield "\n\n".join([*lines, f"⏳ {filename}: {int(job.progress * 100)} %"])
                await asyncio.sleep(0.3)
            if job.status == "done":
                doc = job.result["document"]
                state = t(f"hb_{job.result['status']}", lang)
                size = f"{doc['pages']} {t('pages', lang)}, " if doc["pages"] else ""
                lines.append(f"✔ {filename}: {state} ({size}{doc['chunks']} {t('chunks', lang)})")
            else:
                lines.append(f"✘ {filename}: {job.error['message']}")
            yield "\n\n".join(lines)

    def refresh_names(current: str | None, request: gr.Request) -> dict:
        return gr.update(choices=names(request), value=current)  # a new collection joins the list

    upload.upload(add_files, [collection, upload], status).then(
        table, collection, [documents, remove_choice]).then(refresh_names, collection, collection)

    def remove_document(name: str | None, document_id: str | None, request: gr.Request) -> str:
        principal, lang = session.who(request)
        if not document_id or handbooks is None or principal is None:
            return ""
        try:
            handbooks.delete(principal, name or "", document_id)
        except ApiError as exc:
            raise gr.Error(exc.message(lang)) from None
        return t("hb_removed", lang)

    remove.click(remove_document, [collection, remove_choice], status).then(
        table, collection, [documents, remove_choice])
