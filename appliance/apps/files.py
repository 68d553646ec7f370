"""Documents given to an app's file fields: read into text on the box, nothing kept.

The web UI hands over the uploaded bytes, the API takes them as multipart files or as base64 in
JSON (``{"filename": "Bericht.pdf", "content_base64": "..."}``); both meet the same limits: the
handbooks' file types, at most ``max_mb`` per file, and the field's own length limit on the text.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from appliance.apps.inputs import InputError
from appliance.apps.spec import AppSpec, InputType
from rag.documents import ParseError
from rag.isolation import PARSER, parse_isolated
from rag.parsers import media_type_for


@dataclass(frozen=True)
class FileInput:
    """An uploaded document for a file field, as it came from the browser or the API."""

    filename: str
    data: bytes


def _upload(name: str, label: str, value: Any) -> FileInput | None:
    """The upload in ``value``, or None when it is something else (text already read, nothing)."""
    if isinstance(value, FileInput):
        return value
    if not isinstance(value, dict):
        return None
    filename, encoded = value.get("filename"), value.get("content_base64")
    if not isinstance(filename, str) or not filename.strip() or not isinstance(encoded, str):
        raise InputError(name, f"„{label}“: eine Datei braucht 'filename' und 'content_base64'.",
                         f"'{label}': a file needs 'filename' and 'content_base64'.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(name, f"„{label}“: 'content_base64' ist kein gültiges Base64.",
                         f"'{label}': 'content_base64' is not valid base64.") from None
    return FileInput(filename.strip(), data)


@dataclass(frozen=True)
class FileLimits:
    """How large a document for a file field may be, and how long and in how much memory it is read
    (in a child process, as handbooks are: handbooks.parse_timeout_s, handbooks.parse_memory_mb)."""

    max_mb: int = 50
    timeout_s: float = 120
    memory_mb: int = 2048
    parser: str = PARSER  # module:function the child calls (tests: one that hangs)


def file_text(name: str, label: str, upload: FileInput, limits: FileLimits) -> str:
    """The document's text, paragraph by paragraph; its type, size and readability checked."""
    max_mb = limits.max_mb
    if len(upload.data) > max_mb * 1024 * 1024:
        raise InputError(name, f"„{label}“: die Datei ist zu groß (höchstens {max_mb} MB).",
                         f"'{label}': the file is too large (at most {max_mb} MB).", status=413,
                         code="file_too_large")
    if not upload.data:
        raise InputError(name, f"„{label}“: die Datei ist leer (0 Byte).", f"'{label}': the file is empty (0 bytes).")
    try:
        media_type_for(upload.filename)
        parsed = parse_isolated(upload.data, upload.filename, limits.timeout_s, limits.memory_mb, limits.parser)
    except ParseError as exc:
        raise InputError(name, f"„{label}“: {exc}", f"'{label}': {exc}", status=exc.status, code=exc.code) from None
    return "\n\n".join(b.text for p in parsed.pages for b in p.blocks)


def read_files(spec: AppSpec, inputs: Any, limits: FileLimits) -> Any:
    """``inputs`` with each uploaded document of a file field replaced by its text (blocking: call it
    in a worker thread). Anything else is left for check_inputs to judge."""
    if not isinstance(inputs, dict):
        return inputs
    out = dict(inputs)
    for field in spec.inputs:
        if field.type is not InputType.file:
            continue
        upload = _upload(field.name, field.label, out.get(field.name))
        if upload is not None:
            out[field.name] = file_text(field.name, field.label, upload, limits)
    return out
