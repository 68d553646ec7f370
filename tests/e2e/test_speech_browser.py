"""Speech in Debian's Chromium: a WAV file made by espeak-ng is the microphone (fake audio capture).

A counsellor opens the interpreter from its tab, holds the talk button while the "microphone"
speaks German, and sees her words and their translation appear; a care worker dictates into
"Pflegebericht aus Diktat" and gets the text in the field; an app author dictates into a long-text
field of the builder's trial form. No request leaves the box.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from appliance.server import create_app
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, sign_in
from tests.support.paths import ROOT
from tests.support.server import LiveServer
from tests.support.settings import make_settings
from tests.support.speech import speak, words

pytestmark = pytest.mark.browser
SHOTS = ROOT / "test-artifacts" / "screenshots"
SPOKEN = "Guten Tag, ich bin Frau Schneider von der Beratungsstelle. Wie kann ich Ihnen heute helfen?"


@pytest.fixture
def site(tmp_path: Path, real_engines):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # Chromium plays the file as its microphone (once, then silence); 48 kHz like a real device
    voice = speak(SPOKEN, "de", tmp_path / "mikrofon.wav", sample_rate=48_000, pad_s=0.5)
    app = create_app(make_settings(tmp_path / "data"), engines=real_engines)
    app.state.services.accounts.add("beraterin", "staff", "geheim123")
    author = app.state.services.accounts.add("autor", "app_author", "geheim123")
    app.state.services.apps.create(author, {  # an app whose input is a recording (type audio)
        "id": "sprachnotiz", "title": "Sprachnotiz", "description": "Aus einer Aufnahme wird eine kurze Notiz.",
        "category": "Beratung", "audience": ["staff"], "purpose": "Gesprächsnotiz aus einer Aufnahme",
        "risk": "minimal",
        "inputs": [{"name": "aufnahme", "label": "Aufnahme", "type": "audio", "required": True}],
        "system_prompt": "Schreibe eine kurze Notiz.", "template": "{{ aufnahme }}", "params": {"max_tokens": 16}})
    app.state.services.apps.publish(author, "sprachnotiz")
    with LiveServer(app) as server, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            *CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={voice}%noloop"])
        yield server, browser
        browser.close()
    app.state.services.handbooks.close()


def heard_enough(text: str) -> bool:
    return len(set(words(text)) & set(words(SPOKEN))) >= 6


def dictate(page, field: str, within: str = "", button: str = "") -> str:
    """Click "Diktieren", let the microphone speak, click again; the field's text afterwards."""
    box, button = f"{within}#field-{field} textarea", button or f"#dictate-{field}"
    before = len(page.input_value(box))
    page.click(button)
    page.wait_for_selector(f"{button}.recording, {button} .recording", timeout=10_000)
    page.wait_for_timeout(9_000)
    page.click(button)
    page.wait_for_function(f"() => document.querySelector('{box}').value.length > {before + 30}", timeout=60_000)
    return page.input_value(box)


def test_interpreter_shows_words_and_translation_while_talking(site) -> None:
    server, browser = site
    requests: list[str] = []
    context, page = sign_in(browser, server, "beraterin", requests)
    context.grant_permissions(["microphone"], origin=server.url)
    page.get_by_role("tab", name="Simultan-Übersetzer").click()
    page.click("#open-interpreter")
    page.wait_for_url("**/interpreter")
    assert "Kein Ersatz für qualifizierte Dolmetscher" in page.inner_text("#notice")
    page.wait_for_function("() => !document.querySelector('#talk-a').disabled", timeout=30_000)
    page.select_option("#lang-b", "uk")
    box = page.locator("#talk-a").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    # while she is still talking, the first words appear (committed or tentative)
    page.wait_for_function("() => document.querySelector('#log-a').innerText.trim().length > 10", timeout=30_000)
    page.wait_for_timeout(8_000)
    page.mouse.up()
    page.wait_for_function("() => document.querySelectorAll('#log-b .translation').length > 0", timeout=120_000)
    page.wait_for_function("() => !document.querySelector('#log-a .tentative')", timeout=60_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "interpreter.png"))
    assert heard_enough(page.inner_text("#log-a")), page.inner_text("#log-a")
    assert page.inner_text("#log-b .translation").strip()
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}
    context.close()


def open_app(site, tile: str, field: str):
    """Signed in with the microphone allowed, on the app's form; every URL asked for lands in the list."""
    server, browser = site
    requests: list[str] = []
    context, page = sign_in(browser, server, "beraterin", requests)
    context.grant_permissions(["microphone"], origin=server.url)
    page.click(f"#tile-{tile}")
    page.wait_for_selector(f"#dictate-{field}", timeout=30_000)
    return context, page, requests


def test_an_audio_input_takes_a_recording(site) -> None:
    context, page, _ = open_app(site, "sprachnotiz", "aufnahme")
    assert "Diktieren" in page.inner_text("#field-aufnahme")  # the field says how to fill it
    assert heard_enough(dictate(page, "aufnahme"))
    context.close()


def test_dictation_fills_the_field(site) -> None:
    context, page, requests = open_app(site, "pflegebericht-diktat", "notizen")
    page.fill("#field-notizen textarea", "Zimmer 12:")
    text = dictate(page, "notizen")
    assert text.startswith("Zimmer 12:\n") and heard_enough(text), text  # added below what was typed
    assert page.inner_text("#dictate-notizen") == "Diktieren"
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}
    context.close()


def test_the_builders_trial_form_takes_dictation_too(site) -> None:
    server, browser = site
    requests: list[str] = []
    context, page = sign_in(browser, server, "autor", requests)
    context.grant_permissions(["microphone"], origin=server.url)
    page.get_by_role("tab", name="App-Baukasten").click()
    for label, kind in (("Notizen", "Langer Text"), ("Aufnahme", "Sprachaufnahme (Diktat, wird zu Text)"),
                        ("Datum", "Datum")):
        page.locator("#b-field-label textarea, #b-field-label input").first.fill(label)
        page.locator("#b-field-type input").first.click()
        page.get_by_role("option", name=kind, exact=True).click()
        page.click("#b-field-add")
        page.wait_for_function(f"() => document.querySelector('#b-field-list').innerText.includes('{label}')")
    trial = "#b-trial-fields "
    page.wait_for_selector(f"{trial}#b-dictate-notizen", timeout=30_000)
    page.wait_for_selector(f"{trial}#b-dictate-aufnahme")
    assert page.locator(f"{trial}.dictate").count() == 2  # long text and recording; not the date
    page.fill(f"{trial}#field-notizen textarea", "Probe:")
    text = dictate(page, "notizen", within=trial, button="#b-dictate-notizen")
    assert text.startswith("Probe:\n") and heard_enough(text), text
    assert page.inner_text("#b-dictate-notizen") == "Diktieren"
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}
    context.close()
