"""The chat tab (Gradio): streamed answers, model choice, stop, copy with the AI-draft mark."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import gradio as gr

from appliance.chat_service import ChatService, Message, TextDelta
from appliance.errors import ApiError
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


async def _texts(events: AsyncIterator[object]) -> AsyncIterator[str]:
    try:
        async for event in events:
            if isinstance(event, TextDelta):
                yield event.text
    finally:
        await events.aclose()


def render(session: UISession, chat: Callable[[], ChatService | None], page: gr.Blocks) -> None:
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
        _, lang = session.who(request)
        service = chat()
        choices = list(service.engines.chat_models) if service else []
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

    def take_input(text: str, history: list) -> tuple[str, list]:
        if not text.strip():
            return "", history
        return "", [*history, {"role": "user", "content": text}]

    async def answer(history: list, model_id: str | None, request: gr.Request) -> AsyncIterator[list]:
        if not history or history[-1]["role"] != "user":
            yield history
            return
        principal, lang = session.who(request)
        service = chat()
        if service is None:
            raise gr.Error(t("models_loading", lang))
        owner = principal.name if principal else ""
        messages = [Message(m["role"], _text(m["content"])) for m in history if m["role"] in ("user", "assistant")]
        while True:
            try:
                _, events = await service.start(model_id, messages, session.sampling(), owner=owner)
                break
            except ApiError as exc:
                if exc.code == "context_length_exceeded" and len(messages) > 1:
                    messages = messages[2:] if len(messages) > 2 else messages[1:]  # forget the oldest turn
                    continue
                raise gr.Error(exc.en if lang == "en" else exc.de) from None
        history = [*history, {"role": "assistant", "content": ""}]
        async for reply in growing(_texts(events)):
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
