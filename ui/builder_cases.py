"""The builder's "Testfälle": an author keeps what was just tried as a test case (with the facts a good
draft must hold and what it must not say), and runs all of the app's cases on the box's model to see
how well it writes (the same scores as ``appliance models check``). The cases are saved with the app."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from appliance.apps.case_check import CaseCheck
from appliance.infra.errors import ApiError
from ui.i18n import t

MAX_LINES = 20


def _lines(text: str) -> list[str]:
    return [line.strip()[:200] for line in (text or "").splitlines() if line.strip()][:MAX_LINES]


def add_case(kept: dict[str, Any], tried: dict[str, Any], name: str, facts: str, absent: str,
             lang: str) -> tuple[dict[str, Any], str]:
    """The inputs tried last, kept as a case with its expectations; (the kept parts, a message)."""
    name = (name or "").strip()
    if not tried:
        return kept, "⚠️ " + t("b_case_try_first", lang)
    if len(name) < 2:
        return kept, "⚠️ " + t("b_case_name_missing", lang)
    cases = [c for c in kept.get("cases", []) if c["name"] != name]
    if len(cases) >= 20:
        return kept, "⚠️ " + t("b_case_too_many", lang)
    expect = {k: v for k, v in (("facts", _lines(facts)), ("absent", _lines(absent))) if v}
    case = {"name": name[:120], "inputs": dict(tried), "expect": expect}
    return {**kept, "cases": [*cases, case]}, "✔ " + t("b_case_added", lang).format(name=name)


def remove_case(kept: dict[str, Any], name: str | None) -> dict[str, Any]:
    return {**kept, "cases": [c for c in kept.get("cases", []) if c["name"] != name]}


def cases_markdown(kept: dict[str, Any], lang: str) -> str:
    cases = kept.get("cases", [])
    if not cases:
        return t("b_cases_none", lang)
    lines = []
    for c in cases:
        expect = c.get("expect", {})
        must = ", ".join(expect.get("facts", [])) or "–"
        never = ", ".join(expect.get("absent", [])) or "–"
        lines.append(f"- **{c['name']}** – {t('b_case_facts_short', lang)}: {must}; "
                     f"{t('b_case_absent_short', lang)}: {never}")
    return "\n".join(lines)


def report_markdown(report: dict[str, Any], lang: str) -> str:
    """The scores as an author reads them: per case what was found, missed and invented."""
    [app] = report["apps"]
    summary = app["summary"]
    rows = [f"| {t('b_case', lang)} | {t('b_case_recall', lang)} | {t('b_case_invented', lang)} |"
            f" {t('b_case_structure', lang)} |", "|---|---|---|---|"]
    for case in app["cases"]:
        score = case["score"]
        if score is None:
            rows.append(f"| {case['case']} | ⚠️ {case['error']} | | |")
            continue
        total = score["facts_total"]
        missing = ", ".join(score["facts_missing"])
        recall = f"{len(score['facts_found'])}/{total}" + (f" ({t('b_case_missing', lang)}: {missing})"
                                                          if missing else "") if total else "–"
        made_up = ", ".join(i["text"] for i in score["invented"]) or "–"
        structure = "✔" if score["structure_ok"] else ("✘ " + ", ".join(score["structure_problems"])
                                                       if score["structure_ok"] is False else "–")
        rows.append(f"| {case['case']} | {recall} | {made_up} | {structure} |".replace("\n", " "))
    grade = summary.get("grade") or "–"
    return f"**{t('b_case_grade', lang)}: {grade}** ({report['model']})\n\n" + "\n".join(rows)


def render(who: Callable, check: CaseCheck, app_now: Callable[..., dict[str, Any]], kept: gr.State,
           tried: gr.State, editor: list, fields: gr.State) -> None:
    """The accordion under the try-out; ``app_now`` builds the app from the form (as a save would)."""
    with gr.Accordion(t("b_cases", "de"), open=False, elem_id="b-cases"):
        gr.Markdown(t("b_cases_intro", "de"))
        listing = gr.Markdown(t("b_cases_none", "de"), elem_id="b-case-list")
        name = gr.Textbox(label=t("b_case_name", "de"), elem_id="b-case-name")
        with gr.Row():
            facts = gr.Textbox(label=t("b_case_facts", "de"), lines=3, elem_id="b-case-facts")
            absent = gr.Textbox(label=t("b_case_absent", "de"), lines=3, elem_id="b-case-absent")
        add = gr.Button(t("b_case_add", "de"), elem_id="b-case-add")
        with gr.Row():
            pick = gr.Dropdown(choices=[], label=t("b_case_remove", "de"), scale=3)
            remove = gr.Button(t("b_case_remove", "de"), scale=1, elem_id="b-case-remove")
        run = gr.Button(t("b_cases_run", "de"), variant="primary", elem_id="b-cases-run")
        result = gr.Markdown(elem_id="b-cases-result")

    def shown(kept_now: dict, lang: str):
        return cases_markdown(kept_now, lang), gr.update(choices=[c["name"] for c in kept_now.get("cases", [])],
                                                         value=None)

    def on_add(kept_now, tried_now, name_, facts_, absent_, request: gr.Request):
        _, _, lang = who(request)
        kept_now, message = add_case(kept_now or {}, tried_now or {}, name_, facts_, absent_, lang)
        return kept_now, *shown(kept_now, lang), message

    def on_remove(kept_now, chosen, request: gr.Request):
        _, _, lang = who(request)
        kept_now = remove_case(kept_now or {}, chosen)
        return kept_now, *shown(kept_now, lang), ""

    async def on_run(data: dict, request: gr.Request):  # a set of inputs: Gradio hands over {component: value}
        _, principal, lang = who(request)
        try:
            report = await check.run(principal, app_now(*(data[c] for c in editor), data[fields], data[kept]))
        except ApiError as exc:
            return f"⚠️ {exc.message(lang)}"
        return report_markdown(report, lang)

    def on_change(kept_now, request: gr.Request):
        _, _, lang = who(request)
        return shown(kept_now or {}, lang)

    add.click(on_add, [kept, tried, name, facts, absent], [kept, listing, pick, result])
    remove.click(on_remove, [kept, pick], [kept, listing, pick, result])
    run.click(on_run, {*editor, fields, kept}, result, concurrency_limit=None)
    kept.change(on_change, kept, [listing, pick], queue=False)
