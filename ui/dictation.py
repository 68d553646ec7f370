"""Dictation into a text field: record in the browser, transcribe on the box, add the text.

The recording goes from the browser straight to POST /v1/audio/transcriptions (session cookie)
and is decoded in memory there: it never passes through Gradio, whose uploads land on disk.
"""

from __future__ import annotations

import json

import gradio as gr

from ui.i18n import t

# one recorder per page; the button's own label says whether it records
_JS = """
async (text) => {
  const T = __TEXTS__;
  const button = document.querySelector('#__BUTTON__ button') || document.querySelector('#__BUTTON__');
  const label = (s) => { if (button) { button.textContent = s; } };
  const state = window.__dictation || (window.__dictation = {});
  if (state.recorder && state.field !== '__BUTTON__') { alert(T.busy); return text; }
  if (!state.recorder) {
    if (!window.isSecureContext || !navigator.mediaDevices) { alert(T.https); return text; }
    let stream;
    try { stream = await navigator.mediaDevices.getUserMedia({audio: {channelCount: 1}}); }
    catch (e) { alert(T.no_mic + ' (' + e.name + ')'); return text; }
    const recorder = new MediaRecorder(stream);
    const chunks = [];
    recorder.ondataavailable = (e) => { if (e.data.size) { chunks.push(e.data); } };
    recorder.start(250);
    Object.assign(state, {recorder, chunks, stream, field: '__BUTTON__'});
    label(T.stop);
    if (button) { button.classList.add('recording'); }
    return text;
  }
  const {recorder, chunks, stream} = state;
  const done = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.stop();
  await done;
  stream.getTracks().forEach((track) => track.stop());
  window.__dictation = {};
  if (button) { button.classList.remove('recording'); }
  label(T.working);
  try {
    const form = new FormData();
    form.append('file', new Blob(chunks, {type: recorder.mimeType || 'audio/webm'}), 'diktat.webm');
    form.append('response_format', 'json');
    form.append('language', '__LANG__');  // dictation is in the language of the user's interface
    const r = await fetch('/v1/audio/transcriptions', {method: 'POST', credentials: 'same-origin', body: form});
    const body = await r.json();
    if (!r.ok) { alert(body.error ? body.error.message : r.statusText); return text; }
    const heard = (body.text || '').trim();
    if (!heard) { alert(T.nothing); return text; }
    return text ? text.replace(/\\s+$/, '') + '\\n' + heard : heard;
  } catch (e) {
    alert(T.failed + ' (' + e + ')');
    return text;
  } finally {
    label(T.start);
  }
}
"""

TEXT_KEYS = {"start": "dictate", "stop": "dictate_stop", "working": "dictate_working", "busy": "dictate_busy",
             "https": "mic_https", "no_mic": "interp_no_mic", "nothing": "dictate_nothing",
             "failed": "dictate_failed"}


def dictation_js(button_id: str, lang: str) -> str:
    texts = json.dumps({key: t(text, lang) for key, text in TEXT_KEYS.items()}, ensure_ascii=False)
    return _JS.replace("__TEXTS__", texts).replace("__BUTTON__", button_id).replace("__LANG__", lang)


def dictate_button(target: gr.Textbox, name: str, lang: str, prefix: str = "") -> gr.Button:
    """A "Diktieren" button under ``target``: click to record, click again to add the text. ``prefix``
    keeps its id apart from the same field's button on another tab (the builder's trial form: "b-")."""
    button_id = f"{prefix}dictate-{name}"
    button = gr.Button(t("dictate", lang), size="sm", elem_id=button_id, elem_classes=["dictate"])
    button.click(None, [target], [target], js=dictation_js(button_id, lang))
    return button
