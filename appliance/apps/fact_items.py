"""The facts in a text, found without a model: dates, weekdays, times, numbers with their units,
amounts of money, phone numbers and e-mail addresses (names and medications: ``fact_names``), each
with its place in the text and a normalised value ("12.06.2026", "2026-06-12" and "12. Juni 2026" have
one value; "zwei" is 2; "0,5 g" is "500 mg"). German first, English second. Pure functions;
``fact_check`` compares."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from typing import Any

from appliance.apps import fact_words as w


@dataclass(frozen=True)
class Fact:
    kind: str  # date, weekday, time, number, money, phone, email, medication, name
    text: str
    start: int
    end: int
    value: Any
    unit: str | None = None  # numbers: the canonical unit ("g", "l", "°C", "EUR", ...)
    dose: bool = False  # numbers: a dose unit (mg, Tabletten, Tropfen ...), for medications beside it
    written: frozenset = frozenset()  # numbers with a unit: the number as written, before the unit's factor


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def fold(text: str) -> str:
    """For comparing words: case, umlauts (ü = ue), ß and accents do not count."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss").replace("ı", "i")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def ascii_digits(text: str) -> str:
    """Arabic-Indic and other decimal digits as 0-9, character for character (offsets stay)."""
    return _OTHER_DIGIT.sub(lambda m: str(unicodedata.decimal(m.group())), text)


# -- patterns ----------------------------------------------------------------------------------

_L = r"[^\W\d_]"  # a letter, any script
_WORD = rf"{_L}[\w\u0300-\u036f]*(?:['’\-]{_L}[\w\u0300-\u036f]*)*"
_NUM = r"\d+(?:[.,]\d+)*"
_NUM_HERE = rf"(?<![\w.,])(?<!{_L}-)({_NUM})"
_UNIT_KEYS = sorted(w.UNITS, key=len, reverse=True)
_UNIT = re.compile(r"\s?(?:,-{1,2}\s?)?(" + "|".join(re.escape(u) for u in _UNIT_KEYS) + r")(?![^\W\d_])",
                   re.IGNORECASE)
_MONTH = "|".join(sorted((re.escape(m) for m in w.MONTHS), key=len, reverse=True))
_EN_MONTH = "january|february|march|april|may|june|july|august|september|october|november|december"
_WEEKDAY = "|".join(w.WEEKDAYS)
_HOUR = r"(?:[01]?\d|2[0-4])"
_SPELLED_HOUR = "|".join(sorted((k for k, v in w.ONES.items() if 1 <= v <= 12 and k not in w.ARTICLE_ONES),
                                key=len, reverse=True)) + "|eins|one"
_I = re.IGNORECASE

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b", _I)
PHONE = re.compile(r"(?<![\w+/.,:])(?:\+\d{1,3}\s?(?:\(0\)\s?)?|\(0\d{1,5}\)\s?|0)\d{1,5}"
                   r"(?:\s?[\-/]?\s?\d{1,8}){1,4}(?![\w.,:]?\d)")
PHONE_AFTER_WORD = re.compile(r"\b(?:tel|telefon|telefonnummer|fax|mobil|handy|durchwahl|phone|rufnummer)\.?:?\s*"
                              r"(\+?\d[\d \-/()]{2,}\d)", _I)
MONEY_BEFORE = re.compile(rf"(€|EUR|Euro|CHF|\$|£)\s?({_NUM})(?:,-{{1,2}})?(?![\w.,]?\d)")
RATIO = re.compile(r"(?<![\w/.,])(\d{1,3})\s?/\s?(\d{1,3})(?![\w/]|[.,]\d)")
TIME_RANGE = re.compile(rf"(?<![\w.:,])({_HOUR})(?:[:.]([0-5]\d))?\s?(?:-|–|bis|und)\s?({_HOUR})(?:[:.]([0-5]\d))?"
                        r"\s?(?:Uhr|h)\b")
TIME_COLON = re.compile(rf"(?<![\w.:,])({_HOUR}):([0-5]\d)(?!\d)(?:\s?(Uhr|h\b|am\b|pm\b|a\.m\.|p\.m\.))?", _I)
TIME_DOT = re.compile(rf"(?<![\w.:,])({_HOUR})\.([0-5]\d)(?!\d|\.\d)(\s?(?:Uhr|h)\b)?")
TIME_HOUR = re.compile(rf"(?<![\w.:,])({_HOUR})\s?(?:Uhr\b(?:\s([0-5]\d)\b)?|(am|pm|a\.m\.|p\.m\.)(?!\w))", _I)
TIME_WORDS = re.compile(rf"\b(?:(halb|viertel nach|viertel vor|dreiviertel|drei viertel|half past|quarter past"
                        rf"|quarter to)\s+({_SPELLED_HOUR}|{_HOUR})|({_SPELLED_HOUR})\s+(?:uhr|o'clock))\b", _I)
TIME_AT = re.compile(rf"\bum\s({_HOUR})(?![\d.,:])(?!\s?{_L})(?!\s?[%€°$£])|\bum\s({_HOUR})(?=\s[a-zäöüß])")
TIME_AT_LENIENT = re.compile(rf"\b(?:um|gegen|ab|bis|ca\.?|circa|etwa|von|zwischen|at|around)\s"
                             rf"({_HOUR}|{_SPELLED_HOUR})(?!\d|[.,:]\d)\b", _I)
DATE_ISO = re.compile(r"(?<![\d.])(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
DATE_DOTS = re.compile(r"(?<![\d.,])(\d{1,2})\.\s?(\d{1,2})\.(?:\s?(\d{4}|\d{2})(?![\d.,]?\d))?")
DATE_SLASH = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?!\d)")
DATE_WORDS = re.compile(rf"(?<![\d.,])(\d{{1,2}})(?:\.|st|nd|rd|th)?\s(?:of\s)?({_MONTH})\b\.?(?:\s(\d{{4}})(?!\d))?",
                        _I)
DATE_EN = re.compile(rf"\b({_EN_MONTH}|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?\s(\d{{1,2}})"
                     rf"(?:(?:st|nd|rd|th)(?:,?\s(\d{{4}}))?|,?\s(\d{{4}}))(?!\d)", _I)
WEEKDAY = re.compile(rf"\b({_WEEKDAY})(s|abend|abends|morgen|morgens|nachmittag|nachmittags|vormittag"
                     rf"|vormittags|mittag|mittags|nacht|nachts)?\b", _I)
WEEKDAY_SHORT = re.compile(r"\b(Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b\.?"
                           r"(?:\s?(?:-|–|bis)\s?(Mo|Di|Mi|Do|Fr|Sa|So|Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b)?")
NUMBER = re.compile(_NUM_HERE)
WORD = re.compile(_WORD)
BRACKETS = re.compile(r"\[[^\]\n]{0,120}\]")
LIST_NUMBER = re.compile(r"^[ \t]*(?:#+[ \t]*)?(?:[-*•][ \t]*)?(\d{1,2}(?:\.\d{1,2})*[.)]|\d{1,2}(?:\.\d{1,2})+)"
                         r"(?=[ \t])", re.MULTILINE)


def number_values(raw: str) -> frozenset[float]:
    """The values a written number can mean: "38,5" 38.5; "1.200" 1200 (German) or 1.2 (English)."""
    raw = raw.rstrip(".,")
    seps = re.findall(r"[.,]", raw)
    parts = re.split(r"[.,]", raw)
    if not seps:
        return frozenset({float(raw)})
    if len(seps) == 1:
        if parts[1] == "000":  # "12.000": twelve thousand, never twelve
            return frozenset({float(parts[0] + parts[1])})
        values = {float(f"{parts[0]}.{parts[1]}")}
        if len(parts[1]) == 3:
            values.add(float(parts[0] + parts[1]))
        return frozenset(values)
    if len(set(seps)) == 1:  # "1.200.000"
        return frozenset({float("".join(parts))})
    return frozenset({float("".join(parts[:-1]) + "." + parts[-1])})  # "1.200,50"


@cache
def word_number(word: str) -> int | None:
    """"zwei" 2, "fünfundzwanzig" 25, "twenty-five" 25, "zweihundert" 200; None for other words."""
    word = word.casefold()
    if word in w.ONES:
        return w.ONES[word]
    if word in w.TENS:
        return w.TENS[word]
    for tens, value in w.TENS.items():
        if value < 100 and word.endswith(tens) and word != tens:
            head = word[: -len(tens)].removesuffix("und").rstrip("-")
            if head in w.ONES and 1 <= w.ONES[head] <= 9:
                return value + w.ONES[head]
    for big in ("hundert", "tausend"):
        if word.endswith(big) and word[: -len(big)] in w.ONES and w.ONES[word[: -len(big)]] >= 1:
            return w.ONES[word[: -len(big)]] * w.TENS[big]
    return None


def _unit_after(text: str, end: int) -> tuple[str, str, float, int] | None:
    """(spelling, canonical unit, factor, end) of a unit written right after a number."""
    m = _UNIT.match(text, end)
    if not m:
        return None
    key = m.group(1).casefold()
    unit, factor = w.UNITS[key]
    return key, unit, factor, m.end()


def _dose(spelling: str, unit: str) -> bool:
    return unit in w.DOSE_UNITS and spelling not in ("g", "gramm", "kg", "kilo", "kilogramm")


def _date(y: str | None, m: int, d: int) -> tuple[int | None, int, int] | None:
    if not (1 <= m <= 12 and 1 <= d <= 31):
        return None
    year = None if not y else int(y) + (2000 if len(y) == 2 else 0)
    return (year, m, d)


def _hour(word: str) -> int | None:
    return int(word) if word.isdigit() else w.ONES.get(word.casefold())


class _Finder:
    """Walks a text once per kind, most specific first; what one kind took, the next leaves alone."""

    def __init__(self, text: str, lenient: bool) -> None:
        self.text = ascii_digits(text)
        self.lenient = lenient
        self.taken = bytearray(len(self.text) + 1)
        self.facts: list[Fact] = []
        for m in BRACKETS.finditer(self.text):  # "[Name des Kindes]", "[1]": placeholders and citations
            self._take(m.start(), m.end())
        for m in LIST_NUMBER.finditer(self.text):  # "1." "2.1" number parts of a text (or of the instructions)
            self._take(m.start(1), m.end(1))

    def _free(self, start: int, end: int) -> bool:
        return not any(self.taken[start:end])

    def _take(self, start: int, end: int) -> None:
        self.taken[start:end] = b"\x01" * (end - start)

    def add(self, kind: str, start: int, end: int, value: Any, unit: str | None = None, dose: bool = False,
            written: frozenset = frozenset()) -> bool:
        if value is None or not self._free(start, end):
            return False
        self._take(start, end)
        self.facts.append(Fact(kind, self.text[start:end], start, end, value, unit, dose, written or value))
        return True

    def run(self) -> list[Fact]:
        for step in (self.emails, self.phones, self.money, self.ratios, self.times, self.dates, self.weekdays,
                     self.numbers, self.spelled):
            step()
        self.facts.sort(key=lambda f: f.start)
        return self.facts

    def emails(self) -> None:
        for m in EMAIL.finditer(self.text):
            self.add("email", m.start(), m.end(), m.group().casefold())

    def phones(self) -> None:
        for m in PHONE_AFTER_WORD.finditer(self.text):
            self.add("phone", m.start(1), m.end(1), phone_digits(m.group(1)))
        for m in PHONE.finditer(self.text):
            digits = phone_digits(m.group())
            if 6 <= len(digits) <= 16 and not DATE_SLASH.fullmatch(m.group()):
                self.add("phone", m.start(), m.end(), digits)

    def money(self) -> None:
        for m in MONEY_BEFORE.finditer(self.text):
            self.add("money", m.start(), m.end(), number_values(m.group(2)), w.UNITS[m.group(1).casefold()][0])

    def ratios(self) -> None:
        """"135/80 mmHg" (one value); "1/2 Tablette" (a half); not a date, which has a year."""
        for m in RATIO.finditer(self.text):
            if DATE_SLASH.match(self.text, m.start()):
                continue
            a, b = int(m.group(1)), int(m.group(2))
            unit = _unit_after(self.text, m.end())
            end = unit[3] if unit else m.end()
            if b in (2, 3, 4) and a < b:
                self.add("number", m.start(), end, frozenset({round(a / b * (unit[2] if unit else 1), 9)}),
                         unit[1] if unit else None, bool(unit and _dose(unit[0], unit[1])), frozenset({a / b}))
            elif a >= 10 and b >= 10:
                self.add("number", m.start(), end, frozenset({(a, b)}), unit[1] if unit else None)

    def times(self) -> None:
        text = self.text
        for m in TIME_RANGE.finditer(text):
            if self._free(m.start(), m.end()):
                self.add("time", m.start(1), m.end(2) if m.group(2) else m.end(1), (int(m.group(1)) % 24,
                                                                                    int(m.group(2) or 0)))
                self.add("time", m.start(3), m.end(), (int(m.group(3)) % 24, int(m.group(4) or 0)))
        for m in TIME_COLON.finditer(text):
            h = int(m.group(1)) % 24 + (12 if (m.group(3) or "").casefold().startswith("p") and int(m.group(1)) < 12
                                        else 0)
            self.add("time", m.start(), m.end(), (h, int(m.group(2))))
        for m in TIME_DOT.finditer(text):
            before = text[max(0, m.start() - 6):m.start()].casefold()
            if not m.group(3) and text[m.end():m.end() + 1] == "." and int(m.group(2)) <= 12:
                continue  # "bis 20.10.": a date
            if m.group(3) or re.search(r"\b(um|gegen|ab|bis|von|ca\.)\s$", before):
                self.add("time", m.start(), m.end(), (int(m.group(1)) % 24, int(m.group(2))))
        for m in TIME_HOUR.finditer(text):
            h = int(m.group(1)) % 24 + (12 if (m.group(3) or "").casefold().startswith("p") and int(m.group(1)) < 12
                                        else 0)
            self.add("time", m.start(), m.end(), (h, int(m.group(2) or 0)))
        for m in TIME_WORDS.finditer(text):
            if m.group(3):
                self.add("time", m.start(), m.end(), (_hour(m.group(3)), 0))
                continue
            how, hour = m.group(1).casefold(), _hour(m.group(2))
            if hour is None:
                continue
            h, minute = {"halb": (hour - 1, 30), "viertel nach": (hour, 15), "viertel vor": (hour - 1, 45),
                         "dreiviertel": (hour - 1, 45), "drei viertel": (hour - 1, 45), "half past": (hour, 30),
                         "quarter past": (hour, 15), "quarter to": (hour - 1, 45)}[how]
            self.add("time", m.start(), m.end(), (h % 24, minute))
        for m in (TIME_AT_LENIENT if self.lenient else TIME_AT).finditer(text):
            if self.lenient and (_UNIT.match(text, m.end()) or re.match(r"\s?[%€°$£]", text[m.end():])):
                continue  # "innerhalb von 14 Tagen", "2 bis 8 °C": a measure, not a time
            group = 1 if m.group(1) else 2
            hour = _hour(m.group(group))
            if hour is not None:
                self.add("time", m.start(group), m.end(group), (hour % 24, 0))

    def dates(self) -> None:
        text = self.text
        for m in DATE_ISO.finditer(text):
            self.add("date", m.start(), m.end(), _alts(_date(m.group(1), int(m.group(2)), int(m.group(3)))))
        for m in DATE_WORDS.finditer(text):
            month = w.MONTHS[m.group(2).casefold()]
            if m.group(2).casefold() == "may" and not m.group(1):
                continue
            self.add("date", m.start(), m.end(), _alts(_date(m.group(3), month, int(m.group(1)))))
        for m in DATE_EN.finditer(text):
            month = w.MONTHS.get(m.group(1).casefold().rstrip("."))
            if month:
                self.add("date", m.start(), m.end(), _alts(_date(m.group(3) or m.group(4), month, int(m.group(2)))))
        for m in DATE_DOTS.finditer(text):
            self.add("date", m.start(), m.end(), _alts(_date(m.group(3), int(m.group(2)), int(m.group(1)))))
        for m in DATE_SLASH.finditer(text):  # 06/12/2026: day first (German) or month first (English)
            a, b = int(m.group(1)), int(m.group(2))
            self.add("date", m.start(), m.end(), _alts(_date(m.group(3), b, a), _date(m.group(3), a, b)))

    def weekdays(self) -> None:
        for m in WEEKDAY.finditer(self.text):
            self.add("weekday", m.start(), m.end(1), frozenset({w.WEEKDAYS[m.group(1).casefold()]}))
        if not self.lenient:
            return
        for m in WEEKDAY_SHORT.finditer(self.text):  # "Mo–Fr" in the inputs: every day between
            first = w.WEEKDAY_SHORT[m.group(1).casefold()]
            last = w.WEEKDAY_SHORT[m.group(2).casefold()] if m.group(2) else first
            self.add("weekday", m.start(), m.end(), frozenset(range(first, max(first, last) + 1)))

    def numbers(self) -> None:
        text = self.text
        for m in NUMBER.finditer(text):
            start, end = m.start(1), m.end(1)
            raw = m.group(1)
            if raw[-1] in ".,":
                raw, end = raw[:-1], end - 1
            if not self._free(start, end) or _structure(text, start):
                continue
            unit = _unit_after(text, end)
            if unit is None and end < len(text) and text[end].isalpha():
                continue  # "12a", "3er": part of a word or a code
            values = number_values(raw)
            if unit is None:
                self.add("number", start, end, values)
                continue
            spelling, canonical, factor, unit_end = unit
            kind = "money" if canonical in w.MONEY else "number"
            self.add(kind, start, unit_end, frozenset(round(v * factor, 9) for v in values), canonical,
                     _dose(spelling, canonical), values)

    def spelled(self) -> None:
        """"zwei Pflegekräfte", "drei Tabletten", "zweimal"; "ein"/"eine" only before a unit."""
        text = self.text
        for m in WORD.finditer(text):
            word = m.group()
            if not self._free(m.start(), m.end()):
                continue
            low = word.casefold()
            if low.endswith("mal") and word_number(low[:-3]) is not None:  # "zweimal"
                self.add("number", m.start(), m.end(), frozenset({float(word_number(low[:-3]))}), "times")
                continue
            value = word_number(low)
            if value is None and self.lenient:
                value = w.HALVES.get(low)
            if value is None:
                continue
            unit = _unit_after(text, m.end())
            if unit and (unit[3] == len(text) or not text[unit[3]].isalnum()):
                spelling, canonical, factor, unit_end = unit
                self.add("money" if canonical in w.MONEY else "number", m.start(), unit_end,
                         frozenset({round(value * factor, 9)}), canonical, _dose(spelling, canonical),
                         frozenset({float(value)}))
            elif low in w.ARTICLE_ONES or low in w.HALVES:
                continue
            elif self.lenient or word[0].islower() or sentence_start(text, m.start()):
                self.add("number", m.start(), m.end(), frozenset({float(value)}))  # not "außer Acht"


def _alts(*dates) -> frozenset | None:
    found = frozenset(d for d in dates if d)
    return found or None


def phone_digits(raw: str) -> str:
    digits = re.sub(r"\D", "", raw.replace("(0)", ""))
    if raw.lstrip().startswith("+"):
        digits = "0" + digits[2:] if digits.startswith("49") else "00" + digits
    elif digits.startswith("0049"):
        digits = "0" + digits[4:]
    return digits


def _structure(text: str, start: int) -> bool:
    """A number after "Schritt", "Frage", "Seite" ... numbers the draft's own parts."""
    before = re.search(r"([^\W\d_]+\.?)\s?$", text[max(0, start - 20):start])
    return bool(before and before.group(1).casefold() in w.STRUCTURE_WORDS)


ABBREVIATIONS = {"dr", "prof", "fr", "hr", "frl", "z.b", "ca", "bzw", "nr", "str", "tel", "mr", "mrs", "ms", "dipl",
                 "med", "st", "sr", "jr", "u.a", "d.h", "evtl", "ggf", "inkl"}
"""Words whose full stop ends no sentence."""


def sentence_start(text: str, start: int) -> bool:
    """The word at ``start`` opens a sentence, a line, a list item or a heading."""
    i = start - 1
    while i >= 0 and text[i] in " \t*_#>-•–\"„“”'‚‘’«»(":
        if text[i] in "-–" and i > 0 and text[i - 1] not in " \t\n":
            break
        i -= 1
    if i < 0 or text[i] in "\n!?:;":
        return True
    if text[i] != ".":
        return False
    word = re.search(r"(\S+)\.$", text[max(0, i - 12):i + 1])
    # "am 12. Juni", "Dr. Keller": no sentence ends there
    return not (word and (re.fullmatch(r"(\d{1,2}\.)?\d{1,2}", word.group(1))
                          or word.group(1).casefold() in ABBREVIATIONS))


def find(text: str, lenient: bool = False) -> list[Fact]:
    """The dates, times, numbers, amounts, phone numbers and e-mail addresses in a text (names and
    medications: ``fact_names``). ``lenient``: the text is an input, read generously (short weekday
    names, "gegen 7", "halbe"), so that what a draft rightly takes from it is found."""
    return _Finder(text, lenient).run()


def free_mask(text: str, facts: list[Fact]) -> bytearray:
    """Which characters no fact took yet (0: free), for the name and medication search."""
    mask = bytearray(len(text) + 1)
    for f in facts:
        mask[f.start:f.end] = b"\x01" * (f.end - f.start)
    for m in BRACKETS.finditer(text):
        mask[m.start():m.end()] = b"\x01" * (m.end() - m.start())
    return mask
