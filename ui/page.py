"""The signed-in page: header, the AI notice, and the tabs (apps, chat, handbook, interpreter, builder)."""

from __future__ import annotations

import html

import gradio as gr

from appliance.people.accounts import Principal
from appliance.people.branding import DEFAULT_NAME
from appliance.services import Services
from ui import apps_page, builder_page, chat_page, handbook_page
from ui.i18n import t
from ui.session import UISession

CSS = """
#ai-notice { background: #fff7e0; border-left: 4px solid #e0a800; padding: .4rem .8rem; border-radius: 6px; }
#app-header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
#app-header h1 { margin: 0; font-size: 1.5rem; }
#app-header h1 small { font-size: .8rem; font-weight: 400; color: #4a5868; margin-left: .5rem; }
#app-header nav a { margin-left: 1rem; }
#hb-sources ol { padding-left: 1.2rem; }
footer { display: none !important; }
.app-card { border: 1px solid #d5dde5; border-radius: 10px; padding: .5rem; background: #fff; max-width: 26rem; }
.app-tile { font-size: 1.05rem; font-weight: 600; text-align: left; justify-content: flex-start; }
.app-desc { font-size: .9rem; color: #4a5868; padding: .2rem .3rem; }
.app-badge { display: inline-block; font-size: .75rem; background: #fff1cc; border-radius: 4px; padding: 0 .4rem; }
.dictate { max-width: 14rem; }
.dictate.recording, .dictate .recording, button.recording { background: #b3261e !important; color: #fff !important; }
#app-output { border: 1px solid #d5dde5; border-radius: 8px; padding: .6rem; background: #fcfcfd; }
#b-version-view pre, #b-version-view code { white-space: pre-wrap; overflow-wrap: anywhere; }
#app-output [dir=rtl], #b-trial-output [dir=rtl] { text-align: right; }
#app-output table[dir=rtl], #b-trial-output table[dir=rtl] { margin-left: auto; }
"""

# An app's answer can hold a letter in Arabic, Farsi, ... beside the German one: each paragraph, list
# and table of it that is mostly right-to-left letters gets dir="rtl" (dir="auto" would go by the
# first letter, and "[Name des Kindes]" at the start of an Arabic line would turn it left to right).
JS = """
() => {
  const RTL = /[\\u0590-\\u08FF\\uFB1D-\\uFDFF\\uFE70-\\uFEFF]/;
  const rtl = (text, before) => {  // a block without letters (a date) runs like the one before it
    let r = 0, l = 0;
    for (const ch of text.match(/\\p{L}/gu) || []) { if (RTL.test(ch)) { r++; } else { l++; } }
    return r + l ? r > l : before;
  };
  const BLOCKS = 'p, li, ul, ol, h1, h2, h3, h4, h5, h6, blockquote, table, td, th';
  let queued = false;
  const mark = () => {
    queued = false;
    document.querySelectorAll('#app-output, #b-trial-output').forEach((out) => {
      let before = false;
      out.querySelectorAll(BLOCKS).forEach((el) => {
        const right = before = rtl(el.textContent || '', before);
        if (right && el.getAttribute('dir') !== 'rtl') { el.setAttribute('dir', 'rtl'); }
        if (!right && el.hasAttribute('dir')) { el.removeAttribute('dir'); }
      });
    });
  };
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(mark); } })
    .observe(document.body, {childList: true, subtree: true, characterData: true});
}
"""


def header_html(principal: Principal | None, lang: str, facility: str = "") -> str:
    """The facility's own name when it has set one (branding), the product's otherwise."""
    other = "en" if lang == "de" else "de"
    who = (
        f"<span>{t('signed_in_as', lang)} <b>{html.escape(principal.name)}</b></span>"
        if principal else ""
    )
    product = t("product", lang)
    title = html.escape(facility) if facility and facility != DEFAULT_NAME else product
    subtitle = f" <small>{product}</small>" if title != product else ""
    return (
        f"<div id='app-header'><h1>{title}{subtitle}</h1><nav>{who}"
        f"<a href='/lang/{other}?next=/'>{t('other_language', lang)}</a>"
        f"<a href='/logout'>{t('logout', lang)}</a></nav></div>"
    )


def build_page(session: UISession, services: Services) -> gr.Blocks:
    with gr.Blocks(title="KI-Assistenz", analytics_enabled=False) as page:
        header = gr.HTML(header_html(None, "de"))
        notice = gr.Markdown(t("ai_notice", "de"), elem_id="ai-notice")
        with gr.Tabs():
            with gr.Tab(t("tab_apps", "de"), id="apps", elem_id="tab-apps") as apps_tab:
                apps_page.render(session, services.apps, services.branding, page)
            with gr.Tab(t("tab_chat", "de"), id="chat", elem_id="tab-chat") as chat_tab:
                chat_page.render(session, services.chat, page)
            with gr.Tab(t("tab_handbook", "de"), id="handbook", elem_id="tab-handbook") as handbook_tab:
                handbook_page.render(session, services.handbooks, page)
            with gr.Tab(t("tab_interpreter", "de"), id="interpreter", elem_id="tab-interpreter") as interpreter_tab:
                interpreter_intro = gr.Markdown(t("interp_intro", "de"))
                interpreter_link = gr.Button(t("interp_open", "de"), link="/interpreter", variant="primary",
                                             elem_id="open-interpreter")
            with gr.Tab(t("tab_builder", "de"), id="builder", elem_id="tab-builder", visible=False) as builder_tab:
                builder_page.render(session, services.apps, services.case_check, page)

        def on_load(request: gr.Request):
            principal, lang = session.who(request)
            author = bool(principal and services.apps.is_author(principal))
            facility = services.branding.get().name
            return (header_html(principal, lang, facility), t("ai_notice", lang), gr.update(label=t("tab_apps", lang)),
                    gr.update(label=t("tab_chat", lang)), gr.update(label=t("tab_handbook", lang)),
                    gr.update(label=t("tab_builder", lang), visible=author),
                    gr.update(label=t("tab_interpreter", lang)), t("interp_intro", lang),
                    gr.update(value=t("interp_open", lang)))

        page.load(on_load, None, [header, notice, apps_tab, chat_tab, handbook_tab, builder_tab, interpreter_tab,
                                  interpreter_intro, interpreter_link])
    return page
