"""appliance models list|fetch|verify|import"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from appliance.cli.common import err, fail, out, settings
from models.catalog import CatalogEntry, load_catalog, local_entries
from models.fetch import fetch_model, import_local_model, import_model, source_files
from models.store import FileState, ModelFileError, check_model, fix_command

app = typer.Typer(help="Modelle: Katalog, Laden, Prüfen, Importieren.", no_args_is_help=True)

STATE_DE = {
    FileState.ok: "[green]in Ordnung[/]",
    FileState.missing: "[yellow]fehlt[/]",
    FileState.wrong_size: "[red]falsche Größe[/]",
    FileState.corrupt: "[red]beschädigt (sha256)[/]",
}
SOURCE_DE = {"pypi": "Paketindex", "import": "Import", "local": "lokal importiert"}
KINDS = ("chat", "speech", "embedding", "voice")
CONFIG_KEY = {"chat": "models.chat", "speech": "models.speech", "embedding": "models.embedding",
              "voice": "models.voices"}
PROGRESS_COLUMNS = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())


def _entries(models_dir: Path, ids: list[str] | None) -> list[CatalogEntry]:
    catalog = load_catalog(models_dir)
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
    table = Table("Modell", "Art", "Größe", "Lizenz", "Quelle", "Standard", "Zustand")
    for entry in load_catalog(s.models_dir).models:
        size = sum(f.size for f in entry.files) / 1e6
        state = _model_state(check_model(s.models_dir, entry))
        table.add_row(entry.id, entry.kind, f"{size:,.0f} MB", entry.licence, SOURCE_DE[entry.source],
                      "ja" if entry.default else "", STATE_DE[state])
    out.print(table)
    err.print(f"Modellverzeichnis: {s.models_dir}")


@app.command("verify")
def verify(ids: list[str] | None = typer.Argument(None, help="Modelle; ohne Angabe alle vorhandenen")) -> None:
    """Jede Datei neu gegen ihre sha256 im Katalog prüfen. Exit 1 bei einem Fehler."""
    s = settings()
    present = [e for e in load_catalog(s.models_dir).models if (s.models_dir / e.id).is_dir()]
    entries = _entries(s.models_dir, ids) if ids else present
    problems = 0
    for entry in entries:
        for check in check_model(s.models_dir, entry, full=True):
            line = f"{entry.id}/{check.file.name}: {STATE_DE[check.state]}"
            if check.state is not FileState.ok:
                problems += 1
                line += f"  → {fix_command(entry)}"
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
    for entry in _entries(s.models_dir, ids):
        with Progress(*PROGRESS_COLUMNS, console=err, transient=True) as progress:
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
    model_id: str = typer.Option(..., "--id", help="Katalog-Id, oder eine neue Id (a-z, 0-9, Punkt, Bindestrich)"),
    kind: str | None = typer.Option(None, "--kind",
                                    help="chat, speech, embedding oder voice (Piper-Stimme) für ein neues Modell"),
    title: str = typer.Option("", "--title", help="Titel (neues Modell)"),
    licence: str = typer.Option("", "--licence", help="Lizenz, z. B. MIT oder Apache-2.0 (neues Modell)"),
    languages: str = typer.Option("", "--languages",
                                  help="Sprachen, z. B. de,en; nur 'en': nur Englisch; eine Stimme hat genau eine"),
    replace: bool = typer.Option(False, "--replace", help="ein schon importiertes neues Modell ersetzen"),
) -> None:
    """Ein Modell von Datei oder USB-Stick übernehmen.

    Steht die Id im Katalog, wird jede Datei gegen dessen sha256 geprüft. Sonst wird das Modell als
    lokaler Eintrag übernommen (--kind nötig): die sha256 jeder Datei wird beim Import festgehalten
    und danach bei jedem Start geprüft.
    """
    s = settings()
    builtin = load_catalog()
    if model_id in builtin.ids():
        if kind or title or licence or languages or replace:
            fail(f"{model_id} steht im Katalog: --kind, --title, --licence, --languages und --replace gelten nur"
                 f" für neue Modelle. Import: appliance models import PATH --id {model_id}")
        try:
            names = import_model(s.models_dir, builtin.get(model_id), path)
        except ModelFileError as exc:
            fail(str(exc))
        err.print(f"{model_id}: {len(names)} Datei(en) übernommen und geprüft.")
        return
    try:
        old = next((e for e in local_entries(s.models_dir) if e.id == model_id), None) if replace else None
        kind = kind or (old.kind if old else None)
        if kind not in KINDS:
            fail(f"'{model_id}' steht nicht im Katalog: für einen lokalen Import --kind chat, speech, embedding oder"
                 f" voice angeben. Katalog-Ids: {', '.join(builtin.ids())}")
        total = sum(p.stat().st_size for p in source_files(path, kind).values())
        with Progress(*PROGRESS_COLUMNS, console=err, transient=True) as progress:
            task = progress.add_task(model_id, total=total)
            entry = import_local_model(
                s.models_dir, path, model_id, kind,
                title=title or (old.title if old else ""), licence=licence or (old.licence if old else ""),
                languages=[x.strip() for x in languages.split(",") if x.strip()] or (old.languages if old else []),
                replace=replace, progress=lambda _name, n: progress.advance(task, n),
            )
    except (ModelFileError, ValueError) as exc:
        fail(str(exc))
    err.print(f"{entry.id}: {len(entry.files)} Datei(en) als lokales {entry.kind}-Modell übernommen, sha256"
              f" festgehalten. Eintragen in appliance.toml ({CONFIG_KEY[entry.kind]}), dann den Dienst neu starten.")
