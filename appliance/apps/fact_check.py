"""A fact check on every draft, without the model: the dates, times, numbers with units, amounts,
phone numbers, e-mail addresses, medications and names in the draft that do not occur in what the
model was given (the person's inputs, the app's own instructions and template, the handbook
passages) are listed with their place in the draft, for the person to check. Written forms do not
count: "12.06.2026" = "2026-06-12" = "12. Juni"; "zwei" = 2; "14:30" = "halb drei"; "Müller" = "Mueller".

It finds what a model adds, not whether a fact is true: a fact copied wrongly from the inputs into
the wrong place, or a changed word around a right number, is not seen."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.apps.fact_items import Fact, ascii_digits, find, fold, number_values, phone_digits
from appliance.apps.fact_names import names_and_medications

KINDS = {
    "date": ("Datum", "Date"), "time": ("Uhrzeit", "Time"), "number": ("Zahl", "Number"),
    "money": ("Betrag", "Amount"), "phone": ("Telefonnummer", "Phone number"),
    "email": ("E-Mail-Adresse", "E-mail address"), "name": ("Name", "Name"),
    "medication": ("Medikament", "Medication"),
}
"""The kinds of facts, as the API names them, with their German and English labels."""
NOT_FOUND = ("nicht in Ihren Angaben gefunden – bitte prüfen", "not found in your input – please check")
OTHER_UNIT = ("steht in Ihren Angaben nur mit einer anderen Einheit – bitte prüfen",
              "appears in your input only with another unit – please check")


@dataclass(frozen=True)
class Unverified:
    """One fact of the draft that the inputs do not hold; ``start``/``end``: its place in the draft."""

    text: str
    kind: str
    start: int
    end: int
    de: str
    en: str

    def as_dict(self) -> dict[str, Any]:
        """As the API answers it (the explanation in German, like the AI-draft label)."""
        return {"text": self.text, "kind": self.kind, "start": self.start, "end": self.end, "message": self.de}


@dataclass
class _Index:
    """What the inputs hold, normalised for looking up."""

    text: str = ""  # folded, for names and medications
    digit_lines: list[str] = field(default_factory=list)  # each line's digits, for phone numbers
    dates: set[tuple] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    weekdays: set[int] = field(default_factory=set)
    times: set[tuple[int, int]] = field(default_factory=set)
    any_numbers: set = field(default_factory=set)  # every number anywhere, also inside dates and times
    plain: set = field(default_factory=set)  # numbers written without a unit
    measured: set[tuple] = field(default_factory=set)  # (unit, value) in the unit's base ("g", "l", "s")
    written_measured: set = field(default_factory=set)  # numbers with a unit, as written ("5" of "5 mg")
    emails: str = ""


def _texts(inputs: Any) -> Iterable[str]:
    if inputs is None:
        return
    if isinstance(inputs, str):
        yield inputs
    elif isinstance(inputs, Mapping):
        for value in inputs.values():
            yield from _texts(value)
    elif isinstance(inputs, (list, tuple, set)):
        for value in inputs:
            yield from _texts(value)
    elif isinstance(inputs, (int, float)) and not isinstance(inputs, bool):
        yield f"{inputs:g}".replace(".", ",") + " " + str(inputs)
    else:
        yield str(inputs)


def _index(sources: Sequence[str]) -> _Index:
    text = "\n".join(ascii_digits(s) for s in sources)
    idx = _Index(text=fold(text), emails=text.casefold())
    idx.digit_lines = [phone_digits(line) for line in text.splitlines() if any(c.isdigit() for c in line)]
    for raw in re.findall(r"\d+(?:[.,]\d+)*", text):
        idx.any_numbers |= number_values(raw)
        idx.years |= {int(p) for p in re.split(r"[.,/-]", raw) if len(p) == 4 and 1900 <= int(p) <= 2100}
    for f in find(text, lenient=True):
        if f.kind == "date":
            idx.dates |= f.value
            idx.years |= {y for y, _, _ in f.value if y}
            idx.any_numbers |= {float(n) for date in f.value for n in date if n}
        elif f.kind == "weekday":
            idx.weekdays |= f.value
        elif f.kind == "time":
            idx.times.add(f.value)
            idx.any_numbers |= {float(f.value[0]), float(f.value[1])}
        elif f.kind in ("number", "money"):
            idx.any_numbers |= {v for v in f.value if not isinstance(v, tuple)}
            if f.unit is None:
                idx.plain |= f.value
            else:
                idx.measured |= {(f.unit, v) for v in f.value}
                idx.written_measured |= f.written
    for year, month, day in list(idx.dates):  # the weekday of each date in the inputs
        for y in [year] if year else idx.years:
            idx.weekdays |= _weekday(y, month, day)
    return idx


def _weekday(year: int, month: int, day: int) -> set[int]:
    try:
        return {calendar.weekday(year, month, day)}
    except ValueError:
        return set()


def _date_found(value: frozenset, idx: _Index) -> bool:
    for year, month, day in value:
        for y2, m2, d2 in idx.dates:
            if (month, day) == (m2, d2) and (year is None or year == y2 or (y2 is None and year in idx.years)):
                return True
    return False


def _time_found(value: tuple[int, int], idx: _Index) -> bool:
    h, m = value
    return any(m == m2 and (h == h2 or (h2 < 12 and h == h2 + 12)) for h2, m2 in idx.times)  # "halb drei" = 14:30


def _name_found(words: tuple[str, ...], idx: _Index) -> bool:
    for word in words:
        folded = re.sub(r"['’]s?$", "", fold(word))  # "Nowak's"
        if len(folded) < 2:
            continue
        stems = {folded} | ({folded[:-1]} if folded.endswith("s") and len(folded) > 3 else set())
        if not any(re.search(rf"(?<!\w){re.escape(s)}(?:s|es|n|en)?(?!\w)", idx.text) for s in stems):
            return False
    return True


def _number_verdict(f: Fact, idx: _Index) -> tuple[str, str] | None:
    """None: the inputs hold it; else why not."""
    values = set(f.value)
    if f.unit is None:
        return None if values & idx.any_numbers or any(v in idx.plain for v in values) else NOT_FOUND
    if any((f.unit, v) in idx.measured for v in values) or f.written & idx.plain:
        return None
    if f.unit == "times" and values & idx.any_numbers:
        return None  # "2x täglich" = "zweimal"
    if f.kind == "number" and f.written & idx.written_measured:
        return OTHER_UNIT  # "5 ml" where the inputs say "5 mg"
    return NOT_FOUND


def _verdict(f: Fact, idx: _Index, weekdays: set[int]) -> tuple[str, str] | None:
    if f.kind == "date":
        return None if _date_found(f.value, idx) else NOT_FOUND
    if f.kind == "weekday":
        return None if f.value & weekdays else NOT_FOUND
    if f.kind == "time":
        return None if _time_found(f.value, idx) else NOT_FOUND
    if f.kind in ("number", "money"):
        return _number_verdict(f, idx)
    if f.kind == "phone":
        return None if any(f.value in line for line in idx.digit_lines) else NOT_FOUND
    if f.kind == "email":
        return None if f.value in idx.emails else NOT_FOUND
    if f.kind == "medication":
        return None if f.value in idx.text or f.value.rstrip("s") in idx.text else NOT_FOUND
    if f.kind == "name":
        return None if _name_found(f.value, idx) else NOT_FOUND
    return None


def facts(text: str) -> list[Fact]:
    """Every fact the check reads in a draft, in the order they stand."""
    found = find(text)
    return sorted(found + names_and_medications(ascii_digits(text), found), key=lambda f: f.start)


def check(output: str, inputs: Mapping[str, Any] | str | Iterable[str] | None,
          context_texts: Iterable[str] = ()) -> list[Unverified]:
    """The facts of ``output`` that neither ``inputs`` (a form's values, or texts) nor
    ``context_texts`` (the app's instructions and filled-in template, the handbook passages) hold,
    in the order they stand; each with its offsets in ``output`` and an explanation."""
    if not output or not output.strip():
        return []
    idx = _index([*_texts(inputs), *_texts(list(context_texts))])
    every = facts(output)
    weekdays = set(idx.weekdays)  # and those of the draft's dates that the inputs hold ("Freitag, 12.06.2026")
    for f in every:
        if f.kind == "date" and _date_found(f.value, idx):
            weekdays |= {n for y, m, d in f.value if y for n in _weekday(y, m, d)}
    out = []
    for f in every:
        why = _verdict(f, idx, weekdays)
        if why is None:
            continue
        kind = "date" if f.kind == "weekday" else f.kind
        de, en = KINDS[kind]
        out.append(Unverified(output[f.start:f.end], kind, f.start, f.end, f"{de} „{output[f.start:f.end]}“ {why[0]}.",
                              f"{en} '{output[f.start:f.end]}' {why[1]}."))
    return out


def note(unverified: Iterable[Unverified | Mapping[str, Any]]) -> str:
    """One line for the Word document (German), empty when everything was found:
    "Faktenprüfung – nicht in Ihren Angaben gefunden, bitte prüfen: 14:30 Uhr (Uhrzeit), …"."""
    seen: dict[str, str] = {}
    for item in unverified:
        text, kind = (item.text, item.kind) if isinstance(item, Unverified) else (item.get("text"), item.get("kind"))
        if text and text not in seen:
            seen[str(text)] = KINDS.get(str(kind), ("Angabe", ""))[0]
    if not seen:
        return ""
    listed = ", ".join(f"{text} ({label})" for text, label in seen.items())
    return f"Faktenprüfung – nicht in Ihren Angaben gefunden, bitte prüfen: {listed}."
