"""Every built-in app runs on the small real model, through the API; the handbook app answers
from the sample handbook with sources."""

import itertools

import httpx
import pytest

from appliance.server import create_app
from tests.support import handbooks as hb
from tests.support.paths import MODELS_DIR, TEST_CHAT
from tests.support.settings import make_settings

ANSWER_TOKENS = 24  # enough to show the app runs end to end; the prompts are measured elsewhere


@pytest.fixture
def engines_4k(real_embedder):
    """As in the default configuration: 4,096 tokens of context (the Fördermittel example needs them)."""
    from appliance.engines import Engines
    from models.catalog import load_catalog
    from models.llama_chat import LlamaChatModel

    entry = load_catalog().get(TEST_CHAT)
    chat = LlamaChatModel(TEST_CHAT, MODELS_DIR / TEST_CHAT / entry.main_file.name, context_size=4096, threads=2,
                          gpu_layers=0, max_queue=8)
    yield Engines(chat_models={TEST_CHAT: chat}, embedder=real_embedder, entries={TEST_CHAT: entry})
    chat.close()


@pytest.fixture
async def box(tmp_path, engines_4k):
    app = create_app(make_settings(tmp_path / "data", sample=True), engines=engines_4k, mount_ui=False)
    app.state.services.handbooks.jobs.wait_idle()  # the sample handbook is in
    app.state.services.accounts.add("anna", "staff", "geheim123")
    key, _ = app.state.services.accounts.create_key("anna")
    for spec in app.state.services.apps.builtins.values():
        spec.params.max_tokens = ANSWER_TOKENS
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box", timeout=120,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        client.app = app
        yield client
    app.state.services.handbooks.close()


async def test_every_builtin_app_runs_its_example_on_the_small_model(box) -> None:
    apps = box.app.state.services.apps.builtins
    assert len(apps) >= 20
    for app_id, spec in apps.items():
        r = await box.post(f"/api/apps/{app_id}/run", json={"inputs": spec.examples[0].inputs})
        assert r.status_code == 200, (app_id, r.text)
        body = r.json()
        assert body["output"].strip(), app_id
        assert body["ai_generated"] is True


async def test_the_handbook_app_answers_from_the_sample_with_its_page(box, engines_4k, monkeypatch) -> None:
    spy = hb.PromptSpy(engines_4k.chat_models[TEST_CHAT])
    monkeypatch.setattr(spy.model, "stream", spy.stream)
    r = await box.post("/api/apps/pflegehandbuch-fragen/run",
                       json={"inputs": {"frage": "Was mache ich bei Verdacht auf Norovirus?"}})
    assert r.status_code == 200, r.text
    # the model got the sample's Norovirus section first, fenced, under the app's own system prompt;
    # whatever it cites (the tiny model may cite nothing) is a passage it was given
    [(system, user)] = [(m[0].content, m[1].content) for m in spy.calls]
    assert system.startswith("Du bist das Pflegehandbuch einer Einrichtung.")
    passages = hb.fences(user)
    where, text = passages[1]
    assert where.startswith("Beispiel-Pflegehandbuch (MUSTER)") and where.endswith("2 Verdacht auf Norovirus")
    assert "Norovirus" in text and user.endswith("Frage: Was mache ich bei Verdacht auf Norovirus?")
    hb.check_citations(r.json()["citations"], user)
    sample = box.app.state.services.handbooks.index.documents("Pflegehandbuch")[0]
    assert all(c["document_id"] == sample.id and c["page"] is None for c in r.json()["citations"])  # Markdown
    r = await box.post("/api/apps/pflegehandbuch-fragen/run",
                       json={"inputs": {"frage": "Wie beantrage ich Elterngeld für Zwillinge in Norwegen?"}})
    assert r.json()["output"] == "Dazu finde ich nichts in den Handbüchern." and r.json()["citations"] == []


@pytest.mark.parametrize(("app_id", "first"), [("pflegebericht-diktat", "Datum/Uhrzeit: "),
                                               ("uebergabe-isbar", "**I – Identifikation:** "),
                                               ("protokoll", "## Rahmendaten\n")])
async def test_an_app_with_fixed_sections_is_written_in_them_whatever_the_model(box, app_id, first) -> None:
    """The tiny model knows nothing of care reports: the grammar alone keeps it to the sections, in
    their order, and what its token limit cut off is added, marked [fehlt]."""
    spec = box.app.state.services.apps.builtins[app_id]
    spec.params.max_tokens = 160
    r = await box.post(f"/api/apps/{app_id}/run", json={"inputs": spec.examples[0].inputs})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["output"].startswith(first)
    order = [s.title for s in spec.sections]
    seen = [part["title"] for part in body["sections"]]
    assert {s.title for s in spec.sections if not s.optional} <= set(seen)
    positions = [order.index(title) for title in seen]
    for before, after in itertools.pairwise(positions):  # in order; a block may start again
        assert after > before or (spec.sections[after].repeat and spec.sections[before].repeat), seen
