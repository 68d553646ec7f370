"""The chat tab (Gradio): streamed answers, model choice, stop, copy with the AI-draft mark."""

from __future__ import annotations

from collections.abc import AsyncIterator

import gradio as gr

from appliance.chat.service import ChatService, Message
from appliance.infra.errors import ApiError
from ui.i18n import t
from ui.pacing import growing
from ui.session import UISession


def _text(content: object) -> str:
    """Text of a Gradio 6 chat message (a string or a list of content parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if isinstance(content, dict):
        return str(content.get("text", ""))
    return ""


def render(session: UISession, chat: ChatService, page: gr.Blocks) -> None:
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
    demo = gr.Markdown(elem_id="chat-demo-notice")  # one line while a small demo model answers
    with gr.Row():
        box = gr.Textbox(
            label=t("input_label", "de"), placeholder=t("input_placeholder", "de"),
            lines=1, max_lines=8, scale=5, autofocus=True, elem_id="chat-input",
        )
        with gr.Column(scale=1, min_width=120):
            send = gr.Button(t("send", "de"), variant="primary", elem_id="send")
            stop = gr.Button(t("stop", "de"), variant="stop", elem_id="stop")

    def on_load(request: gr.Request):
        _, lang = session.who(request)
        choices = chat.model_ids()
        return (
            gr.update(choices=choices, value=choices[0] if choices else None, label=t("model", lang)),
            gr.update(label=t("chat_label", lang), placeholder=t("chat_placeholder", lang),
                      watermark=t("ai_watermark", lang)),
            gr.update(label=t("input_label", lang), placeholder=t("input_placeholder", lang)),
            gr.update(value=t("send", lang)),
            gr.update(value=t("stop", lang)),
            gr.update(value=t("new_chat", lang)),
        )

    page.load(on_load, None, [model, chatbot, box, send, stop, new_chat])

    def demo_line(model_id: str | None, request: gr.Request) -> str:
        _, lang = session.who(request)
        notice = chat.demo_notice(model_id, lang)
        return f"⚠️ **{notice}**" if notice else ""

    model.change(demo_line, model, demo, queue=False)

    def take_input(text: str, history: list) -> tuple[str, list]:
        if not text.strip():
            return "", history
        return "", [*history, {"role": "user", "content": text}]

    async def answer(history: list, model_id: str | None, request: gr.Request) -> AsyncIterator[list]:
        if not history or history[-1]["role"] != "user":
            yield history
            return
        principal, lang = session.who(request)
        owner = principal.name if principal else ""
        messages = [Message(m["role"], _text(m["content"])) for m in history if m["role"] in ("user", "assistant")]
        try:
            pieces = await chat.converse(model_id, messages, owner)
        except ApiError as exc:
            raise gr.Error(exc.message(lang)) from None
        history = [*history, {"role": "assistant", "content": ""}]
        async for reply in growing(pieces):
            history[-1] = {"role": "assistant", "content": reply}
            yield history
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
