"""appliance models list|fetch|verify|import|recommend|check"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Column, Table

from appliance.cli import model_check
from appliance.cli.common import err, fail, out, settings
from models import hardware
from models.catalog import TIERS, CatalogEntry, load_catalog, local_entries
from models.fetch import fetch_model, import_local_model, import_model, source_files
from models.store import FileState, ModelFileError, check_model, fix_command

app = typer.Typer(help="Modelle: Katalog, Laden, Prüfen, Importieren.", no_args_is_help=True)
app.command("check")(model_check.check)

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


def _use(entry: CatalogEntry) -> str:
    """What a model is for: a demo model, or the hardware tiers it is recommended for."""
    if entry.demo:
        return "Demo"
    return ", ".join(hardware.TIER_DE[t] for t in entry.tiers)


@app.command("list")
def list_models() -> None:
    """Alle Modelle des Katalogs und ob ihre Dateien da und intakt sind."""
    s = settings()
    table = Table("Modell", "Art", "Größe", "Lizenz", "Quelle", "Standard", "Einsatz", "Zustand")
    for entry in load_catalog(s.models_dir).models:
        size = sum(f.size for f in entry.files) / 1e6
        state = _model_state(check_model(s.models_dir, entry))
        table.add_row(entry.id, entry.kind, f"{size:,.0f} MB", entry.licence, SOURCE_DE[entry.source],
                      "ja" if entry.default else "", _use(entry), STATE_DE[state])
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
            archive = entry.archive.size if entry.archive else 0
            task = progress.add_task(entry.id, total=sum(f.size for f in entry.files) + archive)
            try:
                written = fetch_model(
                    s.models_dir, entry, force=force, wheels=wheels,
                    progress=lambda _name, n, task=task: progress.advance(task, n),
                )
            except ModelFileError as exc:
                fail(str(exc))
        err.print(f"{entry.id}: {'geladen und geprüft' if written else 'schon vorhanden und intakt'}")
        _show_terms(entry)


def _show_terms(entry: CatalogEntry) -> None:
    """A model under terms of its own (not an open-source licence) says so where IT fetches or imports it."""
    if entry.terms:
        err.print(f"  Lizenz: {entry.licence} – {entry.terms} ({entry.terms_url})", highlight=False)


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
    check: bool = typer.Option(True, "--check/--no-check",
                               help="ein Chatmodell danach mit den Testfällen der Apps prüfen (models check)"),
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
        _show_terms(builtin.get(model_id))
        _check_after_import(builtin.get(model_id), check)
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
    _check_after_import(entry, check)


def _check_after_import(entry: CatalogEntry, check: bool) -> None:
    """A chat model just imported writes the apps' test cases and is graded, so IT sees at once whether it
    is fit for them (on a GPU in minutes; on the CPU it takes long: --no-check, and later models check)."""
    if entry.kind != "chat" or not check:
        return
    err.print(f"Prüfe {entry.id} mit den Testfällen der Apps (abbrechen mit Strg+C; später: appliance models check"
              f" {entry.id}) …")
    model_check.check(entry.id, app=[], json_out=None, cases=None, details=False,
                      parallel=model_check.CONCURRENCY, max_tokens=None)


def _gb(mib: int) -> str:
    return f"{mib / 1024:.0f} GB"


def _detected(hw: hardware.Hardware) -> str:
    """One line, e.g. 'Erkannt: 1 GPU, NVIDIA GeForce RTX 4090, 24 GB; 63 GB RAM; 16 Kerne'."""
    names = [g.name for g in hw.gpus]
    if not names:
        gpus = "keine NVIDIA-GPU"
    elif len(names) == 1:
        gpus = f"1 GPU, {names[0]}, {_gb(hw.gpu_mib or 0)}"
    else:
        which = f"je {names[0]}" if len(set(names)) == 1 else " + ".join(names)
        gpus = f"{len(names)} GPUs, {which}, {_gb(hw.gpu_mib or 0)} zusammen"
    return f"Erkannt: {gpus}; {_gb(hw.ram_mib)} RAM; {hw.cores} Kerne"


def _as_dict(entry: CatalogEntry) -> dict:
    f = entry.main_file
    return {"id": entry.id, "title": entry.title, "file": f.name, "size": f.size, "sha256": f.sha256, "url": f.url,
            "licence": entry.licence, "languages": entry.languages, "hardware": entry.hardware,
            "context_length": entry.context_length, "tiers": entry.tiers}


@app.command("recommend")
def recommend(
    tier: str | None = typer.Option(None, "--tier", help="Stufe statt der erkannten, z. B. um für eine andere Box zu"
                                    " planen: " + ", ".join(TIERS)),
    as_json: bool = typer.Option(False, "--json", help="als JSON auf stdout"),
) -> None:
    """Die Chatmodelle, die zu dieser Box passen, und wie IT sie holt und importiert.

    Erkennt GPU-Speicher (nvidia-smi), RAM und Kerne, nennt die Stufe und die empfohlenen Modelle mit
    Datei, Größe, Lizenz, Download-Adresse und sha256, dann die Befehle für einen PC mit Internet und
    für die Box.
    """
    if tier is not None and tier not in TIERS:
        fail(f"Unbekannte Stufe '{tier}'. Stufen: {', '.join(TIERS)}")
    hw = hardware.probe()
    catalog = load_catalog()
    chosen = tier or hw.tier
    entries = hardware.models_for_tier(catalog, chosen) if tier else hardware.recommend(catalog, hw)
    if as_json:
        detected = {"gpus": [{"name": g.name, "memory_mib": g.memory_mib} for g in hw.gpus], "gpu_mib": hw.gpu_mib,
                    "ram_mib": hw.ram_mib, "cores": hw.cores, "tier": hw.tier}
        result = {"detected": detected, "tier": chosen, "models": [_as_dict(e) for e in entries]}
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    out.print(_detected(hw), highlight=False)
    line = f"Stufe: {chosen} ({hardware.TIER_DE[chosen]})"
    if tier and tier != hw.tier:
        line += f", mit --tier gewählt; erkannt: {hw.tier}"
    out.print(line, highlight=False)
    if not entries:
        least = min(hardware.ram_needed_mib(e) for e in hardware.models_for_tier(catalog, "cpu"))
        fail(f"Kein Produktionsmodell passt in {_gb(hw.ram_mib)} RAM: die Modelle der Stufe cpu brauchen mindestens"
             f" {_gb(least)} RAM. Mehr RAM oder eine GPU einbauen; für eine andere Box planen mit --tier.")
    table = Table(Column("Modell", overflow="fold"), Column("Datei", overflow="fold"), "Größe", "Lizenz", "Hardware")
    for e in entries:
        table.add_row(e.id, e.main_file.name, f"{e.main_file.size / 1e9:.1f} GB", e.licence, e.hardware)
    out.print(table)
    for e in entries:
        f = e.main_file
        out.print(f"\n[bold]{e.id}[/]  ({e.title}, {e.licence})", highlight=False)
        out.print(f"  URL:    {f.url}\n  sha256: {f.sha256}\n  Größe:  {f.size} Bytes", highlight=False)
        out.print("  Auf einem PC mit Internet herunterladen und prüfen (sha256sum muss die sha256 oben zeigen):",
                  highlight=False)
        out.print(f"    curl -L -o {f.name} '{f.url}'\n    sha256sum {f.name}", highlight=False)
        out.print("  Die Datei per USB-Stick auf die Box kopieren, dann auf der Box importieren (prüft die sha256"
                  " noch einmal) und mit den App-Tests prüfen:", highlight=False)
        out.print(f"    appliance models import /media/usb/{f.name} --id {e.id}\n    appliance models check {e.id}",
                  highlight=False)
    first = entries[0].id
    out.print(f"\nDann die Id als erste in models.chat in appliance.toml eintragen, z. B.\n  [models]\n"
              f'  chat = ["{first}"]\nund den Dienst neu starten.', highlight=False, markup=False)
