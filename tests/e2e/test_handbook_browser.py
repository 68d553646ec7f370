"""The Handbuch tab in Debian's Chromium: a facility admin uploads two handbooks, watches them
arrive, asks in German and gets an answer whose source opens the original at its page, then
removes a handbook. Staff see no management controls."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from appliance.server import create_app
from tests.conftest import ROOT, LiveServer, make_settings
from tests.e2e.signin import sign_in as signed_in
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.support import handbooks as hb

pytestmark = pytest.mark.browser
SHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture
def site(tmp_path: Path, real_engines):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    app = create_app(make_settings(tmp_path / "data"), engines=real_engines)
    app.state.accounts.add("leitung", "facility_admin", "geheim123")
    app.state.accounts.add("pflege", "staff", "geheim123")
    files = tmp_path / "upload"
    files.mkdir()
    (files / "Hygieneplan.pdf").write_bytes(hb.make_pdf())
    (files / "Pflegehandbuch.docx").write_bytes(hb.make_docx())
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield server, browser, files
        browser.close()
    app.state.handbooks.close()


def sign_in(browser, server: LiveServer, name: str, requests: list[str]):
    context, page = signed_in(browser, server, name, requests)
    page.get_by_role("tab", name="Handbuch").click()
    page.wait_for_selector("#hb-question textarea")
    return context, page


def test_admin_uploads_asks_and_removes(site) -> None:
    server, browser, files = site
    requests: list[str] = []
    context, page = sign_in(browser, server, "leitung", requests)
    page.get_by_text("Handbücher verwalten").click()
    page.locator("#hb-collection input").fill("Hygieneplan")
    page.locator("#hb-collection input").press("Enter")
    page.set_input_files("#hb-upload input[type=file]", [str(files / "Hygieneplan.pdf"),
                                                         str(files / "Pflegehandbuch.docx")])
    page.wait_for_function("() => (document.querySelector('#hb-status')?.innerText.match(/✔/g) || []).length === 2",
                           timeout=60_000)
    status = page.locator("#hb-status").inner_text()
    assert "Hygieneplan.pdf: aufgenommen (4 Seiten" in status and "Pflegehandbuch.docx: aufgenommen" in status
    page.wait_for_function("() => document.querySelector('#hb-documents')?.innerText.includes('Hygieneplan.pdf')")

    page.fill("#hb-question textarea", "Was mache ich bei Verdacht auf Norovirus?")
    page.click("#hb-ask")
    page.wait_for_function(
        "() => document.querySelector('#hb-answer')?.innerText.includes('KI-Entwurf')"
        " || document.querySelector('.toast-body') !== null",
        timeout=120_000,
    )
    toast = page.locator(".toast-body")
    assert toast.count() == 0, f"the UI reported an error: {toast.first.inner_text()}"
    assert page.locator("#hb-answer").inner_text().strip()
    links = page.locator("#hb-sources a")
    if links.count():  # the tiny test model does not always cite; when it does, the link must be right
        href = links.first.get_attribute("href")
        assert "/api/collections/Hygieneplan/documents/" in href and "/file" in href
        original = page.request.get(server.url + href.split("#")[0])
        assert original.status == 200
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "handbook.png"), full_page=True)

    # remove the PDF: it is gone from the list and from search
    page.locator("#hb-documents").scroll_into_view_if_needed()
    page.locator("#hb-manage").get_by_label("Dokument zum Entfernen").click()
    page.get_by_role("option", name="Hygieneplan (Hygieneplan.pdf)").click()
    page.click("#hb-remove")
    page.wait_for_function("() => !document.querySelector('#hb-documents')?.innerText.includes('Hygieneplan.pdf')",
                           timeout=30_000)
    handbooks = server.app.state.handbooks
    assert [d.filename for d in handbooks.index.documents("Hygieneplan")] == ["Pflegehandbuch.docx"]
    context.close()
    port = urlsplit(server.url).port
    outside = [u for u in requests if not u.startswith(("data:", "blob:")) and urlsplit(u).port != port]
    assert outside == []


def test_staff_can_ask_but_not_manage(site) -> None:
    server, browser, _ = site
    requests: list[str] = []
    context, page = sign_in(browser, server, "pflege", requests)
    time.sleep(1)
    assert not page.locator("#hb-manage").is_visible()
    context.close()
