"""appliance apps list|validate|export|import

Works on the data directory directly (SQLite in WAL mode, so also while the service runs), as the
facility admin 'appliance-cli' would see the catalogue. `validate` needs no data directory at all.
"""

from __future__ import annotations

import json
import shlex
from enum import StrEnum
from pathlib import Path

import typer
from rich import box
from rich.markup import escape
from rich.table import Column, Table

from appliance.cli.common import database, err, fail, out

app = typer.Typer(help="App-Katalog: auflisten, prüfen, exportieren, importieren (apps).", no_args_is_help=True)

CLI_ACCOUNT = "appliance-cli"

STATUS_DE = {"builtin": "eingebaut", "draft": "Entwurf", "published": "veröffentlicht", "changed": "geändert"}


class Mode(StrEnum):
    copy = "copy"
    replace = "replace"


class _Collections:
    """The handbook collections, read from the database without the embedding model or Chroma.

    AppService only asks `handbooks.collection_names()` (is an app's collection there?); the
    rest of the handbook service needs what the CLI does not load.
    """

    def __init__(self, engine) -> None:
        from rag.index import HandbookIndex

        self.index = HandbookIndex(engine, vectors=None)

    def collection_names(self) -> set[str]:
        return {name for name, _ in self.index.collections()}


def _service():
    """The app service on the data directory; no chat model: the command line runs no app."""
    from appliance.apps.service import AppService

    engine = database().engine
    return AppService(engine, handbooks=_Collections(engine))


def _admin():
    from appliance.people.accounts import Principal, Role

    return Principal(0, CLI_ACCOUNT, Role.facility_admin)


def _read(path: Path) -> tuple[bytes | None, str]:
    """(content, '') or (None, why the file cannot be read)."""
    if not path.exists():
        return None, "Datei nicht gefunden."
    if path.is_dir():
        return None, "Das ist ein Ordner, keine Datei."
    try:
        return path.read_bytes(), ""
    except OSError as exc:
        return None, f"Datei nicht lesbar ({exc.strerror or exc})."


@app.command("list")
def list_apps(
    show_all: bool = typer.Option(False, "--all", help="auch abgeschaltete Apps zeigen"),
    as_json: bool = typer.Option(False, "--json", help="als JSON auf stdout"),
) -> None:
    """Die Apps der Einrichtung: eingebaute, eigene und importierte, mit Status und Version."""
    apps = _service().list(_admin())
    hidden = 0 if show_all else sum(not a["enabled"] for a in apps)
    apps = [a for a in apps if show_all or a["enabled"]]
    if as_json:
        typer.echo(json.dumps(apps, ensure_ascii=False, indent=2))
    else:
        # the id is what the other commands take: never cut short; the title wraps instead
        table = Table(Column("ID", no_wrap=True), Column("Titel", overflow="fold"),
                      *(Column(h, no_wrap=True) for h in ("Kategorie", "Status", "Version", "aktiv")),
                      box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
        for a in apps:
            table.add_row(escape(a["id"]), escape(a["title"]), a["category"],
                          STATUS_DE.get(a["status"], a["status"]), str(a["latest_version"]),
                          "ja" if a["enabled"] else "[yellow]nein[/]")
        out.print(table)
        missing = [a["id"] for a in apps if not a["available"]]
        if missing:
            err.print(f"Ohne ihre Handbuch-Sammlung nicht nutzbar: {escape(', '.join(missing))}", highlight=False)
        for a in apps:
            if a["status"] == "changed":
                err.print(f"{escape(a['id'])}: Version {a['latest_version']} ist noch nicht veröffentlicht; die"
                          f" Mitarbeitenden nutzen Version {a['published_version']}.", highlight=False)
    if hidden:
        err.print(f"{hidden} abgeschaltete App(s) ausgeblendet; --all zeigt sie.", highlight=False)


@app.command("validate")
def validate(files: list[Path] = typer.Argument(..., help="App-Dateien (YAML)", show_default=False)) -> None:
    """App-Dateien prüfen, ohne etwas zu speichern: jeder Fehler mit seinem Feld."""
    from appliance.apps.spec import SpecError, load_yaml

    bad = 0
    ids: dict[str, Path] = {}  # two files with one id would clash on import: the second is refused
    for path in files:
        name = escape(str(path))
        data, why = _read(path)
        problems: list[tuple[str, str]] = [("", why)] if data is None else []
        if data is not None:
            try:
                spec = load_yaml(data.decode("utf-8"))
            except UnicodeDecodeError:
                problems = [("", "Die Datei ist kein Text (UTF-8).")]
            except SpecError as exc:
                problems = exc.problems
            else:
                if spec.id in ids:
                    problems = [("id", f"Die Kennung „{spec.id}“ hat schon {ids[spec.id]}; jede App braucht"
                                       " ihre eigene.")]
                ids.setdefault(spec.id, path)
        if problems:
            bad += 1
            out.print(f"[red]✘[/] {name}:", highlight=False)
            for field, message in problems:
                out.print(f"  {escape(field)}: {escape(message)}" if field else f"  {escape(message)}",
                          highlight=False)
        else:
            out.print(f"[green]✔[/] {name}: {escape(spec.id)} ({escape(spec.title)})", highlight=False)
    if len(files) > 1:
        err.print(f"{len(files) - bad} von {len(files)} Datei(en) in Ordnung.", highlight=False)
    if bad:
        raise typer.Exit(1)


@app.command("export")
def export(
    app_id: str = typer.Argument(..., metavar="ID", help="Kennung der App, z. B. elternbrief"),
    output: Path | None = typer.Option(None, "--output", "-o", help="in diese Datei statt auf stdout"),
) -> None:
    """Eine App als YAML-Datei ausgeben (die neueste Fassung), z. B. für eine andere Einrichtung."""
    from appliance.infra.errors import ApiError

    try:
        _, text = _service().export(_admin(), app_id)
    except ApiError as exc:
        fail(escape(exc.de))
    if output is None or str(output) == "-":
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(escape(f"{output} lässt sich nicht schreiben ({exc.strerror or exc})."))
    err.print(f"App „{escape(app_id)}“ exportiert nach {escape(str(output))}.", highlight=False)


RESULT_DE = {
    "imported": "App „{id}“ ({title}) importiert, Version {version}.",
    "copied": "Als Kopie „{id}“ ({title}) importiert; die vorhandene App bleibt unverändert.",
    "updated": "App „{id}“ ({title}) auf die neuere Fassung aktualisiert, jetzt Version {version};"
               " frühere Versionen bleiben erhalten.",
    "replaced": "App „{id}“ ({title}) ersetzt, jetzt Version {version}; frühere Versionen bleiben erhalten.",
    "unchanged": "App „{id}“ ({title}) ist hier schon genau so vorhanden; nichts geändert.",
}


def _publish_hint(meta: dict) -> str:
    """Imports arrive as drafts: say what staff see until someone publishes."""
    if meta["status"] == "builtin" or meta["published_version"] == meta["latest_version"]:
        return ""
    if meta["published_version"] is None:
        return "Noch ein Entwurf: die Mitarbeitenden sehen die App erst, wenn sie veröffentlicht ist."
    return (f"Die Mitarbeitenden nutzen weiter Version {meta['published_version']}, bis die neue"
            " veröffentlicht ist.")


@app.command("import")
def import_app(
    file: Path = typer.Argument(..., help="App-Datei (YAML), z. B. aus appliance apps export", show_default=False),
    mode: Mode | None = typer.Option(None, "--mode", help="bei gleicher Kennung: copy (als Kopie) oder replace"
                                     " (ersetzen, frühere Versionen bleiben)"),
) -> None:
    """Eine App-Datei importieren. Überschreibt nie stillschweigend: bei gleicher Kennung --mode wählen."""
    from appliance.infra.errors import ApiError

    data, why = _read(file)
    if data is None:
        fail(escape(f"{file}: {why}"))
    try:
        result = _service().import_(_admin(), data, mode.value if mode else None)
    except ApiError as exc:
        err.print(f"[bold red]Fehler:[/] {escape(exc.de)}", highlight=False)
        if exc.code == "app_exists" and mode is None:
            choices = " oder ".join(f"--mode {m}" for m in ("copy", "replace") if f"mode={m}" in exc.de)
            err.print(f"Mit diesem Befehl: appliance apps import {escape(shlex.quote(str(file)))} {choices}",
                      highlight=False)
        elif exc.code == "invalid_app":
            err.print(f"Jeden Fehler einzeln zeigt: appliance apps validate {escape(shlex.quote(str(file)))}",
                      highlight=False)
        raise typer.Exit(1) from None
    a = result["app"]
    message = RESULT_DE.get(result["result"], result["result"])
    out.print(escape(message.format(id=a["id"], title=a["title"], version=a["meta"]["latest_version"])),
              highlight=False)
    hint = _publish_hint(a["meta"])
    if hint:
        err.print(hint, highlight=False)
