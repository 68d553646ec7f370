"""`make bench`, apps: how well each default chat model writes the apps' drafts, from the evaluation cases in
the apps' definitions (appliance.apps.evaluation, scored by appliance.apps.quality; the same run as
`appliance models check`).

    python -m benchmarks.apps_quality [--model ID ...] [--app ID ...] [--baseline FILE] [--cases PATH]

Results: benchmarks/results/apps-<model>.json (every draft with its score) and docs/benchmarks-apps.md.
The "vorher" (before) columns come from --baseline FILE, else from the results JSON the previous run left.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import appliance  # noqa: F401  (telemetry off first)
from benchmarks.report import ROOT

RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks-apps.md"


def machine() -> str:
    import llama_cpp

    gpu = "no GPU"
    if shutil.which("nvidia-smi"):
        names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True, check=False).stdout.strip()
        gpu = names.replace("\n", ", ") or gpu
    build = "llama.cpp with GPU offload" if llama_cpp.llama_supports_gpu_offload() else "llama.cpp for the CPU"
    return f"{platform.machine()}, {os.cpu_count()} cores, {gpu}, {build}"


def run_model(model_id: str, apps: list[str], cases: Path | None, parallel: int) -> dict:
    from appliance.apps.evaluation import evaluate, load_cases
    from appliance.apps.store import load_builtins
    from appliance.cli.model_check import load_chat
    from tests.support.settings import make_settings

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), chat=[model_id], context_size=4096, threads=0)  # the box's defaults
        engines = load_chat(settings, model_id)
        try:
            report = asyncio.run(evaluate(engines, model_id, load_builtins().values(), apps,
                                          cases=load_cases(cases) if cases else None, concurrency=parallel))
        finally:
            engines.close()
    return {"date": date.today().isoformat(), "machine": machine(), "parallel": parallel,
            "load_average": [round(load, 2), round(os.getloadavg()[0], 2)], **report.as_dict()}


def _pct(summary: dict | None) -> str:
    if not summary or not summary.get("facts_total"):
        return "–"
    return f"{summary['facts_found']}/{summary['facts_total']} ({summary['recall']:.0%})".replace("%", " %")


def _per_case(summary: dict | None) -> str:
    value = (summary or {}).get("invented_per_case")
    return "–" if value is None else f"{value:.2f}".replace(".", ",")


def _share(summary: dict, what: str) -> str:
    checked = summary[f"{what}_checked"]
    return f"{summary[f'{what}_ok']}/{checked}" if checked else "–"


def _grade(summary: dict | None, note: str = "") -> str:
    return ((summary or {}).get("grade") or note or "–").replace("|", "/")


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min".replace(".", ",")


def section(results: dict, before: dict | None) -> str:
    old = {a["app"]: a["summary"] for a in before["apps"]} if before else {}
    head = ["App", "Fälle (cases)", "Faktentreue (fact recall)", "erfundene Angaben je Fall (invented per case)",
            "Aufbau (structure)", "Sprache (language)", "Bewertung (grade)"]
    if before:
        head = ["App", "Fälle (cases)", "Faktentreue vorher (recall before)", "Faktentreue nachher (after)",
                "erfunden je Fall vorher (invented before)", "nachher (after)", "Aufbau (structure)",
                "Sprache (language)", "Bewertung vorher (grade before)", "nachher (after)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for app in results["apps"]:
        s, was, note = app["summary"], old.get(app["app"]), app["note"]
        cases = f"{s['cases']}" + (f" (+{s['errors']} Fehler)" if s["errors"] else "") if not note else "–"
        if before:
            row = [app["app"], cases, _pct(was), _pct(s), _per_case(was), _per_case(s), _share(s, "structure"),
                   _share(s, "language"), _grade(was), _grade(s, note)]
        else:
            row = [app["app"], cases, _pct(s), _per_case(s), _share(s, "structure"), _share(s, "language"),
                   _grade(s, note)]
        lines.append("| " + " | ".join(row) + " |")
    total = results["summary"]
    overall = (f"**Gesamtbewertung (overall grade): {_grade(total, 'keine (no case ran)')}** – {total['cases']} Fälle,"
               f" Faktentreue {_pct(total)}, {_per_case(total)} erfundene Angaben je Fall,"
               f" Dauer (time) {_minutes(results['seconds'])}")
    if before:
        overall += f" (vorher/before: {_grade(before['summary'])}, {before.get('date', '?')})"
    if results.get("rerun"):
        overall += f". Neu gemessen (run again): {results['rerun']}; die übrigen Apps aus dem Lauf davor"
    if results.get("note"):  # what a reader must know about this run, written by whoever ran it
        overall += f"\n\n{results['note']}"
    return "\n".join([f"## {results['model']}", "",
                      f"Gemessen (measured) {results['date']} auf (on) {results['machine']};"
                      f" {results['parallel']} Fälle gleichzeitig (cases at once); load average"
                      f" {' → '.join(map(str, results['load_average']))}.", "", *lines, "", overall, ""])


PREAMBLE = """# Benchmarks: App-Qualität (app quality)

Gemessen mit `python -m benchmarks.apps_quality` (`make bench`): jedes Chat-Modell schreibt die Testfälle
(`cases`) der eingebauten Apps auf demselben Weg wie ein echter Lauf (Eingaben prüfen, Vorlage füllen, Modell,
Faktenprüfung), bewertet ohne Modell (`appliance/apps/quality.py`). Dasselbe prüft IT auf der Box mit
`appliance models check`.

(Each chat model writes the built-in apps' evaluation cases the way a real run does; scored without a model.)

- Faktentreue (fact recall): erwartete Angaben, die im Entwurf stehen (Datum, Uhrzeit, Maß nach Wert).
- Erfundene Angaben (invented): was die Faktenprüfung nicht in den Eingaben fand, plus verbotene Angaben
  (`expect.absent`), je Fall.
- Aufbau (structure) und Sprache (language): Fälle in Ordnung / geprüfte Fälle.
- Bewertung (grade): geeignet ab 90 % Faktentreue, höchstens 0,5 erfundenen Angaben je Fall, Aufbau und Sprache
  immer richtig; ungeeignet unter 60 %, ab 2 erfundenen Angaben je Fall oder mit Aufbau oder Sprache in mehr als
  einem Drittel falsch; dazwischen eingeschränkt.
"""


def merged(before: dict, partial: dict) -> dict:
    """The previous full run with the apps run again replaced; the overall figures summed anew."""
    from appliance.apps.quality import Summary, combine

    again = {a["app"]: a for a in partial["apps"]}
    apps = [again.pop(a["app"], a) for a in before["apps"]] + list(again.values())
    fields = set(Summary.__dataclass_fields__) - {"worst"}
    parts = [Summary(**{k: v for k, v in a["summary"].items() if k in fields}) for a in apps]
    rerun = ", ".join(a["app"] for a in partial["apps"])
    return {**partial, "apps": apps, "summary": combine(parts).as_dict(),
            "seconds": before["seconds"], "rerun": f"{rerun} ({partial['date']}, {partial['seconds']:.0f} s)"}


def record_grades(results: dict) -> None:
    """The grade of each built-in app with this model, for the app page and the catalogue
    (appliance/apps/grades.py): apps a model writes unreliably say so there."""
    from appliance.apps.grades import GRADES_FILE

    grades = json.loads(GRADES_FILE.read_text(encoding="utf-8")) if GRADES_FILE.exists() else {}
    grades[results["model"]] = {a["app"]: a["summary"]["grade"] for a in results["apps"] if a["summary"]["grade"]}
    GRADES_FILE.write_text(json.dumps(grades, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", default=[], help="chat model id (default: the catalogue's)")
    parser.add_argument("--app", action="append", default=[], help="only this app (repeatable)")
    parser.add_argument("--baseline", type=Path, help="results JSON to compare with (default: the previous run's)")
    parser.add_argument("--cases", type=Path, help="cases from <app-id>.yaml files instead of the apps' own")
    parser.add_argument("--parallel", type=int, default=4, help="cases written at once")
    args = parser.parse_args()
    from models.catalog import load_catalog

    models = args.model or [e.id for e in load_catalog().defaults() if e.kind == "chat"]
    sections = []
    for model_id in models:
        target = RESULTS / f"apps-{model_id}.json"
        previous = args.baseline or (target if target.exists() else None)
        before = json.loads(previous.read_text(encoding="utf-8")) if previous else None
        results = run_model(model_id, args.app, args.cases, args.parallel)
        if args.app and before:  # a few apps again (after changing them): the others stay as they were
            results = merged(before, results)
        RESULTS.mkdir(parents=True, exist_ok=True)
        record_grades(results)
        target.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        sections.append(section(results, before))
    DOC.write_text("\n".join([PREAMBLE, *sections]), encoding="utf-8")
    print(DOC.read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
