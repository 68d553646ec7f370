"""/v1/audio/transcriptions and reading aloud over the fake transcriber: formats, limits, bad input.

The fake hears one counted word per half second of sound, so every format can be checked
exactly; the audio itself is really decoded (PyAV), so "not audio" and the limits are real.
"""

from __future__ import annotations

import tempfile

import httpx
import pytest

from appliance.server import create_app
from tests.support.settings import make_settings
from tests.support.speech import silence, tone, wav_bytes

URL = "/v1/audio/transcriptions"


def client_for(app) -> httpx.AsyncClient:
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                             headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
async def api(tmp_path, fake_engines):
    app = create_app(make_settings(tmp_path / "data"), engines=fake_engines, mount_ui=False)
    async with client_for(app) as client:
        yield client


def upload(data: bytes, name: str = "aufnahme.wav", **fields: str) -> dict:
    return {"files": {"file": (name, data, "audio/wav")}, "data": fields}


async def test_json_is_the_default_format(api) -> None:
    r = await api.post(URL, **upload(wav_bytes(tone(2.0))))
    assert r.status_code == 200
    assert r.json() == {"text": "Eins zwei drei vier."}


async def test_text_verbose_srt_and_vtt(api) -> None:
    audio = wav_bytes(tone(3.0))
    r = await api.post(URL, **upload(audio, response_format="text"))
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "Eins zwei drei vier. fünf sechs"

    r = await api.post(URL, **upload(audio, response_format="verbose_json", language="de", temperature="0,2"))
    body = r.json()
    assert body["language"] == "de" and body["duration"] == 3.0 and body["task"] == "transcribe"
    assert [(s["start"], s["end"], s["text"]) for s in body["segments"]] == [
        (0.0, 2.0, "Eins zwei drei vier."), (2.0, 3.0, "fünf sechs")]
    assert body["segments"][0]["temperature"] == 0.2

    r = await api.post(URL, **upload(audio, response_format="srt"))
    assert r.text == ("1\n00:00:00,000 --> 00:00:02,000\nEins zwei drei vier.\n\n"
                      "2\n00:00:02,000 --> 00:00:03,000\nfünf sechs\n")
    r = await api.post(URL, **upload(audio, response_format="vtt"))
    assert r.headers["content-type"].startswith("text/vtt")
    assert r.text.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nEins zwei drei vier.\n")


async def test_openai_model_names_mean_the_box_model(api) -> None:
    assert (await api.post(URL, **upload(wav_bytes(tone(0.5)), model="whisper-1"))).json() == {"text": "eins"}
    assert (await api.post(URL, **upload(wav_bytes(tone(0.5)), model="fake-speech"))).status_code == 200
    r = await api.post(URL, **upload(wav_bytes(tone(0.5)), model="whisper-large"))
    assert r.status_code == 404
    assert r.json()["error"]["param"] == "model" and "fake-speech" in r.json()["error"]["message"]


async def test_models_list_speech(api) -> None:
    cards = (await api.get("/v1/models")).json()["data"]
    assert {"id": "fake-speech", "kind": "speech"}.items() <= next(c for c in cards if c["kind"] == "speech").items()


async def test_empty_and_silent_files_give_an_empty_text(api) -> None:
    assert (await api.post(URL, **upload(b""))).json() == {"text": ""}
    assert (await api.post(URL, **upload(wav_bytes(silence(3.0))))).json() == {"text": ""}
    r = await api.post(URL, **upload(wav_bytes(silence(1.0)), response_format="srt"))
    assert r.status_code == 200 and r.text == ""


@pytest.mark.parametrize("data, name", [
    (b"%PDF-1.7\n1 0 obj << >> endobj\n", "befund.pdf"),
    (b"Nur ein Text, keine Aufnahme.\n" * 50, "notiz.wav"),
    (bytes(range(256)) * 40, "kaputt.mp3"),
])
async def test_not_audio_is_415_naming_the_file(api, data: bytes, name: str) -> None:
    r = await api.post(URL, **upload(data, name))
    assert r.status_code == 415
    error = r.json()["error"]
    assert error["param"] == "file" and error["code"] == "unsupported_media_type" and name in error["message"]


async def test_bad_fields_name_the_field(api) -> None:
    r = await api.post(URL, data={"model": "whisper-1"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "file"
    r = await api.post(URL, json={"file": "x"})
    assert r.status_code == 400 and "multipart" in r.json()["error"]["message"]
    r = await api.post(URL, **upload(wav_bytes(tone(0.5)), response_format="docx"))
    assert r.status_code == 400 and r.json()["error"]["param"] == "response_format"
    for value in ("heiß", "2", "-0.1"):
        r = await api.post(URL, **upload(wav_bytes(tone(0.5)), temperature=value))
        assert r.status_code == 400 and r.json()["error"]["param"] == "temperature"
    r = await api.post(URL, files={"file": ("a.wav", wav_bytes(tone(0.5))), "language": ("x.txt", b"de")})
    assert r.status_code == 400 and r.json()["error"]["param"] == "language"


async def test_needs_a_key(api) -> None:
    r = await api.post(URL, **upload(wav_bytes(tone(0.5))), headers={"Authorization": ""})
    assert r.status_code == 401


async def test_size_and_length_limits(tmp_path, fake_engines) -> None:
    settings = make_settings(tmp_path / "data")
    settings.speech.max_upload_mb = 1
    settings.speech.max_minutes = 1
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    async with client_for(app) as api:
        r = await api.post(URL, **upload(wav_bytes(tone(80.0))))  # 2.6 MB: over 1 MB and the form slack
        assert r.status_code == 413 and "1 MB" in r.json()["error"]["message"]
        # 70 s of 8 kHz audio is under 1 MB, but longer than a minute
        r = await api.post(URL, **upload(wav_bytes(tone(70.0, rate=8000), rate=8000)))
        assert r.status_code == 413
        error = r.json()["error"]
        assert error["code"] == "audio_too_long" and "höchstens 1 Minuten" in error["message"]
        # the limit is in the message in English too
        r = await api.post(URL, **upload(wav_bytes(tone(70.0, rate=8000), rate=8000)),
                           headers={"Accept-Language": "en"})
        assert "at most 1 minutes" in r.json()["error"]["message"]


async def test_audio_never_touches_the_disk(api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 3 MB upload is larger than Starlette's 1 MB spool: it must still stay in memory."""

    def no_files(*args, **kwargs):
        raise AssertionError("a temporary file was created for the audio")

    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, no_files)
    r = await api.post(URL, **upload(wav_bytes(tone(95.0))))
    assert r.status_code == 200 and r.json()["text"].startswith("Eins zwei drei vier.")


async def test_read_aloud(api) -> None:
    r = await api.post("/api/speech/say", json={"text": "Guten Morgen, wie geht es Ihnen?", "language": "de"})
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    wav = r.content
    assert wav[:4] == b"RIFF" and int.from_bytes(wav[4:8], "little") == len(wav) - 8  # a header with real sizes
    r = await api.post("/api/speech/say", json={"text": "Hallo", "language": "tlh"})
    assert r.status_code == 404 and r.json()["error"]["param"] == "language"
    r = await api.post("/api/speech/say", json={"text": "", "language": "de"})
    assert r.status_code == 422
    languages = (await api.get("/api/interpret/languages")).json()["languages"]
    by_code = {entry["code"]: entry for entry in languages}
    assert by_code["uk"]["name"] == "Українська" and by_code["ar"]["rtl"] and by_code["de"]["voice"]


async def test_read_aloud_can_be_turned_off(tmp_path, fake_engines) -> None:
    settings = make_settings(tmp_path / "data")
    settings.speech.read_aloud = False
    async with client_for(create_app(settings, engines=fake_engines, mount_ui=False)) as api:
        r = await api.post("/api/speech/say", json={"text": "Hallo", "language": "de"})
        assert r.status_code == 403 and "speech.read_aloud" in r.json()["error"]["message"]


async def test_a_full_line_of_transcriptions_gets_503(tmp_path, fake_engines) -> None:
    """One at a time, one waiting: the third of three at once is told to come back."""
    import asyncio
    import time

    from models.fake_speech import FakeTranscriber

    class Slow(FakeTranscriber):
        def transcribe(self, audio, **kwargs):
            time.sleep(0.5)
            return super().transcribe(audio, **kwargs)

    fake_engines.transcribers = {"slow": Slow("slow")}
    settings = make_settings(tmp_path / "data")
    settings.speech.workers, settings.speech.max_queue = 1, 1
    async with client_for(create_app(settings, engines=fake_engines, mount_ui=False)) as api:
        answers = await asyncio.gather(*(api.post(URL, **upload(wav_bytes(tone(0.5)))) for _ in range(3)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 200, 503]
        busy = next(r for r in answers if r.status_code == 503)
        assert busy.headers["retry-after"] == "60" and busy.json()["error"]["code"] == "queue_full"
        assert (await api.post(URL, **upload(wav_bytes(tone(0.5))))).status_code == 200  # and then there is room


async def test_a_loaded_voice_reads_its_language_and_espeak_the_others(tmp_path, fake_engines) -> None:
    """The voice of models.voices (here the shipped fake, at 16 kHz) speaks English; German stays espeak-ng's."""
    import io
    import wave

    from models.voice import FakeVoice

    fake_engines.voices["en"] = FakeVoice("en", sample_rate=16000)
    async with client_for(create_app(make_settings(tmp_path / "data"), engines=fake_engines, mount_ui=False)) as api:
        r = await api.post("/api/speech/say", json={"text": "Good morning, how are you?", "language": "en"})
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(r.content)) as wav:
            assert (wav.getframerate(), wav.getnframes()) == (16000, 5 * 1600)
        r = await api.post("/api/speech/say", json={"text": "Guten Morgen", "language": "de"})
        with wave.open(io.BytesIO(r.content)) as wav:
            assert wav.getframerate() == 22050  # espeak-ng's rate
        by_code = {e["code"]: e for e in (await api.get("/api/interpret/languages")).json()["languages"]}
        assert by_code["en"]["voice"] and by_code["de"]["voice"]


async def test_one_person_cannot_queue_ahead_of_everyone(tmp_path, fake_engines) -> None:
    """Two of one person's recordings run or wait at once (speech.max_queue_per_person); a third of
    hers is told to wait, while a colleague's still gets in line. Held on an event, not on time."""
    import asyncio
    import threading

    from models.fake_speech import FakeTranscriber

    go = threading.Event()

    class Held(FakeTranscriber):
        def transcribe(self, audio, **kwargs):
            go.wait(30)
            return super().transcribe(audio, **kwargs)

    fake_engines.transcribers = {"held": Held("held")}
    settings = make_settings(tmp_path / "data")
    settings.speech.workers, settings.speech.max_queue = 1, 8
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    async with client_for(app) as api:
        accounts = app.state.services.accounts
        accounts.add("kollegin", "staff", "geheim123")
        colleague = {"Authorization": f"Bearer {accounts.create_key('kollegin')[0]}"}
        turns = app.state.services.transcription.turns
        mine = [asyncio.create_task(api.post(URL, **upload(wav_bytes(tone(0.5))))) for _ in range(2)]
        async with asyncio.timeout(30):  # only against a hang: the loops end on the queue's state
            while turns._mine.get("anna", 0) < 2:  # both of hers are in (one running, one waiting)
                await asyncio.sleep(0.01)
        third = await api.post(URL, **upload(wav_bytes(tone(0.5))))
        assert third.status_code == 503 and "Von Ihnen werden schon 2" in third.json()["error"]["message"]
        theirs = asyncio.create_task(api.post(URL, headers=colleague, **upload(wav_bytes(tone(0.5)))))
        async with asyncio.timeout(30):
            while "kollegin" not in turns._mine:
                await asyncio.sleep(0.01)
        go.set()
        assert [r.status_code for r in await asyncio.gather(*mine, theirs)] == [200, 200, 200]
