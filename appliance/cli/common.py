"""Shared CLI helpers: settings, database, and messages on stderr (stdout is for results)."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from appliance.config import ConfigError, Settings, load_settings

err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]Fehler:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc), 2)


def accounts():  # noqa: ANN201
    from appliance.accounts import Accounts
    from appliance.db import Database
    from appliance.server import DataDirError, prepare_data_dir

    s = settings()
    try:
        prepare_data_dir(s)
    except DataDirError as exc:
        fail(str(exc), 2)
    db = Database(s.database_url)
    db.migrate()
    return Accounts(db)
