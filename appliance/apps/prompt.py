"""App prompt templates: Jinja2 in a SandboxedEnvironment, with bounded work.

The sandbox stops attribute tricks (``{{ ''.__class__ }}``); on top of it every for-loop is
rewritten to draw from a counter, so nested loops cannot run for ever, and the output is cut
off at a size limit. Template text comes from app authors, input values from staff: both are
data here, and the rendered prompt goes to the model as the user's message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

MAX_ITERATIONS = 10_000
MAX_OUTPUT_CHARS = 100_000
MAX_SECONDS = 1.0
GLOBALS = {"heute"}  # always there: today's date, German style


class PromptError(ValueError):
    """A template cannot be compiled or rendered; the message says why, in German."""


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_ITERATIONS
        self.deadline = time.monotonic() + MAX_SECONDS

    def loop(self, iterable: Iterable) -> Iterator:
        for item in iterable:
            self.left -= 1
            if self.left < 0 or time.monotonic() > self.deadline:
                raise PromptError(f"Die Vorlage wiederholt sich zu oft (mehr als {MAX_ITERATIONS} Durchläufe).")
            yield item


class _Env(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        if operator == "**" or (operator == "*" and (isinstance(left, str | list) or isinstance(right, str | list))):
            size = (len(left) if isinstance(left, str | list) else 1) * (right if isinstance(right, int) else 1)
            if operator == "**" or size > MAX_OUTPUT_CHARS:
                raise PromptError("Die Vorlage rechnet mit zu großen Werten.")
        return super().call_binop(context, operator, left, right)


_ENV = _Env(autoescape=False, keep_trailing_newline=False, trim_blocks=True, lstrip_blocks=True)
for _name in ("lipsum", "cycler", "joiner"):  # lipsum can write megabytes in one call
    _ENV.globals.pop(_name, None)


def _bounded(tree: nodes.Template) -> nodes.Template:
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name("__loop", "load"), [loop.iter], [], None, None)
    return tree


def compile_template(source: str, names: set[str]):
    """Check a template: valid syntax and only known field names. Returns the compiled template."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise PromptError(f"Fehler in Zeile {exc.lineno}: {exc.message}") from None
    unknown = sorted(meta.find_undeclared_variables(tree) - names - GLOBALS - {"__loop"})
    if unknown:
        raise PromptError(f"Die Vorlage nennt Felder, die es nicht gibt: {', '.join(unknown)}.")
    return _ENV.template_class.from_code(_ENV, _ENV.compile(_bounded(tree)), _ENV.make_globals(None), None)


def render(source: str, values: dict[str, object]) -> str:
    template = compile_template(source, set(values))
    budget = _Budget()
    parts: list[str] = []
    size = 0
    try:
        for part in template.generate(**values, heute=date.today().strftime("%d.%m.%Y"), __loop=budget.loop):
            size += len(part)
            if size > MAX_OUTPUT_CHARS:
                raise PromptError(f"Die Vorlage erzeugt zu viel Text (mehr als {MAX_OUTPUT_CHARS} Zeichen).")
            if time.monotonic() > budget.deadline:
                raise PromptError("Die Vorlage braucht zu lange.")
            parts.append(part)
    except PromptError:
        raise
    except SecurityError:
        raise PromptError("Die Vorlage versucht etwas, das nicht erlaubt ist.") from None
    except (UndefinedError, TemplateError, TypeError, ValueError, ArithmeticError) as exc:
        raise PromptError(f"Die Vorlage lässt sich nicht ausfüllen: {exc}") from None
    except RecursionError:
        raise PromptError("Die Vorlage ruft sich endlos selbst auf.") from None
    return "".join(parts).strip()
