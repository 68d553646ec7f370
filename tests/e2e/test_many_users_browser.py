"""Shift change: twenty people press "Senden" in the chat within a few seconds, each in their own
browser, and every one of them sees an answer start (Debian's Chromium, the small real model).
The engine writes all twenty together, so nobody waits for the others' answers to end."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from appliance.server import create_app
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LAST_BOT_TEXT, sign_in
from tests.support.paths import TEST_CHAT
from tests.support.server import LiveServer
from tests.support.settings import make_settings

pytestmark = pytest.mark.browser

USERS = 20
ANSWER_TOKENS = 64
# the twenty browsers share the two cores with the model here (on a box they are twenty tablets), so how
# soon an answer starts depends on the machine and its load (3-36 s measured; 85 s while a benchmark ran
# beside the tests): the test asks what does not, that the engine admitted all twenty at once
# (most_waiting) and every page shows its answer; `make bench` measures the figures. The deadline only
# stops a hang.
HANG_GUARD_S = 600
# run in the page before Enter: note (browser clock, ms) when the last answer first shows text
WATCH_ANSWER = f"""() => {{
    const read = {LAST_BOT_TEXT};
    window.answerShownAt = null;
    const timer = setInterval(() => {{
        if ((read() || "").trim()) {{ window.answerShownAt = Date.now(); clearInterval(timer); }}
    }}, 100);
}}"""


@pytest.fixture
def crowd(tmp_path: Path, real_engines):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    settings = make_settings(tmp_path / "data")
    settings.ui.max_answer_tokens = ANSWER_TOKENS
    app = create_app(settings, engines=real_engines)
    for i in range(USERS):
        app.state.services.accounts.add(f"pflege{i:02d}", "staff", "geheim123")
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield server, browser, real_engines.chat(TEST_CHAT)
        browser.close()
    app.state.services.handbooks.close()


def test_twenty_people_at_shift_change_all_see_their_answers_start(crowd) -> None:
    server, browser, model = crowd
    requests: list[str] = []
    pages = []
    for i in range(USERS):
        context, page = sign_in(browser, server, f"pflege{i:02d}", requests)
        page.get_by_role("tab", name="Chat").click()
        page.locator("#chat-input textarea").fill(f"Schreibe eine kurze Übergabenotiz für Zimmer {i + 1}.")
        pages.append((context, page))

    admitted = model.stats["admitted"]
    model._scheduler.stats["most_waiting"] = 0
    sent = []
    for _, page in pages:  # one after the other, as fast as people press the button
        page.evaluate(WATCH_ANSWER)
        page.locator("#chat-input textarea").press("Enter")
        sent.append(time.time())

    # each browser notes the moment its answer appeared (asking twenty pages in turn would be late itself)
    deadline = time.monotonic() + HANG_GUARD_S
    shown: list[float | None] = [None] * USERS
    while None in shown and time.monotonic() < deadline:
        shown = [page.evaluate("() => window.answerShownAt ?? null") for _, page in pages]
        time.sleep(0.5)
    started = {i: at / 1000 - sent[i] for i, at in enumerate(shown) if at is not None}
    waiting = sorted(set(range(USERS)) - set(started))
    assert not waiting, f"no answer started within {HANG_GUARD_S} s for users {waiting}"
    assert model.stats["admitted"] - admitted == USERS
    assert model.stats["most_waiting"] == 0, "some requests waited for others to end"
    for context, _ in pages:
        context.close()
    deadline = time.monotonic() + HANG_GUARD_S  # the answers end (the pages closed, or their token limit)
    while model.busy and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not model.busy
    print(f"answers started after {min(started.values()):.1f}-{max(started.values()):.1f} s")
