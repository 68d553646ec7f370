"""How well a chat model writes each built-in app, as `make bench` measured it (benchmarks/apps_quality.py
writes builtin/grades.json: {model id: {app id: grade}}). An app that the box's model writes unreliably
says so on its page and its tile, instead of pretending (issue: drafts a care worker can trust)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

GRADES_FILE = Path(__file__).with_name("builtin") / "grades.json"
WEAK = ("eingeschränkt", "ungeeignet")


@lru_cache(maxsize=1)
def _recorded() -> dict[str, dict[str, str]]:
    try:
        return json.loads(GRADES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def weak_grade(model_id: str | None, app_id: str) -> str | None:
    """"eingeschränkt" or "ungeeignet" when that is what the model was measured at for this app; else None."""
    grade = _recorded().get(model_id or "", {}).get(app_id)
    return grade if grade in WEAK else None
