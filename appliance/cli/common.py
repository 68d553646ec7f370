"""Shared CLI helpers: settings, database, and messages on stderr (stdout is for results)."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from appliance.config import ConfigError, Settings, load_settings

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]Fehler:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        fail(str(exc), 2)


def database():
    """The data directory checked and the database at the newest schema."""
    from appliance.infra.db import Database
    from appliance.server import DataDirError, prepare_data_dir

    s = settings()
    try:
        prepare_data_dir(s)
    except DataDirError as exc:
        fail(str(exc), 2)
    db = Database(s.database_url)
    db.migrate()
    return db


def accounts():
    from appliance.people.accounts import Accounts

    return Accounts(database())
