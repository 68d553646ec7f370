"""An English-only site: whisper-tiny.en (the real model) configured as its only speech model.

The models are loaded the way `appliance serve` loads them (load_engines from the settings), and
the openai client talks to a live server.
"""

from __future__ import annotations

import openai
import pytest

from appliance.engines import load_engines
from appliance.server import create_app
from tests.support.paths import TEST_CHAT, require_models
from tests.support.server import LiveServer
from tests.support.settings import make_settings
from tests.support.speech import ENGLISH, speak, wer

pytestmark = pytest.mark.models

TINY = "whisper-tiny.en"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    require_models(TINY)
    settings = make_settings(tmp_path_factory.mktemp("site"), chat=[TEST_CHAT], embedding=None, speech=[TINY])
    engines = load_engines(settings)
    app = create_app(settings, engines=engines, mount_ui=False)
    app.state.services.accounts.add("carer", "staff", "secret123")
    key, _ = app.state.services.accounts.create_key("carer")
    with LiveServer(app) as server:
        yield openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=120)
    engines.close()


def test_tiny_en_transcribes_english_as_the_sites_only_speech_model(client, tmp_path) -> None:
    assert TINY in {m.id for m in client.models.list()}
    audio = speak(ENGLISH, "en", tmp_path / "parents-evening.wav")
    for model in ("whisper-1", TINY):  # the openai name means the site's first speech model
        with audio.open("rb") as f:
            result = client.audio.transcriptions.create(model=model, file=f, response_format="verbose_json")
        assert result.language == "en"
        assert wer(ENGLISH, result.text) <= 0.35, result.text


def test_tiny_en_refuses_another_language_and_names_what_it_understands(client, tmp_path) -> None:
    audio = speak("Guten Morgen.", "de", tmp_path / "german.wav")
    with pytest.raises(openai.BadRequestError) as err, audio.open("rb") as f:
        client.audio.transcriptions.create(model=TINY, file=f, language="de")
    assert err.value.body["param"] == "language"
    assert TINY in err.value.body["message"] and "en" in err.value.body["message"]
