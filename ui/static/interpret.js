// The live interpreter page: push-to-talk per side, audio to /api/interpret, text back.
// Nothing is stored: the audio goes straight to the box, the text lives in this page only.
(() => {
  "use strict";
  const cfg = JSON.parse(document.getElementById("config").textContent);
  const T = cfg.texts;
  const byCode = Object.fromEntries(cfg.languages.map((l) => [l.code, l]));
  const $ = (id) => document.getElementById(id);
  const status = $("status");
  let ws = null;
  let ready = false;
  let audio = null; // {ctx, node, stream}
  let speaking = null; // "a" | "b" while a talk button is held
  const entries = {}; // "<id>:own" / "<id>:<n>" -> element

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function other(side) { return side === "a" ? "b" : "a"; }

  // -- languages ----------------------------------------------------------------------------
  for (const [i, side] of ["a", "b"].entries()) {
    const select = $("lang-" + side);
    for (const l of cfg.languages) {
      const option = document.createElement("option");
      option.value = l.code;
      option.textContent = l.name;
      select.appendChild(option);
    }
    select.value = cfg.pair[i];
    select.addEventListener("change", sendLanguages);
  }
  function pair() { return [$("lang-a").value, $("lang-b").value]; }
  function sendLanguages() {
    const [a, b] = pair();
    for (const side of ["a", "b"]) {
      const l = byCode[$("lang-" + side).value];
      $("log-" + side).dir = l.rtl ? "rtl" : "ltr";
      const aloud = $("aloud-" + side);
      aloud.disabled = !l.voice;
      if (!l.voice) aloud.checked = false;
    }
    if (a === b) { say(T.interp_same_language, true); setButtons(false); return; }
    if (ready) setButtons(true);
    if (ws && ready) ws.send(JSON.stringify({ type: "languages", languages: [a, b] }));
  }

  // -- the connection ------------------------------------------------------------------------
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/api/interpret`);
    ws.binaryType = "arraybuffer";
    say(T.interp_connecting);
    ws.onmessage = (event) => handle(JSON.parse(event.data));
    ws.onclose = () => {
      ready = false;
      setButtons(false);
      if (!status.classList.contains("error")) say(T.interp_closed, true);
      const again = document.createElement("button");
      again.className = "small";
      again.textContent = T.interp_reconnect;
      again.onclick = () => { again.remove(); status.classList.remove("error"); connect(); };
      status.after(again);
    };
  }

  function setButtons(on) {
    for (const side of ["a", "b"]) $("talk-" + side).disabled = !on;
  }

  function handle(m) {
    switch (m.type) {
      case "ready":
        ready = true;
        setButtons(true);
        sendLanguages();
        say(T.interp_ready);
        break;
      case "started":
        entry(m.id + ":own", m.speaker, "own");
        break;
      case "partial":
      case "final": {
        const el = entry(m.id + ":own", m.speaker, "own");
        el.textContent = m.committed + (m.committed && m.tentative ? " " : "");
        if (m.tentative) {
          const span = document.createElement("span");
          span.className = "tentative";
          span.textContent = m.tentative;
          el.appendChild(span);
        }
        break;
      }
      case "translation": {
        const el = entry(m.id + ":" + m.n, other(m.speaker), "translation");
        el.textContent = m.text;
        el.dataset.source = m.source;
        if ($("aloud-" + other(m.speaker)).checked) readAloud(m.text, m.language);
        break;
      }
      case "done":
        break;
      case "notice":
        if (m.code === "turn_limit" && speaking === m.speaker) stop(); // the box ended the turn
        say(document.documentElement.lang === "en" ? m.message_en : m.message, false);
        break;
      case "error":
        say(document.documentElement.lang === "en" ? m.message_en : m.message, m.type === "error");
        if (m.code === "busy" || m.code === "not_ready") setButtons(false);
        break;
    }
  }

  function entry(key, side, kind) {
    if (!entries[key]) {
      const el = document.createElement("p");
      el.className = "entry " + kind;
      const log = $("log-" + side);
      log.appendChild(el);
      entries[key] = el;
    }
    const el = entries[key];
    el.scrollIntoView({ block: "end" });
    return el;
  }

  async function readAloud(text, language) {
    const response = await fetch("/api/speech/say", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text, language }),
    });
    if (!response.ok) return;
    const url = URL.createObjectURL(await response.blob());
    const player = new Audio(url);
    player.onended = () => URL.revokeObjectURL(url);
    player.play().catch(() => URL.revokeObjectURL(url));
  }

  // -- the microphone ------------------------------------------------------------------------
  async function microphone() {
    if (audio) return audio;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    const ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/ui-static/pcm-worklet.js");
    const node = new AudioWorkletNode(ctx, "pcm-capture");
    node.port.onmessage = (event) => {
      if (!speaking || !ws || ws.readyState !== WebSocket.OPEN) return;
      const f = event.data;
      const pcm = new Int16Array(f.length);
      for (let i = 0; i < f.length; i++) pcm[i] = Math.max(-1, Math.min(1, f[i])) * 0x7fff;
      ws.send(pcm.buffer);
    };
    ctx.createMediaStreamSource(stream).connect(node);
    audio = { ctx, node, stream };
    return audio;
  }

  async function start(side) {
    if (speaking === side || !ready) return;
    if (!window.isSecureContext || !navigator.mediaDevices) { say(T.mic_https, true); return; }
    try {
      const mic = await microphone();
      if (mic.ctx.state === "suspended") await mic.ctx.resume();
    } catch (err) {
      say(T.interp_no_mic + " (" + err.name + ")", true);
      return;
    }
    if (speaking) stop();
    speaking = side;
    ws.send(JSON.stringify({ type: "start", speaker: side }));
    const button = $("talk-" + side);
    button.classList.add("active");
    button.textContent = T.interp_release;
    say(T.interp_listening);
  }

  function stop() {
    if (!speaking) return;
    const button = $("talk-" + speaking);
    button.classList.remove("active");
    button.textContent = T.interp_talk;
    speaking = null;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "stop" }));
    say(T.interp_ready);
  }

  for (const side of ["a", "b"]) {
    const button = $("talk-" + side);
    button.addEventListener("pointerdown", (e) => { e.preventDefault(); button.setPointerCapture(e.pointerId); start(side); });
    for (const ev of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(ev, () => { if (speaking === side) stop(); });
    }
    // keyboard: hold Space or Enter
    button.addEventListener("keydown", (e) => {
      if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); start(side); }
    });
    button.addEventListener("keyup", (e) => {
      if (e.key === " " || e.key === "Enter") { e.preventDefault(); if (speaking === side) stop(); }
    });
  }

  $("turn").addEventListener("click", () => {
    const turned = $("side-b").classList.toggle("turned");
    $("turn").setAttribute("aria-pressed", String(turned));
  });
  $("clear").addEventListener("click", () => {
    for (const side of ["a", "b"]) $("log-" + side).replaceChildren();
    for (const key of Object.keys(entries)) delete entries[key];
  });
  window.addEventListener("pagehide", () => {
    if (audio) audio.stream.getTracks().forEach((t) => t.stop());
    if (ws) ws.close();
  });

  connect();
})();
