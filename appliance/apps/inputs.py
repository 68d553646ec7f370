"""Staff's input values, checked against the app's fields and made ready for the template."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from appliance.apps.spec import AppSpec, InputType

TEXT_TYPES = (InputType.text, InputType.long_text, InputType.file, InputType.audio)


class InputError(ValueError):
    def __init__(self, name: str, de: str, en: str, status: int = 422, code: str = "invalid_input") -> None:
        super().__init__(en)
        self.name = name
        self.de = de
        self.en = en
        self.status = status
        self.code = code


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value)


def _date(value: str) -> str:
    value = value.strip()
    for fmt in ("%Y-%m-%d", "%d.%m.%Y", "%d.%m.%y"):
        try:
            return datetime.strptime(value, fmt).date().strftime("%d.%m.%Y")
        except ValueError:
            continue
    raise ValueError(value)


def _number(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        number = float(value)
    else:
        cleaned = str(value).strip().replace(" ", "")
        if re.fullmatch(r"-?\d{1,3}(\.\d{3})+(,\d+)?", cleaned):  # German thousands: 1.250,50
            cleaned = cleaned.replace(".", "")
        number = float(cleaned.replace(",", "."))
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(value)
    text = f"{number:.10g}"
    return text.replace(".", ",")


def check_inputs(spec: AppSpec, raw: dict[str, Any]) -> dict[str, Any]:
    """Values for the template: text NFC-normalised, dates German (TT.MM.JJJJ), numbers with a comma."""
    if not isinstance(raw, dict):
        raise InputError("inputs", "Die Eingaben müssen ein Objekt sein (Feldname: Wert).",
                         "inputs must be an object (field name: value).")
    unknown = sorted(set(raw) - {f.name for f in spec.inputs})
    if unknown:
        raise InputError(unknown[0], f"Dieses Feld gibt es in der App nicht: {unknown[0]}.",
                         f"The app has no field named {unknown[0]}.")
    values: dict[str, Any] = {}
    for field in spec.inputs:
        value = raw.get(field.name)
        if _empty(value):
            if field.required:
                raise InputError(field.name, f"Bitte „{field.label}“ ausfüllen.", f"Please fill in '{field.label}'.")
            values[field.name] = [] if field.type is InputType.multi_choice else ""
            continue
        if field.type in TEXT_TYPES:
            if not isinstance(value, str):
                raise InputError(field.name, f"„{field.label}“ muss Text sein.", f"'{field.label}' must be text.")
            value = unicodedata.normalize("NFC", value).strip()
            if len(value) > field.limit:
                raise InputError(field.name, f"„{field.label}“ ist zu lang ({len(value)} Zeichen, höchstens"
                                 f" {field.limit}).", f"'{field.label}' is too long ({len(value)} characters, at"
                                 f" most {field.limit}).")
        elif field.type is InputType.choice:
            value = unicodedata.normalize("NFC", str(value)).strip()
            if value not in field.options:
                raise InputError(field.name, f"„{field.label}“: bitte eine der Möglichkeiten wählen"
                                 f" ({', '.join(field.options)}).",
                                 f"'{field.label}': choose one of {', '.join(field.options)}.")
        elif field.type is InputType.multi_choice:
            items = value if isinstance(value, list) else [value]
            items = [unicodedata.normalize("NFC", str(v)).strip() for v in items]
            wrong = [v for v in items if v not in field.options]
            if wrong:
                raise InputError(field.name, f"„{field.label}“: „{wrong[0]}“ ist keine der Möglichkeiten.",
                                 f"'{field.label}': '{wrong[0]}' is not one of the options.")
            value = list(dict.fromkeys(items))
        elif field.type is InputType.date:
            try:
                value = _date(value.isoformat() if isinstance(value, date) else str(value))
            except ValueError:
                raise InputError(field.name, f"„{field.label}“ ist kein Datum (TT.MM.JJJJ).",
                                 f"'{field.label}' is not a date (YYYY-MM-DD).") from None
        elif field.type is InputType.number:
            try:
                value = _number(value)
            except (ValueError, TypeError):
                raise InputError(field.name, f"„{field.label}“ ist keine Zahl.",
                                 f"'{field.label}' is not a number.") from None
        values[field.name] = value
    return values
