"""The `appliance` command line. Secrets go alone to stdout, everything else to stderr."""

from __future__ import annotations

import errno
import socket

import typer
from rich.table import Table

from appliance.cli import apps, documents, handbooks, keys, models, users
from appliance.cli.common import accounts, err, fail, out, settings

app = typer.Typer(help="KI-Assistenz: die Appliance für soziale Einrichtungen.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
app.add_typer(users.app, name="users")
app.add_typer(keys.app, name="keys")
app.add_typer(models.app, name="models")
app.add_typer(apps.app, name="apps")
app.add_typer(documents.app, name="documents")
app.command("ingest")(handbooks.ingest)
app.command("ask")(handbooks.ask)


def port_free(host: str, port: int) -> str | None:
    """None if we can listen there, otherwise the reason."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "belegt"
            return exc.strerror or str(exc)
    return None


@app.command()
def serve() -> None:
    """Den Dienst starten: Web-Oberfläche und API auf server.host:server.port."""
    import uvicorn

    from appliance.infra import tls
    from appliance.infra.logs import setup_logging
    from appliance.infra.slow_clients import head_deadline
    from appliance.server import DataDirError, create_app, prepare_data_dir
    from models.catalog import load_catalog
    from models.store import ModelFileError, require_model

    s = settings()
    setup_logging()
    try:
        prepare_data_dir(s)
    except DataDirError as exc:
        fail(str(exc), 2)
    tls_problem = tls.problem(s)
    if tls_problem:
        fail(tls_problem, 2)
    problem = port_free(s.server.host, s.server.port)
    if problem:
        fail(f"Port {s.server.port} auf {s.server.host} ist {problem}. Läuft der Dienst schon? Sonst einen"
             f" anderen Port wählen: APPLIANCE__SERVER__PORT={s.server.port + 1} oder server.port in"
             " appliance.toml.", 2)
    catalog = load_catalog(s.models_dir)
    try:
        for model_id in [*s.models.chat, *([s.models.embedding] if s.models.embedding else []), *s.models.speech]:
            require_model(s.models_dir, catalog.get(model_id))
    except ModelFileError as exc:
        fail(str(exc), 2)
    err.print(f"KI-Assistenz startet auf {s.server.scheme}://{s.server.host}:{s.server.port} …")
    tls = {"ssl_certfile": str(s.server.tls_cert), "ssl_keyfile": str(s.server.tls_key)} if s.server.tls_cert else {}
    uvicorn.run(create_app(s), host=s.server.host, port=s.server.port, log_level="info",
                access_log=False, proxy_headers=False, server_header=False,
                http=head_deadline(s.server.slow_client_s), **tls)


@app.command("setup-code")
def setup_code() -> None:
    """Den Einrichtungscode für die Ersteinrichtung von einem anderen Gerät aus zeigen (stdout)."""
    from appliance.people.signin import read_setup_code

    s = settings()
    if accounts().count():
        fail("Es gibt schon ein Konto; die Ersteinrichtung ist abgeschlossen. Weitere Konten legt die"
             " Einrichtungsleitung an (oder `appliance users add`).")
    code = read_setup_code(s.storage.data_dir)
    if code is None:
        fail("Der Dienst hat noch keinen Einrichtungscode erzeugt: erst `appliance serve` starten.")
    typer.echo(code)
    err.print("Auf der Seite „Ersteinrichtung“ eingeben (Groß-/Kleinschreibung egal). Auf dem Gerät selbst"
              " (127.0.0.1) ist er nicht nötig.")


@app.command()
def doctor() -> None:
    """Hardware, Modelle, Datenverzeichnis, Speicher, Telemetrie und Netz prüfen."""
    from appliance.doctor import run_checks

    marks = {"ok": "[green]✔[/]", "warn": "[yellow]![/]", "fail": "[red]✘[/]", "info": "[blue]i[/]"}
    checks = run_checks(settings())
    table = Table("", "Bereich", "Befund")
    for c in checks:
        table.add_row(marks[c.level], c.area, c.detail)
    out.print(table)
    if any(c.level == "fail" for c in checks):
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
