"""An app's evaluation cases: inputs as staff would write them, and what a faithful draft holds.

They live in the app's definition (``cases``), so built-in apps, the builder and an app file
exported to another facility carry them; ``appliance models check`` runs them (appliance.apps.quality).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

MAX_CASES = 20
Short = Annotated[str, Field(min_length=1, max_length=200)]


class Expectation(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    facts: list[Short] = Field(default_factory=list, max_length=20,
                               description="muss im Entwurf stehen (Datum, Uhrzeit, Maß, Rolle, Ort …)")
    absent: list[Short] = Field(default_factory=list, max_length=20,
                                description="darf nicht im Entwurf stehen (erfundene Medikamente, Diagnosen …)")
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=list, max_length=4, description="Sprachen des Entwurfs (ISO 639-1), z. B. de, uk")
    structure: list[Short] = Field(default_factory=list, max_length=20,
                                   description="Zeilenanfänge, die der Entwurf haben muss")


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=2, max_length=120)]
    inputs: dict[str, Any]
    expect: Expectation = Field(default_factory=Expectation)
