"""Names of people and of medications in a draft, found by how they are written, without a model
or a list of drugs: a name after Frau, Herr, Dr. or a role (Tochter, Hausärztin), a common first
name, or two capitalised words inside a sentence that are no nouns ("mit Anna Schmidt"); a medication
by the ending of its active substance ("-pril", "-olol", "-amol"), beside a dose ("500 mg X",
"X 5 mg") or after "Medikament". German nouns are capitalised too, so a word after an article
("Ihrem Kind Sonnencreme") or with a noun's ending ("-ung", "-keit") is never taken for a name."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache

from appliance.apps import fact_words as w
from appliance.apps.fact_items import WORD, Fact, fold, free_mask, sentence_start

DOT_TITLES = {"fr", "hr", "frl", "dr", "prof", "fam", "mr", "mrs", "ms", "dipl"}
NOUN_TITLES = {"frau", "herr", "herrn", "schwester", "pfleger", "familie", "pater"}
"""Titles that are also nouns: after an article ("die Frau Anfang 80") no name follows."""
ADVERBS = {"morgens", "mittags", "abends", "nachts", "täglich", "heute", "gestern", "zusätzlich", "bitte"}


@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    word: str

    @property
    def low(self) -> str:
        return self.word.casefold()


@cache
def _latin(word: str) -> bool:
    return all(not c.isalpha() or unicodedata.name(c, "").startswith("LATIN") for c in word)


def _capitalised(word: str) -> bool:
    """"Müller", "Müller-Lüdenscheidt", "Yılmaz"; not "RR", "HÄ", "ISBAR" (abbreviations)."""
    return len(word) > 1 and word[0].isupper() and not word.replace("-", "").isupper() and _latin(word)


def _vocabulary(low: str) -> bool:
    """A word the checker knows as something other than a name."""
    return (low in w.NOT_NAMES or low in w.HONORIFICS or low in w.ROLES or low in w.WEEKDAYS or low in w.MONTHS
            or low in w.UNITS or low in w.ONES or low in w.TENS or low in w.DETERMINERS or low in w.DRUG_WORDS
            or low in w.NOT_DRUGS or low in w.STRUCTURE_WORDS)


def _noun(word: str) -> bool:
    low = word.casefold().split("-")[-1]
    return len(low) > 5 and low.endswith(w.NOUN_ENDINGS)


def _name_like(word: str) -> bool:
    """Could be a name beyond a title: capitalised, no known word, no noun's ending."""
    parts = word.casefold().split("-")
    if word.casefold() in w.FIRST_NAMES:
        return _capitalised(word)  # "Franz", though "-anz" ends nouns ("Bilanz")
    return _capitalised(word) and not any(_vocabulary(p) for p in parts) and not _noun(word)


class _Names:
    def __init__(self, text: str, facts: list[Fact]) -> None:
        self.text = text
        mask = free_mask(text, facts)
        self.toks = [_Tok(m.start(), m.end(), m.group()) for m in WORD.finditer(text)
                     if not any(mask[m.start():m.end()])]
        self.facts = facts
        self.found: list[Fact] = []
        self.used: set[int] = set()

    def gap(self, i: int) -> str:
        """What stands between token i and token i + 1."""
        return self.text[self.toks[i].end:self.toks[i + 1].start] if i + 1 < len(self.toks) else "\n"

    def next_to(self, i: int, dot: bool = False) -> bool:
        gap = self.gap(i)
        return (gap.strip(" \u00a0\t") == "" and gap != "") or (dot and gap.strip(" \u00a0\t") == ".")

    def prev_low(self, i: int) -> str:
        if i == 0 or "\n" in self.text[self.toks[i - 1].end:self.toks[i].start]:
            return ""
        return self.toks[i - 1].low if self.next_to(i - 1, dot=True) else ""

    def add(self, kind: str, first: int, last: int, value, start: int | None = None, end: int | None = None) -> None:
        start = self.toks[first].start if start is None else start
        end = self.toks[last].end if end is None else end
        self.found.append(Fact(kind, self.text[start:end], start, end, value))
        self.used.update(range(first, last + 1))

    def _title_case_line(self, pos: int) -> bool:
        """An English heading ("Important Dates For Parents"): its capitals say nothing about names."""
        start = self.text.rfind("\n", 0, pos) + 1
        end = self.text.find("\n", pos)
        line = [m.group() for m in WORD.finditer(self.text[start:end if end >= 0 else len(self.text)])]
        return len(line) >= 3 and sum(word[0].isupper() for word in line) >= 0.75 * len(line)

    def line_start(self, i: int) -> bool:
        line = self.text[self.text.rfind("\n", 0, self.toks[i].start) + 1:self.toks[i].start]
        return line.strip(" \t-*•#>0123456789.)") == ""

    # -- medications ---------------------------------------------------------------------------

    def medications(self) -> None:
        toks = self.toks
        for i, t in enumerate(toks):
            offset = t.start
            for part in t.word.split("-"):  # "Ibuprofen-Tabletten", "Novalgin-Tropfen"
                low = part.casefold()
                if (len(part) >= 6 and _latin(part) and fold(part).endswith(w.DRUG_ENDINGS)
                        and low not in w.NOT_DRUGS and not _noun(part)):
                    self.add("medication", i, i, fold(part), offset, offset + len(part))
                    break
                offset += len(part) + 1
            else:
                parts = t.word.split("-")
                if len(parts) > 1 and parts[-1].casefold() in w.DRUG_FORMS and self._drug(parts[0]):
                    self.add("medication", i, i, fold(parts[0]), t.start, t.start + len(parts[0]))
        by_start = {t.start: i for i, t in enumerate(toks)}
        by_end = {t.end: i for i, t in enumerate(toks)}
        for f in self.facts:
            if not f.dose:
                continue
            before = self._tok_ending_before(f.start, by_end)
            if before is not None and (not sentence_start(self.text, toks[before].start) or self.line_start(before)):
                self._medication(before)
            after = self._tok_starting_after(f.end, by_start)
            if after is not None:
                self._medication(after)
        for i, t in enumerate(toks[:-1]):
            if (t.low in w.DRUG_WORDS and t.low != "gabe") or (t.low == "gabe" and toks[i + 1].low == "von"):
                j = i + 2 if t.low == "gabe" else i + 1
                if j < len(toks) and self.text[t.end:toks[j].start].strip(" :von") == "":
                    self._medication(j)

    def _drug(self, word: str) -> bool:
        low = word.casefold()
        return (_capitalised(word) and len(word) >= 4 and low not in w.NOT_DRUGS and low not in w.NOT_NAMES
                and not low.endswith("dosis")
                and low not in w.UNITS and low not in w.DRUG_WORDS and low not in ADVERBS and not _noun(word)
                and low not in w.ROLES and low not in w.HONORIFICS and low not in w.WEEKDAYS)

    def _medication(self, i: int) -> None:
        if i not in self.used and self._drug(self.toks[i].word):
            self.add("medication", i, i, fold(self.toks[i].word))

    def _tok_ending_before(self, pos: int, by_end: dict[int, int]) -> int | None:
        j = pos
        while j > 0 and self.text[j - 1] in " \u00a0\t":
            j -= 1
        return by_end.get(j) if j < pos else None

    def _tok_starting_after(self, pos: int, by_start: dict[int, int]) -> int | None:
        j = pos
        while j < len(self.text) and self.text[j] in " \u00a0\t":
            j += 1
        return by_start.get(j) if j > pos else None

    # -- people --------------------------------------------------------------------------------

    def people(self) -> None:
        toks, i = self.toks, 0
        while i < len(toks):
            if i in self.used:
                i += 1
                continue
            i = self._after_title(i) or self._after_role(i) or self._first_name(i) or self._sequence(i) or i + 1

    def _collect(self, j: int, strict: bool, most: int = 3) -> list[int]:
        """The name's words from token j on: capitalised words (strict: that are no nouns), with
        "von", "de", ... between them."""
        names: list[int] = []
        while j < len(self.toks) and len(names) < most and j not in self.used:
            word, low = self.toks[j].word, self.toks[j].low
            if (names and low in w.PARTICLES and j + 1 < len(self.toks) and self.next_to(j)
                    and _capitalised(self.toks[j + 1].word)):
                j += 1  # "von", "de" inside a name
                continue
            ok = _name_like(word) if strict else _capitalised(word) and not any(
                _vocabulary(p) and p not in w.PARTICLES for p in low.split("-"))
            if not ok:
                break
            names.append(j)
            if not self.next_to(j):
                break
            j += 1
        return names

    def _after_title(self, i: int) -> int | None:
        t = self.toks[i]
        if not _capitalised(t.word) and t.low not in ("dr", "prof"):
            return None
        if t.low in DOT_TITLES:
            if not self.next_to(i, dot=True) or ("." not in self.gap(i) and t.low not in ("mr", "mrs", "ms", "dr")):
                return None
        elif t.low not in w.HONORIFICS or self.prev_low(i) in w.DETERMINERS or not self.next_to(i):
            return None
        j = i + 1
        while j < len(self.toks) and self.toks[j].low in w.HONORIFICS | {"med"} and self.next_to(j, dot=True):
            j += 1  # "Frau Dr. med. Keller"
        names = self._collect(j, strict=False)
        if not names:
            return None
        self.add("name", i, names[-1], tuple(self.toks[n].word for n in names))
        return names[-1] + 1

    def _after_role(self, i: int) -> int | None:
        t = self.toks[i]
        if t.low not in w.ROLES or not self.next_to(i) or i + 1 >= len(self.toks):
            return None
        if self.toks[i + 1].low in w.HONORIFICS:
            return None  # "Hausärztin Dr. Keller": the title finds it
        before = self.prev_low(i)
        feminine = t.low.endswith("in") or t.low in w.FEMININE_ROLES
        if before in ("dem", "den", "einem", "einer", "des", "eines") or (before == "der" and feminine):
            return None  # a dative or genitive: "der Bewohnerin Joghurt gereicht", "dem Sohn Bescheid"
        names = self._collect(i + 1, strict=True, most=2)
        if not names:
            return None
        self.add("name", names[0], names[-1], tuple(self.toks[n].word for n in names))
        return names[-1] + 1

    def _first_name(self, i: int) -> int | None:
        t = self.toks[i]
        if t.low not in w.FIRST_NAMES or not _capitalised(t.word) or (self.text[t.end:t.end + 1] == "." and t.low in (
                "max", "jan")):
            return None
        names = [i] + (self._collect(i + 1, strict=True, most=2) if self.next_to(i) else [])
        self.add("name", i, names[-1], tuple(self.toks[n].word for n in names))
        return names[-1] + 1

    def _sequence(self, i: int) -> int | None:
        t = self.toks[i]
        if (not _name_like(t.word) or sentence_start(self.text, t.start) or self.prev_low(i) in w.DETERMINERS
                or not self.next_to(i) or self._title_case_line(t.start)):
            return None
        names = self._collect(i, strict=True)
        if len(names) < 2:
            return None
        self.add("name", i, names[-1], tuple(self.toks[n].word for n in names))
        return names[-1] + 1


def names_and_medications(text: str, facts: list[Fact]) -> list[Fact]:
    """The medications and people's names in ``text`` (its digits as ``fact_items.find`` saw
    them), outside the other ``facts``."""
    finder = _Names(text, facts)
    finder.medications()
    finder.people()
    return sorted(finder.found, key=lambda f: f.start)
