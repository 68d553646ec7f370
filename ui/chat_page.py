"""The chat page (Gradio): streamed answers, model choice, stop, copy, AI notice."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Callable

import gradio as gr

from appliance.accounts import Principal
from appliance.chat_service import ChatService, Message, TextDelta
from appliance.errors import ApiError
from ui.i18n import t
from ui.session import UISession

CSS = """
#ai-notice { background: #fff7e0; border-left: 4px solid #e0a800; padding: .4rem .8rem; border-radius: 6px; }
#app-header { display: flex; justify-content: space-between; align-items: center; gap: 1rem; }
#app-header h1 { margin: 0; font-size: 1.5rem; }
#app-header nav a { margin-left: 1rem; }
footer { display: none !important; }
"""


def _text(content: object) -> str:
    """Text of a Gradio 6 chat message (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


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


def build_chat_page(session: UISession, chat: Callable[[], ChatService | None]) -> gr.Blocks:
    with gr.Blocks(title="KI-Assistenz", analytics_enabled=False) as page:
        header = gr.HTML(header_html(None, "de"))
        notice = gr.Markdown(t("ai_notice", "de"), elem_id="ai-notice")
        with gr.Row():
            model = gr.Dropdown(choices=[], label=t("model", "de"), scale=4, interactive=True)
            new_chat = gr.Button(t("new_chat", "de"), scale=1)
        chatbot = gr.Chatbot(
            label=t("chat_label", "de"),
            height=460,
            buttons=["copy"],
            feedback_options=None,
            watermark=t("ai_watermark", "de"),
            placeholder=t("chat_placeholder", "de"),
            elem_id="chatbot",
        )
        with gr.Row():
            box = gr.Textbox(
                label=t("input_label", "de"), placeholder=t("input_placeholder", "de"),
                lines=1, max_lines=8, scale=5, autofocus=True, elem_id="chat-input",
            )
            with gr.Column(scale=1, min_width=120):
                send = gr.Button(t("send", "de"), variant="primary", elem_id="send")
                stop = gr.Button(t("stop", "de"), variant="stop", elem_id="stop")

        def on_load(request: gr.Request):
            principal, lang = session.who(request)
            service = chat()
            choices = list(service.engines.chat_models) if service else []
            return (
                header_html(principal, lang),
                t("ai_notice", lang),
                gr.update(choices=choices, value=choices[0] if choices else None, label=t("model", lang)),
                gr.update(label=t("chat_label", lang), placeholder=t("chat_placeholder", lang),
                          watermark=t("ai_watermark", lang)),
                gr.update(label=t("input_label", lang), placeholder=t("input_placeholder", lang)),
                gr.update(value=t("send", lang)),
                gr.update(value=t("stop", lang)),
                gr.update(value=t("new_chat", lang)),
            )

        page.load(on_load, None, [header, notice, model, chatbot, box, send, stop, new_chat])

        def take_input(text: str, history: list) -> tuple[str, list]:
            if not text.strip():
                return "", history
            return "", [*history, {"role": "user", "content": text}]

        async def answer(history: list, model_id: str | None, request: gr.Request) -> AsyncIterator[list]:
            if not history or history[-1]["role"] != "user":
                yield history
                return
            _, lang = session.who(request)
            service = chat()
            if service is None:
                raise gr.Error(t("models_loading", lang))
            messages = [Message(m["role"], _text(m["content"])) for m in history if m["role"] in ("user", "assistant")]
            while True:
                try:
                    _, events = await service.start(model_id, messages, session.sampling())
                    break
                except ApiError as exc:
                    if exc.code == "context_length_exceeded" and len(messages) > 1:
                        messages = messages[2:] if len(messages) > 2 else messages[1:]  # forget the oldest turn
                        continue
                    raise gr.Error(exc.en if lang == "en" else exc.de) from None
            reply = ""
            history = [*history, {"role": "assistant", "content": ""}]
            try:
                async for event in events:
                    if isinstance(event, TextDelta):
                        reply += event.text
                        history[-1] = {"role": "assistant", "content": reply}
                        yield history
            finally:
                await events.aclose()
            yield history

        # no Gradio-side limit: the chat engine queues and schedules requests for every user alike
        submit = box.submit(take_input, [box, chatbot], [box, chatbot], queue=False).then(
            answer, [chatbot, model], chatbot, concurrency_limit=None
        )
        click = send.click(take_input, [box, chatbot], [box, chatbot], queue=False).then(
            answer, [chatbot, model], chatbot, concurrency_limit=None
        )
        stop.click(None, None, None, cancels=[submit, click])
        new_chat.click(lambda: [], None, chatbot, queue=False)
    return page
