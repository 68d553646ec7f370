"""appliance users add|list|passwd|disable"""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from appliance.cli.common import accounts, err, fail, out
from appliance.people.accounts import AccountError, Role

app = typer.Typer(help="Konten verwalten (users).", no_args_is_help=True)


def read_password() -> str:
    """One line from stdin when it is not a terminal, otherwise a hidden prompt asked twice."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Passwort", hide_input=True, confirmation_prompt="Passwort wiederholen", err=True)


@app.command("add")
def add(
    name: str,
    role: str = typer.Option(..., "--role", help="staff, app_author, facility_admin, dpo, it_admin"),
    language: str = typer.Option("de", "--language", help="de oder en"),
) -> None:
    """Ein Konto anlegen; das Passwort kommt von stdin oder aus einer Abfrage."""
    acc = accounts()
    try:
        from appliance.people.accounts import parse_role

        parse_role(role)  # a wrong role is reported before asking for a password
        acc.add(name, role, read_password(), language if language in ("de", "en") else "de")
    except AccountError as exc:
        fail(str(exc))
    err.print(f"Konto '{name}' ({role}) angelegt.")


@app.command("list")
def list_users() -> None:
    """Alle Konten mit Rolle und Status."""
    table = Table("Name", "Rolle", "Status", "angelegt")
    for name, role, disabled, created in accounts().list():
        table.add_row(name, role, "gesperrt" if disabled else "aktiv", created.strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@app.command("passwd")
def passwd(name: str) -> None:
    """Das Passwort eines Kontos neu setzen."""
    try:
        accounts().set_password(name, read_password())
    except AccountError as exc:
        fail(str(exc))
    err.print(f"Passwort für '{name}' geändert.")


@app.command("disable")
def disable(name: str, enable: bool = typer.Option(False, "--enable", help="wieder freischalten")) -> None:
    """Ein Konto sperren (seine Schlüssel und Sitzungen gelten dann nicht mehr)."""
    try:
        accounts().set_disabled(name, not enable)
    except AccountError as exc:
        fail(str(exc))
    err.print(f"Konto '{name}' {'freigeschaltet' if enable else 'gesperrt'}.")


ROLES_HELP = ", ".join(r.value for r in Role)
