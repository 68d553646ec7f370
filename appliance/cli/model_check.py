"""appliance models check: how well a chat model writes the apps' drafts, from their evaluation cases."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from appliance.apps.evaluation import CONCURRENCY, AppReport, CaseRun, Report, UnknownApps, evaluate, load_cases, select
from appliance.apps.quality import Grade, Summary
from appliance.cli.common import err, fail, out, settings
from appliance.config import Settings
from appliance.engines import Engines

GRADE_STYLE = {Grade.geeignet: "green", Grade.eingeschraenkt: "yellow", Grade.ungeeignet: "red"}


def load_chat(s: Settings, model_id: str) -> Engines:
    """Just this chat model, loaded as the service loads it (threads, GPU layers, context, parallel
    requests from the settings); ValueError/ModelFileError/OSError/RuntimeError with the reason."""
    from appliance.engines import load_engines
    from models.catalog import load_catalog

    entry = load_catalog(s.models_dir).get(model_id)  # KeyError: not in the catalogue
    if entry.kind != "chat":
        raise ValueError(f"„{model_id}“ ist kein Chat-Modell (sondern {entry.kind}).")
    only = s.models.model_copy(update={"chat": [model_id], "embedding": None, "speech": [], "voices": []})
    return load_engines(s.model_copy(update={"models": only}))


def number(value: float, digits: int = 1) -> str:
    return f"{value:.{digits}f}".replace(".", ",")


def recall_text(s: Summary) -> str:
    return f"{s.facts_found}/{s.facts_total} ({s.recall:.0%})".replace("%", " %") if s.facts_total else "–"


def invented_text(s: Summary) -> str:
    return f"{s.invented} ({number(s.invented_per_case)} je Fall)" if s.cases else "–"


def share(ok: int, checked: int) -> str:
    return f"{ok}/{checked}" if checked else "–"


def grade_text(grade: Grade | None, note: str = "") -> str:
    if grade is None:
        return f"[dim]{escape(note or 'keine Bewertung')}[/]"
    return f"[{GRADE_STYLE[grade]}]{grade.value}[/]"


def apps_table(report: Report) -> Table:
    table = Table("App", "Fälle", "Faktentreue", "erfundene Angaben", "Aufbau", "Sprache", "Bewertung",
                  title=f"Qualität der App-Entwürfe mit {escape(report.model)}")
    for app in report.apps:
        s = app.summary
        cases = str(s.cases) + (f" (+{s.errors} Fehler)" if s.errors else "")
        table.add_row(escape(app.app), cases if app.runs else "–", recall_text(s), invented_text(s),
                      share(s.structure_ok, s.structure_checked), share(s.language_ok, s.language_checked),
                      grade_text(app.grade, app.note or ("alle Fälle mit Fehler" if s.errors else "")))
    return table


def duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def grade_line(report: Report) -> str:
    s = report.summary
    if s.grade is None:
        return f"Gesamtbewertung für {escape(report.model)}: keine (kein Testfall ist gelaufen)"
    return (f"Gesamtbewertung für {escape(report.model)}: {grade_text(s.grade)} ({s.grade.en}) – {s.cases} Fälle,"
            f" Faktentreue {recall_text(s)}, {number(s.invented_per_case)} erfundene Angaben je Fall,"
            f" Dauer {duration(report.seconds)}")


def details_table(apps: list[AppReport]) -> Table:
    table = Table("App", "Fall", "fehlende Fakten", "erfundene Angaben", "Aufbau", "Sprache")
    for app in apps:
        for run in app.runs:
            if run.score is None:
                table.add_row(escape(app.app), escape(run.case), f"[red]Fehler: {escape(run.error or '')}[/]", "", "",
                              "")
                continue
            s = run.score
            cells = (", ".join(s.facts_missing) or "–", ", ".join(i.text for i in s.invented) or "–",
                     "; ".join(s.structure_problems) or ("ok" if s.structure_ok else "–"), s.languages or "–")
            table.add_row(escape(app.app), escape(run.case), *(escape(c) for c in cells))
    return table


def check(
    model: str | None = typer.Argument(None, help="Chat-Modell (Katalog-Id); ohne Angabe das erste aus models.chat"),
    app: list[str] = typer.Option([], "--app", help="nur diese App prüfen (mehrfach möglich); ohne Angabe alle"),
    json_out: Path | None = typer.Option(None, "--json", help="das ganze Ergebnis, mit jedem Entwurf, als JSON-Datei"),
    cases: Path | None = typer.Option(None, "--cases", exists=True,
                                      help="Testfälle aus <app-id>.yaml (Datei oder Ordner) statt aus den Apps"),
    details: bool = typer.Option(False, "--details", help="auch jeden Fall zeigen: fehlende und erfundene Angaben"),
    parallel: int = typer.Option(CONCURRENCY, "--parallel", min=1, max=64,
                                 help="Fälle, die das Modell gleichzeitig schreibt (höchstens models.parallel)"),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=16,
                                          help="Antworten kürzen – nur für schnelle Versuche, die Bewertung leidet"),
) -> None:
    """Die Testfälle der Apps mit einem Chat-Modell schreiben und bewerten: Faktentreue, erfundene
    Angaben, Aufbau, Sprache; je App und für das Modell geeignet, eingeschränkt oder ungeeignet."""
    from appliance.apps.files import FileLimits
    from appliance.apps.store import load_builtins
    from models.store import ModelFileError

    s = settings()
    model_id = model or (s.models.chat[0] if s.models.chat else None)
    if not model_id:
        fail("Kein Chat-Modell angegeben und keins in models.chat eingetragen.", 2)
    specs = list(load_builtins().values())
    h = s.handbooks
    files = FileLimits(h.max_upload_mb, h.parse_timeout_s, h.parse_memory_mb)  # as for a person's run
    try:
        chosen = select(specs, app)
        given = load_cases(cases) if cases else None
    except (UnknownApps, ValueError) as exc:
        fail(str(exc), 2)
    if json_out and not json_out.parent.is_dir():
        fail(f"Den Ordner für --json gibt es nicht: {json_out.parent}", 2)
    with err.status(f"Lade {model_id} …"):
        try:
            engines = load_chat(s, model_id)
        except KeyError as exc:
            fail(str(exc.args[0]))
        except (ModelFileError, ValueError, OSError, RuntimeError) as exc:
            fail(f"Das Modell {model_id} lässt sich nicht laden: {exc}")
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=err, transient=True) as progress:
            task = progress.add_task(f"Prüfe {model_id}", total=None)

            def step(done: int, total: int, run: CaseRun | None) -> None:
                progress.update(task, completed=done, total=total,
                                description=escape(f"Prüfe {model_id}" + (f": {run.app} – {run.case}" if run else "")))

            report = asyncio.run(evaluate(engines, model_id, chosen, [a.id for a in chosen], cases=given,
                                          concurrency=min(parallel, s.models.parallel), max_tokens=max_tokens,
                                          files=files, progress=step))
    finally:
        engines.close()
    out.print(apps_table(report))
    if details:
        out.print(details_table(report.apps))
    for run in (r for a in report.apps for r in a.runs if r.error):
        where = escape(f"{run.app} – {run.case}: {run.error}")
        out.print(f"[red]Fehler[/] in {where}", highlight=False)
    out.print(grade_line(report), highlight=False)
    if max_tokens:
        err.print(f"Hinweis: Antworten waren auf {max_tokens} Token gekürzt; die Bewertung ist nur ein Versuch.")
    if json_out:
        data = {**report.as_dict(), "max_tokens": max_tokens, "cases_from": str(cases) if cases else None}
        json_out.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        err.print(f"Ergebnis gespeichert: {json_out}")
