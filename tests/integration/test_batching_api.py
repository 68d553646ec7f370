"""The batching engine through the HTTP API, with the small real model: bursts beyond the queue,
clients that leave early or while waiting, extreme answer lengths, stop strings across tokens."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

import httpx
import openai
import pytest

from benchmarks.load import burst, chat_body
from tests.support.paths import TEST_CHAT
from tests.support.server import LiveServer
from tests.support.settings import make_settings

pytestmark = pytest.mark.models

STORY = [{"role": "user", "content": "Tell a very long story about a lighthouse."}]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.fixture
def box(tmp_path: Path):
    """A live server on its own engine: 4 sequences, 32 waiting places (make_settings' 2,048 context)."""
    from appliance.engines import load_engines
    from appliance.server import create_app

    settings = make_settings(tmp_path / "data", embedding="", speech=[], parallel=4, max_queue=32)
    engines = load_engines(settings)
    app = create_app(settings, engines=engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    with LiveServer(app) as server:
        server.key = key
        server.model = engines.chat(TEST_CHAT)
        yield server
    engines.close()


def wait_free(model, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while model.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    return not model.busy


def test_a_burst_beyond_the_queue_is_refused_at_once_and_nothing_hangs(box) -> None:
    body = chat_body(TEST_CHAT, STORY, 8)
    asyncio.run(burst(box.url, box.key, body, 40, timeout_s=120))  # the allocator's pools warmed up
    gc.collect()
    before = rss_mb()

    started = time.monotonic()
    samples = asyncio.run(burst(box.url, box.key, body, 200, timeout_s=180))
    assert time.monotonic() - started < 180
    statuses = {s.status for s in samples}
    assert statuses <= {200, 503}, statuses
    served = [s for s in samples if s.status == 200]
    refused = [s for s in samples if s.status == 503]
    assert len(served) >= 20 and len(refused) >= 100, (len(served), len(refused))
    assert all(s.tokens == 8 for s in served)  # every answer that began was written to the end
    assert all(s.retry_after and int(s.retry_after) > 0 for s in refused)
    assert max(s.total for s in refused) < 10, "a refusal should come at once, not after waiting"

    assert wait_free(box.model, 10)
    gc.collect()
    assert rss_mb() - before < 64, f"memory grew from {before:.0f} MB to {rss_mb():.0f} MB"
    r = httpx.post(f"{box.url}/v1/chat/completions", json={**body, "stream": False}, timeout=60,
                   headers={"Authorization": f"Bearer {box.key}"})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 8


async def _leave_after_first_token(url: str, key: str, count: int) -> int:
    body = chat_body(TEST_CHAT, STORY, 500)

    async def one(client: httpx.AsyncClient) -> bool:
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body,
                                 headers={"Authorization": f"Bearer {key}"}) as r:
            async for line in r.aiter_lines():
                if '"content":"' in line and '"content":""' not in line:
                    return True  # leaving the block closes the connection
        return False

    async with httpx.AsyncClient(timeout=120) as client:
        return sum(await asyncio.gather(*(one(client) for _ in range(count))))


def test_clients_that_leave_after_the_first_token_free_their_sequences(box) -> None:
    assert asyncio.run(_leave_after_first_token(box.url, box.key, 8)) == 8
    assert wait_free(box.model, 10), "sequences of clients that left kept writing"


def test_a_client_that_leaves_while_waiting_never_runs(tmp_path: Path) -> None:
    from appliance.engines import load_engines
    from appliance.server import create_app

    settings = make_settings(tmp_path / "data", embedding="", speech=[], parallel=1, max_queue=4)
    engines = load_engines(settings)
    app = create_app(settings, engines=engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    model = engines.chat(TEST_CHAT)
    auth = {"Authorization": f"Bearer {key}"}
    try:
        with LiveServer(app) as server, httpx.Client(timeout=60) as http, http.stream(
            "POST", f"{server.url}/v1/chat/completions", json=chat_body(TEST_CHAT, STORY, 1500), headers=auth
        ) as first:
            lines = first.iter_lines()
            next(lines)  # the first request holds the only sequence
            assert model.stats["admitted"] == 1
            for stream in (True, False):
                with pytest.raises(httpx.ReadTimeout):  # waits in the queue, then gives up
                    httpx.post(f"{server.url}/v1/chat/completions", headers=auth, timeout=1.0,
                               json={**chat_body(TEST_CHAT, STORY, 1500), "stream": stream})
                deadline = time.monotonic() + 5
                while model._scheduler.waiting and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert model._scheduler.waiting == 0, "a request whose client left still waits"
            assert model.stats["admitted"] == 1  # neither of them ever ran
        assert wait_free(model, 10)
    finally:
        engines.close()


def test_answer_lengths_at_the_limits(box) -> None:
    client = openai.OpenAI(base_url=f"{box.url}/v1", api_key=box.key, max_retries=0)
    messages = [{"role": "user", "content": "Count from 1 to 100."}]
    one = client.chat.completions.create(model=TEST_CHAT, messages=messages, max_tokens=1, temperature=0)
    assert one.usage.completion_tokens == 1 and one.choices[0].finish_reason == "length"

    with pytest.raises(openai.BadRequestError) as err:  # the whole context leaves no room for the prompt
        client.chat.completions.create(model=TEST_CHAT, messages=messages, max_tokens=2048)
    assert err.value.code == "context_length_exceeded" and err.value.param == "max_tokens"

    prompt = one.usage.prompt_tokens
    stream = client.chat.completions.create(model=TEST_CHAT, messages=messages, max_tokens=2048 - prompt,
                                            stream=True)
    assert any(chunk.choices and chunk.choices[0].delta.content for chunk in stream)  # all that is left: fine
    stream.close()
    assert wait_free(box.model, 10)


def test_a_stop_string_across_tokens_cuts_exactly(box) -> None:
    client = openai.OpenAI(base_url=f"{box.url}/v1", api_key=box.key, max_retries=0)
    messages = [{"role": "user", "content": "Write one short sentence about the sea."}]
    full = client.chat.completions.create(model=TEST_CHAT, messages=messages, max_tokens=40, temperature=0)
    text = full.choices[0].message.content
    words = text.split()
    assert len(words) >= 4, text
    # the end of one word, the space and the start of the next: no single token holds all of it
    stop = f"{words[1][-2:]} {words[2][:2]}"
    cut = client.chat.completions.create(model=TEST_CHAT, messages=messages, max_tokens=40, temperature=0,
                                         stop=[stop])
    out = cut.choices[0].message.content
    assert cut.choices[0].finish_reason == "stop"
    assert stop not in out
    assert text.startswith(out) and len(out) == text.index(stop)
