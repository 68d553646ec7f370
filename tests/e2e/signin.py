"""Signing in through the login form, as the browser tests of each tab do."""

from __future__ import annotations

from tests.conftest import LiveServer


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
