"""The evaluation runner (appliance.apps.evaluation) on the deterministic fake chat model: every case
through prepare, the model and the result; bad cases reported, not fatal; handbook apps skipped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from appliance.apps.cases import Case
from appliance.apps.evaluation import NEEDS_HANDBOOKS, NO_CASES, UnknownApps, evaluate, seed
from appliance.apps.quality import Grade
from appliance.apps.spec import AppSpec, parse_spec
from appliance.engines import Engines
from models.chat import ChatEvent, Message, SamplingParams
from models.fake_chat import FakeChatModel
from tests.support.apps import MINIMAL

CASES = [{"name": f"Tausch {n}", "inputs": {"datum": f"2026-05-{n:02d}", "grund": "Arzttermin am Vormittag"},
          "expect": {"facts": [f"{n:02d}.05.2026", "Arzttermin"], "absent": ["Urlaub"]}} for n in range(1, 7)]


def app(**changes) -> AppSpec:
    return parse_spec({**MINIMAL, "cases": CASES, **changes})


class CountingChat(FakeChatModel):
    """The echo model, counting the answers being written at once and keeping each request's parameters."""

    def __init__(self) -> None:
        super().__init__("fake-chat", context_length=10_000)
        self.open = self.most = 0
        self.params: list[SamplingParams] = []

    async def stream(self, messages: Sequence[Message], params: SamplingParams, *, owner: str = "",
                     system_shared: bool = False) -> AsyncIterator[ChatEvent]:
        self.params.append(params)
        events = await super().stream(messages, params, owner=owner, system_shared=system_shared)
        return self._counted(events)

    async def _counted(self, events: AsyncIterator[ChatEvent]) -> AsyncIterator[ChatEvent]:
        self.open += 1
        self.most = max(self.most, self.open)
        try:
            async for event in events:
                yield event
        finally:
            self.open -= 1


@pytest.fixture
def chat() -> CountingChat:
    return CountingChat()


def engines(chat: CountingChat) -> Engines:
    return Engines(chat_models={chat.id: chat})


async def test_every_case_runs_through_the_real_path_and_is_scored(chat: CountingChat) -> None:
    seen: list[tuple[int, int, str | None]] = []
    report = await evaluate(engines(chat), "fake-chat", [app()], concurrency=2,
                            progress=lambda done, total, run: seen.append((done, total, run and run.case)))
    [only] = report.apps
    assert [r.case for r in only.runs] == [c["name"] for c in CASES]
    first = only.runs[0]
    assert first.output.startswith("Echo: Tausch am 01.05.2026.")  # the filled-in template reached the model
    assert first.score is not None and first.score.facts_found == ["01.05.2026", "Arzttermin"]
    assert first.score.invented == []
    summary = only.summary
    assert (summary.cases, summary.facts_found, summary.facts_total, summary.errors) == (6, 12, 12, 0)
    assert report.grade is Grade.geeignet
    assert chat.most <= 2  # never more than the bound at once
    assert all(owner == "qualitaetspruefung" and shared for owner, shared in chat.callers)
    assert sorted(p.seed for p in chat.params) == sorted(seed("dienstplan-tausch", c["name"]) for c in CASES)
    assert seen[0] == (0, 6, None) and [d for d, _, _ in seen[1:]] == [1, 2, 3, 4, 5, 6]
    data = report.as_dict()
    assert data["model"] == "fake-chat" and data["summary"]["grade"] == "geeignet"
    assert data["apps"][0]["cases"][0]["output"] == first.output
    assert data["apps"][0]["cases"][0]["score"]["facts_total"] == 2


async def test_a_case_with_bad_inputs_is_reported_and_the_others_go_on(chat: CountingChat) -> None:
    bad = {"name": "ohne Datum", "inputs": {"grund": "Arzttermin"}, "expect": {"facts": ["Arzttermin"]}}
    report = await evaluate(engines(chat), "fake-chat", [app(cases=[bad, CASES[0]])])
    broken, fine = report.apps[0].runs
    assert broken.score is None and broken.output == ""
    assert broken.error and "Datum" in broken.error
    assert fine.error is None and fine.score is not None
    assert (report.summary.errors, report.summary.cases) == (1, 1)


async def test_handbook_apps_and_apps_without_cases_are_skipped_with_a_note(chat: CountingChat) -> None:
    handbook = app(id="handbuch-fragen", collection="Pflegehandbuch")
    bare = app(id="ohne-faelle", cases=[])
    report = await evaluate(engines(chat), "fake-chat", [handbook, bare])
    notes = {a.app: (a.note, a.runs, a.grade) for a in report.apps}
    assert notes == {"handbuch-fragen": (NEEDS_HANDBOOKS, [], None), "ohne-faelle": (NO_CASES, [], None)}
    assert chat.params == [] and report.grade is None


async def test_cases_given_apart_replace_the_apps_own_and_max_tokens_caps(chat: CountingChat) -> None:
    other = Case(name="anderer Fall", inputs={"datum": "2026-06-01"}, expect={"facts": ["01.06.2026"]})
    report = await evaluate(engines(chat), "fake-chat", [app(), app(id="zweite-app")], ["zweite-app"],
                            cases={"zweite-app": [other]}, max_tokens=16)
    assert [a.app for a in report.apps] == ["zweite-app"]
    assert [r.case for r in report.apps[0].runs] == ["anderer Fall"]
    assert [p.max_tokens for p in chat.params] == [16]


async def test_unknown_apps_and_models_are_refused_before_anything_runs(chat: CountingChat) -> None:
    with pytest.raises(UnknownApps, match="gibt-es-nicht"):
        await evaluate(engines(chat), "fake-chat", [app()], ["gibt-es-nicht"])
    with pytest.raises(LookupError, match="anderes-modell"):
        await evaluate(engines(chat), "anderes-modell", [app()])
    assert chat.params == []
