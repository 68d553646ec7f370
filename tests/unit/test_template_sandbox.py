"""Template bombs: filters, methods and operators that would make a huge value in one step are
refused before they run, quickly and without taking memory; ordinary templates still work."""

import time
import tracemalloc

import pytest

from appliance.apps.prompt import PromptError, render
from appliance.apps.sandbox import MAX_VALUE_CHARS, printf_size, size

LONG = "x" * 90_000  # a long field, as a pasted document would be

BOMBS = [
    # widths and counts
    ("{{ 'x'|center(9999999999) }}", "„center“"),
    ("{{ 'x'.ljust(10000000000) }}", "„ljust“"),
    ("{{ 'x'.rjust(99999999) }}", "„rjust“"),
    ("{{ 'x'.center(99999999, 'y') }}", "„center“"),
    ("{{ 'x'.zfill(999999999) }}", "„zfill“"),
    ("{{ 'a'|indent(1000000000) }}", "„indent“"),
    ("{{ ('a\n' * 50000)|indent('y' * 1000) }}", "„indent“"),
    ("{{ 'y'|wordwrap(10000000000) }}", "„wordwrap“"),
    ("{{ ('ab ' * 20000)|wordwrap(1, wrapstring='y' * 1000) }}", "„wordwrap“"),
    ("{{ 'x'|truncate(99999999999) }}", "„truncate“"),
    ("{{ 'a\tb'.expandtabs(999999999) }}", "„expandtabs“"),
    ("{{ ('\t' * 1000).expandtabs(150000) }}", "„expandtabs“"),
    ("{{ [1]|batch(999999999, 'y')|list }}", "„batch“"),
    ("{{ [1]|slice(999999999)|list }}", "„slice“"),
    ("{{ (1).to_bytes(9999999999, 'big') }}", "„to_bytes“"),
    # printf and str.format
    ("{{ '%99999999999s'|format('') }}", "„format“"),
    ("{{ '%.99999999f'|format(1.5) }}", "„format“"),
    ("{{ '%*s'|format(99999999, 'x') }}", "„format“"),
    ("{{ '%99999999s' % 'x' }}", "„%“"),
    ("{{ ('%(a)s' * 16000) % {'a': lang} }}", "„%“"),
    ("{{ '{:>999999999}'.format(1) }}", "„format“"),
    ("{{ '{:{w}}'.format(1, w=99999999) }}", "„format“"),
    ("{{ ('{0}' * 30000).format(lang) }}", "„format“"),
    # replacing, joining, translating, concatenating
    ("{{ lang|replace('', 'y' * 1000) }}", "„replace“"),
    ("{{ lang.replace('x', 'yyy') }}", "„replace“"),
    ("{{ range(99999)|map('string')|join('y' * 99999) }}", "„join“"),
    ("{{ 'a'.join([lang, lang, lang]) }}", "„join“"),
    ("{{ lang.translate({120: 'y' * 100}) }}", "„translate“"),
    ("{{ lang ~ lang ~ lang }}", "„~“"),
    ("{{ lang + lang + lang }}", "„+“"),
    ("{% set a = [lang, lang] %}{% set b = [a, a, a] %}{{ b }}", "Ausgabe"),
    # lazy results and lists
    ("{{ range(99999)|map('center', 99999)|list }}", "„map“"),
    ("{{ [1]|batch(150000, lang)|list }}", "„batch“"),
    ("{{ [lang]|sum(start=[]) }}", "nur Zahlen"),
    ("{{ dict.fromkeys(range(100000), lang) }}", "„fromkeys“"),
    ("{{ range(1000000000)|list }}", "zu großen Werten"),
    # growth through repetition
    ("{{ 'ab'|wordwrap(1) * 99999999 }}", "zu großen Werten"),
    ("{{ [[lang]] * 100 }}", "zu großen Werten"),
    ("{% set ns = namespace(x=99999) %}{% for i in range(40) %}{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x }}",
     "zu großen Werten"),
    ("{% set ns = namespace(l=[lang]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "„+“"),
    ("{% set l = [] %}{% for i in range(40) %}{{ l.extend(l + [lang]) }}{% endfor %}", "nicht erlaubt"),
    # everything written counts, also into blocks that are never shown
    ("{% set x %}{% for i in range(10000) %}{{ lang }}{% endfor %}{% endset %}{{ x|length }}", "Zwischenschritten"),
    ("{% set x %}{% for i in range(10000) %}" + "L" * 7000 + "{% endfor %}{% endset %}", "Zwischenschritten"),
    ("{% macro m() %}{% for i in range(10000) %}{{ lang }}{% endfor %}{% endmacro %}{{ m()|length }}",
     "Zwischenschritten"),
    ("{% filter upper %}{% for i in range(5000) %}{{ lang }}{% endfor %}{% endfilter %}", "Zwischenschritten"),
    # filters for HTML and debugging are not there
    ("{{ lang|tojson(indent=99999) }}", "„tojson“ gibt es in Vorlagen nicht"),
    ("{{ lang|urlize(target='y' * 9999) }}", "„urlize“ gibt es in Vorlagen nicht"),
    ("{{ lipsum(100000) }}", "nicht gibt: lipsum"),
]


@pytest.mark.parametrize(("template", "named"), BOMBS)
def test_a_template_bomb_stops_quickly_with_a_german_message_and_little_memory(template: str, named: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(PromptError) as err:
            render(template, {"lang": LONG})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert named in str(err.value)
    assert peak < 40_000_000, f"{peak / 1e6:.0f} MB"  # a refused bomb never builds its value
    assert time.monotonic() - started < 10  # under tracemalloc and on a busy machine; alone it is milliseconds


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ liste|join(', ') }}", "Früh, Spät"),
    ("{{ text|replace('Kind', '[Name des Kindes]') }}", "[Name des Kindes] kommt"),
    ("[{{ text|indent(2, first=True) }}]", "[  Kind kommt]"),
    ("[{{ text|center(14) }}]", "[  Kind kommt  ]"),
    ("{{ 'a b c'|wordwrap(3) }}", "a b\nc"),
    ("{{ '%s: %5.2f Euro'|format('Betrag', 12.5) }}", "Betrag: 12.50 Euro"),
    ("{{ '%(n)s Kinder' % {'n': 4} }}", "4 Kinder"),
    ("{{ '{} am {:>3}.'.format('Fest', 5) }}", "Fest am   5."),
    ("{{ text ~ ' – ' ~ heute|length }}", "Kind kommt – 10"),
    ("{{ (text + '!') * 2 }}", "Kind kommt!Kind kommt!"),
    ("{% for x in liste %}{{ loop.index }}. {{ x }} {% endfor %}", "1. Früh 2. Spät"),
    ("{{ range(3)|map('string')|join('-') }}", "0-1-2"),
    ("{{ [1, 2, 3]|sum }} {{ 12000 * 12 }}", "6 144000"),
    ("{{ lang|length }} {{ lang|truncate(8) }}", "90000 xxxxx..."),
    ("{% set ns = namespace(n=0) %}{% for x in liste %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}", "2"),
    ("{% macro gruss(n) %}Hallo {{ n }}{% endmacro %}{{ gruss('Team') }}", "Hallo Team"),
])
def test_ordinary_templates_still_work(template: str, expected: str) -> None:
    values = {"liste": ["Früh", "Spät"], "text": "Kind kommt", "lang": LONG}
    assert render(template, values) == expected


def test_sizes_are_estimated_without_walking_more_than_the_limit() -> None:
    shared = ["x" * 1000] * 100
    assert size(shared) == 100 * 1000 + 101
    nested = [shared] * 1000  # a hundred million characters when written, a few kilobytes in memory
    assert size(nested) > MAX_VALUE_CHARS
    assert printf_size("%s und %-10s", ("a", "b"), "") >= len("a und b         ")
