"""Login, first-run and session handling of the web UI over HTTP (the browser tests drive the rest)."""

import httpx
import pytest

from appliance.server import SESSION_COOKIE, create_app


@pytest.fixture
async def web(settings, fake_engines):
    app = create_app(settings, engines=fake_engines)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box") as client:
        client.app = app
        yield client


async def test_first_run_only_while_no_account_exists(web: httpx.AsyncClient) -> None:
    r = await web.get("/")
    assert r.status_code == 303 and r.headers["location"] == "/setup"
    assert (await web.get("/login")).headers["location"] == "/setup"
    page = await web.get("/setup")
    assert "Ersteinrichtung" in page.text and 'lang="de"' in page.text
    r = await web.post("/setup", data={"name": "leitung", "password": "geheim123", "password2": "anders123"})
    assert r.status_code == 422 and "stimmen nicht überein" in r.text and 'value="leitung"' in r.text
    r = await web.post("/setup", data={"name": "leitung", "password": "kurz", "password2": "kurz"})
    assert r.status_code == 422 and "mindestens 8 Zeichen" in r.text
    assert web.app.state.services.accounts.count() == 0
    r = await web.post("/setup", data={"name": "leitung", "password": "geheim123", "password2": "geheim123"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert (await web.get("/")).status_code == 200  # signed in at once
    # once an account exists the first-run page is gone, for everyone
    web.cookies.clear()
    assert (await web.get("/setup")).headers["location"] == "/login"
    r = await web.post("/setup", data={"name": "eindringling", "password": "geheim123", "password2": "geheim123"})
    assert r.status_code == 303 and web.app.state.services.accounts.count() == 1


async def test_the_login_page_carries_the_facility_branding(web: httpx.AsyncClient) -> None:
    from appliance.people.branding import Branding

    web.app.state.services.accounts.add("anna", "staff", "geheim123")
    plain = (await web.get("/login")).text
    assert "<h1>KI-Assistenz</h1>" in plain and "class=\"logo\"" not in plain
    web.app.state.services.branding.store.put(Branding(name="Haus Abendrot", login_text="Willkommen im Haus Abendrot.",
                                        privacy_url="/datenschutz"))
    web.app.state.services.branding.store.put_logo(_png())
    page = (await web.get("/login")).text
    assert "<title>Anmelden · Haus Abendrot</title>" in page and "<h1>Haus Abendrot</h1>" in page
    assert 'src="/api/branding/logo"' in page and "Willkommen im Haus Abendrot." in page
    assert 'href="/datenschutz"' in page
    assert (await web.get("/api/branding/logo")).headers["content-type"] == "image/png"


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (40, 20), (0, 90, 160)).save(out, format="PNG")
    return out.getvalue()


async def test_login_logout_and_session(web: httpx.AsyncClient) -> None:
    web.app.state.services.accounts.add("anna", "staff", "geheim123")
    r = await web.post("/login", data={"name": "anna", "password": "falsch"})
    assert r.status_code == 401 and "Anmeldung fehlgeschlagen" in r.text
    r = await web.post("/login", data={"name": "anna", "password": "geheim123"})
    assert r.status_code == 303 and SESSION_COOKIE in r.headers["set-cookie"]
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=lax" in r.headers["set-cookie"].lower()
    # the session also opens the API (the UI's own calls)
    assert (await web.get("/v1/models")).status_code == 200
    page = await web.get("/")
    assert page.status_code == 200 and '<html\n\tlang="de"' in page.text
    await web.get("/lang/en")
    assert 'lang="en"' in (await web.get("/")).text
    await web.get("/logout")
    assert (await web.get("/v1/models")).status_code == 401
    assert (await web.get("/")).headers["location"] == "/login"


async def test_signing_out_ends_the_session_on_the_server(web: httpx.AsyncClient) -> None:
    """A copy of the cookie (a shared tablet's browser, a proxy's log) stops working at sign-out."""
    web.app.state.services.accounts.add("anna", "staff", "geheim123")
    await web.post("/login", data={"name": "anna", "password": "geheim123"})
    copied = web.cookies.get(SESSION_COOKIE)
    assert copied and (await web.get("/v1/models")).status_code == 200
    await web.get("/logout")
    async with httpx.AsyncClient(transport=web._transport, base_url="http://box",
                                 cookies={SESSION_COOKIE: copied}) as other:
        assert (await other.get("/v1/models")).status_code == 401
        assert (await other.get("/")).headers["location"] == "/login"
    # a second sign-in is a new session; the first one's end did not touch it
    await web.post("/login", data={"name": "anna", "password": "geheim123"})
    assert (await web.get("/v1/models")).status_code == 200


async def test_a_new_password_ends_open_sessions(web: httpx.AsyncClient) -> None:
    accounts = web.app.state.services.accounts
    accounts.add("anna", "staff", "geheim123")
    await web.post("/login", data={"name": "anna", "password": "geheim123"})
    assert (await web.get("/v1/models")).status_code == 200
    accounts.set_password("anna", "ganz-neu-123")
    assert (await web.get("/v1/models")).status_code == 401
    assert (await web.get("/")).headers["location"] == "/login"


async def test_disabled_account_loses_its_session(web: httpx.AsyncClient) -> None:
    web.app.state.services.accounts.add("anna", "staff", "geheim123")
    await web.post("/login", data={"name": "anna", "password": "geheim123"})
    web.app.state.services.accounts.set_disabled("anna")
    assert (await web.get("/v1/models")).status_code == 401


async def test_gradio_api_is_closed_without_login(web: httpx.AsyncClient) -> None:
    web.app.state.services.accounts.add("anna", "staff", "geheim123")
    r = await web.post("/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"})
    assert r.status_code == 401
    r = await web.get("/config")
    assert r.status_code == 401


async def test_language_switch(web: httpx.AsyncClient) -> None:
    web.app.state.services.accounts.add("anna", "staff", "geheim123")
    r = await web.get("/lang/en?next=/login")
    assert r.headers["location"] == "/login"
    page = await web.get("/login")
    assert "Sign in" in page.text and 'lang="en"' in page.text
    assert (await web.get("/lang/en?next=//evil.example")).headers["location"] == "/"
    await web.get("/lang/de")
    assert "Anmelden" in (await web.get("/login")).text


@pytest.fixture
async def remote(settings, fake_engines):
    """A browser on another device in the facility's network."""
    app = create_app(settings, engines=fake_engines)
    transport = httpx.ASGITransport(app=app, client=("192.168.1.20", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://box") as client:
        client.app = app
        yield client


async def test_first_run_from_another_device_needs_the_setup_code(remote: httpx.AsyncClient) -> None:
    page = await remote.get("/setup")
    assert "Einrichtungscode" in page.text
    form = {"name": "leitung", "password": "geheim123", "password2": "geheim123"}
    r = await remote.post("/setup", data=form)
    assert r.status_code == 403 and remote.app.state.services.accounts.count() == 0
    r = await remote.post("/setup", data={**form, "code": "FALSCH"})
    assert r.status_code == 403 and "stimmt nicht" in r.text
    r = await remote.post("/setup", data={**form, "code": remote.app.state.services.signin.setup_code.lower()})
    assert r.status_code == 303 and remote.app.state.services.accounts.count() == 1


async def test_the_setup_code_waits_in_a_private_file_not_in_the_log(settings, fake_engines, caplog) -> None:
    """The operator on the box reads it with `appliance setup-code`; the log (journald, readable by more
    people than root) never holds it, and the file is gone once the first account exists."""
    import logging

    caplog.set_level(logging.INFO)
    app = create_app(settings, engines=fake_engines)
    code = app.state.services.signin.setup_code
    path = settings.storage.data_dir / "setup-code"
    assert path.read_text().strip() == code and path.stat().st_mode & 0o777 == 0o600
    assert code not in caplog.text and "appliance setup-code" in caplog.text
    assert create_app(settings, engines=fake_engines).state.services.signin.setup_code == code  # same after a restart
    transport = httpx.ASGITransport(app=app, client=("192.168.1.20", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://box") as device:
        form = {"name": "leitung", "password": "geheim123", "password2": "geheim123", "code": code}
        assert (await device.post("/setup", data=form)).status_code == 303
    assert not path.exists()


async def test_the_setup_code_is_long_and_guessing_it_is_throttled(remote: httpx.AsyncClient) -> None:
    import re

    code = remote.app.state.services.signin.setup_code
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)  # 60 bits, nothing to confuse
    form = {"name": "leitung", "password": "geheim123", "password2": "geheim123"}
    for n in range(5):
        assert (await remote.post("/setup", data={**form, "code": f"ABCD-EFGH-JKL{n + 2}"})).status_code == 403
    r = await remote.post("/setup", data={**form, "code": code})
    assert r.status_code == 429 and remote.app.state.services.accounts.count() == 0  # even the right one waits
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=remote.app, client=("192.168.1.21", 50000)),
                              base_url="http://box")
    async with other:  # another device is not locked out; the code works typed in lower case with spaces
        r = await other.post("/setup", data={**form, "code": code.lower().replace("-", " ")})
    assert r.status_code == 303 and remote.app.state.services.accounts.count() == 1


async def test_login_attempts_are_throttled(remote: httpx.AsyncClient) -> None:
    remote.app.state.services.accounts.add("anna", "staff", "geheim123")
    for _ in range(5):
        assert (await remote.post("/login", data={"name": "anna", "password": "falsch"})).status_code == 401
    r = await remote.post("/login", data={"name": "anna", "password": "geheim123"})
    assert r.status_code == 429 and "Zu viele Fehlversuche" in r.text
    # another name from the same device is not blocked
    remote.app.state.services.accounts.add("bert", "staff", "geheim123")
    assert (await remote.post("/login", data={"name": "bert", "password": "geheim123"})).status_code == 303


async def test_padded_names_do_not_get_fresh_tries(remote: httpx.AsyncClient) -> None:
    remote.app.state.services.accounts.add("anna", "staff", "geheim123")
    for name in ("anna", " anna", "anna ", "Anna", "ANNA "):
        assert (await remote.post("/login", data={"name": name, "password": "falsch"})).status_code == 401
    r = await remote.post("/login", data={"name": "anna", "password": "geheim123"})
    assert r.status_code == 429 and "Zu viele Fehlversuche" in r.text
