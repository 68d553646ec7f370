"""Reading aloud with a real Piper voice (en_US joe, fetched by `make setup`) next to espeak-ng."""

from __future__ import annotations

import io
import wave

import httpx
import numpy as np
import pytest

from appliance.engines import load_voice
from appliance.server import create_app
from models.catalog import load_catalog
from models.espeak_voice import EspeakVoice
from models.speech import decode
from tests.support.paths import TEST_VOICE, require_models
from tests.support.settings import make_settings

pytestmark = pytest.mark.models
TEXT = "Good morning, how are you?"


def pcm(wav: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(wav)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        return w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


async def test_a_piper_voice_reads_english_and_espeak_german(tmp_path, fake_engines, real_transcriber) -> None:
    require_models(TEST_VOICE)
    settings = make_settings(tmp_path / "data", voices=[TEST_VOICE])
    fake_engines.voices.update(load_voice(settings, load_catalog().get(TEST_VOICE)))  # as load_engines does
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        r = await api.post("/api/speech/say", json={"text": TEXT, "language": "en"})
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        rate, samples = pcm(r.content)
        assert rate == fake_engines.voices["en"].sample_rate == 22050  # from the voice's .onnx.json
        assert 1.0 < len(samples) / rate < 5.0 and np.abs(samples).max() > 3000  # about two seconds, not silent
        # not espeak-ng (whose output for the same text is deterministic): Piper's own voice
        assert r.content != EspeakVoice("en").speak(TEXT)
        # and it says what it was given
        heard = " ".join(s.text for s in real_transcriber.transcribe(decode(r.content), language="en").segments)
        assert "good morning" in heard.casefold()

        r = await api.post("/api/speech/say", json={"text": "Guten Morgen, wie geht es Ihnen?", "language": "de"})
        assert r.status_code == 200
        assert r.content == EspeakVoice("de").speak("Guten Morgen, wie geht es Ihnen?")  # espeak-ng, byte for byte

        by_code = {e["code"]: e for e in (await api.get("/api/interpret/languages")).json()["languages"]}
        assert by_code["en"]["voice"] and by_code["de"]["voice"]
