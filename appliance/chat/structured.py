"""Structured output (OpenAI's ``response_format``): a JSON object, or JSON following a schema, turned
into a GBNF grammar that llama.cpp keeps every token to. Schemas are checked first: their size and
depth, the numbers that would blow a grammar up, and whether llama.cpp's converter can express them;
what cannot be followed is a 400 that names the part."""

from __future__ import annotations

import json
import re._parser as _re
from typing import Any

from appliance.infra.errors import ApiError

MAX_SCHEMA_BYTES = 32_000
MAX_DEPTH = 16
MAX_REPEAT = 256  # minItems, maxItems, minLength, maxLength, min/maxProperties: each repeat is grammar
MAX_GRAMMAR_CHARS = 200_000
MAX_PATTERN_COPIES = 2_000
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
PARAM = "response_format.json_schema.schema"
# keywords llama.cpp's converter would silently leave out: an answer could break them, so they are refused
UNSUPPORTED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "uniqueItems", "not",
               "if", "then", "else", "patternProperties", "dependentRequired", "dependentSchemas", "contains",
               "minContains", "maxContains", "propertyNames", "unevaluatedProperties", "unevaluatedItems")


def _refused(de: str, en: str, param: str = PARAM) -> ApiError:
    return ApiError(400, de, en, code="invalid_response_format", param=param)


def _expansion(items, depth: int = 0) -> int:
    """How many copies of its parts a regular expression's counted repeats make (llama.cpp writes
    each copy out): the product along nested repeats, summed over the pattern."""
    total = 1
    for op, arg in items:
        if op in (_re.MAX_REPEAT, _re.MIN_REPEAT, getattr(_re, "POSSESSIVE_REPEAT", None)):
            low, high, inner = arg
            count = low if high == _re.MAXREPEAT else high
            total += max(1, count) * _expansion(inner, depth + 1)
        elif op == _re.SUBPATTERN:
            total += _expansion(arg[-1], depth + 1)
        elif op == _re.BRANCH:
            total += sum(_expansion(branch, depth + 1) for branch in arg[1])
    return total


def _check_pattern(pattern: str, where: str) -> None:
    try:
        size = _expansion(_re.parse(pattern)) if len(pattern) <= 500 else MAX_PATTERN_COPIES + 1
    except (_re.error, RecursionError, OverflowError, TypeError, ValueError) as exc:
        raise _refused(f"{where}: kein gültiger regulärer Ausdruck ({exc}).",
                       f"{where}: not a valid regular expression ({exc}).") from None
    if size > MAX_PATTERN_COPIES:
        raise _refused(f"{where}: das Muster ist zu lang oder wiederholt zu oft (höchstens 500 Zeichen und"
                       f" {MAX_PATTERN_COPIES} Wiederholungen).",
                       f"{where}: the pattern is too long or repeats too often.")


def _check(node: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _refused(f"Das Schema ist tiefer als {MAX_DEPTH} Ebenen (bei {path}).",
                       f"The schema is nested deeper than {MAX_DEPTH} levels (at {path}).")
    if isinstance(node, dict):
        names = path.endswith((".properties", ".$defs", ".definitions"))  # keys are names, not keywords
        for key, value in node.items():
            where = f"{path}.{key}"
            if names:
                _check(value, where, depth + 1)
                continue
            if key in UNSUPPORTED and isinstance(value, (int, float, bool, dict, list)):
                raise _refused(f"{where}: „{key}“ kann die Grammatik nicht sicherstellen; bitte weglassen oder"
                               " durch enum ersetzen.",
                               f"{where}: '{key}' cannot be enforced by the grammar; leave it out or use enum.")
            if key in _COUNTS and (not isinstance(value, int) or isinstance(value, bool) or not 0 <= value
                                   <= MAX_REPEAT):
                raise _refused(f"{where}: höchstens {MAX_REPEAT} (ganze Zahl).",
                               f"{where}: at most {MAX_REPEAT} (an integer).")
            if key == "pattern" and isinstance(value, str):
                _check_pattern(value, where)
            if key == "$ref" and (not isinstance(value, str) or not value.startswith("#")):
                raise _refused(f"{where}: nur Verweise innerhalb des Schemas (#/…); nichts wird geladen.",
                               f"{where}: only references within the schema (#/...); nothing is fetched.")
            _check(value, where, depth + 1)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check(value, f"{path}[{i}]", depth + 1)


def grammar_for(response_format: dict[str, Any] | None) -> str | None:
    """The GBNF for a request's ``response_format`` (as sent: type text, json_object or json_schema);
    None for free text. Raises ApiError 400 naming the part that cannot be followed."""
    from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf  # llama.cpp only when asked for
    if not response_format or response_format.get("type") in (None, "text"):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return JSON_GBNF
    if kind != "json_schema":
        raise _refused(f"response_format.type „{kind}“ gibt es nicht; erlaubt: text, json_object, json_schema.",
                       f"Unknown response_format.type '{kind}'; allowed: text, json_object, json_schema.",
                       "response_format.type")
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise _refused("response_format.json_schema.schema fehlt oder ist kein Objekt.",
                       "response_format.json_schema.schema is missing or not an object.")
    text = json.dumps(schema)
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise _refused(f"Das Schema ist größer als {MAX_SCHEMA_BYTES // 1000} KB.",
                       f"The schema is larger than {MAX_SCHEMA_BYTES // 1000} KB.")
    _check(schema, "schema", 0)
    try:
        grammar = json_schema_to_gbnf(text)
    except KeyError as exc:
        raise _refused(f"Das Schema verweist auf {exc.args[0]}, das sich nicht auflösen lässt (auch keine"
                       " Definition, die sich selbst enthält).",
                       f"The schema refers to {exc.args[0]}, which cannot be resolved (nor a definition that"
                       " contains itself).") from None
    except Exception as exc:  # the converter's own checks are asserts and lookups on untrusted input
        detail = str(exc)[:200] or type(exc).__name__
        raise _refused(f"Dieses Schema lässt sich nicht als Grammatik ausdrücken: {detail}",
                       f"This schema cannot be expressed as a grammar: {detail}") from None
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise _refused("Das Schema ergibt eine zu große Grammatik; bitte einfacher fassen.",
                       "The schema makes too large a grammar; please simplify it.")
    return grammar
