"""Which response_format schemas become a grammar, and which are a 400 naming the part (before any
model runs; the real engine keeping to the grammar is tests/integration/test_structured_output.py)."""

from __future__ import annotations

import httpx
import pytest

from appliance.chat.structured import grammar_for
from appliance.infra.errors import ApiError
from appliance.server import create_app


def _schema(schema) -> dict:
    return {"type": "json_schema", "json_schema": {"schema": schema}}


def _deep(levels: int) -> dict:
    schema = node = {"type": "object", "properties": {}}
    for _ in range(levels):
        node["properties"]["x"] = {"type": "object", "properties": {}}
        node = node["properties"]["x"]
    return schema


@pytest.mark.parametrize("schema", [
    {"type": "object", "properties": {"datum": {"type": "string", "format": "date"},
                                      "minimum": {"type": "string"}}, "required": ["datum"]},  # a field's name
    {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
    {"type": "array", "items": {"enum": ["ja", "nein"]}, "maxItems": 5},
    {"$defs": {"p": {"type": "object", "properties": {"name": {"type": "string"}}}}, "$ref": "#/$defs/p"},
])
def test_schemas_llama_cpp_can_keep_to_become_a_grammar(schema) -> None:
    assert "root" in grammar_for(_schema(schema))


@pytest.mark.parametrize(("response_format", "part", "says"), [
    (_schema({"type": "integer", "minimum": 0}), "response_format.json_schema.schema", "schema.minimum"),
    (_schema({"type": "object", "properties": {"a": {"type": "array", "uniqueItems": True}}}),
     "response_format.json_schema.schema", "schema.properties.a.uniqueItems"),
    (_schema({"type": "string", "pattern": "^(a{100}){100}$"}), "response_format.json_schema.schema", "pattern"),
    (_schema({"type": "string", "pattern": "(("}), "response_format.json_schema.schema", "kein gültiger"),
    (_schema({"type": "array", "minItems": 10**9}), "response_format.json_schema.schema", "schema.minItems"),
    (_schema({"$ref": "#/$defs/fehlt"}), "response_format.json_schema.schema", "nicht als Grammatik"),
    (_schema({"type": "banana"}), "response_format.json_schema.schema", "nicht als Grammatik"),
    (_schema(_deep(20)), "response_format.json_schema.schema", "tiefer als"),
    ({"type": "json_schema"}, "response_format.json_schema.schema", "fehlt"),
    ({"type": "xml"}, "response_format.type", "gibt es nicht"),
])
def test_what_cannot_be_kept_to_is_a_400_naming_the_part(response_format, part, says) -> None:
    with pytest.raises(ApiError) as caught:
        grammar_for(response_format)
    assert caught.value.status == 400 and caught.value.param == part and caught.value.code == "invalid_response_format"
    assert says in caught.value.de


async def test_the_api_answers_the_400_in_its_envelope(settings, fake_engines) -> None:
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box",
                                 headers={"Authorization": f"Bearer {key}"}) as api:
        r = await api.post("/v1/chat/completions", json={
            "model": "fake-chat", "messages": [{"role": "user", "content": "Hallo"}], "stream": True,
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "banana"}}}})
    app.state.services.close()
    assert r.status_code == 400 and r.json()["error"]["param"] == "response_format.json_schema.schema"
