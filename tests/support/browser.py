"""Debian's Chromium through Playwright: its path and flags, signing in, reading the chat."""

from __future__ import annotations

from pathlib import Path

from tests.support.server import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# the text of the newest assistant message, or null while there is none
LAST_BOT_TEXT = """() => {
    const bots = document.querySelectorAll('#chatbot [data-testid="bot"]');
    return bots.length ? bots[bots.length - 1].innerText : null;
}"""


def sign_in(browser, server: LiveServer, name: str, requests: list[str], password: str = "geheim123",
            width: int = 1280):
    """A new browser context signed in as ``name``; every URL it asks for lands in ``requests``."""
    context = browser.new_context(viewport={"width": width, "height": 1000}, accept_downloads=True)
    context.on("request", lambda r: requests.append(r.url))
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#app-header >> text=Angemeldet als", timeout=30_000)
    return context, page
