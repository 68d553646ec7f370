"""The planted cases for the fact check (``fact_cases.yaml``: what they are and how they were made)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass
class Case:
    app: str
    inputs: dict[str, str]
    output: str
    faithful: list[str] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)


def _load() -> dict[str, list[Case]]:
    data = yaml.safe_load((Path(__file__).with_name("fact_cases.yaml")).read_text(encoding="utf-8"))
    return {key: [Case(**case) for case in cases] for key, cases in data.items()}


_CASES = _load()
CASES: list[Case] = _CASES["tuned"]
"""The cases the rules were developed on."""
LATER: list[Case] = _CASES["later"]
"""Written afterwards, without running the check on them first."""
