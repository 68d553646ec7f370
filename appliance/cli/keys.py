"""appliance keys create|list|revoke"""

from __future__ import annotations

import typer
from rich.table import Table

from appliance.cli.common import accounts, err, fail, out
from appliance.people.accounts import AccountError

app = typer.Typer(help="API-Schlüssel (keys).", no_args_is_help=True)


@app.command("create")
def create(user: str, label: str = typer.Option("", "--label", help="wofür der Schlüssel ist")) -> None:
    """Einen Schlüssel für ein Konto erzeugen. Er wird nur dieses eine Mal angezeigt (stdout)."""
    try:
        key, info = accounts().create_key(user, label)
    except AccountError as exc:
        fail(str(exc))
    typer.echo(key)
    err.print(f"Schlüssel Nr. {info.id} ({info.prefix}…) für '{user}' erzeugt. Er wird nicht noch einmal angezeigt.")


@app.command("list")
def list_keys() -> None:
    """Alle Schlüssel (nur Anfang und Status; der Schlüssel selbst ist nicht gespeichert)."""
    table = Table("Nr.", "Konto", "Bezeichnung", "Anfang", "erzeugt", "Status")
    for k in accounts().list_keys():
        status = f"widerrufen {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "gültig"
        table.add_row(str(k.id), k.user, k.label, k.prefix + "…", f"{k.created_at:%Y-%m-%d %H:%M}", status)
    out.print(table)


@app.command("revoke")
def revoke(key: str = typer.Argument(..., help="Nummer, Anfang oder der ganze Schlüssel")) -> None:
    """Einen Schlüssel widerrufen; er gilt sofort nicht mehr."""
    try:
        info = accounts().revoke_key(key)
    except AccountError as exc:
        fail(str(exc))
    err.print(f"Schlüssel Nr. {info.id} ({info.prefix}…) von '{info.user}' widerrufen.")
