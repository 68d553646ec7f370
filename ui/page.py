"""The signed-in page: header, the AI notice, and the tabs (chat, handbook)."""

from __future__ import annotations

import html
from collections.abc import Callable

import gradio as gr

from appliance.accounts import Principal
from appliance.chat_service import ChatService
from appliance.handbooks_service import HandbookService
from ui import chat_page, handbook_page
from ui.i18n import t
from ui.session import UISession

CSS = """
#ai-notice { background: #fff7e0; border-left: 4px solid #e0a800; padding: .4rem .8rem; border-radius: 6px; }
#app-header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
#app-header h1 { margin: 0; font-size: 1.5rem; }
#app-header nav a { margin-left: 1rem; }
#hb-sources ol { padding-left: 1.2rem; }
footer { display: none !important; }
"""


def header_html(principal: Principal | None, lang: str) -> str:
    other = "en" if lang == "de" else "de"
    who = (
        f"<span>{t('signed_in_as', lang)} <b>{html.escape(principal.name)}</b></span>"
        if principal else ""
    )
    return (
        f"<div id='app-header'><h1>{t('product', lang)}</h1><nav>{who}"
        f"<a href='/lang/{other}?next=/'>{t('other_language', lang)}</a>"
        f"<a href='/logout'>{t('logout', lang)}</a></nav></div>"
    )


def build_page(session: UISession, chat: Callable[[], ChatService | None],
               handbooks: Callable[[], HandbookService | None]) -> gr.Blocks:
    with gr.Blocks(title="KI-Assistenz", analytics_enabled=False) as page:
        header = gr.HTML(header_html(None, "de"))
        notice = gr.Markdown(t("ai_notice", "de"), elem_id="ai-notice")
        with gr.Tabs():
            with gr.Tab(t("tab_chat", "de"), id="chat", elem_id="tab-chat") as chat_tab:
                chat_page.render(session, chat, page)
            with gr.Tab(t("tab_handbook", "de"), id="handbook", elem_id="tab-handbook") as handbook_tab:
                handbook_page.render(session, handbooks, chat, page)

        def on_load(request: gr.Request):
            principal, lang = session.who(request)
            return (header_html(principal, lang), t("ai_notice", lang),
                    gr.update(label=t("tab_chat", lang)), gr.update(label=t("tab_handbook", lang)))

        page.load(on_load, None, [header, notice, chat_tab, handbook_tab])
    return page
