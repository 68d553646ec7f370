"""Speech with the real Whisper base model: the openai client, formats, containers, the interpreter.

The speech is made during the test by espeak-ng (a synthetic voice is harder to hear than a
person, so the word error bounds are loose) and converted by sox.
"""

from __future__ import annotations

import json

import openai
import pytest
from starlette.testclient import TestClient

from appliance.server import create_app
from tests.support.settings import make_settings
from tests.support.speech import ENGLISH, convert, pcm16, silence, speak, wav_bytes, wer, words

pytestmark = pytest.mark.models

GERMAN = "Frau Müller hat heute Morgen gut gefrühstückt. Sie klagte über leichte Schmerzen im linken Knie."


@pytest.fixture
def client(openai_client):
    return openai_client


def test_the_openai_client_transcribes_german(client, tmp_path) -> None:
    audio = speak(GERMAN, "de", tmp_path / "bericht.wav")
    with audio.open("rb") as f:
        result = client.audio.transcriptions.create(model="whisper-1", file=f, language="de")
    assert wer(GERMAN, result.text) <= 0.35, result.text
    assert "Müller" in result.text or "Knie" in result.text


def test_language_is_detected_and_segments_have_times(client, tmp_path) -> None:
    for text, language in ((GERMAN, "de"), (ENGLISH, "en")):
        audio = speak(text, language, tmp_path / f"{language}.wav")
        with audio.open("rb") as f:
            result = client.audio.transcriptions.create(model="whisper-1", file=f,
                                                        response_format="verbose_json")
        assert result.language == language
        assert result.segments and result.segments[0].start < result.segments[-1].end <= result.duration + 0.5
        assert wer(text, result.text) <= 0.35, result.text


def test_subtitles_and_other_containers(client, tmp_path) -> None:
    wav = speak(ENGLISH, "en", tmp_path / "elternabend.wav")
    for target in (wav, convert(wav, tmp_path / "elternabend.flac"), convert(wav, tmp_path / "elternabend.ogg")):
        with target.open("rb") as f:
            srt = client.audio.transcriptions.create(model="whisper-1", file=f, language="en", response_format="srt")
        assert srt.startswith("1\n00:00:0") and " --> " in srt, target.suffix
        assert wer(ENGLISH, " ".join(line for line in srt.splitlines()[2::4])) <= 0.35, srt


def test_silence_is_an_empty_text_and_a_bad_language_a_clear_error(client, tmp_path) -> None:
    quiet = client.audio.transcriptions.create(model="whisper-1", file=("stille.wav", wav_bytes(silence(5.0))))
    assert quiet.text == ""
    audio = speak("Guten Tag.", "de", tmp_path / "kurz.wav")
    with pytest.raises(openai.BadRequestError) as err, audio.open("rb") as f:
        client.audio.transcriptions.create(model="whisper-1", file=f, language="klingonisch")
    assert err.value.body["param"] == "language"


def test_the_interpreter_transcribes_and_translates(tmp_path, real_engines) -> None:
    """Two conversations at once, each with its own speech; each gets its own words back."""
    app = create_app(make_settings(tmp_path / "data"), engines=real_engines, mount_ui=False)
    app.state.services.accounts.add("berater", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("berater")
    auth = {"Authorization": f"Bearer {key}"}
    # two counsellors (one person holds one interpreter place: speech.max_interpreters_per_person)
    app.state.services.accounts.add("beraterin", "staff", "geheim123")
    other = {"Authorization": f"Bearer {app.state.services.accounts.create_key('beraterin')[0]}"}
    from models.speech import decode

    german = decode(speak(GERMAN, "de", tmp_path / "a.wav").read_bytes())
    english = decode(speak(ENGLISH, "en", tmp_path / "b.wav").read_bytes())
    with TestClient(app) as client, client.websocket_connect("/api/interpret", headers=auth) as one, \
            client.websocket_connect("/api/interpret", headers=other) as two:
        for ws, pair in ((one, ["de", "uk"]), (two, ["en", "de"])):
            assert ws.receive_json()["type"] == "ready"
            ws.send_text(json.dumps({"type": "languages", "languages": pair}))
            ws.send_text(json.dumps({"type": "start", "speaker": "a"}))
        data = [pcm16(german), pcm16(english)]
        for start in range(0, max(map(len, data)), 3200):  # both speak at the same time
            for ws, pcm in zip((one, two), data, strict=True):
                if start < len(pcm):
                    ws.send_bytes(pcm[start:start + 3200])
        for ws in (one, two):
            ws.send_text(json.dumps({"type": "stop"}))
        results = []
        for ws in (one, two):
            seen = []
            while not seen or seen[-1]["type"] != "done":
                seen.append(ws.receive_json())
            results.append(seen)
    for seen, text, other in zip(results, (GERMAN, ENGLISH), (ENGLISH, GERMAN), strict=True):
        final = next(m for m in seen if m["type"] == "final")
        # the live path is greedy and two conversations share 2 cores: the benchmark's interpreter WER on
        # espeak-ng's voice is about 0.5, so ask for its own words back (at least half), not for a WER
        heard = set(words(final["committed"]))
        own, foreign = heard & set(words(text)), heard & set(words(other))
        assert len(own) >= len(set(words(text))) / 2 and len(own) > len(foreign), final["committed"]
        translations = [m for m in seen if m["type"] == "translation"]
        assert translations and all(m["text"].strip() for m in translations)
        assert " ".join(m["source"] for m in translations) == final["committed"]
    assert {m["language"] for m in results[0] if m["type"] == "translation"} == {"uk"}
    assert {m["language"] for m in results[1] if m["type"] == "translation"} == {"de"}


def test_a_client_that_leaves_stops_its_transcription(tmp_path, real_engines) -> None:
    """A script gives up on a long recording: the box stops at the next 30 s window, not at the end."""
    import subprocess
    import threading

    import httpx

    from models.speech import Cancelled
    from tests.support.server import LiveServer

    real = real_engines.transcribers["whisper-base"]
    stopped = threading.Event()

    class Watching:
        id, device, languages = real.id, real.device, real.languages

        def transcribe(self, audio, **kwargs):
            try:
                return real.transcribe(audio, **kwargs)
            except Cancelled:
                stopped.set()
                raise

    real_engines.transcribers = {"whisper-base": Watching()}
    sentence = speak(GERMAN + " " + GERMAN, "de", tmp_path / "satz.wav")
    long = tmp_path / "lang.flac"  # about two minutes of speech
    subprocess.run(["sox", str(sentence), str(long), "repeat", "12"], check=True)
    app = create_app(make_settings(tmp_path / "data"), engines=real_engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    with LiveServer(app) as server:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{server.url}/v1/audio/transcriptions", headers={"Authorization": f"Bearer {key}"},
                       files={"file": ("lang.flac", long.read_bytes())}, data={"language": "de"}, timeout=3)
        assert stopped.wait(60), "the transcription went on after its client had left"
