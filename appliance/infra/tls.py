"""HTTPS on the box: checking the configured certificate and key, and trusting them locally."""

from __future__ import annotations

import ssl

from appliance.config import Settings


def _no_passphrase() -> str:
    raise ValueError("passphrase")


def problem(settings: Settings) -> str | None:
    """Why the certificate and key cannot serve HTTPS, in words for IT; None when they can."""
    cert, key = settings.server.tls_cert, settings.server.tls_key
    if cert is None or key is None:
        return None
    for name, path in (("server.tls_cert", cert), ("server.tls_key", key)):
        if not path.is_file():
            return (f"{name}: Datei {path} fehlt. Zertifikat und Schlüssel (PEM) dort ablegen oder den Eintrag"
                    " entfernen.")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert), str(key), password=_no_passphrase)
    except PermissionError:
        return f"server.tls_key: {key} ist für diesen Dienst nicht lesbar (Rechte: chown/chmod 600)."
    except ValueError:
        return f"server.tls_key: {key} ist mit einer Passphrase geschützt; bitte ohne Passphrase ablegen."
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            return f"server.tls_key: {key} gehört nicht zum Zertifikat {cert}."
        return f"server.tls_cert/server.tls_key: keine gültigen PEM-Dateien ({exc.reason or exc})."
    except OSError as exc:
        return f"server.tls_cert/server.tls_key: nicht lesbar ({exc.strerror or exc})."
    return None


def local_client_verify(settings: Settings) -> ssl.SSLContext | bool:
    """How the command line checks its own service: the usual CAs plus the configured certificate
    (so a self-signed one works); the name is not checked, because the CLI calls 127.0.0.1."""
    if settings.server.tls_cert is None:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=str(settings.server.tls_cert))
    context.check_hostname = False
    return context
