"""Structured output (OpenAI's response_format) through the official client, kept to by a llama.cpp
grammar, also for several requests in one batch. The schemas bound every answer's length, so the
small model cannot be cut off before it is complete: each answer must parse and follow its schema."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

from tests.support.paths import TEST_CHAT

pytestmark = pytest.mark.models

MOOD = {
    "type": "object",
    "properties": {"stimmung": {"enum": ["gut", "mittel", "schlecht"]},
                   "schmerz": {"enum": list(range(10))},
                   "hilfe_noetig": {"type": "boolean"}},
    "required": ["stimmung", "schmerz", "hilfe_noetig"],
    "additionalProperties": False,
}
NOTE = "Frau K. hat gut geschlafen, klagt über leichte Knieschmerzen und braucht Hilfe beim Aufstehen."


def _ask(client: openai.OpenAI, seed: int, stream: bool = False) -> tuple[str, str]:
    kwargs = {"model": TEST_CHAT, "max_tokens": 120, "temperature": 0.9, "seed": seed,
              "messages": [{"role": "user", "content": f"Fasse als JSON zusammen: {NOTE}"}],
              "response_format": {"type": "json_schema", "json_schema": {"name": "befinden", "schema": MOOD}}}
    if not stream:
        r = client.chat.completions.create(**kwargs)
        return r.choices[0].message.content, r.choices[0].finish_reason
    text, reason = "", None
    for chunk in client.chat.completions.create(**kwargs, stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            reason = choice.finish_reason or reason
    return text, reason


def _follows(text: str) -> None:
    answer = json.loads(text)
    assert set(answer) == {"stimmung", "schmerz", "hilfe_noetig"}, answer
    assert answer["stimmung"] in ("gut", "mittel", "schlecht") and 0 <= answer["schmerz"] <= 9
    assert isinstance(answer["hilfe_noetig"], bool)


def test_a_json_schema_is_followed_in_one_batch_and_streamed(openai_client: openai.OpenAI) -> None:
    with ThreadPoolExecutor(4) as pool:  # four at once: one grammar per sequence of the batch
        answers = list(pool.map(lambda seed: _ask(openai_client, seed), range(1, 5)))
    for text, reason in answers:
        assert reason == "stop", text
        _follows(text)
    text, reason = _ask(openai_client, 7, stream=True)
    assert reason == "stop"
    _follows(text)


def test_json_object_starts_as_an_object(openai_client: openai.OpenAI) -> None:
    r = openai_client.chat.completions.create(
        model=TEST_CHAT, max_tokens=80, temperature=0, seed=1, response_format={"type": "json_object"},
        messages=[{"role": "user", "content": "Gib Name und Alter von Anna (12) als JSON an."}])
    text = r.choices[0].message.content
    assert text.lstrip().startswith("{")
    if r.choices[0].finish_reason == "stop":  # a free object has no bound: when it ended, it is whole
        assert isinstance(json.loads(text), dict)


@pytest.mark.parametrize(("schema", "says"), [
    ({"$defs": {"n": {"type": "object", "properties": {"c": {"$ref": "#/$defs/n"}}}}, "$ref": "#/$defs/n"},
     "verweist auf"),
    ({"type": "banana"}, "nicht als Grammatik"),
    ({"type": "array", "minItems": 100000}, "minItems"),
    ({"$ref": "https://example.org/schema.json"}, "nichts wird geladen"),
    ({"type": "integer", "minimum": 0, "maximum": 9}, "„minimum“ kann die Grammatik nicht"),
])
def test_a_schema_that_cannot_be_followed_is_a_400_naming_the_part(openai_client, schema, says) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.chat.completions.create(
            model=TEST_CHAT, max_tokens=20, messages=[{"role": "user", "content": "Hallo"}],
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})
    error = caught.value.body
    assert error["code"] == "invalid_response_format" and error["param"].startswith("response_format")
    assert says in error["message"]
