"""The "App-Baukasten" tab (app authors and facility admins): build an app without writing YAML.

Fields are added with a small form, the prompt is written by clicking fields to insert them,
the app is tried side by side with sample inputs, saved as a draft (every save a version),
published, an earlier version viewed and restored, exported and imported.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import gradio as gr

from appliance.apps.case_check import CaseCheck
from appliance.apps.service import AppService
from appliance.apps.spec import AppSpec, InputType
from appliance.infra.errors import ApiError
from ui import builder_cases
from ui.apps_page import AREAS, ONE_RENDER_AT_A_TIME, _component, _values, label_md, unverified_md
from ui.builder_spec import (
    ICONS,
    NEW,
    OUTPUTS,
    RISKS,
    ROLES,
    TYPES,
    build_spec,
    field_name,
    fields_markdown,
    kept_parts,
    sample_inputs,
    slug,
    version_markdown,
    with_kept,
)
from ui.dictation import dictate_button
from ui.i18n import t
from ui.pacing import growing
from ui.scripts import EXPORT_JS, INSERT_JS
from ui.session import UISession


def render(session: UISession, apps: AppService, check: CaseCheck, page: gr.Blocks) -> None:
    fields = gr.State([])
    current = gr.State(NEW)  # id of the app being edited; empty for a new one
    sample = gr.State({})  # the last inputs tried: saved as the app's example
    base_version = gr.State(None)  # the version the editor holds
    kept = gr.State({})  # what the form does not show (sections, cases, ...): a save keeps it
    with gr.Row():
        pick = gr.Dropdown(choices=[], label=t("b_pick", "de"), scale=3, elem_id="b-pick")
        load = gr.Button(t("b_load", "de"), scale=1, elem_id="b-load")
        new = gr.Button(t("b_new", "de"), scale=1, elem_id="b-new")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, elem_id="b-editor"):
            h_basics = gr.Markdown(f"### {t('b_basics', 'de')}")
            title = gr.Textbox(label=t("b_title", "de"), elem_id="b-title")
            app_id = gr.Textbox(label=t("b_id", "de"), elem_id="b-id")
            description = gr.Textbox(label=t("b_description", "de"), elem_id="b-description")
            with gr.Row():
                icon = gr.Dropdown(choices=ICONS, value="📝", label=t("b_icon", "de"), allow_custom_value=True)
                area = gr.Dropdown(choices=AREAS, value="Alle", label="Bereich", elem_id="b-area")
                output = gr.Dropdown(choices=OUTPUTS, value="markdown", label=t("b_output", "de"))
            audience = gr.CheckboxGroup(choices=ROLES, value=["staff", "app_author", "facility_admin"],
                                        label=t("b_audience", "de"), elem_id="b-audience")
            purpose = gr.Textbox(label=t("b_purpose", "de"), elem_id="b-purpose")
            risk = gr.Radio(choices=RISKS, value="minimal", label=t("b_risk", "de"), info=t("b_risk_info", "de"))
            with gr.Row():
                collection = gr.Dropdown(choices=[], value=None, label=t("b_collection", "de"))
                temperature = gr.Slider(0, 1, value=0.3, step=0.1, label=t("b_temperature", "de"))
                length = gr.Slider(100, 2000, value=800, step=50, label=t("b_length", "de"), elem_id="b-length")

            h_fields = gr.Markdown(f"### {t('b_fields', 'de')}")
            field_list = gr.Markdown(t("b_no_fields", "de"), elem_id="b-field-list")
            with gr.Group():
                with gr.Row():
                    f_label = gr.Textbox(label=t("b_field_label", "de"), scale=3, elem_id="b-field-label")
                    f_type = gr.Dropdown(choices=TYPES, value="text", label=t("b_field_type", "de"), scale=2,
                                         elem_id="b-field-type")
                    f_required = gr.Checkbox(value=True, label=t("b_field_required", "de"), scale=1,
                                             elem_id="b-field-required")
                with gr.Row():
                    f_options = gr.Textbox(label=t("b_field_options", "de"), lines=3, scale=3,
                                           elem_id="b-field-options")
                    f_max = gr.Number(value=None, label=t("b_field_max", "de"), precision=0, scale=1)
                add = gr.Button(t("b_field_add", "de"), elem_id="b-field-add")
            with gr.Row():
                remove_pick = gr.Dropdown(choices=[], label=t("b_field_remove", "de"), scale=3)
                remove = gr.Button(t("b_field_remove", "de"), scale=1, elem_id="b-field-remove")

            h_prompt = gr.Markdown(f"### {t('b_prompt', 'de')}")
            system = gr.Textbox(label=t("b_system", "de"), lines=5, elem_id="b-system",
                                placeholder="Du schreibst … Der Ton ist … Regeln: …")
            template = gr.Textbox(label=t("b_template", "de"), lines=5, elem_id="b-template")
            note = gr.Textbox(label=t("b_note", "de"), elem_id="b-note")

            @gr.render(inputs=[fields], **ONE_RENDER_AT_A_TIME)
            def insert_buttons(current_fields: list[dict], request: gr.Request) -> None:
                _, lang = session.who(request)
                if not current_fields:
                    return
                gr.Markdown(t("b_insert", lang))
                with gr.Row(elem_id="b-insert"):
                    for f in current_fields:
                        button = gr.Button(f"➕ {f['label']}", size="sm", elem_id=f"b-insert-{f['name']}")
                        # in the browser, at the cursor (or over the selection) of the task's text box
                        button.click(None, template, template,
                                     js=INSERT_JS.replace("TOKEN", json.dumps("{{ " + f["name"] + " }}")))

        with gr.Column(scale=2, elem_id="b-trial"):
            h_try = gr.Markdown(f"### {t('b_try', 'de')}")
            @gr.render(inputs=[fields], triggers=[fields.change, page.load], **ONE_RENDER_AT_A_TIME)
            def trial_form(current_fields: list[dict], request: gr.Request) -> None:
                _, lang = session.who(request)
                if not current_fields:
                    return
                try:
                    spec = AppSpec.model_validate(build_spec(
                        "probe", "Probe", "Probe", "📝", "Alle", ["staff"], "Ausprobieren im Baukasten.", "minimal",
                        "markdown", None, 0.3, 800, "Probe der Felder.", "{{ heute }}", "", current_fields, None))
                except Exception:
                    return
                with gr.Column(elem_id="b-trial-fields"):
                    components = []
                    for f in spec.inputs:  # as on the app's own page, long texts and recordings can be dictated
                        components.append(_component(f, lang))
                        if f.type in (InputType.long_text, InputType.audio):
                            dictate_button(components[-1], f.name, lang, prefix="b-")
                    go = gr.Button(t("b_try_button", lang), variant="primary", elem_id="b-try")

                async def try_it(*values) -> AsyncIterator[tuple[str, dict]]:
                    service, principal, lang = who(request)  # the render's request: the same signed-in session
                    editor_values, current_fields, kept_now = values[: len(editor)], *values[len(editor):][:2]
                    field_values = values[len(editor) + 2:]
                    inputs = await asyncio.to_thread(_values, spec.inputs, tuple(field_values))
                    try:
                        app = with_kept(build_spec(*editor_values, current_fields, None), kept_now)
                        answer = await service.preview(principal, app, inputs)
                        async for text in growing(answer):
                            yield text, sample_inputs(inputs)
                    except ApiError as exc:
                        raise fail(exc, lang) from None
                    result = answer.result or {}
                    checked = unverified_md(result, lang)  # the fact check, as staff will see it
                    yield (f"{result['output']}\n\n---\n{label_md(result)}" + (f"\n\n{checked}" if checked else ""),
                           sample_inputs(inputs))

                go.click(try_it, [*editor, fields, kept, *components], [trial_output, sample], concurrency_limit=None)

            trial_output = gr.Markdown(elem_id="b-trial-output", min_height=60)
            status = gr.Markdown(elem_id="b-status")
            with gr.Row():
                save = gr.Button(t("b_save", "de"), variant="primary", elem_id="b-save")
                publish = gr.Button(t("b_publish", "de"), elem_id="b-publish")
            cases_box = gr.Column()  # the test cases, filled in below once the editor's controls exist
            with gr.Accordion(t("b_versions", "de"), open=False, elem_id="b-versions") as versions_box:
                versions = gr.Dropdown(choices=[], label=t("b_versions", "de"), info=t("b_versions_info", "de"),
                                       elem_id="b-version-pick")
                version_view = gr.Markdown(elem_id="b-version-view")  # the chosen version, to read before restoring
                restore = gr.Button(t("b_restore", "de"), elem_id="b-restore")
            with gr.Accordion(t("b_exchange", "de"), open=False, elem_id="b-exchange") as exchange_box:
                export = gr.Button(t("b_export", "de"), elem_id="b-export")
                mode = gr.Radio(choices=[("nicht ändern (nachfragen)", ""), ("als Kopie", "copy"),
                                         ("ersetzen (alte Versionen bleiben)", "replace")], value="",
                                label=t("b_import_mode", "de"))
                upload = gr.File(label=t("b_import", "de"), file_types=[".yaml", ".yml"], type="filepath",
                                 elem_id="b-import")
            id_box = gr.Textbox(visible=False)  # the saved id, for the export button's script

    editor = [app_id, title, description, icon, area, audience, purpose, risk, output, collection, temperature,
              length, system, template, note]

    def who(request: gr.Request):
        principal, lang = session.who(request)
        if principal is None or not apps.is_author(principal):
            raise gr.Error("Nur für App-Autorinnen und -Autoren." if lang == "de" else "For app authors only.")
        return apps, principal, lang

    def fail(exc: ApiError, lang: str) -> gr.Error:
        return gr.Error(exc.message(lang))

    with cases_box:
        builder_cases.render(who, check, lambda *v: with_kept(build_spec(*v[:-2], v[-2], None), v[-1]), kept,
                             sample, editor, fields)

    # -- fields ----------------------------------------------------------------------------------

    def add_field(current_fields, label, kind, required, options, maximum, request: gr.Request):
        _, lang = session.who(request)
        label = (label or "").strip()
        if not label:
            raise gr.Error("Bitte eine Beschriftung für das Feld eingeben." if lang == "de"
                           else "Please enter a label.")
        field: dict[str, Any] = {"name": field_name(label, {f["name"] for f in current_fields}), "label": label,
                                 "type": kind, "required": bool(required)}
        if kind in ("choice", "multi_choice"):
            field["options"] = [o.strip() for o in (options or "").splitlines() if o.strip()]
            if not field["options"]:
                raise gr.Error("Eine Auswahl braucht Möglichkeiten: eine je Zeile." if lang == "de"
                               else "A choice needs options, one per line.")
        if maximum:
            field["max_length"] = int(maximum)
        updated = [*current_fields, field]
        return (updated, fields_markdown(updated, lang), gr.update(choices=[(f["label"], f["name"]) for f in updated]),
                "", "", None)

    add.click(add_field, [fields, f_label, f_type, f_required, f_options, f_max],
              [fields, field_list, remove_pick, f_label, f_options, f_max])

    def remove_field(current_fields, name, request: gr.Request):
        _, lang = session.who(request)
        updated = [f for f in current_fields if f["name"] != name]
        return updated, fields_markdown(updated, lang), gr.update(choices=[(f["label"], f["name"]) for f in updated],
                                                                   value=None)

    remove.click(remove_field, [fields, remove_pick], [fields, field_list, remove_pick])


    # -- save, publish, versions -----------------------------------------------------------------

    def after_save(service: AppService, principal, saved: dict, message: str):
        choices = [(f"Version {v['version']} – {v['saved_at'][:16].replace('T', ' ')} – {v['saved_by']}"
                    + (" (veröffentlicht)" if v["published"] else ""), v["version"])
                   for v in service.versions(principal, saved["id"])]
        return saved["id"], saved["id"], saved["id"], message, gr.update(choices=choices, value=None), \
            gr.update(choices=app_choices(service, principal), value=saved["id"]), saved["version"]

    def save_app(editing, current_fields, example, app_id_, title_, description_, icon_, area_, audience_,
                 purpose_, risk_, output_, collection_, temperature_, length_, system_, template_, note_,
                 base_version_, kept_, request: gr.Request):
        service, principal, lang = who(request)
        data = with_kept(build_spec(app_id_, title_, description_, icon_, area_, audience_, purpose_, risk_, output_,
                                    collection_, temperature_, length_, system_, template_, note_, current_fields,
                                    example or None), kept_)
        try:
            if editing:  # the version it was loaded at: a save over someone else's newer one is refused
                saved = service.update(principal, editing, {**data, "id": editing, "version": base_version_})
            else:
                saved = service.create(principal, data)
        except ApiError as exc:
            return editing, gr.update(), gr.update(), f"⚠️ {exc.message(lang)}", gr.update(), \
                gr.update(), base_version_
        return after_save(service, principal, saved, "✔ " + t("b_saved", lang).format(version=saved["version"]))

    save_outputs = [current, app_id, id_box, status, versions, pick, base_version]
    save.click(save_app, [current, fields, sample, *editor, base_version, kept], save_outputs)

    def publish_app(editing, request: gr.Request):
        service, principal, lang = who(request)
        if not editing:
            return t("b_save_first", lang)
        try:
            published = service.publish(principal, editing)
        except ApiError as exc:
            return f"⚠️ {exc.message(lang)}"
        return "✔ " + t("b_published", lang).format(version=published["meta"]["published_version"])

    publish.click(publish_app, current, status)

    def restore_version(editing, version, request: gr.Request):
        service, principal, lang = who(request)
        if not editing or not version:
            return (gr.update(),) * len(load_outputs)
        try:
            restored = service.restore(principal, editing, int(version))
        except ApiError as exc:
            raise fail(exc, lang) from None
        out = fill(service, principal, restored, lang)
        out[load_outputs.index(status)] = "✔ " + t("b_restored", lang).format(version=restored["version"])
        return out

    def view_version(editing, version, request: gr.Request):
        if not editing or not version:
            return ""
        service, principal, lang = who(request)
        try:
            old = service.version(principal, editing, int(version))
        except ApiError as exc:
            raise fail(exc, lang) from None
        saved = next((v for v in service.versions(principal, editing) if v["version"] == int(version)), None)
        return version_markdown(old, saved, lang)

    versions.change(view_version, [current, versions], version_view)

    # -- loading -----------------------------------------------------------------------------

    def app_choices(service: AppService, principal) -> list[tuple[str, str]]:
        return [(f"{a['icon']} {a['title']}" + (" (eingebaut: als Vorlage)" if a["status"] == "builtin" else ""),
                 a["id"]) for a in service.list(principal)]

    def owner_note(meta: dict, lang: str) -> str:
        return "" if meta.get("may_change", True) else t("b_not_yours", lang).format(owner=meta["owner"])

    def fill(service: AppService, principal, detail: dict, lang: str, as_template: bool = False) -> list:
        spec = AppSpec.model_validate({k: v for k, v in detail.items() if k not in ("status", "meta")})
        editing = "" if as_template else spec.id
        fields_now = [f.model_dump(exclude_defaults=True, mode="json") for f in spec.inputs]
        for f in fields_now:
            f.setdefault("type", "text")
        versions_now = [] if as_template else [
            (f"Version {v['version']} – {v['saved_at'][:16].replace('T', ' ')} – {v['saved_by']}"
             + (" (veröffentlicht)" if v["published"] else ""), v["version"])
            for v in detail["meta"].get("versions", [])]
        example = spec.examples[0].inputs if spec.examples else {}
        return [editing, fields_now, fields_markdown(fields_now, lang),
                gr.update(choices=[(f["label"], f["name"]) for f in fields_now], value=None),
                f"{spec.id}-eigen" if as_template else spec.id,
                spec.title + (" (eigene Fassung)" if as_template else ""), spec.description, spec.icon,
                spec.category.value, spec.audience, spec.purpose, spec.risk.value, spec.output.value, spec.collection,
                spec.params.temperature, spec.params.max_tokens, spec.system_prompt, spec.template, spec.note,
                example, owner_note(detail["meta"], lang), gr.update(choices=versions_now, value=None), editing, "",
                None if as_template else spec.version, "", kept_parts(spec.model_dump(mode="json"))]

    load_outputs = [current, fields, field_list, remove_pick, app_id, title, description, icon, area, audience,
                    purpose, risk, output, collection, temperature, length, system, template, note, sample, status,
                    versions, id_box, trial_output, base_version, version_view, kept]

    def load_app(chosen, request: gr.Request):
        service, principal, lang = who(request)
        if not chosen:
            return [gr.update()] * len(load_outputs)
        try:
            builtin = service.is_builtin(chosen)
            detail = service.get(principal, chosen, draft=True)
        except ApiError as exc:
            raise fail(exc, lang) from None
        return fill(service, principal, detail, lang, as_template=builtin)

    load.click(load_app, pick, load_outputs)
    restore.click(restore_version, [current, versions], load_outputs)

    def new_app(request: gr.Request):
        _, lang = session.who(request)
        return [NEW, [], t("b_no_fields", lang), gr.update(choices=[], value=None), "", "", "", "📝", "Alle",
                ["staff", "app_author", "facility_admin"], "", "minimal", "markdown", None, 0.3, 800, "", "", "", {},
                "", gr.update(choices=[], value=None), "", "", None, "", {}]

    new.click(new_app, None, load_outputs)
    title.blur(lambda text, current_id, editing: current_id if (current_id or editing) else slug(text or "")[:64],
               [title, app_id, current], app_id)

    # -- exchange ------------------------------------------------------------------------------

    export.click(None, id_box, None, js=EXPORT_JS)

    def import_file(path, how, request: gr.Request):
        service, principal, lang = who(request)
        if not path:
            return gr.update(), gr.update()
        file = Path(str(path))
        data = file.read_bytes()
        file.unlink(missing_ok=True)
        try:
            result = service.import_(principal, data, how or None)
        except ApiError as exc:
            return f"⚠️ {exc.message(lang)}", gr.update()
        words = {"imported": "importiert", "copied": "als Kopie importiert", "updated": "aktualisiert",
                 "replaced": "ersetzt (frühere Versionen bleiben)", "unchanged": "unverändert, schon vorhanden"}
        app = result["app"]
        return (f"✔ {app['title']} ({app['id']}): {words[result['result']]}. Zum Bearbeiten oben auswählen und laden.",
                gr.update(choices=app_choices(service, principal), value=app["id"]))

    upload.upload(import_file, [upload, mode], [status, pick])

    # every label in the user's language (built in German, switched when the page loads)
    labels = [(title, "b_title"), (app_id, "b_id"), (description, "b_description"),
              (icon, "b_icon"), (output, "b_output"), (audience, "b_audience"), (purpose, "b_purpose"),
              (temperature, "b_temperature"), (length, "b_length"),
              (f_label, "b_field_label"), (f_type, "b_field_type"), (f_required, "b_field_required"),
              (f_options, "b_field_options"), (f_max, "b_field_max"), (remove_pick, "b_field_remove"),
              (system, "b_system"), (template, "b_template"), (note, "b_note"), (versions_box, "b_versions"),
              (exchange_box, "b_exchange"), (mode, "b_import_mode"), (upload, "b_import")]
    buttons = [(load, "b_load"), (new, "b_new"), (add, "b_field_add"), (remove, "b_field_remove"),
               (save, "b_save"), (publish, "b_publish"), (restore, "b_restore"), (export, "b_export")]
    headings = [(h_basics, "b_basics"), (h_fields, "b_fields"), (h_prompt, "b_prompt"), (h_try, "b_try")]

    def on_load(request: gr.Request):
        principal, lang = session.who(request)
        texts = ([gr.update(label=t(k, lang)) for _, k in labels] + [gr.update(value=t(k, lang)) for _, k in buttons]
                 + [f"### {t(k, lang)}" for _, k in headings]
                 + [gr.update(label=t("b_risk", lang), info=t("b_risk_info", lang)), t("b_no_fields", lang),
                    gr.update(label=t("b_versions", lang), info=t("b_versions_info", lang))])
        author = principal is not None and apps.is_author(principal)
        names = apps.collection_names(principal) if author else []
        return [*texts, gr.update(label=t("b_pick", lang), choices=app_choices(apps, principal) if author else []),
                gr.update(label=t("b_collection", lang), choices=[("–", ""), *names])]

    page.load(on_load, None, [*(c for c, _ in labels), *(c for c, _ in buttons), *(c for c, _ in headings), risk,
                              field_list, versions, pick, collection])
