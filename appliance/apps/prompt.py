"""App prompt templates: Jinja2 in a sandbox that bounds work and size (see sandbox.py).

The sandbox stops attribute tricks (``{{ ''.__class__ }}``) and every step that would make a huge
value; on top of it the compiled template is rewritten so that every for-loop draws from one
counter (nested loops cannot run for ever), every ``~`` checks the size of what it joins, and
literal text counts towards what the template writes. Template text comes from app authors, input
values from staff: both are data here, and the rendered prompt goes to the model as the user's
message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.visitor import NodeTransformer

from appliance.apps.sandbox import (
    BUDGET,
    MAX_ITERATIONS,
    MAX_OUTPUT_CHARS,
    MAX_VALUE_CHARS,
    BoundedEnvironment,
    Budget,
    PromptError,
    size,
    template_guard,
    too_big,
)

__all__ = ["GLOBALS", "MAX_ITERATIONS", "MAX_OUTPUT_CHARS", "PromptError", "compile_template", "render"]

GLOBALS = {"heute"}  # always there: today's date, German style
_UNKNOWN_FILTER = re.compile(r"No (filter|test) named '([^']*)'\.")


@template_guard
def _loop(iterable: Iterable) -> Iterator:
    budget = BUDGET.get() or Budget()
    for item in iterable:
        budget.turns -= 1
        if budget.turns < 0:
            raise PromptError(f"Die Vorlage wiederholt sich zu oft (mehr als {MAX_ITERATIONS} Durchläufe).")
        budget.tick()
        yield item


@template_guard
def _concat(*parts: object) -> str:
    if sum(size(p) for p in parts) > MAX_VALUE_CHARS:
        raise too_big("dem Operator „~“")
    return "".join(map(str, parts))


@template_guard
def _text(data: str) -> str:
    return data  # literal text as an expression, so that it is counted like any other output


GUARDS = {"__loop": _loop, "__concat": _concat, "__text": _text}
_ENV = BoundedEnvironment(autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)
_ENV.globals.update(GUARDS)


def _call(name: str, args: list[nodes.Expr]) -> nodes.Call:
    return nodes.Call(nodes.Name(name, "load"), args, [], None, None)


class _Bound(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = _call("__loop", [node.iter])
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        self.generic_visit(node)
        return _call("__concat", node.nodes)

    def visit_TemplateData(self, node: nodes.TemplateData) -> nodes.Call:
        return _call("__text", [nodes.Const(node.data)])


def compile_template(source: str, names: set[str]):
    """Check a template: valid syntax and only known field names. Returns the compiled template."""
    try:
        tree = _ENV.parse(source)
        unknown = sorted(meta.find_undeclared_variables(tree) - names - GLOBALS - set(GUARDS))
        if unknown:
            raise PromptError(f"Die Vorlage nennt Felder, die es nicht gibt: {', '.join(unknown)}.")
        code = _ENV.compile(_Bound().visit(tree))
    except TemplateSyntaxError as exc:
        missing = _UNKNOWN_FILTER.match(exc.message or "")
        if missing:
            kind = "Filter" if missing[1] == "filter" else "Test"
            raise PromptError(f"Fehler in Zeile {exc.lineno}: Den {kind} „{missing[2]}“ gibt es in Vorlagen"
                              " nicht.") from None
        raise PromptError(f"Fehler in Zeile {exc.lineno}: {exc.message}") from None
    return _ENV.template_class.from_code(_ENV, code, _ENV.make_globals(None), None)


def render(source: str, values: dict[str, object]) -> str:
    template = compile_template(source, set(values))
    budget = Budget()
    token = BUDGET.set(budget)
    parts: list[str] = []
    total = 0
    try:
        for part in template.generate(**values, heute=date.today().strftime("%d.%m.%Y")):
            total += len(part)
            if total > MAX_OUTPUT_CHARS:
                raise PromptError(f"Die Vorlage erzeugt zu viel Text (mehr als {MAX_OUTPUT_CHARS} Zeichen).")
            budget.tick()
            parts.append(part)
    except PromptError:
        raise
    except SecurityError:
        raise PromptError("Die Vorlage versucht etwas, das nicht erlaubt ist.") from None
    except MemoryError:
        raise PromptError("Die Vorlage braucht zu viel Speicher.") from None
    except OverflowError:
        raise PromptError("Die Vorlage rechnet mit zu großen Werten.") from None
    except RecursionError:
        raise PromptError("Die Vorlage ruft sich endlos selbst auf.") from None
    except Exception as exc:  # anything else a template can get wrong, said as what it is
        raise PromptError(f"Die Vorlage lässt sich nicht ausfüllen: {exc}") from None
    finally:
        BUDGET.reset(token)
    return "".join(parts).strip()
