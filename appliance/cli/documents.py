"""appliance documents list [--collection C]  and  appliance documents remove DOCUMENT_ID --collection C

What the facility admin does in the "Handbuch" tab, on the command line. Like `ingest`, both go
through the running service when there is one (it owns the indexes), with a short-lived key of the
technical account 'appliance-cli'; otherwise they work on the data directory, without loading a model.
"""

from __future__ import annotations

import json
import shlex
from typing import Any
from urllib.parse import quote

import typer
from rich import box
from rich.markup import escape
from rich.table import Column, Table

from appliance.cli.common import err, fail, out, settings
from appliance.cli.handbooks import CLI_ACCOUNT, direct_service, service_client, service_url

app = typer.Typer(help="Handbuch-Dokumente auflisten und entfernen (documents).", no_args_is_help=True)

COLLECTION_HELP = "Sammlung, z. B. Pflegehandbuch"


def _path(collection: str, document_id: str | None = None) -> str:
    path = f"/api/collections/{quote(collection, safe='')}/documents"
    return path if document_id is None else f"{path}/{quote(document_id, safe='')}"


def _answer(r) -> Any:
    """The JSON of a successful response; the service's own message otherwise."""
    if r.status_code >= 400:
        try:
            message = r.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = f"Der Dienst antwortet mit HTTP {r.status_code}."
        fail(escape(message))
    return r.json() if r.content else None


Listed = tuple[dict[str, list[dict]], list[dict]]
"""Documents per collection, and the collections as GET /api/collections gives them (embedder, re-embedding)."""


def _listed_via_service(url: str, collection: str | None) -> Listed:
    with service_client(url, "appliance documents list") as client:
        collections = _answer(client.get("/api/collections"))["collections"]
        names = [collection] if collection else [c["name"] for c in collections]
        return {name: _answer(client.get(_path(name)))["documents"] for name in names}, collections


def _listed_directly(collection: str | None) -> Listed:
    from appliance.infra.errors import ApiError
    from appliance.people.accounts import Principal, Role

    service = direct_service(settings(), embedder=False)
    who = Principal(0, CLI_ACCOUNT, Role.it_admin)
    try:
        collections = service.collections(who)
        names = [collection] if collection else [c["name"] for c in collections]
        return {name: service.documents(who, name) for name in names}, collections
    except ApiError as exc:
        fail(escape(exc.de))
    finally:
        service.close()


@app.command("list")
def list_documents(
    collection: str | None = typer.Option(None, "--collection", "-c", help=f"nur diese {COLLECTION_HELP}"),
    as_json: bool = typer.Option(False, "--json", help="als JSON auf stdout"),
) -> None:
    """Die aufgenommenen Handbücher: Sammlung, Titel, Datei, Seiten, Abschnitte und die ID zum Entfernen."""
    url = service_url(settings())
    listed, collections = _listed_via_service(url, collection) if url else _listed_directly(collection)
    documents = [{**d, "collection": name} for name, docs in listed.items() for d in docs]
    if as_json:
        typer.echo(json.dumps(documents, ensure_ascii=False, indent=2))
        return
    if not listed:
        err.print("Es gibt noch keine Sammlung. Aufnehmen mit: appliance ingest PFAD --collection SAMMLUNG",
                  highlight=False)
        return
    # the id is what `remove` takes: never cut short; titles wrap instead
    table = Table(Column("Sammlung", overflow="fold"), Column("Titel", overflow="fold"),
                  Column("Datei", overflow="fold"), Column("Seiten", justify="right", no_wrap=True),
                  Column("Abschnitte", justify="right", no_wrap=True), Column("aufgenommen", no_wrap=True),
                  Column("ID", no_wrap=True), box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0))
    for d in documents:
        table.add_row(escape(d["collection"]), escape(d["title"]), escape(d["filename"]), str(d["pages"] or "–"),
                      str(d["chunks"]), d["created_at"].replace("T", " ")[:16], d["id"])
    out.print(table)
    empty = [name for name, docs in listed.items() if not docs]
    if empty:
        err.print(f"Ohne Dokumente: {escape(', '.join(empty))}", highlight=False)
    for c in collections:
        change = c.get("reembedding")
        if c["name"] in listed and change:
            err.print(f"{escape(c['name'])}: Neuaufbau der Suche mit {escape(str(change['embedder']))}"
                      f" {int(change['progress'] * 100)} % ({'läuft' if change['status'] == 'running' else 'wartet'});"
                      f" bis dahin sucht {escape(str(c['embedder'] or 'nur die Stichwortsuche'))}", highlight=False)


@app.command("remove")
def remove(
    document_id: str = typer.Argument(..., help="die ID aus 'appliance documents list'", show_default=False),
    collection: str = typer.Option(..., "--collection", "-c", help=COLLECTION_HELP),
) -> None:
    """Ein Handbuch entfernen: das Dokument, jeden Abschnitt, jeden Vektor und die Originaldatei."""
    url = service_url(settings())
    if url:
        with service_client(url, "appliance documents remove") as client:
            gone = _find(_answer(client.get(_path(collection)))["documents"], document_id, collection)
            _answer(client.delete(_path(collection, document_id)))
    else:
        from appliance.infra.errors import ApiError
        from appliance.people.accounts import Principal, Role

        service = direct_service(settings(), embedder=False)
        who = Principal(0, CLI_ACCOUNT, Role.it_admin)
        try:
            gone = service.delete(who, collection, document_id)
        except ApiError as exc:
            if exc.code == "document_not_found":
                _find([], document_id, collection)  # says where the IDs are
            fail(escape(exc.de))
        finally:
            service.close()
    err.print(f"„{escape(gone['title'])}“ ({escape(gone['filename'])}) aus der Sammlung '{escape(collection)}'"
              " entfernt, mit allen Abschnitten, Vektoren und der Originaldatei.", highlight=False)


def _find(documents: list[dict], document_id: str, collection: str) -> dict:
    found = next((d for d in documents if d["id"] == document_id), None)
    if found is None:
        fail(escape(f"In der Sammlung '{collection}' gibt es kein Dokument mit der ID {document_id}. Die IDs zeigt:"
                    f" appliance documents list --collection {shlex.quote(collection)}"))
    return found
