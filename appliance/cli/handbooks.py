"""appliance ingest PATH... --collection C  and  appliance ask QUESTION --collection C

Both go through the running service when there is one (it owns the indexes), with a short-lived
key of the technical account 'appliance-cli'; otherwise they work on the data directory.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from appliance.cli.common import accounts, database, err, fail, out, settings
from appliance.config import Settings
from appliance.infra.tls import local_client_verify
from rag.parsers import MEDIA_TYPES

CLI_ACCOUNT = "appliance-cli"


@dataclass
class Summary:
    files: int = 0
    pages: int = 0
    chunks: int = 0
    skipped: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    def add(self, result: dict) -> None:
        self.files += 1
        if result["status"] == "unchanged":
            self.skipped += 1
        self.pages += result["document"]["pages"]
        self.chunks += result["document"]["chunks"]


def handbook_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_TYPES)
        else:
            files.append(path)
    return files


def service_url(s: Settings) -> str | None:
    host = "127.0.0.1" if s.server.host in ("0.0.0.0", "::") else s.server.host
    url = f"{s.server.scheme}://{host}:{s.server.port}"
    try:
        if httpx.get(f"{url}/healthz", timeout=2, verify=local_client_verify(s)).status_code == 200:
            return url
    except httpx.HTTPError:
        pass
    return None


@contextlib.contextmanager
def service_client(url: str, label: str = "appliance ingest/ask") -> Iterator[httpx.Client]:
    """A client with a key that exists only for this command."""
    acc = accounts()
    if CLI_ACCOUNT not in {name for name, *_ in acc.list()}:
        acc.add(CLI_ACCOUNT, "it_admin", secrets.token_urlsafe(32))  # nobody knows this password
    key, info = acc.create_key(CLI_ACCOUNT, label)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600,
                          verify=local_client_verify(settings())) as client:
            yield client
    finally:
        acc.revoke_key(str(info.id))


def _ingest_via_service(url: str, files: list[Path], collection: str, progress: Progress, summary: Summary) -> None:
    with service_client(url) as client:
        for path in files:
            task = progress.add_task(path.name, total=100)
            r = client.post(f"/api/collections/{collection}/documents", files={"file": (path.name, path.read_bytes())})
            if r.status_code != 202:
                summary.errors.append((path.name, r.json()["error"]["message"]))
                progress.remove_task(task)
                continue
            job_id = r.json()["job"]["id"]
            while True:
                job = client.get(f"/api/jobs/{job_id}").json()["job"]
                progress.update(task, completed=job["progress"] * 100)
                if job["status"] in ("done", "failed"):
                    break
                time.sleep(0.2)
            progress.remove_task(task)
            if job["status"] == "done":
                summary.add(job["result"])
            else:
                summary.errors.append((path.name, job["error"]["message"]))


def direct_service(s: Settings, embedder: bool = True, chat=None):
    """The handbook service on the data directory, for when no service runs. Without the embedder
    (nothing to read or search, only to list and remove) it starts in a moment. With it, collections that
    another embedding model built are re-embedded first, as the service would."""
    from appliance.engines import load_embedder, other_embedders
    from appliance.handbooks.service import HandbookService
    from models.catalog import load_catalog
    from models.store import ModelFileError

    if not embedder:
        return HandbookService(s, database().engine, None)
    if not s.models.embedding:
        fail("Es ist kein Embedding-Modell eingestellt (models.embedding).", 2)
    try:
        model = load_embedder(s, load_catalog(s.models_dir).get(s.models.embedding))
    except ModelFileError as exc:
        fail(str(exc), 2)
    service = HandbookService(s, database().engine, model, chat, other_embedders(s))
    assert service.reembedding is not None
    if service.reembedding.start():
        err.print(f"Die Handbücher werden mit {s.models.embedding} neu eingebettet (einmalig nach einem Wechsel des"
                  " Suchmodells) …")
        service.reembedding.jobs.wait_idle()
    return service


def cli_principal():
    """The technical account the command line acts as on the data directory."""
    from appliance.people.accounts import Principal, Role

    return Principal(0, CLI_ACCOUNT, Role.it_admin)


def _ingest_direct(s: Settings, files: list[Path], collection: str, progress: Progress, summary: Summary) -> None:
    from appliance.infra.errors import ApiError

    service = direct_service(s)
    who = cli_principal()
    try:
        for path in files:
            task = progress.add_task(path.name, total=100)
            def show(stage: str, share: float, task=task, name=path.name) -> None:
                progress.update(task, completed=share * 100, description=f"{name} ({stage})")

            try:
                summary.add(service.ingest_file(who, collection, path.name, path.read_bytes(), show))
            except ApiError as exc:  # one broken file must not stop the others
                summary.errors.append((path.name, exc.de))
            progress.remove_task(task)
    finally:
        service.close()


def ingest(
    paths: list[Path] = typer.Argument(..., help="Dateien oder Ordner (PDF, DOCX, MD, HTML, TXT, EPUB)"),
    collection: str = typer.Option(..., "--collection", "-c", help="Sammlung, z. B. Pflegehandbuch"),
) -> None:
    """Handbücher aufnehmen: lesen, in Abschnitte teilen, für die Suche erfassen."""
    s = settings()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        fail(f"Nicht gefunden: {', '.join(missing)}")
    files = handbook_files(paths)
    if not files:
        fail("Keine Handbuch-Dateien gefunden (PDF, DOCX, MD, HTML, TXT, EPUB).")
    summary = Summary()
    url = service_url(s)
    via = f" über den laufenden Dienst {url}" if url else ""
    err.print(f"{len(files)} Datei(en) → Sammlung '{collection}'{via}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        if url:
            _ingest_via_service(url, files, collection, progress, summary)
        else:
            _ingest_direct(s, files, collection, progress, summary)
    table = Table("Dateien", "Seiten", "Abschnitte", "unverändert", "Fehler")
    table.add_row(str(summary.files + len(summary.errors)), str(summary.pages), str(summary.chunks),
                  str(summary.skipped), str(len(summary.errors)))
    out.print(table)
    for name, message in summary.errors:
        err.print(f"[red]✘[/] {name}: {message}", highlight=False)
    if summary.errors:
        raise typer.Exit(1)


def ask(
    question: str = typer.Argument(..., help="Die Frage, z. B. 'Was mache ich bei Verdacht auf Norovirus?'"),
    collection: str = typer.Option(..., "--collection", "-c", help="Sammlung, z. B. Pflegehandbuch"),
) -> None:
    """Eine Frage an die Handbücher stellen: Antwort mit Quellen (Dokument und Seite)."""
    s = settings()
    url = service_url(s)
    if url:
        with service_client(url) as client:
            r = client.post(f"/api/collections/{collection}/ask", json={"question": question})
        if r.status_code != 200:
            fail(r.json()["error"]["message"])
        body = r.json()
    else:
        body = _ask_direct(s, collection, question)
    out.print(body["answer"], highlight=False)
    for c in body["citations"]:
        page = f", Seite {c['page']}" if c["page"] else ""
        out.print(f"  [{c['n']}] {c['title']}{page}", highlight=False)
    err.print("(KI-Entwurf: bitte anhand der Quellen prüfen)")


def _ask_direct(s: Settings, collection: str, question: str) -> dict:
    import asyncio

    from appliance.chat.service import ChatService
    from appliance.engines import Models, load_engines
    from appliance.infra.errors import ApiError

    engines = load_engines(s.model_copy(update={"models": s.models.model_copy(update={"chat": s.models.chat[:1]})}))
    service = direct_service(s, chat=ChatService(Models(engines)))

    async def run() -> dict:
        answer = await service.answer(cli_principal(), collection, question)
        async for _ in answer:
            pass
        return answer.result or {}

    try:
        return asyncio.run(run())
    except ApiError as exc:
        fail(exc.de)
    finally:
        service.close()
        engines.close()
