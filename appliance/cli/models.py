"""appliance models list|fetch|verify|import"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from appliance.cli.common import err, fail, out, settings
from models.catalog import CatalogEntry, load_catalog
from models.fetch import fetch_model, import_model
from models.store import FileState, ModelFileError, check_model

app = typer.Typer(help="Modelle: Katalog, Laden, Prüfen, Importieren.", no_args_is_help=True)

STATE_DE = {
    FileState.ok: "[green]in Ordnung[/]",
    FileState.missing: "[yellow]fehlt[/]",
    FileState.wrong_size: "[red]falsche Größe[/]",
    FileState.corrupt: "[red]beschädigt (sha256)[/]",
}


def _entries(ids: list[str] | None) -> list[CatalogEntry]:
    catalog = load_catalog()
    if not ids:
        return catalog.defaults()
    try:
        return [catalog.get(i) for i in ids]
    except KeyError as exc:
        fail(str(exc.args[0]))


def _model_state(checks) -> FileState:
    states = {c.state for c in checks}
    for bad in (FileState.corrupt, FileState.wrong_size, FileState.missing):
        if bad in states:
            return bad
    return FileState.ok


@app.command("list")
def list_models() -> None:
    """Alle Modelle des Katalogs und ob ihre Dateien da und intakt sind."""
    s = settings()
    table = Table("Modell", "Art", "Größe", "Lizenz", "Standard", "Zustand")
    for entry in load_catalog().models:
        size = sum(f.size for f in entry.files) / 1e6
        state = _model_state(check_model(s.models_dir, entry))
        table.add_row(entry.id, entry.kind, f"{size:,.0f} MB", entry.licence, "ja" if entry.default else "",
                      STATE_DE[state])
    out.print(table)
    err.print(f"Modellverzeichnis: {s.models_dir}")


@app.command("verify")
def verify(ids: list[str] | None = typer.Argument(None, help="Modelle; ohne Angabe alle vorhandenen")) -> None:
    """Jede Datei neu gegen ihre sha256 im Katalog prüfen. Exit 1 bei einem Fehler."""
    s = settings()
    entries = _entries(ids) if ids else [e for e in load_catalog().models if (s.models_dir / e.id).is_dir()]
    problems = 0
    for entry in entries:
        for check in check_model(s.models_dir, entry, full=True):
            line = f"{entry.id}/{check.file.name}: {STATE_DE[check.state]}"
            if check.state is not FileState.ok:
                problems += 1
                line += f"  → appliance models fetch {entry.id} --force"
            out.print(line, highlight=False)
    if not entries:
        err.print("Keine Modelle vorhanden. Laden mit: appliance models fetch")
    if problems:
        raise typer.Exit(1)


@app.command("fetch")
def fetch(
    ids: list[str] | None = typer.Argument(None, help="Modelle; ohne Angabe die Standardmodelle"),
    force: bool = typer.Option(False, "--force", help="neu laden, auch wenn vorhanden"),
    wheels: Path | None = typer.Option(None, "--wheels", help="Ordner mit den Modellpaketen (offline)"),
) -> None:
    """Modelle aus dem Paketindex (oder einem Offline-Ordner) laden und prüfen."""
    s = settings()
    s.models_dir.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    for entry in _entries(ids):
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task(entry.id, total=sum(f.size for f in entry.files))
            try:
                written = fetch_model(
                    s.models_dir, entry, force=force, wheels=wheels,
                    progress=lambda _name, n, task=task: progress.advance(task, n),
                )
            except ModelFileError as exc:
                fail(str(exc))
        err.print(f"{entry.id}: {'geladen und geprüft' if written else 'schon vorhanden und intakt'}")


@app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, help="Datei oder Ordner mit den Modelldateien"),
    model_id: str = typer.Option(..., "--id", help="Katalog-Id des Modells"),
) -> None:
    """Ein Modell von Datei oder USB-Stick übernehmen (jede Datei wird gegen den Katalog geprüft)."""
    s = settings()
    try:
        entry = load_catalog().get(model_id)
    except KeyError as exc:
        fail(str(exc.args[0]))
    try:
        names = import_model(s.models_dir, entry, path)
    except ModelFileError as exc:
        fail(str(exc))
    err.print(f"{entry.id}: {len(names)} Datei(en) übernommen und geprüft.")
