"""The facility's own look: name, colours, login text, imprint and privacy links, logo.

The name appears in every page's title and header and on generated documents; the logo on
the letterhead. Stored in SQLite (`settings`) and the data directory (`branding/logo.*`).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine, text

from appliance.infra.errors import ApiError
from appliance.people.accounts import Principal, Role

MAX_LOGO_BYTES = 1024 * 1024
MAX_LOGO_PIXELS = 4000
"""Width and height at most: a letterhead logo needs a few hundred; more only costs memory."""
DEFAULT_NAME = "KI-Assistenz"
COLOR = r"^#[0-9a-fA-F]{6}$"
URL = r"^(https?://\S+|/\S*)?$"


class Colors(BaseModel):
    model_config = ConfigDict(extra="forbid")
    primary: Annotated[str, Field(pattern=COLOR)] = "#1f5f8b"
    accent: Annotated[str, Field(pattern=COLOR)] = "#d9822b"


class Branding(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Annotated[str, Field(min_length=1, max_length=80)] = DEFAULT_NAME
    address: Annotated[str, Field(max_length=300, description="Anschrift für den Briefkopf")] = ""
    colors: Colors = Field(default_factory=Colors)
    login_text: Annotated[str, Field(max_length=500)] = ""
    imprint_url: Annotated[str, Field(max_length=300, pattern=URL)] = ""
    privacy_url: Annotated[str, Field(max_length=300, pattern=URL)] = ""


class BrandingStore:
    def __init__(self, engine: Engine, data_dir: Path) -> None:
        self.engine = engine
        self.folder = data_dir / "branding"

    def get(self) -> Branding:
        with self.engine.connect() as c:
            raw = c.execute(text("SELECT value FROM settings WHERE key = 'branding'")).scalar()
        return Branding.model_validate(json.loads(raw)) if raw else Branding()

    def put(self, branding: Branding) -> Branding:
        with self.engine.begin() as c:
            c.execute(text("INSERT INTO settings (key, value) VALUES ('branding', :v)"
                           " ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
                      {"v": branding.model_dump_json()})
        return branding

    def logo(self) -> Path | None:
        found = sorted(self.folder.glob("logo.*")) if self.folder.exists() else []
        return found[0] if found else None

    def put_logo(self, data: bytes) -> Path:
        """A PNG or JPEG up to 1 MB, checked by decoding it; replaces the old logo in one step."""
        if len(data) > MAX_LOGO_BYTES:
            raise ApiError(413, f"Das Logo ist zu groß (höchstens {MAX_LOGO_BYTES // 1024} KB).",
                           f"The logo is too large (at most {MAX_LOGO_BYTES // 1024} KB).", code="file_too_large",
                           param="file")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
                kind, size = image.format, image.size
        except Image.DecompressionBombError:  # a small file that claims billions of pixels
            kind, size = "bomb", (MAX_LOGO_PIXELS + 1, 1)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            kind, size = None, (0, 0)
        if max(size) > MAX_LOGO_PIXELS:
            raise ApiError(422, f"Das Logo ist zu groß: höchstens {MAX_LOGO_PIXELS} × {MAX_LOGO_PIXELS} Bildpunkte.",
                           f"The logo is too large: at most {MAX_LOGO_PIXELS} × {MAX_LOGO_PIXELS} pixels.",
                           code="image_too_large", param="file")
        if kind not in ("PNG", "JPEG"):
            raise ApiError(415, "Das Logo muss ein PNG- oder JPEG-Bild sein.", "The logo must be a PNG or JPEG image.",
                           code="unsupported_media_type", param="file")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"logo.{'png' if kind == 'PNG' else 'jpg'}"
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        for old in self.folder.glob("logo.*"):
            if old not in (tmp, target):
                old.unlink()
        tmp.replace(target)
        return target


class BrandingService:
    """The branding for the API and the UI: everyone reads it (the sign-in page too), only the
    facility admin changes it."""

    def __init__(self, store: BrandingStore) -> None:
        self.store = store

    def get(self) -> Branding:
        return self.store.get()

    def logo(self) -> Path | None:
        return self.store.logo()

    def public(self) -> dict:
        """The branding as the API shows it, with the logo's address when one is set."""
        return {**self.get().model_dump(), "logo": "/api/branding/logo" if self.logo() else None}

    @staticmethod
    def _require_admin(who: Principal) -> None:
        if who.role is not Role.facility_admin:
            raise ApiError(403, "Das Erscheinungsbild legt die Einrichtungsleitung fest.",
                           "Only facility admins change the branding.", code="forbidden")

    def settings(self, who: Principal) -> dict:
        """The branding settings for the admin page and the API: the facility admin and IT."""
        if who.role not in (Role.facility_admin, Role.it_admin):
            raise ApiError(403, "Die Einstellungen des Erscheinungsbilds sehen die Einrichtungsleitung und die IT.",
                           "Only facility admins and IT see the branding settings.", code="forbidden")
        return self.public()

    def put(self, who: Principal, branding: Branding) -> dict:
        self._require_admin(who)
        self.store.put(branding)
        return self.public()

    def put_logo(self, who: Principal, data: bytes) -> dict:
        self._require_admin(who)
        self.store.put_logo(data)
        return self.public()

    def update(self, who: Principal, logo: bytes | None = None, **fields: object) -> dict:
        """Change some fields (and the logo) in one step, as the admin page saves them; a field
        that is not valid answers 422 naming it, and nothing is changed."""
        self._require_admin(who)
        try:
            branding = Branding.model_validate({**self.get().model_dump(), **fields})
        except ValidationError as exc:
            field = ".".join(str(x) for x in exc.errors()[0]["loc"])
            raise ApiError(422, f"Bitte prüfen: {field}", f"Please check: {field}", code="invalid_value",
                           param=field) from None
        if logo is not None:
            self.store.put_logo(logo)
        self.store.put(branding)
        return self.public()
