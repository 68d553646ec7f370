"""The sandbox app templates run in: Jinja2's ImmutableSandboxedEnvironment, with every way of
making a huge value in one step bounded before the step runs.

Jinja2's sandbox stops attribute tricks (``''.__class__``), not work: ``'x'|center(9999999999)``,
``'%99999999999s'|format('')`` or ``'x'.ljust(9999999999)`` ask for gigabytes in one call, long
before the limit on the finished prompt could look at them. Here each operation that can grow a
value estimates what it would make and refuses past MAX_VALUE_CHARS:

- filters are wrapped (width arguments, ``indent``, ``wordwrap``, ``replace``, ``join``,
  ``format``, ``sum``), and so are method calls on plain values (``ljust``, ``replace``,
  ``join``, ``translate``, ``expandtabs``, ``to_bytes``, ...) and ``str.format`` field by field;
- the operators ``*``, ``**``, ``+`` and ``%`` (``call_binop``) and ``~`` (rewritten to a checked
  join, see ``prompt.py``);
- lazy results (``map``, ``select``, ``batch``, ...) are counted while they are read;
- everything a template writes, also into ``{% set %}`` blocks and macros, counts against
  MAX_WRITTEN_CHARS (``finalize``);
- filters for HTML and debugging that can grow without bound (``urlize``, ``pprint``,
  ``tojson``, ``xmlattr``) and the globals ``lipsum``, ``cycler``, ``joiner`` are not offered.

Lists, dicts and sets cannot be changed in place (ImmutableSandboxedEnvironment), so a loop cannot
double a list ten thousand times.
"""

from __future__ import annotations

import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, MappingView
from contextvars import ContextVar
from functools import update_wrapper, wraps
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import Namespace
from markupsafe import Markup

MAX_ITERATIONS = 10_000
MAX_OUTPUT_CHARS = 100_000  # the finished prompt
MAX_VALUE_CHARS = 200_000  # any one value on the way (two long fields joined still fit)
MAX_WRITTEN_CHARS = 1_000_000  # everything written, also into {% set %} blocks and macros
MAX_INT_BITS = 1_024  # a product of whole numbers: far more than any amount of money, never a runaway
MAX_SECONDS = 1.0
REMOVED_FILTERS = ("urlize", "pprint", "tojson", "xmlattr")


class PromptError(ValueError):
    """A template cannot be compiled or rendered; the message says why, in German."""


def _n(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def too_big(what: str) -> PromptError:
    return PromptError(f"Die Vorlage erzeugt mit {what} einen zu großen Wert (mehr als {_n(MAX_VALUE_CHARS)}"
                       " Zeichen).")


def _too_large_number(what: str, number: int) -> PromptError:
    shown = str(number) if number.bit_length() < 64 else "eine sehr große Zahl"
    return PromptError(f"Die Vorlage gibt {what} eine zu große Zahl ({shown}; höchstens {_n(MAX_VALUE_CHARS)}).")


def size(value: object, limit: int = MAX_VALUE_CHARS) -> int:
    """About how many characters ``value`` has when written out; counting stops past ``limit``.

    Shared references count every time they appear, as they would when written: ``[s, s]`` is
    twice ``s``. The walk never takes more than ``limit`` steps.
    """
    total, todo = 0, [value]
    while todo and total <= limit:
        item = todo.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 1
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, range):
            total += len(item) + 1
        elif isinstance(item, Mapping):
            total += len(item) + 1
            if total <= limit:
                todo.extend(item.keys())
                todo.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset | MappingView):
            total += len(item) + 1
            if total <= limit:
                todo.extend(item)
        elif isinstance(item, Namespace):
            todo.append(object.__getattribute__(item, "_Namespace__attrs"))
        else:
            total += 1
    return total


class Budget:
    """What one rendering may still do: loop turns, characters written, time."""

    def __init__(self) -> None:
        self.turns = MAX_ITERATIONS
        self.written = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise PromptError("Die Vorlage braucht zu lange.")

    def write(self, chars: int) -> None:
        self.written += chars
        if self.written > MAX_WRITTEN_CHARS:
            raise PromptError(f"Die Vorlage erzeugt zu viel Text (mehr als {_n(MAX_WRITTEN_CHARS)} Zeichen, auch in"
                              " Zwischenschritten).")
        self.tick()


BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def _budget() -> Budget:
    budget = BUDGET.get()
    if budget is None:  # a render always sets one; a stray call gets a fresh one, never none
        budget = Budget()
        BUDGET.set(budget)
    return budget


def _counted(items: Iterator, what: str) -> Iterator:
    """A lazy result (map, select, batch ...), counted while it is read."""
    total = 0
    for item in items:
        total += size(item)
        if total > MAX_VALUE_CHARS:
            raise too_big(what)
        _budget().tick()
        yield item


def _result(value: Any, what: str) -> Any:
    if isinstance(value, Iterator) and not isinstance(value, str | bytes | Mapping):
        return _counted(value, what)
    if size(value) > MAX_VALUE_CHARS:
        raise too_big(what)
    return value


def _collect(items: Iterable, each: int, what: str) -> list:
    """The items of an iterable, stopping as soon as they (plus a separator each) grow too large."""
    out, total = [], 0
    for item in items:
        total += size(item) + each
        if total > MAX_VALUE_CHARS:
            raise too_big(what)
        out.append(item)
    return out


def _check_arguments(arguments: Iterable, what: str, numbers: bool = True) -> None:
    for value in arguments:
        if numbers and isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_VALUE_CHARS:
            raise _too_large_number(what, value)
        if size(value) > MAX_VALUE_CHARS:
            raise too_big(what)


# -- printf-style formatting ('%5s' % x, the format filter) ---------------------------------------

_PRINTF = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def printf_size(template: str | bytes, values: Any, what: str) -> int:
    """An upper bound for the length of ``template % values``; refuses widths beyond the limit."""
    fmt = template.decode("latin-1") if isinstance(template, bytes) else template
    named = values if isinstance(values, Mapping) else {}
    positional = list(values) if isinstance(values, tuple) else [values]
    total, i = len(fmt), 0
    for key, width, precision, kind in _PRINTF.findall(fmt):
        if kind == "%":
            continue
        for number in (width, precision):
            if number == "*":
                number, i = (positional[i] if i < len(positional) else 0), i + 1
            elif number:
                number = int(number[:12])
            if isinstance(number, int) and abs(number) > MAX_VALUE_CHARS:
                raise _too_large_number(what, number)
            total += number if isinstance(number, int) else 0
        if key:
            total += size(named.get(key)) + 330  # a float written with %f may take 300 digits
        else:
            total += size(positional[i] if i < len(positional) else None) + 330
            i += 1
        if total > MAX_VALUE_CHARS:
            break
    return total


# -- str.format, field by field ---------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")


class _Bounded:
    """Mixed into Jinja2's sandboxed formatters: widths and the whole result are bounded."""

    written = 0

    def vformat(self, format_string, args, kwargs):
        self.written = 0
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value, format_spec):
        for digits in _DIGITS.findall(format_spec):
            if len(digits) > 7 or int(digits) > MAX_VALUE_CHARS:
                raise _too_large_number("der Methode „format“", int(digits[:20]))
        if size(value) > MAX_VALUE_CHARS:
            raise too_big("der Methode „format“")
        text = super().format_field(value, format_spec)
        self.written += len(text)
        if self.written > MAX_VALUE_CHARS:
            raise too_big("der Methode „format“")
        return text


class _Formatter(_Bounded, SandboxedFormatter):
    pass


class _EscapeFormatter(_Bounded, SandboxedEscapeFormatter):
    pass


# -- filters ----------------------------------------------------------------------------------------


def _lines(text: object) -> int:
    return (text.count("\n") + 1) if isinstance(text, str) else 1


def _indent(a: dict, what: str) -> None:
    width = a["width"]
    per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if size(a["s"]) + (_lines(a["s"]) + 1) * per_line > MAX_VALUE_CHARS:
        raise too_big(what)


def _wordwrap(a: dict, what: str) -> None:
    text, width = a["s"], a["width"]
    if isinstance(text, str) and isinstance(width, int) and width > 0:
        breaks = len(text) // width + len(text.split()) + text.count("\n") + 1
        if len(text) + breaks * len(str(a["wrapstring"] or "\n")) > MAX_VALUE_CHARS:
            raise too_big(what)


def replaced_size(text: object, old: object, new: object, count: object) -> int:
    text, old, new = str(text), str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


def _replace(a: dict, what: str) -> None:
    if replaced_size(a["s"], a["old"], a["new"], a["count"]) > MAX_VALUE_CHARS:
        raise too_big(what)


def _format(a: dict, what: str) -> None:
    if printf_size(str(a["value"]), a["kwargs"] or a["args"], what) > MAX_VALUE_CHARS:
        raise too_big(what)


def _sum(a: dict, what: str) -> None:
    if not isinstance(a["start"], int | float):  # adding up lists or texts copies them again and again
        raise PromptError(f"Die Vorlage darf mit {what} nur Zahlen addieren.")


_FILTER_CHECKS: dict[str, Callable[[dict, str], None]] = {
    "indent": _indent, "wordwrap": _wordwrap, "replace": _replace, "format": _format, "sum": _sum}
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def guard_filter(name: str, func: Callable) -> Callable:
    """``func`` with its arguments checked before and its result checked after."""
    what = f"dem Filter „{name}“"
    passes = getattr(func, "jinja_pass_arg", None) is not None  # gets the context or environment first
    inner = inspect.unwrap(func)
    parameters = list(inspect.signature(inner).parameters.values())
    if getattr(inner, "jinja_pass_arg", None) is not None:
        parameters = parameters[1:]
    signature = inspect.Signature(parameters)
    check = _FILTER_CHECKS.get(name)

    @wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        head, own = (args[:1], args[1:]) if passes else ((), args)
        try:
            bound = signature.bind(*own, **kwargs)
        except TypeError:
            return func(*args, **kwargs)  # the filter's own message about its arguments
        bound.apply_defaults()
        values = list(bound.arguments.values())
        kinds = [p.kind for p in parameters]
        _check_arguments(values[:1], what, numbers=False)
        for value, kind in zip(values[1:], kinds[1:], strict=False):
            if kind in _VARIADIC:
                _check_arguments(value.values() if isinstance(value, dict) else value, what, numbers=False)
            else:
                _check_arguments([value], what)
        if check is not None:
            check(bound.arguments, what)
        if name == "join":  # a lazy sequence is read here, with its size counted
            first = parameters[0].name
            separator = size(bound.arguments.get("d", ""))
            bound.arguments[first] = _collect(bound.arguments[first], separator, what)
            return _result(func(*head, *bound.args, **bound.kwargs), what)
        return _result(func(*args, **kwargs), what)

    return guarded


# -- methods of plain values ------------------------------------------------------------------------

_PLAIN = (str, bytes, int, float, list, tuple, dict, set, frozenset, range, MappingView)


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_method(owner: Any, name: str, args: tuple, kwargs: dict, what: str) -> tuple:
    """Checks a call of ``owner.name(*args, **kwargs)`` that could grow a value; returns the args to use."""
    if not isinstance(owner, str | bytes):
        return args
    if name == "join":
        return (_collect(_arg(args, kwargs, 0, "iterable", ()), len(owner), what),)
    estimate = 0
    if name == "replace":
        estimate = replaced_size(owner, _arg(args, kwargs, 0, "old", ""), _arg(args, kwargs, 1, "new", ""),
                                 _arg(args, kwargs, 2, "count", -1))
    elif name == "expandtabs":
        tabsize = _arg(args, kwargs, 0, "tabsize", 8)
        estimate = len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * max(0, int(tabsize))
    elif name == "translate" and isinstance(owner, str):
        table = _arg(args, kwargs, 0, "table", {})
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1) if isinstance(
            table, Mapping) else 1
        estimate = len(owner) * max(1, longest)
    if estimate > MAX_VALUE_CHARS:
        raise too_big(what)
    return args


# -- the environment --------------------------------------------------------------------------------


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, finalize=self._written, **options)  # nothing evaluated while compiling
        for name in REMOVED_FILTERS:
            self.filters.pop(name, None)
        self.filters = {name: guard_filter(name, func) for name, func in self.filters.items()}
        for name in ("lipsum", "cycler", "joiner"):  # lipsum can write megabytes in one call
            self.globals.pop(name, None)

    @staticmethod
    def _written(value: Any) -> Any:
        chars = size(value)
        if chars > MAX_VALUE_CHARS:
            raise too_big("einer Ausgabe {{ … }}")
        _budget().write(chars)
        return value

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        what = f"dem Operator „{operator}“"
        if operator == "**":  # no prompt needs powers; 9 ** 9 ** 9 would never finish
            raise PromptError("Die Vorlage rechnet mit zu großen Werten.")
        if operator == "*":
            sequence = (str, bytes, list, tuple)
            if isinstance(left, sequence) or isinstance(right, sequence):
                items, times = (left, right) if isinstance(left, sequence) else (right, left)
                if isinstance(times, int) and times > 0 and size(items) * times > MAX_VALUE_CHARS:
                    raise PromptError("Die Vorlage rechnet mit zu großen Werten.")
            elif isinstance(left, int) and isinstance(right, int) and (
                    left.bit_length() + right.bit_length() > MAX_INT_BITS):
                raise PromptError("Die Vorlage rechnet mit zu großen Werten.")
        elif operator == "+":
            if isinstance(left, str | bytes | list | tuple) and size(left) + size(right) > MAX_VALUE_CHARS:
                raise too_big(what)
        elif operator == "%" and isinstance(left, str | bytes) and printf_size(left, right, what) > MAX_VALUE_CHARS:
            raise too_big(what)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context, __obj, *args: Any, **kwargs: Any) -> Any:
        if getattr(__obj, "template_guard", False):  # the rewrites of prompt.py: no checks of their own
            return super().call(__context, __obj, *args, **kwargs)
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        what = f"der Methode „{name}“" if owner is not None else f"dem Aufruf „{name or '…'}(…)“"
        plain = isinstance(owner, _PLAIN) and not isinstance(owner, type)
        _check_arguments(args, what, numbers=plain)
        _check_arguments(kwargs.values(), what, numbers=plain)
        if plain:
            args = _check_method(owner, name, args, kwargs, what)
        return _result(super().call(__context, __obj, *args, **kwargs), what)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """As Jinja2's, with formatters that bound widths and the result."""
        if not callable(value) or getattr(value, "__name__", None) not in ("format", "format_map"):
            return None
        owner = getattr(value, "__self__", None)
        if not isinstance(owner, str):
            return None
        is_map = value.__name__ == "format_map"
        formatter = _EscapeFormatter(self, escape=owner.escape) if isinstance(owner, Markup) else _Formatter(self)

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if is_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                args, kwargs = (), args[0]
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)


def template_guard(func: Callable) -> Callable:
    """Marks a helper that prompt.py's rewrites call: the environment does not check it again."""
    func.template_guard = True  # type: ignore[attr-defined]
    return func
