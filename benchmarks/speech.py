"""`make bench`, speech: Whisper's speed and accuracy, the endpoint against the raw library, and the
live interpreter's delay from the end of an utterance to its final text and translation.

Test speech: the sentences of benchmarks/eval/speech_sentences.json, spoken by espeak-ng into a
temporary directory at run time, as someone dictating: slowly, with a short gap between words.
Measured:
- real-time factor (processing s / audio s) and word error rate (case and punctuation removed,
  jiwer) of whisper-base, int8, 2 threads, on German sentences, one German dictation and English;
- the German sentences once more spoken continuously (no gap between words), raw library only: how
  much of the error is espeak-ng's run-together German;
- POST /v1/audio/transcriptions through the openai client / faster-whisper's WhisperModel (the
  object the service loaded) called directly on the same audio with the parameters
  WhisperTranscriber.transcribe passes (A B B A, best of two);
- WebSocket /api/interpret: audio streamed at real-time pace in 0.1 s frames, then "stop"; the
  delay to the utterance's final text and to its last translation (p50/p95);
- whisper-tiny.en on the English sentences, raw library only, when its files are installed.

Results: benchmarks/results/speech.json and docs/benchmarks-speech.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import statistics
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import appliance  # noqa: F401  (telemetry off first)
from benchmarks.report import save

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ROOT / "benchmarks" / "eval" / "speech_sentences.json"
THREADS = 2
FRAME_S = 0.1  # what the interpreter page sends per WebSocket frame
# what WhisperTranscriber.transcribe (models/whisper.py) passes for a file upload at temperature 0
WHISPER_ARGS = {
    "beam_size": 5,
    "temperature": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
    "vad_filter": True,
    "vad_parameters": {"min_silence_duration_ms": 500},
    "condition_on_previous_text": True,
    "without_timestamps": False,
}


@dataclass
class Clip:
    text: str
    path: Path
    seconds: float


WORDS_PER_MINUTE = 130  # a calm dictation pace; espeak-ng's own default (175) is a fast reader's
WORD_GAP_MS = 50  # words said one by one, as in dictation; espeak-ng's -g counts in 10 ms
PAUSE_S = 0.5  # silence before and after, as when someone presses record, then speaks
DICTATION_SENTENCES = 15  # the dictation and the interpreter's turns: about 90 s of speech
DICTATION_ROUNDS = 3  # A B B A three times: one clip, so no median over clips evens out the machine's moods


def speak(text: str, voice: str, path: Path, word_gap_ms: int = WORD_GAP_MS) -> Clip:
    said = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(WORDS_PER_MINUTE), "-g", str(word_gap_ms // 10),
                    "-w", str(said), text], check=True, capture_output=True)
    subprocess.run(["sox", str(said), str(path), "pad", str(PAUSE_S), str(PAUSE_S)], check=True, capture_output=True)
    said.unlink()
    with wave.open(str(path)) as w:
        return Clip(text, path, w.getnframes() / w.getframerate())


def wer(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.SubstituteRegexes({r"[-/]": " "}), jiwer.RemovePunctuation(),
                          jiwer.RemoveMultipleSpaces(), jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    return round(jiwer.wer(references, hypotheses, reference_transform=norm, hypothesis_transform=norm), 3)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest rank, as in benchmarks/handbooks.py; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(len(ordered) * q) - 1)], 2)


def raw_transcribe(model, audio: np.ndarray, language: str) -> str:
    segments, _ = model.transcribe(audio, language=language, **WHISPER_ARGS)
    return " ".join(s.text.strip() for s in segments if s.text.strip())


def api_transcribe(client, path: Path, language: str) -> str:
    return client.audio.transcriptions.create(model="whisper-1", file=(path.name, path.read_bytes(), "audio/wav"),
                                              language=language).text


def transcription(clips: list[Clip], language: str, model, client=None, rounds: int = 1) -> dict:
    """Each clip through the raw library and (with a client) the endpoint, in the order A B B A,
    ``rounds`` times; each counts with the fastest of its runs (this VM's speed varies from one
    minute to the next: a single long clip needs more than one round to compare).

    The raw library gets the audio already decoded (by its own decode_audio, not timed): the
    endpoint's time includes upload and decoding, so the ratio is its whole overhead.
    """
    from faster_whisper import decode_audio

    audio = {c.path: decode_audio(str(c.path)) for c in clips}
    calls = {"raw": lambda p: raw_transcribe(model, audio[p], language)}
    if client is not None:
        calls["api"] = lambda p: api_transcribe(client, p, language)
    runs: dict[str, list[tuple[float, str]]] = {name: [] for name in calls}
    for clip in clips:
        seconds: dict[str, list[float]] = {name: [] for name in calls}
        texts: dict[str, str] = {}
        for name in [*calls, *reversed(calls)] * rounds:
            start = time.perf_counter()
            texts[name] = calls[name](clip.path)
            seconds[name].append(time.perf_counter() - start)
        for name in calls:
            runs[name].append((min(seconds[name]), texts[name]))
    audio_s = sum(c.seconds for c in clips)
    speaking_s = audio_s - 2 * PAUSE_S * len(clips)
    out: dict = {"clips": len(clips), "audio_s": round(audio_s, 1),
                 "spoken_words_per_minute": round(sum(len(c.text.split()) for c in clips) / speaking_s * 60)}
    for name, r in runs.items():
        total = sum(t for t, _ in r)
        out[name] = {"seconds": round(total, 2), "rtf": round(total / audio_s, 3),
                     "wer": wer([c.text for c in clips], [text for _, text in r])}
    if client is not None:  # the median per clip is the robust one on a busy machine; the totals' ratio too
        pairs = list(zip(runs["api"], runs["raw"], strict=True))
        out["api_to_raw"] = round(statistics.median(api[0] / raw[0] for api, raw in pairs), 3)
        out["api_to_raw_total"] = round(out["api"]["seconds"] / out["raw"]["seconds"], 3)
        out["same_text"] = sum(api[1] == raw[1] for api, raw in pairs)
    out["heard"] = [{"said": c.text, "heard": text} for c, (_, text) in zip(clips, runs[list(calls)[-1]], strict=True)]
    return out


async def interpreter(url: str, key: str, utterances: list[tuple[str, bytes]]) -> list[dict]:
    """Speaker a (German) talks to speaker b (English); one turn after the other, each waited for."""
    from websockets.asyncio.client import connect

    log: list[tuple[float, dict]] = []
    changed = asyncio.Event()

    async def wait_for(kind: str, uid: int | None = None) -> tuple[float, dict]:
        while True:
            for t, m in log:
                if m["type"] == "error":
                    raise RuntimeError(f"interpreter error: {m}")
                if m["type"] == kind and (uid is None or m.get("id") == uid):
                    return t, m
            changed.clear()
            await asyncio.wait_for(changed.wait(), 300)

    async with connect(url.replace("http://", "ws://") + "/api/interpret", proxy=None,
                       additional_headers={"Authorization": f"Bearer {key}"}) as ws:

        async def receive() -> None:
            try:
                async for raw in ws:
                    log.append((time.perf_counter(), json.loads(raw)))
                    changed.set()
            finally:  # a closed connection ends the waiting too
                log.append((time.perf_counter(), {"type": "error", "message": "connection closed"}))
                changed.set()

        reader = asyncio.create_task(receive())
        await wait_for("ready")
        await ws.send(json.dumps({"type": "languages", "languages": ["de", "en"]}))
        await wait_for("languages")
        results = []
        frame = int(16_000 * FRAME_S) * 2
        for i, (text, pcm) in enumerate(utterances, 1):
            await ws.send(json.dumps({"type": "start", "speaker": "a"}))
            await wait_for("started", i)
            begin = time.perf_counter()
            frames = range(0, len(pcm), frame)
            for n, offset in enumerate(frames):  # real-time pace: frame n leaves when its audio would be spoken
                await asyncio.sleep(max(0.0, begin + n * FRAME_S - time.perf_counter()))
                await ws.send(pcm[offset:offset + frame])
            await asyncio.sleep(max(0.0, begin + len(frames) * FRAME_S - time.perf_counter()))
            await ws.send(json.dumps({"type": "stop"}))
            stop = time.perf_counter()
            final_at, final = await wait_for("final", i)
            done_at, _ = await wait_for("done", i)
            mine = [(t, m) for t, m in log if m.get("id") == i]
            partials = [t for t, m in mine if m["type"] == "partial" and (m["committed"] or m["tentative"])]
            translations = [(t, m) for t, m in mine if m["type"] == "translation"]
            results.append({
                "audio_s": round(len(pcm) / 32_000, 2),
                "first_partial_s": round(partials[0] - begin, 2) if partials else None,
                "partials": len(partials),
                "final_s": round(final_at - stop, 2),
                "translation_s": round(max(t for t, _ in translations) - stop, 2) if translations else None,
                "done_s": round(done_at - stop, 2),
                "said": text,
                "final": final["committed"],
                "translations": [m["text"] for _, m in translations],
            })
        reader.cancel()
    return results


def interpreter_summary(turns: list[dict]) -> dict:
    finals = [t["final_s"] for t in turns]
    translated = [t["translation_s"] for t in turns if t["translation_s"] is not None]
    first = [t["first_partial_s"] for t in turns if t["first_partial_s"] is not None]
    return {
        "utterances": len(turns),
        "audio_s_mean": round(statistics.mean(t["audio_s"] for t in turns), 1),
        "final_p50_s": percentile(finals, 0.5), "final_p95_s": percentile(finals, 0.95),
        "translation_p50_s": percentile(translated, 0.5), "translation_p95_s": percentile(translated, 0.95),
        "first_partial_p50_s": percentile(first, 0.5),
        "wer_final": wer([t["said"] for t in turns], [t["final"] for t in turns]),
        "turns": turns,
    }


def pcm16(path: Path) -> bytes:
    from models.speech import decode

    return (np.clip(decode(path.read_bytes()), -1, 1) * 32767).astype("<i2").tobytes()


def whisper(model_dir: Path):
    from faster_whisper import WhisperModel

    model = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=THREADS, local_files_only=True)
    noise = np.random.default_rng(0).normal(0, 0.05, 16_000).astype(np.float32)
    list(model.transcribe(noise, language="de", beam_size=1)[0])  # warm-up, as the appliance does at start-up
    return model


def tiny_en(clips: list[Clip]) -> dict | None:
    from models.catalog import load_catalog
    from models.store import FileState, check_model
    from tests.support.paths import MODELS_DIR

    entry = load_catalog().get("whisper-tiny.en")
    if any(c.state is not FileState.ok for c in check_model(MODELS_DIR, entry)):
        return None
    return transcription(clips, "en", whisper(MODELS_DIR / entry.id))


def markdown(r: dict) -> str:
    it, tiny, de, flow = r["interpreter"], r["tiny_en"], r["de"], r["de_continuous"]
    dictation_sentences = min(DICTATION_SENTENCES, de["clips"])

    def rows(label: str, x: dict, target: str) -> str:
        return (f"| {label}, raw library ({x['audio_s']} s audio) | {x['raw']['rtf']} | | {x['raw']['wer']} | |\n"
                f"| {label}, endpoint | {x['api']['rtf']} | {x['api_to_raw']} ({x['api_to_raw_total']}) "
                f"| {x['api']['wer']} | {target} |")

    tiny_row = (f"| English, whisper-tiny.en, raw library | {tiny['raw']['rtf']} | | {tiny['raw']['wer']} | |"
                if tiny else "| English, whisper-tiny.en | not installed in var/models: not measured | | | |")
    return f"""# Benchmarks: Sprache / speech

Gemessen mit / measured by `make bench` ({r['date']}, {r['machine']}, load average {r['load_before']} at the start,
{r['load_after']} at the end{'; quick run' if r['quick'] else ''}). Whisper `whisper-base`, int8 on the CPU,
{r['threads']} threads, beam size 5, VAD on (the appliance's settings). Test speech: the made-up care,
kindergarten and counselling sentences of `benchmarks/eval/speech_sentences.json`, spoken by espeak-ng
as someone dictating: espeak-ng's rate {r['words_per_minute']} with {r['word_gap_ms']} ms between words
(German: {de['spoken_words_per_minute']} words per minute of speaking time) and {r['pause_s']} s of silence
before and after; {de['clips']} German and {r['en']['clips']} English sentences, each as one clip, and the
first {dictation_sentences} German ones read in one go as one dictation. Word error rate (WER) with case and
punctuation removed (jiwer).

How much the WER depends on the voice: the same German sentences spoken continuously (no gap between
words, {flow['spoken_words_per_minute']} words/min) give {flow['raw']['wer']} (row "spoken continuously"). Earlier
runs on the first 15 sentences: 0.49 at espeak-ng's rate 150 without pauses (2026-11-25), 0.354 at rate
130 with pauses but no gap (2026-12-02). espeak-ng's German runs its words together in a way Whisper base
mishears; a person speaks differently, so none of these figures is what staff will see.

## Transkription / transcription

RTF = processing seconds / audio seconds. Endpoint: `POST /v1/audio/transcriptions` through the `openai`
client over HTTP, timed with upload and decoding. Raw library: faster-whisper's `WhisperModel.transcribe`
with the parameters the appliance passes, on the same audio, decoded beforehand, called directly on the model
object the service loaded (two copies of the same model differed by up to 10 % on this machine with identical
calls, more than the endpoint adds; the device and compute type are checked). Ratio: endpoint / raw
library, the median per clip (the ratio of the totals in brackets). Each clip runs twice through both, in the
order raw, endpoint, endpoint, raw, and counts with the faster of its two runs; the dictation, one long clip,
runs that way {r['dictation_rounds']} times (the speed of this virtual machine varies from minute to minute)
and counts with the fastest of its {2 * r['dictation_rounds']} runs.

| measurement | RTF | endpoint / raw library | WER | target |
|---|---|---|---|---|
{rows("German dictation", r["dictation"], "RTF <= 0.3, ratio <= 1.05")}
{rows("German sentences", r["de"], "WER <= 0.3, ratio <= 1.05")}
| German sentences, spoken continuously, raw library | {flow['raw']['rtf']} | | {flow['raw']['wer']} | |
{rows("English sentences", r["en"], "ratio <= 1.05")}
{tiny_row}

Same text from endpoint and raw library: {r['de']['same_text']} of {r['de']['clips']} German and
{r['en']['same_text']} of {r['en']['clips']} English clips. Whisper always encodes a 30 s window, so short clips
have a higher RTF than the dictation.

## Dolmetscher / live interpreter

WebSocket `/api/interpret`, German into English, translation by `{r['chat']}` (loaded in {r['load_s']} s
together with Whisper). {it['utterances']} turns of two sentences (about {it['audio_s_mean']} s each), streamed
at real-time pace in 0.1 s frames, then "stop"; the next turn starts when the last one is done. Delay from
"stop" to the turn's final text and to its last translation; p95 is the nearest rank.

| measurement | p50 | p95 | target |
|---|---|---|---|
| stop -> final text (s) | {it['final_p50_s']} | {it['final_p95_s']} | p50 <= 2.5 |
| stop -> last translation (s) | {it['translation_p50_s']} | {it['translation_p95_s']} | |
| start of speech -> first partial text (s) | {it['first_partial_p50_s']} | | |

WER of the interpreter's final text: {it['wer_final']}.

Synthetic speech is not a person in a room: the WER says how the pipeline copes with a clear, if robotic,
voice, not what staff will see. The timings are from one run on a machine that may be busy (see the load
average). Every transcript and translation: `benchmarks/results/speech.json`.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer sentences and turns (a check in ~3 minutes)")
    parser.add_argument("--chat", default="qwen2.5-coder-1.5b-instruct-q4_k_m", help="translation model")
    args = parser.parse_args()
    from openai import OpenAI

    from appliance.engines import load_engines
    from appliance.server import create_app
    from tests.support.server import LiveServer
    from tests.support.settings import make_settings

    spec = json.loads(SENTENCES.read_text())
    de_texts, en_texts = (spec["de"][:5], spec["en"][:3]) if args.quick else (spec["de"], spec["en"])
    said = spec["de"][:DICTATION_SENTENCES]
    pairs = [f"{a} {b}" for a, b in zip(said[::2], said[1::2], strict=False)][: 3 if args.quick else None]
    results: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                     "load_before": round(os.getloadavg()[0], 2), "quick": args.quick, "threads": THREADS,
                     "chat": args.chat, "words_per_minute": WORDS_PER_MINUTE, "word_gap_ms": WORD_GAP_MS,
                     "pause_s": PAUSE_S, "dictation_rounds": DICTATION_ROUNDS}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        de = [speak(t, "de", folder / f"de{i}.wav") for i, t in enumerate(de_texts)]
        en = [speak(t, "en", folder / f"en{i}.wav") for i, t in enumerate(en_texts)]
        de_continuous = [speak(t, "de", folder / f"flow{i}.wav", word_gap_ms=0) for i, t in enumerate(de_texts)]
        dictation = speak(" ".join(de_texts[:DICTATION_SENTENCES]), "de", folder / "dictation.wav")
        turns = [(t, pcm16(speak(t, "de", folder / f"turn{i}.wav").path)) for i, t in enumerate(pairs)]

        settings = make_settings(folder / "data", chat=[args.chat], speech=["whisper-base"], embedding=None,
                                 threads=THREADS)
        settings.speech.threads = THREADS
        start = time.perf_counter()
        engines = load_engines(settings)
        results["load_s"] = round(time.perf_counter() - start, 1)
        # the raw library is the model object the service loaded, called directly: two copies of the
        # same model differed by up to 10 % here with identical calls, more than the endpoint adds
        raw = engines.transcribers["whisper-base"].library_model
        if (raw.model.device, raw.model.compute_type) != ("cpu", "int8_float32"):
            raise SystemExit(f"whisper-base runs as {raw.model.device}/{raw.model.compute_type}, not cpu/int8")
        app = create_app(settings, engines=engines, mount_ui=False)
        app.state.services.accounts.add("bench", "it_admin", "bench-password")
        key, _ = app.state.services.accounts.create_key("bench")
        with LiveServer(app) as server:
            client = OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=600)
            api_transcribe(client, de[0].path, "de")  # warm-up of the HTTP path
            results["dictation"] = transcription([dictation], "de", raw, client, rounds=DICTATION_ROUNDS)
            results["de"] = transcription(de, "de", raw, client)
            results["de_continuous"] = transcription(de_continuous, "de", raw)
            results["en"] = transcription(en, "en", raw, client)
            results["interpreter"] = interpreter_summary(asyncio.run(interpreter(server.url, key, turns)))
        del raw
        engines.close()
        results["tiny_en"] = tiny_en(en)
    results["load_after"] = round(os.getloadavg()[0], 2)
    save(results, "speech.json", "benchmarks-speech.md", markdown(results))


if __name__ == "__main__":
    main()
