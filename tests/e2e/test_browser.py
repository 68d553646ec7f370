"""The web UI in a real browser (Debian's Chromium through Playwright), against the small real model.

Covers first-run setup, a streamed chat answer and the Stop button, logout and login, the language
switch, and that the page never asks anything of a host other than the appliance itself.
Screenshots of the setup, login and chat pages land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LAST_BOT_TEXT
from tests.support.chat import EndlessChat
from tests.support.paths import ROOT, TEST_CHAT
from tests.support.server import LiveServer
from tests.support.settings import make_settings

pytestmark = pytest.mark.browser

SHOTS = ROOT / "test-artifacts" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}

ADMIN = "Jörg Müller"
PASSWORD = "Sonnenblume-42"

# long enough that the tiny model is still writing when we press Stop (it fills the context, ~40 s)
LONG_PROMPT = "Write a very long essay (at least 1500 words) about the history of cats, with many chapters."

BOT_COUNT = "() => document.querySelectorAll('#chatbot [data-testid=\"bot\"]').length"

# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(tmp_path: Path, real_engines) -> Iterator[LiveServer]:
    """A fresh appliance (no accounts yet) on a free loopback port, with the small real model."""
    from appliance.server import create_app

    app = create_app(make_settings(tmp_path / "data"), engines=real_engines)
    with LiveServer(app) as live:
        yield live


@dataclass
class Browsing:
    page: object
    base: str
    requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base + path

    def path(self) -> str:
        return urlsplit(self.page.url).path

    def assert_only_local(self) -> None:
        """Every request the page made went to the appliance (127.0.0.1 on its port)."""
        port = urlsplit(self.base).port
        outside = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            if (
                parts.scheme not in ("http", "https", "ws", "wss")
                or parts.hostname != "127.0.0.1"
                or parts.port != port
            ):
                outside.append(url)
        assert self.requests, "the request recorder saw nothing, so it does not work"
        assert not outside, f"the page asked hosts other than the appliance: {outside}"


@pytest.fixture
def browsing(browser, server: LiveServer) -> Iterator[Browsing]:
    yield from _browsing(browser, server)


@pytest.fixture
def endless() -> EndlessChat:
    """The chat tab's test is about the page (streaming, Stop), not the engine: a model that writes a
    word every 20 ms and never ends the long essay on its own, so neither the machine's speed nor the
    model's luck decides whether Stop can be tested (the engine's own cancel has its tests)."""
    return EndlessChat(TEST_CHAT, endless="very long essay", pace=0.02)


@pytest.fixture
def chat_browsing(browser, tmp_path: Path, endless: EndlessChat) -> Iterator[Browsing]:
    from appliance.engines import Engines
    from appliance.server import create_app
    from models.embeddings import FakeEmbedder

    app = create_app(make_settings(tmp_path / "data"), engines=Engines(chat_models={TEST_CHAT: endless},
                                                                       embedder=FakeEmbedder()))
    with LiveServer(app) as live:
        yield from _browsing(browser, live)


def _browsing(browser, server: LiveServer) -> Iterator[Browsing]:
    context = browser.new_context(viewport=VIEWPORT, locale="de-DE")
    context.set_default_timeout(30_000)
    page = context.new_page()
    state = Browsing(page=page, base=server.url)
    # context-wide, so requests of workers, frames and popups are seen too, not only the page's own
    context.on("request", lambda request: state.requests.append(request.url))
    page.on("pageerror", lambda error: state.page_errors.append(str(error)))
    try:
        yield state
    finally:
        context.close()


# -- helpers ---------------------------------------------------------------------------------------


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def wait_until(check: Callable[[], object], timeout: float, message: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(interval)


def wait_for_chat_page(b: Browsing, signed_in_as: str = "Angemeldet als") -> None:
    """The Gradio page is up and its load event (header, labels in the user's language) has run."""
    page = b.page
    page.wait_for_selector(f"#app-header >> text={signed_in_as}", timeout=60_000)
    page.get_by_role("tab", name="Chat").click()  # the app catalogue is the first tab
    page.wait_for_selector("#chat-input textarea", timeout=60_000)
    assert b.path() == "/"


def first_run(b: Browsing, name: str = ADMIN, password: str = PASSWORD) -> None:
    """Create the first admin through the setup page and land on the chat page."""
    page = b.page
    page.goto(b.url("/"))
    page.wait_for_selector("#password2")
    page.fill("#name", name)
    page.fill("#password", password)
    page.fill("#password2", password)
    page.click("button[type=submit]")
    wait_for_chat_page(b)


def sign_in(b: Browsing, name: str, password: str) -> object:
    """Fill the login form and send it; answers the HTTP response to the POST."""
    page = b.page
    page.fill("#name", name)
    page.fill("#password", password)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/login" and r.request.method == "POST") as info:
        page.click("button[type=submit]")
    page.wait_for_load_state()
    return info.value


def text_when_stable(page, quiet: float, timeout: float, interval: float = 0.05) -> str:
    """The newest answer once it has not changed for ``quiet`` seconds."""
    last = page.evaluate(LAST_BOT_TEXT) or ""
    changed = time.monotonic()
    deadline = changed + timeout
    while time.monotonic() - changed < quiet:
        assert time.monotonic() < deadline, f"the answer still changes after {timeout} s: {last[-200:]!r}"
        time.sleep(interval)
        text = page.evaluate(LAST_BOT_TEXT) or ""
        if text != last:
            last, changed = text, time.monotonic()
    return last


# -- tests -----------------------------------------------------------------------------------------


def test_first_run_creates_the_admin_and_signs_in(browsing: Browsing) -> None:
    page = browsing.page
    response = page.goto(browsing.url("/"))
    assert browsing.path() == "/setup"
    assert response is not None and response.status == 200
    assert response.request.redirected_from is not None  # "/" sent us here
    page.wait_for_selector("h2:has-text('Ersteinrichtung')")
    assert page.locator("html").get_attribute("lang") == "de"
    assert page.title().startswith("Ersteinrichtung")
    screenshot(page, "setup.png")

    # passwords that differ: an error, the name stays, no account
    page.fill("#name", ADMIN)
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD + "x")
    with page.expect_response(lambda r: urlsplit(r.url).path == "/setup" and r.request.method == "POST") as info:
        page.click("button[type=submit]")
    assert info.value.status == 422
    error = page.locator("p.error[role=alert]")
    error.wait_for()
    assert "Die Passwörter stimmen nicht überein" in error.inner_text()
    assert page.input_value("#name") == ADMIN
    assert browsing.path() == "/setup"

    # a valid admin: signed in on the chat page
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.click("button[type=submit]")
    wait_for_chat_page(browsing)
    header = page.locator("#app-header")
    assert f"Angemeldet als {ADMIN}" in " ".join(header.inner_text().split())
    notice = page.locator("#ai-notice")
    assert notice.is_visible()
    assert "Sie arbeiten mit einer KI" in notice.inner_text()
    assert page.locator("#send").inner_text().strip() == "Senden"

    # setup is done once: the setup page now sends a browser to the login page
    page.goto(browsing.url("/setup"))
    assert browsing.path() == "/"  # signed in, so /setup -> /login -> /
    wait_for_chat_page(browsing)

    assert not browsing.page_errors, browsing.page_errors
    browsing.assert_only_local()


def test_chat_answer_streams_and_stop_ends_it(chat_browsing: Browsing, endless: EndlessChat) -> None:
    browsing = chat_browsing
    page = browsing.page
    model = endless
    first_run(browsing)
    assert page.get_by_label("Sprachmodell").input_value() == TEST_CHAT  # the model choice is filled in
    assert page.evaluate(BOT_COUNT) == 0

    box = page.locator("#chat-input textarea")
    box.fill(LONG_PROMPT)
    box.press("Enter")
    page.wait_for_selector(f"#chatbot [data-testid='user'] >> text={LONG_PROMPT[:30]}")
    assert box.input_value() == ""  # the input is cleared once sent

    # the answer appears and grows while the model writes
    wait_until(lambda: page.evaluate(LAST_BOT_TEXT), 60, "no answer appeared within 60 s", interval=0.05)
    lengths: set[int] = set()
    deadline = time.monotonic() + 60
    while len(lengths) < 2:
        assert time.monotonic() < deadline, f"the answer did not grow within 60 s (lengths seen: {sorted(lengths)})"
        assert model.busy, f"the answer ended before it was seen growing (lengths seen: {lengths})"
        lengths |= {len(page.evaluate(LAST_BOT_TEXT) or "")} - {0}
        time.sleep(0.05)
    assert model.busy, "the model finished the long answer before Stop could be tested"

    # Stop ends it: the text stops changing and the model is free again
    page.click("#stop")
    stopped_text = text_when_stable(page, quiet=3.0, timeout=30)
    assert stopped_text.strip(), "the answer is empty after Stop"
    wait_until(lambda: not model.busy, 15, "the model still generates after Stop")
    assert page.evaluate(LAST_BOT_TEXT) == stopped_text  # and nothing more arrives later

    # the model takes the next question after Stop and answers it to the end
    box.fill("Say hello in one short sentence.")
    page.click("#send")
    wait_until(
        lambda: page.evaluate(BOT_COUNT) >= 2 and (page.evaluate(LAST_BOT_TEXT) or "").strip(),
        60,
        "no second answer appeared within 60 s",
    )
    answer = text_when_stable(page, quiet=2.0, timeout=60)
    assert answer.strip(), "the second answer is empty"
    wait_until(lambda: not model.busy, 60, "the model did not finish the second answer")
    assert page.evaluate(LAST_BOT_TEXT) == answer
    assert page.evaluate(BOT_COUNT) == 2
    page.locator("#chatbot [data-testid='bot']").last.scroll_into_view_if_needed()
    screenshot(page, "chat.png")

    assert not browsing.page_errors, browsing.page_errors
    browsing.assert_only_local()


def test_logout_and_login(browsing: Browsing) -> None:
    page = browsing.page
    first_run(browsing)

    page.click("#app-header a:has-text('Abmelden')")
    page.wait_for_selector("h2:has-text('Anmelden')")
    assert browsing.path() == "/login"
    screenshot(page, "login.png")

    # a wrong password: 401 and the German error, the name stays
    response = sign_in(browsing, ADMIN, "falsch-falsch")
    assert response.status == 401
    error = page.locator("p.error[role=alert]")
    error.wait_for()
    assert "Anmeldung fehlgeschlagen" in error.inner_text()
    assert page.input_value("#name") == ADMIN
    assert browsing.path() == "/login"

    # the right one: back on the chat page
    response = sign_in(browsing, ADMIN, PASSWORD)
    assert response.status == 303
    wait_for_chat_page(browsing)
    assert ADMIN in page.locator("#app-header").inner_text()

    # signed out, "/" sends the browser to the login page
    page.click("#app-header a:has-text('Abmelden')")
    page.wait_for_selector("h2:has-text('Anmelden')")
    response = page.goto(browsing.url("/"))
    assert browsing.path() == "/login"
    assert response is not None and response.status == 200
    redirect = response.request.redirected_from
    assert redirect is not None and urlsplit(redirect.url).path == "/"
    assert redirect.response().status == 303
    # and the Gradio API is closed to a signed-out browser
    assert page.request.get(browsing.url("/config")).status == 401

    assert not browsing.page_errors, browsing.page_errors
    browsing.assert_only_local()


def test_language_switch(browsing: Browsing) -> None:
    page = browsing.page
    first_run(browsing)
    assert page.locator("#send").inner_text().strip() == "Senden"

    page.click("#app-header a:has-text('English')")
    wait_for_chat_page(browsing, signed_in_as="Signed in as")
    page.wait_for_function("() => document.querySelector('#send')?.innerText.trim() === 'Send'")
    assert page.locator("#stop").inner_text().strip() == "Stop"
    assert "You are working with an AI" in page.locator("#ai-notice").inner_text()
    assert "Your message" in page.locator("#chat-input").inner_text()
    assert page.locator("#app-header a:has-text('Deutsch')").is_visible()
    assert page.locator("#app-header a:has-text('Sign out')").is_visible()

    # the choice stays: after a reload, and on the login page after signing out
    page.reload()
    wait_for_chat_page(browsing, signed_in_as="Signed in as")
    page.click("#app-header a:has-text('Sign out')")
    page.wait_for_selector("h2:has-text('Sign in')")
    assert page.locator("html").get_attribute("lang") == "en"

    # and back to German from the login page
    page.click("a.lang")
    page.wait_for_selector("h2:has-text('Anmelden')")
    assert browsing.path() == "/login"

    assert not browsing.page_errors, browsing.page_errors
    browsing.assert_only_local()
