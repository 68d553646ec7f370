"""The official openai client against a live server with the small real models."""

import time

import httpx
import openai
import pytest

from tests.support.paths import TEST_CHAT, TEST_EMBED, TEST_SPEECH

pytestmark = pytest.mark.models


@pytest.fixture
def client(openai_client):
    return openai_client


def test_models(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == [TEST_CHAT, TEST_EMBED, TEST_SPEECH]


def test_chat_completion(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model=TEST_CHAT, messages=[{"role": "user", "content": "Say hello."}], max_tokens=12, temperature=0, seed=3
    )
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content.strip()
    assert r.usage.completion_tokens <= 12 and r.usage.prompt_tokens > 0
    assert r.choices[0].finish_reason in ("stop", "length")


def test_default_model_answers_when_none_is_named(live_server, client: openai.OpenAI) -> None:
    r = httpx.post(f"{live_server.url}/v1/chat/completions", headers={"Authorization": f"Bearer {client.api_key}"},
                   json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 3}, timeout=60)
    assert r.status_code == 200 and r.json()["model"] == TEST_CHAT


def test_streaming_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=TEST_CHAT, messages=[{"role": "system", "content": "You are brief."},
                                   {"role": "user", "content": "Name three colours."}],
        max_tokens=24, temperature=0.2, top_p=0.9, stream=True, stream_options={"include_usage": True},
    )
    pieces, usage, reasons = [], None, []
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            pieces.append(choice.delta.content or "")
            if choice.finish_reason:
                reasons.append(choice.finish_reason)
    assert "".join(pieces).strip()
    assert len([p for p in pieces if p]) > 1  # it really streamed
    assert reasons in (["stop"], ["length"])
    assert usage is not None and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_stop_sequence(client: openai.OpenAI) -> None:
    count = [{"role": "user", "content": "Count from 1 to 10, separated by commas."}]
    full = client.chat.completions.create(model=TEST_CHAT, messages=count, max_tokens=40, temperature=0)
    assert "4, 5" in full.choices[0].message.content  # what the stop is tried on
    r = client.chat.completions.create(model=TEST_CHAT, messages=count, max_tokens=40, temperature=0, stop=["5"])
    assert r.choices[0].message.content.rstrip().endswith("4,")
    assert r.choices[0].finish_reason == "stop"


def test_embeddings_float_and_base64(client: openai.OpenAI) -> None:
    texts = ["Die Pflegekraft misst den Blutdruck.", "Blutdruckmessung durch die Pflege.", "Der Zug fährt ab."]
    floats = client.embeddings.create(model=TEST_EMBED, input=texts, encoding_format="float")
    b64 = client.embeddings.create(model=TEST_EMBED, input=texts)  # the client asks for base64 and decodes it
    a, b, c = (d.embedding for d in floats.data)
    assert len(a) == 384
    assert b64.data[0].embedding == pytest.approx(a, abs=1e-5)
    dot = lambda x, y: sum(i * j for i, j in zip(x, y, strict=True))  # noqa: E731
    assert dot(a, b) > dot(a, c)
    assert floats.usage.prompt_tokens > 0


def test_errors_map_to_the_client_exceptions(client: openai.OpenAI, live_server) -> None:
    msg = [{"role": "user", "content": "Hi"}]
    with pytest.raises(openai.NotFoundError) as nf:
        client.chat.completions.create(model="gpt-4o", messages=msg)
    assert nf.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as br:
        client.chat.completions.create(model=TEST_CHAT, messages=msg, max_tokens=5000)
    assert br.value.code == "context_length_exceeded"
    assert "2048" in br.value.message and "5000" in br.value.message
    with pytest.raises(openai.UnprocessableEntityError) as ue:
        client.chat.completions.create(model=TEST_CHAT, messages=[])
    assert ue.value.param == "messages"
    bad = openai.OpenAI(base_url=client.base_url, api_key="sk-box-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_a_client_that_disconnects_stops_its_generation(client: openai.OpenAI, live_server) -> None:
    model = live_server.app.state.services.models.engines.chat(TEST_CHAT)
    body = {"model": TEST_CHAT, "stream": True, "max_tokens": 1500, "temperature": 0.8,
            "messages": [{"role": "user", "content": "Tell a very long story about a lighthouse."}]}
    with httpx.Client(timeout=60) as http, http.stream(
        "POST", f"{live_server.url}/v1/chat/completions", json=body,
        headers={"Authorization": f"Bearer {client.api_key}"},
    ) as r:
        assert r.status_code == 200
        lines = r.iter_lines()
        for line in lines:
            if '"content":"' in line and '"content":""' not in line:
                break
        assert model.busy
    deadline = time.monotonic() + 10
    while model.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not model.busy, "generation went on after the client left"
