"""Every service of the box, built once by create_app and handed to the API, the UI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.apps.case_check import CaseCheck
from appliance.apps.files import FileLimits
from appliance.apps.service import AppService
from appliance.chat.service import ChatService
from appliance.config import Settings
from appliance.embeddings.service import EmbeddingsService
from appliance.engines import LoadingEmbedder, Models, other_embedders
from appliance.infra.db import Database
from appliance.people.accounts import Accounts
from appliance.people.branding import BrandingService, BrandingStore
from appliance.people.signin import SETUP_CODE_FILE, SignIn
from appliance.speech.interpreter import InterpreterService
from appliance.speech.read_aloud import ReadAloud
from appliance.speech.transcription import TranscriptionService

if TYPE_CHECKING:
    from appliance.handbooks.service import HandbookService


@dataclass
class Services:
    settings: Settings
    models: Models
    """The engines, once the lifespan has loaded them."""
    accounts: Accounts
    branding: BrandingService
    chat: ChatService
    handbooks: HandbookService | None
    """None when no embedding model is configured: handbooks are off (503 with the reason)."""
    apps: AppService
    case_check: CaseCheck
    """An app's test cases, run for its author (the builder's "Testfälle")."""
    transcription: TranscriptionService
    embeddings: EmbeddingsService
    read_aloud: ReadAloud
    interpreter: InterpreterService
    signin: SignIn

    def close(self) -> None:
        if self.handbooks is not None:
            self.handbooks.close()


def build_services(settings: Settings, db: Database, models: Models, handbooks_on: bool) -> Services:
    """``handbooks_on``: an embedding model is (or will be) loaded."""
    data_dir = settings.storage.data_dir
    chat = ChatService(models, ui_max_tokens=settings.ui.max_answer_tokens)
    handbooks = None
    if handbooks_on:
        from appliance.handbooks.service import HandbookService  # Chroma: only when handbooks are on

        handbooks = HandbookService(settings, db.engine, LoadingEmbedder(models), chat, other_embedders(settings))
    branding = BrandingService(BrandingStore(db.engine, data_dir))
    read_aloud = ReadAloud(models, settings.speech.read_aloud)
    accounts = Accounts(db)
    apps = AppService(db.engine, chat, handbooks, branding.store, usage_days=settings.apps.usage_days,
                      files=FileLimits(settings.handbooks.max_upload_mb, settings.handbooks.parse_timeout_s,
                                       settings.handbooks.parse_memory_mb))
    return Services(
        settings=settings,
        models=models,
        accounts=accounts,
        signin=SignIn(accounts, settings.server.session_hours, code_file=data_dir / SETUP_CODE_FILE),
        branding=branding,
        chat=chat,
        handbooks=handbooks,
        apps=apps,
        case_check=CaseCheck(apps, chat),
        transcription=TranscriptionService(models, settings.speech),
        embeddings=EmbeddingsService(models),
        read_aloud=read_aloud,
        interpreter=InterpreterService(models, chat, read_aloud, settings.speech),
    )
