"""The HTTP API over the deterministic fakes: contract, errors and authentication."""

import base64
import json
import struct

import httpx
import pytest

from appliance.server import create_app


@pytest.fixture
async def api(settings, fake_engines):
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        client.app = app
        client.key = key
        yield client


def chat_body(**extra: object) -> dict:
    return {"messages": [{"role": "user", "content": "Guten Morgen Welt"}], **extra}


async def test_health_needs_no_key(api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(transport=api._transport, base_url="http://box") as anon:
        assert (await anon.get("/healthz")).json() == {"status": "ok"}
        ready = await anon.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        r = await anon.get("/v1/models")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "invalid_api_key"
        assert r.headers["www-authenticate"] == "Bearer"


async def test_readyz_is_503_while_loading(settings) -> None:
    app = create_app(settings, engines=None, mount_ui=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "loading"


async def test_a_failed_load_is_reported_without_the_servers_paths(settings) -> None:
    app = create_app(settings, engines=None, mount_ui=False)
    app.state.services.models.failed(f"{settings.models_dir}/missing/model.gguf fehlt")  # as _load reports it
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "failed"
    assert "doctor" in r.json()["error"] and str(settings.models_dir) not in r.text


async def test_wrong_and_revoked_key(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/models", headers={"Authorization": "Bearer sk-box-falsch"})
    assert r.status_code == 401
    assert "API-Schlüssel" in r.json()["error"]["message"]
    api.app.state.services.accounts.revoke_key(api.key)
    assert (await api.get("/v1/models")).status_code == 401


async def test_models_list(api: httpx.AsyncClient) -> None:
    data = (await api.get("/v1/models")).json()
    assert data["object"] == "list"
    assert [(m["id"], m["kind"]) for m in data["data"]] == [
        ("fake-chat", "chat"), ("fake-embedding", "embedding"), ("fake-speech", "speech")]


async def test_a_caller_picks_the_embedder_by_id(settings, fake_engines) -> None:
    """models.extra_embeddings: further embedding models for the API (e.g. the one an application's own
    vectors were made with before the upgrade); no model named: the handbooks' one."""
    from models.embeddings import FakeEmbedder

    fake_engines.extra_embedders["all-minilm-l6-v2"] = FakeEmbedder("all-minilm-l6-v2", dimensions=16)
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        listed = [(m["id"], m["kind"]) for m in (await api.get("/v1/models")).json()["data"]]
        assert ("fake-embedding", "embedding") in listed and ("all-minilm-l6-v2", "embedding") in listed
        picked = (await api.post("/v1/embeddings", json={"input": "Hallo", "model": "all-minilm-l6-v2",
                                                         "encoding_format": "float"})).json()
        assert picked["model"] == "all-minilm-l6-v2" and len(picked["data"][0]["embedding"]) == 16
        default = (await api.post("/v1/embeddings", json={"input": "Hallo", "encoding_format": "float"})).json()
        assert default["model"] == "fake-embedding" and len(default["data"][0]["embedding"]) == 64
        r = await api.post("/v1/embeddings", json={"input": "Hallo", "model": "text-embedding-3-small"})
        assert r.status_code == 404 and "all-minilm-l6-v2" in r.json()["error"]["message"]


async def test_chat_completion(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/chat/completions", json=chat_body())
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "fake-chat"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Echo: Guten Morgen Welt"}
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 4
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 4


async def test_max_tokens_and_stop(api: httpx.AsyncClient) -> None:
    r = (await api.post("/v1/chat/completions", json=chat_body(max_tokens=2))).json()
    assert r["choices"][0]["message"]["content"] == "Echo: Guten"
    assert r["choices"][0]["finish_reason"] == "length"
    r = (await api.post("/v1/chat/completions", json=chat_body(stop=["Welt"]))).json()
    assert r["choices"][0]["message"]["content"] == "Echo: Guten Morgen"


async def test_stream_sse_ends_with_done_and_usage(api: httpx.AsyncClient) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    async with api.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in r.aiter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Echo: Guten Morgen Welt"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 4


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"content": "x"}]}, "messages.0.role"),
        ({}, "messages"),
        (chat_body(temperature=5), "temperature"),
        (chat_body(max_tokens=0), "max_tokens"),
        (chat_body(n=2), "n"),
    ],
)
async def test_invalid_requests_name_the_field(api: httpx.AsyncClient, body: dict, param: str) -> None:
    r = await api.post("/v1/chat/completions", json=body)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["param"] == param
    assert param in err["message"]
    assert err["type"] == "invalid_request_error"


async def test_unknown_model_is_404(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/chat/completions", json=chat_body(model="gpt-4o"))
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "model_not_found" and "gpt-4o" in err["message"] and "fake-chat" in err["message"]


async def test_context_length_names_both_numbers(api: httpx.AsyncClient) -> None:
    long = {"messages": [{"role": "user", "content": "wort " * 600}]}
    r = await api.post("/v1/chat/completions", json=long, headers={"Accept-Language": "en"})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "context_length_exceeded"
    assert "512" in err["message"] and "603" in err["message"]
    r = await api.post("/v1/chat/completions", json=chat_body(max_tokens=100000))
    assert r.status_code == 400
    assert "512" in r.json()["error"]["message"] and "100000" in r.json()["error"]["message"]


async def test_stream_errors_are_real_http_errors(api: httpx.AsyncClient) -> None:
    r = await api.post("/v1/chat/completions", json=chat_body(stream=True, max_tokens=100000))
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"


async def test_malformed_json_and_invalid_utf8(api: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json"}
    r = await api.post("/v1/chat/completions", content=b'{"messages": [', headers=headers)
    assert r.status_code == 400 and r.json()["error"]["code"] in ("invalid_json", "invalid_body")
    bad = b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}'
    r = await api.post("/v1/chat/completions", content=bad, headers=headers)
    assert r.status_code == 400 and "UTF-8" in r.json()["error"]["message"]


async def test_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    big = b"x" * (11 * 1024 * 1024)
    r = await api.post("/v1/chat/completions", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413


async def test_embeddings_float_and_base64(api: httpx.AsyncClient) -> None:
    r = (await api.post("/v1/embeddings", json={"input": ["Hallo Welt", "Guten Tag"]})).json()
    assert r["model"] == "fake-embedding" and len(r["data"]) == 2
    vec = r["data"][0]["embedding"]
    assert len(vec) == 64 and abs(sum(v * v for v in vec) - 1) < 1e-6
    b = (await api.post("/v1/embeddings", json={"input": "Hallo Welt", "encoding_format": "base64"})).json()
    decoded = struct.unpack("<64f", base64.b64decode(b["data"][0]["embedding"]))
    assert decoded == pytest.approx(vec, abs=1e-6)
    assert r["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"input": ""}, 422, "input"),
        ({"input": ["ok", " "]}, 422, "input.1"),
        ({"input": []}, 422, "input"),
        ({"input": "x", "model": "nomic"}, 404, "model"),
        ({"input": "wort " * 300}, 400, "input"),
    ],
)
async def test_embedding_errors(api: httpx.AsyncClient, body: dict, status: int, param: str) -> None:
    r = await api.post("/v1/embeddings", json=body)
    assert r.status_code == status
    assert r.json()["error"]["param"] == param


async def test_chunked_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    async def chunks():
        for _ in range(12):
            yield b"x" * (1024 * 1024)

    r = await api.post("/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"


async def test_empty_stop_string_is_ignored(api: httpx.AsyncClient) -> None:
    r = (await api.post("/v1/chat/completions", json=chat_body(stop=""))).json()
    assert r["choices"][0]["message"]["content"] == "Echo: Guten Morgen Welt"


async def test_lone_surrogate_is_422_not_500(api: httpx.AsyncClient) -> None:
    body = b'{"messages": [{"role": "user", "content": "Hallo \\ud800"}]}'
    r = await api.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["param"] == "messages.0.content"
    r = await api.post("/v1/embeddings", content=b'{"input": "\\udfff"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 422


async def test_accept_language_weights(api: httpx.AsyncClient) -> None:
    async def message(lang: str) -> str:
        r = await api.post("/v1/chat/completions", json=chat_body(model="nope"), headers={"Accept-Language": lang})
        return r.json()["error"]["message"]

    assert "gibt es hier nicht" in await message("de-DE,de;q=0.9,en;q=0.8")
    assert "does not exist" in await message("en-GB,en;q=0.9,de;q=0.5")
    assert "gibt es hier nicht" in await message("en;q=0.3,de;q=0.7")
    assert "gibt es hier nicht" in await message("fr")


async def test_unknown_api_paths_keep_the_envelope_with_the_ui_mounted(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines)  # the web UI is mounted at "/"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as c:
        r = await c.get("/v1/nope")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await c.get("/api/collections/x/y")
        assert r.status_code == 404 and "error" in r.json()
        r = await c.get("/v1/chat/completions")
        assert r.status_code == 405
        assert r.json()["error"]["type"] == "invalid_request_error" and "POST" in r.headers["allow"]
