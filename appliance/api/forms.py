"""multipart/form-data read in memory: recordings and documents never touch the disk on the way in.

Starlette spools uploads over 1 MB to a temporary file; here they stay in memory, bounded by the
body limit (BodyLimit middleware) of the path.
"""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from appliance.infra.errors import ApiError


class InMemoryMultiPart(MultiPartParser):
    spool_max_size = 1 << 40


def is_multipart(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("multipart/form-data")


async def read_form(request: Request, *, param: str, max_files: int = 4, max_fields: int = 32) -> dict[str, object]:
    """The form's fields: text as str, files as UploadFile (in memory). ``param`` names the field an
    unreadable form is reported on."""
    parser = InMemoryMultiPart(request.headers, request.stream(), max_files=max_files, max_fields=max_fields)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ApiError(400, f"Das Formular ist nicht lesbar: {exc.message}", f"Unreadable form: {exc.message}",
                       code="invalid_value", param=param) from None
    return {key: form.get(key) for key in form}


def text_field(form: dict[str, object], name: str) -> str | None:
    """A text field, stripped; None when absent or empty. A file where text belongs is refused."""
    value = form.get(name)
    if value is None or isinstance(value, str):
        return value.strip() if isinstance(value, str) and value.strip() else None
    raise ApiError(400, f"Feld '{name}' muss Text sein, keine Datei.", f"Field '{name}' must be text, not a file.",
                   code="invalid_value", param=name)


__all__ = ["InMemoryMultiPart", "UploadFile", "is_multipart", "read_form", "text_field"]
