"""The apps' evaluation cases run on one chat model, the way a person's run goes (prepare, the model's
text, the result with its fact check), scored by appliance.apps.quality: ``appliance models check``
and ``benchmarks/apps_quality.py``.

Cases run concurrently up to a bound (the llama.cpp engine decodes them in one batch), each with a
fixed seed. Batched decoding still varies with what else is in the batch, so a rerun of a small model
can differ noticeably: compare runs over the same apps with the same bound, and read the grade, not a
single case. A case that cannot run (its inputs do not fit the app, the prompt is too long for the
model) is reported with the reason and left out of the grade; the others go on.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from appliance.apps.cases import Case
from appliance.apps.files import FileLimits
from appliance.apps.quality import CaseScore, Grade, Summary, combine, score, summarise
from appliance.apps.runs import MIN_ANSWER_TOKENS, prepare, result
from appliance.apps.spec import AppSpec
from appliance.chat.service import ChatService
from appliance.engines import Engines, Models
from appliance.infra.errors import ApiError
from appliance.people.accounts import Principal, Role
from rag.answer import NOTHING_FOUND

CHECKER = Principal(0, "qualitaetspruefung", Role.facility_admin)
"""Who runs the cases: no person, the box itself."""
NEEDS_HANDBOOKS = "braucht eine Handbuch-Sammlung"
NO_CASES = "keine Testfälle"
CONCURRENCY = 4


class UnknownApps(LookupError):
    def __init__(self, unknown: Sequence[str], known: Iterable[str]) -> None:
        self.unknown = list(unknown)
        super().__init__(f"Unbekannte App: {', '.join(unknown)} (vorhanden: {', '.join(sorted(known))}).")


@dataclass
class CaseRun:
    app: str
    case: str
    output: str = ""
    score: CaseScore | None = None
    error: str | None = None  # why the case could not run (German)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"app": self.app, "case": self.case, "output": self.output, "error": self.error,
                "seconds": round(self.seconds, 2), "score": self.score.as_dict() if self.score else None}


@dataclass
class AppReport:
    app: str
    title: str
    runs: list[CaseRun] = field(default_factory=list)
    note: str = ""  # why the app was not run (no cases, needs a handbook collection)

    @property
    def summary(self) -> Summary:
        return summarise(r.score for r in self.runs)

    @property
    def grade(self) -> Grade | None:
        return self.summary.grade

    def as_dict(self) -> dict[str, Any]:
        return {"app": self.app, "title": self.title, "note": self.note, "summary": self.summary.as_dict(),
                "cases": [r.as_dict() for r in self.runs]}


@dataclass
class Report:
    model: str
    apps: list[AppReport]
    started: str  # ISO time
    seconds: float

    @property
    def summary(self) -> Summary:
        return combine(a.summary for a in self.apps)

    @property
    def grade(self) -> Grade | None:
        return self.summary.grade

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "started": self.started, "seconds": round(self.seconds, 1),
                "summary": self.summary.as_dict(), "apps": [a.as_dict() for a in self.apps]}


Progress = Callable[[int, int, CaseRun | None], None]
"""(done, total, the case just finished): called once with None before the first case starts."""


def chat_service(models: ChatService | Models | Engines) -> ChatService:
    if isinstance(models, ChatService):
        return models
    return ChatService(models if isinstance(models, Models) else Models(models))


def select(specs: Iterable[AppSpec], app_ids: Sequence[str] = ()) -> list[AppSpec]:
    """The apps to check, in the order given (all, sorted by id, when none is named); UnknownApps for a typo."""
    by_id = {s.id: s for s in specs}
    unknown = [a for a in app_ids if a not in by_id]
    if unknown:
        raise UnknownApps(unknown, by_id)
    return [by_id[a] for a in dict.fromkeys(app_ids)] if app_ids else [by_id[a] for a in sorted(by_id)]


def load_cases(path: Path) -> dict[str, list[Case]]:
    """Cases kept apart from the apps, to try new ones: ``<app-id>.yaml`` holding ``cases: [...]`` (or just the
    list), one file or a folder of them. ValueError names the file and what is wrong (German)."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    found: dict[str, list[Case]] = {}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
            items = data.get("cases", []) if isinstance(data, dict) else data
            if not isinstance(items, list):
                raise ValueError("erwartet wird eine Liste von Testfällen (cases: [...])")
            found[file.stem] = [Case.model_validate(item) for item in items]
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError, ValueError) as exc:
            raise ValueError(f"{file}: {exc}") from None
    return found


def seed(app: str, case: str) -> int:
    return zlib.crc32(f"{app}/{case}".encode())


async def evaluate(models: ChatService | Models | Engines, model_id: str, specs: Iterable[AppSpec],
                   app_ids: Sequence[str] = (), *, cases: Mapping[str, list[Case]] | None = None,
                   concurrency: int = CONCURRENCY, handbooks=None, files: FileLimits | None = None,
                   max_tokens: int | None = None, progress: Progress | None = None) -> Report:
    """Run the cases of the chosen apps (all when ``app_ids`` is empty) on ``model_id``.

    ``cases``: cases by app id to run instead of the apps' own (new ones being tried out).
    ``handbooks``: the handbook service, for apps that draw on a collection; without it they are skipped.
    ``max_tokens``: caps every answer below the app's own bound, for quick trials only (cut answers score worse).
    Raises UnknownApps for an app id that ``specs`` lacks and LookupError for an unknown model."""
    chat = chat_service(models)
    if model_id not in chat.model_ids():
        raise LookupError(f"Das Chat-Modell „{model_id}“ ist nicht geladen (geladen: {', '.join(chat.model_ids())}).")
    files = files or FileLimits()
    reports: list[AppReport] = []
    jobs: list[tuple[AppSpec, Case, CaseRun]] = []
    for spec in select(specs, app_ids):
        report = AppReport(spec.id, spec.title)
        reports.append(report)
        own = cases.get(spec.id, []) if cases is not None else spec.cases
        if not own:
            report.note = NO_CASES
        elif spec.collection and handbooks is None:
            report.note = NEEDS_HANDBOOKS
        else:
            report.runs = [CaseRun(spec.id, c.name) for c in own]
            jobs += [(spec, c, r) for c, r in zip(own, report.runs, strict=True)]
    started, clock = datetime.now().astimezone().isoformat(timespec="seconds"), time.monotonic()
    bound = asyncio.Semaphore(max(1, concurrency))
    done = 0
    if progress:
        progress(0, len(jobs), None)

    async def one(spec: AppSpec, case: Case, run: CaseRun) -> None:
        nonlocal done
        async with bound:
            began = time.monotonic()
            await _run_case(chat, model_id, spec, case, run, handbooks, files, max_tokens)
            run.seconds = time.monotonic() - began
        done += 1
        if progress:
            progress(done, len(jobs), run)

    await asyncio.gather(*(one(*job) for job in jobs))
    return Report(model_id, reports, started, time.monotonic() - clock)


def _prepare(spec: AppSpec, case: Case, handbooks, files: FileLimits):
    collection_ok = bool(spec.collection and handbooks is not None and spec.collection in handbooks.collection_names())
    return prepare(CHECKER, spec, spec.version, case.inputs, handbooks, collection_ok, files)


async def _run_case(chat: ChatService, model_id: str, spec: AppSpec, case: Case, run: CaseRun, handbooks,
                    files: FileLimits, max_tokens: int | None) -> None:
    try:
        prepared = await asyncio.to_thread(_prepare, spec, case, handbooks, files)  # documents, passages
        bound = prepared.params.max_tokens
        prepared.params = replace(prepared.params, seed=seed(spec.id, case.name),
                                  max_tokens=min(max_tokens, bound) if max_tokens and bound else max_tokens or bound)
        if prepared.declined:
            text = NOTHING_FOUND
        else:
            pieces = [piece async for piece in chat.texts(model_id, prepared.messages, prepared.params,
                                                          shrink_to_fit=MIN_ANSWER_TOKENS, owner=prepared.owner,
                                                          system_shared=True)]
            text = "".join(pieces)
        answer = result(prepared, text)
        run.output = answer["output"]
        run.score = await asyncio.to_thread(score, spec, case, answer)  # the language detector reads a while
    except ApiError as exc:
        run.error = exc.de
    except Exception as exc:  # one case must not end the others; its reason is reported
        run.error = f"{type(exc).__name__}: {exc}"
