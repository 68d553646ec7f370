"""What the App-Baukasten edits, as plain data: choices for its controls, ids and field names made
from German labels, and the app object (the same as POST /api/apps) built from the form."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from appliance.apps.files import FileInput
from ui.i18n import t

TYPES = [("Kurzer Text", "text"), ("Langer Text", "long_text"), ("Auswahl", "choice"),
         ("Mehrfachauswahl", "multi_choice"), ("Datum", "date"), ("Zahl", "number"),
         ("Datei (ihr Text geht an die KI)", "file"), ("Sprachaufnahme (Diktat, wird zu Text)", "audio")]
ROLES = [("Mitarbeitende", "staff"), ("App-Autorinnen/-Autoren", "app_author"),
         ("Einrichtungsleitung", "facility_admin")]
OUTPUTS = [("Text", "text"), ("Formatierter Text", "markdown"), ("Brief", "letter"), ("Tabelle", "table")]
RISKS = [("minimal", "minimal"), ("begrenzt", "limited")]
ICONS = ["📝", "✉️", "📋", "🗓️", "🔁", "📖", "🧾", "💬", "🌍", "🧒", "🧓", "🏠", "📣", "✅"]
NEW = ""



def slug(text: str, sep: str = "-") -> str:
    """'Dienstplan-Tausch-Anfrage' -> 'dienstplan-tausch-anfrage'; umlauts as ae/oe/ue/ss."""
    text = text.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, text).strip(sep)


def field_name(label: str, taken: set[str]) -> str:
    base = slug(label, "_")[:36] or "feld"
    base = base if base[0].isalpha() else f"f_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    return name


def fields_markdown(fields: list[dict], lang: str) -> str:
    if not fields:
        return t("b_no_fields", lang)
    kinds = dict((v, k) for k, v in TYPES)
    lines = []
    for f in fields:
        extra = f" – {', '.join(f['options'])}" if f.get("options") else ""
        star = " *" if f.get("required", True) else ""
        lines.append(f"- **{f['label']}**{star} ({kinds.get(f['type'], f['type'])}, `{{{{ {f['name']} }}}}`){extra}")
    return "\n".join(lines)


def _fenced(text: str) -> str:
    """A block of text shown as it is: the fence is longer than any run of ~ inside."""
    fence = "~" * max(3, max((len(run) for run in re.findall(r"~+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


def version_markdown(spec: dict[str, Any], saved: dict[str, Any] | None, lang: str) -> str:
    """An earlier version to read before restoring it: what it asked of the AI and which fields it had."""
    head = f"#### {t('b_version_heading', lang).format(version=spec['version'])}"
    if saved:
        head += "\n\n" + t("b_version_saved", lang).format(
            when=saved["saved_at"][:16].replace("T", " "), who=saved["saved_by"], note=saved.get("note") or "–")
        if saved.get("published"):
            head += f" **{t('b_version_published', lang)}**"
    fields = [{"type": "text", **f} for f in spec["inputs"]]
    return "\n\n".join([
        head, f"**{t('b_title', lang)}:** {spec['title']} – {spec['description']}",
        f"**{t('b_version_fields', lang)}:**\n\n{fields_markdown(fields, lang)}",
        f"**{t('b_system', lang)}:**\n\n{_fenced(spec['system_prompt'])}",
        f"**{t('b_version_task', lang)}:**\n\n{_fenced(spec['template'])}"])


def build_spec(app_id: str, title: str, description: str, icon: str, area: str, audience: list[str], purpose: str,
               risk: str, output: str, collection: str | None, temperature: float, length: float, system: str,
               template: str, note: str, fields: list[dict], sample: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": app_id.strip() or slug(title), "title": title, "description": description, "icon": icon or "📝",
        "category": area or "Alle", "audience": audience or ["staff"], "inputs": fields,
        "system_prompt": system, "template": template,
        "params": {"temperature": float(temperature), "max_tokens": int(length)},
        "collection": collection or None, "output": output or "markdown", "purpose": purpose, "risk": risk or "minimal",
        "note": note or "",
    }
    # what was tried becomes the example; a file's text never does (it may hold real people's data)
    texts = {f["name"] for f in fields if f.get("type", "text") not in ("file", "audio")}
    example = {k: v for k, v in (sample or {}).items() if k in texts and v not in (None, "", [])}
    if example:
        spec["examples"] = [{"inputs": example}]
    return spec


KEPT = ("sections", "layout", "cases")  # parts of an app the form does not show: a save keeps them as loaded


def kept_parts(spec: dict[str, Any]) -> dict[str, Any]:
    """What the builder carries from a loaded app to its save untouched: its fixed sections, their
    layout, its evaluation cases, the sampling settings the form has no control for, and its examples."""
    kept = {k: spec[k] for k in KEPT if spec.get(k)}
    params = {k: v for k, v in (spec.get("params") or {}).items() if k not in ("temperature", "max_tokens")}
    if params:
        kept["params"] = params
    if spec.get("examples"):
        kept["examples"] = spec["examples"]
    return kept


def with_kept(spec: dict[str, Any], kept: dict[str, Any] | None) -> dict[str, Any]:
    """The app built from the form, plus what the form does not show (see kept_parts); what was
    tried in the form replaces the first example."""
    if not kept:
        return spec
    merged = {**{k: v for k, v in kept.items() if k not in ("params", "examples")}, **spec}
    merged["params"] = {**kept.get("params", {}), **spec["params"]}
    examples = spec.get("examples", []) + kept.get("examples", [])[1 if spec.get("examples") else 0:]
    if examples:
        merged["examples"] = examples[:10]
    return merged


def sample_inputs(inputs: dict) -> dict:
    """The inputs tried, kept as the app's example: a document's name stands in for its content."""
    return {name: (value.filename if isinstance(value, FileInput) else value) for name, value in inputs.items()}
