"""HTTPS on the box itself (server.tls_cert/tls_key): browsers give the microphone only to HTTPS pages."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from appliance.config import ConfigError, load_settings
from appliance.server import create_app
from tests.support.server import LiveServer
from tests.support.settings import make_settings


def self_signed(directory: Path) -> tuple[Path, Path]:
    """What the IT guide tells IT to do when the facility has no certificate of its own."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ki-box",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_the_service_speaks_https_with_secure_cookies(tmp_path, fake_engines) -> None:
    cert, key = self_signed(tmp_path)
    settings = make_settings(tmp_path / "data")
    settings.server.tls_cert, settings.server.tls_key = cert, key
    app = create_app(settings, engines=fake_engines, mount_ui=False)
    with LiveServer(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as server:
        assert server.url.startswith("https://")
        with httpx.Client(base_url=server.url, verify=str(cert)) as client:
            assert client.get("/healthz").status_code == 200
            app.state.services.accounts.add("anna", "staff", "geheim123")
            key_text, _ = app.state.services.accounts.create_key("anna")
            r = client.get("/v1/models", headers={"Authorization": f"Bearer {key_text}"})
            assert r.status_code == 200
        with pytest.raises(httpx.HTTPError), httpx.Client() as plain:
            plain.get(server.url.replace("https://", "http://") + "/healthz")


def test_session_cookie_is_secure_over_https(tmp_path, fake_engines) -> None:
    cert, key = self_signed(tmp_path)
    settings = make_settings(tmp_path / "data")
    settings.server.tls_cert, settings.server.tls_key = cert, key
    app = create_app(settings, engines=fake_engines)  # with the UI: its language switch sets the cookie
    with LiveServer(app, ssl_certfile=str(cert), ssl_keyfile=str(key)) as server, \
            httpx.Client(base_url=server.url, verify=str(cert)) as client:
        r = client.get("/lang/en?next=/login", follow_redirects=False)
        cookie = r.headers["set-cookie"].lower()
        assert "appliance_session=" in cookie and "secure" in cookie


def test_certificate_and_key_come_together(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("APPLIANCE__SERVER__TLS_CERT", str(tmp_path / "cert.pem"))
    with pytest.raises(ConfigError, match=r"server\.tls_key"):
        load_settings()


def test_bad_certificate_files_are_named_before_start(tmp_path) -> None:
    from appliance.infra import tls

    cert, key = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = self_signed(tmp_path / "other")
    settings = make_settings(tmp_path / "data")
    settings.server.tls_cert, settings.server.tls_key = cert, key
    assert tls.problem(settings) is None
    settings.server.tls_key = other_key
    assert "gehört nicht zum Zertifikat" in tls.problem(settings)
    settings.server.tls_key = tmp_path / "fehlt.pem"
    assert "server.tls_key" in tls.problem(settings) and "fehlt" in tls.problem(settings)
    locked = tmp_path / "locked.pem"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:geheim", "-out", str(locked)],
                   check=True, capture_output=True)
    settings.server.tls_key = locked
    assert "Passphrase" in tls.problem(settings)


def test_an_empty_value_means_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE__SERVER__TLS_CERT", "")
    monkeypatch.setenv("APPLIANCE__SERVER__TLS_KEY", "")
    assert load_settings().server.scheme == "http"


def _through(app, client: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://box", headers=headers)


async def test_behind_a_trusted_proxy_the_box_sees_the_device_and_https(tmp_path, fake_engines) -> None:
    """nginx on the box (127.0.0.1) speaks HTTPS to the devices: with server.trusted_proxies the session
    cookie is Secure, browsers get HSTS, and a device on the LAN needs the setup code like any other."""
    settings = make_settings(tmp_path / "data")
    settings.server.trusted_proxies = ["127.0.0.1"]
    app = create_app(settings, engines=fake_engines)
    proxied = {"X-Forwarded-For": "192.168.1.50", "X-Forwarded-Proto": "https"}
    async with _through(app, "127.0.0.1", **proxied) as client:
        r = await client.get("/lang/en?next=/login")
        cookie = r.headers["set-cookie"].lower()
        assert "appliance_session=" in cookie and cookie.rstrip().endswith("; secure")
        assert r.headers["strict-transport-security"] == "max-age=31536000"
        assert "Einrichtungscode" in (await client.get("/setup", headers={"Accept-Language": "de"})).text
        form = {"name": "leitung", "password": "geheim123", "password2": "geheim123"}
        assert (await client.post("/setup", data=form)).status_code == 403  # a device, not the box itself
    async with _through(app, "127.0.0.1", **{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"}) as box:
        assert "Einrichtungscode" not in (await box.get("/setup")).text  # the browser on the box itself


async def test_proxy_headers_from_anyone_else_are_not_believed(tmp_path, fake_engines) -> None:
    settings = make_settings(tmp_path / "data")
    settings.server.trusted_proxies = ["127.0.0.1"]
    spoofed = {"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https"}
    async with _through(create_app(settings, engines=fake_engines), "192.168.1.66", **spoofed) as device:
        page = await device.get("/setup")
        assert "Einrichtungscode" in page.text and "strict-transport-security" not in page.headers
    # without a configured proxy no one's headers count, not even from the box itself
    async with _through(create_app(make_settings(tmp_path / "other"), engines=fake_engines), "127.0.0.1",
                        **{"X-Forwarded-For": "192.168.1.50", "X-Forwarded-Proto": "https"}) as local:
        r = await local.get("/lang/en?next=/login")
        assert "secure" not in r.headers["set-cookie"].lower() and "strict-transport-security" not in r.headers
        assert "Einrichtungscode" not in (await local.get("/setup")).text


def test_a_proxy_must_be_an_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLIANCE__SERVER__TRUSTED_PROXIES", '["nginx"]')
    with pytest.raises(ConfigError, match="keine IP-Adresse"):
        load_settings()
