"""Which way a text runs: by the language's name where it is known, by its script otherwise.

Letters and translations go to families who read Arabic, Farsi, Dari, Pashto, Urdu, Hebrew or
Kurdish (Sorani), written right to left; the Word document and the page lay those out that way.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# names as staff choose them (German), in English, in the language itself, and codes; casefolded
RTL_LANGUAGES = frozenset({
    "arabisch", "arabic", "العربية", "ar",
    "farsi", "persisch", "persian", "persisch (farsi/dari)", "persian (farsi/dari)", "فارسی", "fa",
    "dari", "دری", "prs", "fa-af",
    "paschtu", "paschto", "pashto", "پښتو", "ps",
    "urdu", "اردو", "ur",
    "hebräisch", "hebrew", "עברית", "he", "iw",
    "kurdisch (sorani)", "sorani", "kurdish (sorani)", "central kurdish", "کوردی", "ckb",
    "jiddisch", "yiddish", "ייִדיש", "yi",
    "uigurisch", "uyghur", "ug", "sindhi", "sd", "dhivehi", "dv",
})
LTR_LANGUAGES = frozenset({
    "deutsch", "german", "de", "ukrainisch", "ukrainian", "українська", "uk", "türkisch", "turkish", "türkçe",
    "tr", "russisch", "russian", "русский", "ru", "rumänisch", "romanian", "română", "ro", "polnisch", "polish",
    "polski", "pl", "englisch", "english", "en", "französisch", "french", "français", "fr",
    "kurdisch (kurmandschi)", "kurmandschi", "kurmanji", "kurdish (kurmanji)", "kmr", "bulgarisch", "bulgarian",
    "bg", "serbisch", "serbian", "sr", "kroatisch", "croatian", "hr", "bosnisch", "bosnian", "bs",
    "serbisch/kroatisch/bosnisch", "albanisch", "albanian", "shqip", "sq", "italienisch", "italian", "it",
    "spanisch", "spanish", "es", "vietnamesisch", "vietnamese", "vi", "tigrinya", "ti", "somali", "so",
    "griechisch", "greek", "el", "ungarisch", "hungarian", "hu", "tschechisch", "czech", "cs",
    "niederländisch", "dutch", "nl", "portugiesisch", "portuguese", "pt", "georgisch", "georgian", "ka",
    "armenisch", "armenian", "hy", "amharisch", "amharic", "български", "српски", "hrvatski", "bosanski",
    "italiano", "español", "tiếng việt", "soomaali",
})
GERMAN = frozenset({"deutsch", "german", "de"})


def _key(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).replace("*", "").split()).casefold().strip(" :#")


def language_is_rtl(name: str | None) -> bool | None:
    """True for a language written right to left, False for one written left to right, None if unknown."""
    key = _key(name or "")
    if key in RTL_LANGUAGES:
        return True
    if key in LTR_LANGUAGES:
        return False
    return None


def is_german(name: str | None) -> bool:
    return _key(name or "") in GERMAN


def strong_letters(text: str) -> tuple[int, int]:
    """(right-to-left, left-to-right) characters by their Unicode bidi class; digits and marks count for none."""
    rtl = ltr = 0
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            rtl += 1
        elif kind == "L":
            ltr += 1
    return rtl, ltr


def text_is_rtl(text: str, default: bool = False) -> bool:
    """Mostly right-to-left letters (a Latin placeholder in an Arabic line does not turn it); ``default``
    when the text has no letters at all (a date, a line to sign on)."""
    rtl, ltr = strong_letters(text)
    return default if rtl == ltr == 0 else rtl > ltr


def chosen_language(values: Iterable[str]) -> str | None:
    """The first of the values that names a language other than German (an app's "Zielsprache")."""
    for value in values:
        if isinstance(value, str) and not is_german(value) and language_is_rtl(value) is not None:
            return value
    return None


def one_way_pieces(text: str) -> list[str]:
    """``text`` cut where its letters change direction ("[Name des Kindes] " | "يمكنه ..."), so that each
    piece can be one run, right to left or not. A cut falls after the last space between the two letters;
    digits and punctuation stay with their words."""
    pieces: list[str] = []
    start, way, gap = 0, "", 0  # gap: where to cut if the next letter runs the other way
    for i, char in enumerate(text):
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL", "L"):
            new = "L" if kind == "L" else "R"
            if way and new != way:
                cut = gap or i
                pieces.append(text[start:cut])
                start = cut
            way, gap = new, 0
        elif char.isspace() and way:
            gap = i + 1
    pieces.append(text[start:])
    return [p for p in pieces if p]
