"""Where benchmark results go: raw JSON in benchmarks/results, a Markdown table in docs/."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def save(results: dict, json_name: str, doc_name: str, table: str) -> None:
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / json_name).write_text(json.dumps(results, indent=2) + "\n")
    (ROOT / "docs" / doc_name).write_text(table)
    print(table)
