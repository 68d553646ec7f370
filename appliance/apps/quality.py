"""How good one draft is against one evaluation case (appliance.apps.cases), without a model.

Pure and deterministic (the language check asks lingua, which is deterministic too):

- **Faktentreue** (fact recall): each ``expect.facts`` string is looked for in the draft. Its dates,
  times, numbers with units and amounts are compared by value, as the fact check reads them
  ("14.03.2026" = "14. März 2026" = "2026-03-14", "7:15" = "07:15 Uhr", "zwei Tage" = "2 Tage"); a
  number without a unit must stand as a number in the draft, not inside a date. The words around them
  (and a fact without any) must stand in the draft as written, case and Unicode form aside ("Elternvertret"
  finds "Elternvertreterin").
- **Erfundene Angaben** (invented facts): the run's fact check (``unverified``: dates, times, numbers,
  names ... the model was not given) plus each ``expect.absent`` string found in the draft at the start of a
  word ("Diabet" finds "Diabetes", "Arzt" does not find "Bereitschaftsarzt"); an absent date or time is
  found in any of its written forms. The same text counts once.
- **Aufbau** (structure): the app's required sections are there and none is ``[fehlt]``; each
  ``expect.structure`` string begins a line (Markdown ``#``, ``*``, ``-`` and case aside).
- **Sprache** (language): with ``expect.languages``, every paragraph of at least MIN_LETTERS letters
  (headings and [Platzhalter] left out) is given a language; the draft passes when each is expected and
  each expected one occurs. Croatian, Serbian and Bosnian count as one. A language the detector does not
  know (Kurdish, Tigrinya, Pashto ...) makes the check "nicht prüfbar" (not counted).

Grades (``grade``), for an app over its cases and for a model over all of them:

- **geeignet** (suitable): fact recall >= 0.9, at most 0.5 invented facts per case, every checked
  structure and language right;
- **ungeeignet** (unsuitable): fact recall < 0.6, or 2 or more invented facts per case, or the structure
  or the language wrong in more than a third of the cases checked for it;
- **eingeschränkt** (limited): everything between.

A case with no facts expected leaves recall out; a case that could not run (its inputs are invalid) is
reported and left out of the grade. A model is at most "eingeschränkt" while one of its apps is "ungeeignet".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from fractions import Fraction
from functools import cache
from typing import Any

from appliance.apps.cases import Case
from appliance.apps.fact_check import check, facts
from appliance.apps.fact_items import Fact, find
from appliance.apps.runs import chosen_sections
from appliance.apps.sections import MISSING, Section, missing, split
from appliance.apps.spec import AppSpec

WORD_KINDS = ("name", "medication")
"""Fact kinds that a fact string names as words: compared as text, not by value."""
MIN_LETTERS = 20
LANGUAGES = ("de", "en", "uk", "ru", "tr", "ar", "pl", "ro", "fa", "fr", "es", "it", "hr", "sr", "bs", "bg", "el",
             "sq", "vi", "so")
"""The languages the language check tells apart: those of the box's letters and translations that lingua
knows (it has no Kurdish, Tigrinya, Pashto or Dari; Dari is read as Persian, fa)."""
SAME_LANGUAGE = {"sr": "hr", "bs": "hr"}
"""Written alike, told apart unreliably: one language for the check."""

RECALL_GOOD = Fraction(9, 10)
RECALL_POOR = Fraction(6, 10)
INVENTED_GOOD = Fraction(1, 2)  # per case
INVENTED_POOR = Fraction(2)  # per case
FAILING_POOR = Fraction(1, 3)  # of the cases checked for structure, or for language


class Grade(StrEnum):
    geeignet = "geeignet"
    eingeschraenkt = "eingeschränkt"
    ungeeignet = "ungeeignet"

    @property
    def en(self) -> str:
        return {"geeignet": "suitable", "eingeschränkt": "limited", "ungeeignet": "unsuitable"}[self.value]


# -- facts ---------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def _items(text: str) -> list[Fact]:
    return [f for f in facts(text) if f.kind not in WORD_KINDS]


def _plain_numbers(output: str) -> set:
    """The numbers of a draft that stand as numbers (with or without a unit), not inside a date or time."""
    found: set = set()
    for f in find(output, lenient=True):
        if f.kind in ("number", "money"):
            found |= set(f.value) if f.unit is None else set(f.written)
    return found


def _words(phrase: str, items: Sequence[Fact]) -> list[str]:
    """The parts of a phrase around its items, each with at least two letters."""
    parts, at = [], 0
    for f in items:
        parts.append(phrase[at:f.start])
        at = f.end
    parts.append(phrase[at:])
    parts = [p.strip(" \t\n.,;:!?()-–/\"'„“”") for p in parts]
    return [p for p in parts if sum(c.isalpha() for c in p) >= 2]


def _items_found(phrase: str, items: Sequence[Fact], output: str) -> bool:
    if any(u.kind not in WORD_KINDS for u in check(phrase, None, [output])):
        return False
    plain = [f for f in items if f.kind == "number" and f.unit is None]
    if plain:
        numbers = _plain_numbers(output)
        return all(set(f.value) & numbers for f in plain)
    return True


def fact_found(fact: str, output: str) -> bool:
    """An expected fact stands in the draft: its dates, times, numbers by value, its words as text."""
    items = _items(fact)
    if items and not _items_found(fact, items, output):
        return False
    text = _norm(output)
    return all(_norm(w) in text for w in _words(fact, items))


def absent_found(phrase: str, output: str) -> bool:
    """A string the draft must not hold is there: by value where it is a date, time or number alone,
    else as text at the start of a word."""
    items = _items(phrase)
    words = _words(phrase, items)
    if items and not words:
        return _items_found(phrase, items, output)
    return re.search(r"(?<!\w)" + re.escape(_norm(phrase)), _norm(output)) is not None


@dataclass(frozen=True)
class Invented:
    text: str
    kind: str  # the fact check's kind (date, time, number, money, name, medication ...) or "absent"


def invented(unverified: Iterable[Mapping[str, Any]], absent: Iterable[str], output: str) -> list[Invented]:
    """The run's unverified facts and the absent strings the draft holds, each text once."""
    out: dict[str, Invented] = {}
    for item in unverified:
        text = str(item.get("text", ""))
        out.setdefault(_norm(text), Invented(text, str(item.get("kind", ""))))
    for phrase in absent:
        if absent_found(phrase, output):
            out.setdefault(_norm(phrase), Invented(phrase, "absent"))
    return list(out.values())


# -- structure -----------------------------------------------------------------------------------


def _line_start(text: str) -> str:
    return _norm(text.replace("*", "").lstrip("#-•* \t"))


def structure_problems(output: str, sections: Sequence[Section], starts: Sequence[str] = ()) -> list[str]:
    """What is wrong with the draft's structure (German), empty when nothing is."""
    problems = [f"Abschnitt „{t}“ fehlt" for t in missing(output, list(sections))]
    required = {s.title for s in sections if not s.optional}
    empty = {p.title for p in split(output, list(sections)) if p.title in required and p.text == MISSING}
    problems += [f"Abschnitt „{t}“ ist {MISSING}" for t in sorted(empty)]
    lines = [_line_start(line) for line in output.splitlines()]
    problems += [f"keine Zeile beginnt mit „{s}“" for s in starts
                 if not any(line.startswith(_line_start(s)) for line in lines)]
    return problems


# -- language ------------------------------------------------------------------------------------


@cache
def _detector():
    """Built once, on first use; each language's model loads when a text in its script first needs it
    (about 320 MB for Latin-script drafts, about 480 MB once Cyrillic and Arabic ones were read)."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_iso_codes_639_1(*(getattr(IsoCode639_1, c.upper()) for c in LANGUAGES)).build()


_HEADING = re.compile(r"^\s*#.*$", re.MULTILINE)
_PLACEHOLDER = re.compile(r"\[[^\]\n]*\]")


def paragraphs(output: str) -> list[str]:
    """The draft's paragraphs worth a language: blank-line separated, headings and [Platzhalter] left out,
    at least MIN_LETTERS letters."""
    text = _PLACEHOLDER.sub(" ", _HEADING.sub("", output))
    parts = (p.strip() for p in re.split(r"\n\s*\n", text))
    return [p for p in parts if sum(c.isalpha() for c in p) >= MIN_LETTERS]


def detect_languages(output: str) -> list[str]:
    """The language (ISO 639-1) of each paragraph, in order (one lingua cannot place is left out)."""
    found = []
    for paragraph in paragraphs(output):
        language = _detector().detect_language_of(paragraph)
        if language is not None:
            found.append(language.iso_code_639_1.name.lower())
    return found


def language_verdict(found: Sequence[str], expected: Sequence[str]) -> tuple[bool | None, str]:
    """(passes, label): label lists the languages found, unexpected ones marked "!" and missing ones named,
    e.g. "de, ru! (fehlt: uk)". None when an expected language cannot be told apart here."""
    unknown = [c for c in expected if c not in LANGUAGES]
    same = {SAME_LANGUAGE.get(c, c) for c in expected}
    seen = list(dict.fromkeys(found))
    label = ", ".join(c if SAME_LANGUAGE.get(c, c) in same else f"{c}!" for c in seen) or "–"
    if unknown:
        return None, f"{label} (nicht prüfbar: {', '.join(unknown)})"
    lacking = [c for c in expected if SAME_LANGUAGE.get(c, c) not in {SAME_LANGUAGE.get(s, s) for s in seen}]
    if lacking:
        label += f" (fehlt: {', '.join(lacking)})"
    return not lacking and all(SAME_LANGUAGE.get(c, c) in same for c in seen), label


# -- one case ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseScore:
    facts_found: list[str]
    facts_missing: list[str]
    invented: list[Invented]
    structure_ok: bool | None  # None: nothing to check
    structure_problems: list[str]
    language_ok: bool | None  # None: not asked for, or not checkable
    languages: str  # e.g. "de, uk, ru!"; empty when not asked for

    @property
    def facts_total(self) -> int:
        return len(self.facts_found) + len(self.facts_missing)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "facts_total": self.facts_total}


def score(spec: AppSpec, case: Case, run: Mapping[str, Any]) -> CaseScore:
    """One draft against one case; ``run``: the run's result (appliance.apps.runs.result), of which
    ``output`` and ``unverified`` are read."""
    output = str(run.get("output", ""))
    expect = case.expect
    found = [f for f in expect.facts if fact_found(f, output)]
    sections = chosen_sections(spec, case.inputs)  # the funding app's "Zeitplan" alone is one section
    problems = structure_problems(output, sections, expect.structure)
    checked = bool(sections or expect.structure)
    language_ok, languages = (language_verdict(detect_languages(output), expect.languages) if expect.languages
                              else (None, ""))
    return CaseScore(found, [f for f in expect.facts if f not in found],
                     invented(run.get("unverified", []), expect.absent, output),
                     not problems if checked else None, problems, language_ok, languages)


# -- many cases ----------------------------------------------------------------------------------


def grade(found: int, total: int, invented: int, cases: int, structure_failed: int = 0, structure_checked: int = 0,
          language_failed: int = 0, language_checked: int = 0) -> Grade | None:
    """The grade of these figures (thresholds: the module's docstring); None without a case."""
    if cases <= 0:
        return None
    recall = Fraction(found, total) if total else Fraction(1)
    per_case = Fraction(invented, cases)
    failing = [Fraction(f, n) for f, n in ((structure_failed, structure_checked), (language_failed, language_checked))
               if n]
    if recall < RECALL_POOR or per_case >= INVENTED_POOR or any(f > FAILING_POOR for f in failing):
        return Grade.ungeeignet
    if recall >= RECALL_GOOD and per_case <= INVENTED_GOOD and not any(failing):
        return Grade.geeignet
    return Grade.eingeschraenkt


@dataclass(frozen=True)
class Summary:
    """The figures of several scored cases (an app's, or a model's)."""

    cases: int = 0
    facts_found: int = 0
    facts_total: int = 0
    invented: int = 0
    structure_ok: int = 0
    structure_checked: int = 0
    language_ok: int = 0
    language_checked: int = 0
    errors: int = 0  # cases that could not run: reported, not graded
    worst: list[Grade] = field(default_factory=list)  # the grades of the parts (a model's apps)

    @property
    def recall(self) -> float | None:
        return self.facts_found / self.facts_total if self.facts_total else None

    @property
    def invented_per_case(self) -> float | None:
        return self.invented / self.cases if self.cases else None

    @property
    def grade(self) -> Grade | None:
        own = grade(self.facts_found, self.facts_total, self.invented, self.cases,
                    self.structure_checked - self.structure_ok, self.structure_checked,
                    self.language_checked - self.language_ok, self.language_checked)
        if own is Grade.geeignet and Grade.ungeeignet in self.worst:
            return Grade.eingeschraenkt
        return own

    def as_dict(self) -> dict[str, Any]:
        g = self.grade
        return {**{k: v for k, v in asdict(self).items() if k != "worst"}, "recall": self.recall,
                "invented_per_case": self.invented_per_case, "grade": g.value if g else None}


def summarise(scores: Iterable[CaseScore | None]) -> Summary:
    """An app's figures; None stands for a case that could not run."""
    n = found = total = made_up = s_ok = s_n = l_ok = l_n = errors = 0
    for s in scores:
        if s is None:
            errors += 1
            continue
        n += 1
        found += len(s.facts_found)
        total += s.facts_total
        made_up += len(s.invented)
        if s.structure_ok is not None:
            s_n += 1
            s_ok += s.structure_ok
        if s.language_ok is not None:
            l_n += 1
            l_ok += s.language_ok
    return Summary(n, found, total, made_up, s_ok, s_n, l_ok, l_n, errors)


def combine(parts: Iterable[Summary]) -> Summary:
    """A model's figures over its apps: the cases pooled; at most "eingeschränkt" with an "ungeeignet" app."""
    parts = list(parts)
    return Summary(*(sum(getattr(p, k) for p in parts) for k in _COUNTS),
                   worst=[g for p in parts if (g := p.grade) is not None])


_COUNTS = ("cases", "facts_found", "facts_total", "invented", "structure_ok", "structure_checked", "language_ok",
           "language_checked", "errors")
