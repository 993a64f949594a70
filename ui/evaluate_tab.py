"""Step 3, Evaluate: headline vs. baseline, per-class table, confusion matrix, the most confident mistakes.

Handlers only turn a run directory into core.serving.evaluation calls and their results into components.
"""
from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from core.serving import evaluation
from core.errors import UserError
from core.runs.rundir import RunState
from ui.context import AppContext, RunOnScreen
from ui.notes import note
from ui.wiring import keyed, pick

ALL = "(all)"
_MISTAKE_COLUMNS = ["text", "true label", "predicted label", "confidence"]


def _filter_value(value: str | None) -> str | None:
    return None if not value or value == ALL else value


def _mistakes_note(shown: int, total: int) -> str:
    if total == 0:
        return "No mistakes on the validation set."
    return f"{shown} of {total} misclassified validation texts, most confident mistakes first."


SCORE_COLUMNS = ("accuracy", "macro-F1", "micro-F1", "subset accuracy", "precision", "recall", "f1", "baseline f1")


def as_percentages(table: pd.DataFrame) -> pd.DataFrame:
    """Scores as '84.5 %' (one format per column; blank where there is none), counts as whole numbers."""
    from ui.charts import fmt_pct

    out = table.copy()
    for column in out.columns:
        if column in SCORE_COLUMNS:
            out[column] = [fmt_pct(None if pd.isna(x) else x) for x in out[column]]
        elif column == "support":
            out[column] = out[column].astype(int)
    return out


SHOW_OUTPUTS = ("note", "content", "headline", "per_class", "confusion", "true_filter", "pred_filter", "mistakes",
                "count")


def show(shown: RunOnScreen | None) -> dict[str, Any]:
    """The run on screen's evaluation, by component name (SHOW_OUTPUTS); only the note when there is none."""
    shown = shown or RunOnScreen()
    run_dir, state = shown.run_dir, shown.state
    hidden = {"content": gr.Column(visible=False), "true_filter": gr.Dropdown(choices=[ALL], value=ALL),
              "pred_filter": gr.Dropdown(choices=[ALL], value=ALL),
              "mistakes": pd.DataFrame(columns=_MISTAKE_COLUMNS), "count": ""}
    if not run_dir:
        return {"note": note(evaluation.NO_RUN_MESSAGE), **hidden}
    if state and state != RunState.FINISHED:
        return {"note": note(evaluation.NOT_FINISHED_MESSAGE), **hidden}
    try:
        ev = evaluation.load_evaluation(run_dir)
    except UserError as exc:
        return {"note": note(exc.message), **hidden}
    mistakes = evaluation.misclassified(ev)
    choices = [ALL] + ev.labels
    return {
        "note": note(f"{ev.name}: {evaluation.verdict(ev)}",
                     "warn" if evaluation.outcome(ev) in ("worse", "same") else "ok"),
        "content": gr.Column(visible=True),
        "headline": as_percentages(evaluation.headline_table(ev)),
        "per_class": as_percentages(evaluation.per_class_table(ev)),
        "confusion": evaluation.confusion_figure(ev) if ev.confusion else None,  # none for several labels a text
        "true_filter": gr.Dropdown(choices=choices, value=ALL),
        "pred_filter": gr.Dropdown(choices=choices, value=ALL),
        "mistakes": mistakes,
        "count": _mistakes_note(len(mistakes), len(mistakes)),
    }


def filter_mistakes(shown: RunOnScreen | None, true_label: str | None, predicted_label: str | None) -> tuple:
    """(mistakes table, count note) for the chosen true/predicted labels."""
    try:
        ev = evaluation.load_evaluation((shown or RunOnScreen()).run_dir)
    except UserError as exc:
        gr.Warning(exc.message)
        return pd.DataFrame(columns=_MISTAKE_COLUMNS), ""
    total = len(evaluation.misclassified(ev))
    shown = evaluation.misclassified(ev, _filter_value(true_label), _filter_value(predicted_label))
    return shown, _mistakes_note(len(shown), total)


def render(ctx: AppContext) -> dict[str, gr.Component]:
    gr.Markdown("### 3 · Evaluate\nHow good is the model on the validation texts it never trained on, and is it "
                "better than a classic baseline trained in seconds?")
    message = gr.HTML(note(evaluation.NO_RUN_MESSAGE), elem_id="tc-eval-note")
    with gr.Column(visible=False) as content:
        headline = gr.Dataframe(label="Headline: fine-tuned model vs. TF-IDF + linear SVM baseline",
                                interactive=False, elem_id="tc-eval-headline")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                per_class = gr.Dataframe(label="Per label (validation)", interactive=False,
                                         elem_id="tc-eval-per-class", max_height=420)
            with gr.Column(scale=1, min_width=320):
                confusion = gr.Plot(label="Confusion matrix", show_label=False, elem_id="tc-eval-confusion")  # titled inside
        gr.Markdown("#### Mistakes\nThe validation texts the model got wrong, the most confident ones first: "
                    "these often reveal mislabelled data or labels that overlap.")
        with gr.Row():
            true_filter = gr.Dropdown([ALL], value=ALL, label="True label", elem_id="tc-eval-true-filter")
            pred_filter = gr.Dropdown([ALL], value=ALL, label="Predicted label", elem_id="tc-eval-pred-filter")
        count = gr.Markdown(elem_id="tc-eval-mistakes-count")
        # Fixed shares and a cap on shown characters: a 2,000-word text otherwise squeezes the labels off screen.
        mistakes = gr.Dataframe(pd.DataFrame(columns=_MISTAKE_COLUMNS), interactive=False, wrap=True,
                                max_height=480, column_widths=["62%", "14%", "14%", "10%"], max_chars=500,
                                elem_id="tc-eval-mistakes")
    comps = dict(note=message, content=content, headline=headline, per_class=per_class, confusion=confusion,
                 true_filter=true_filter, pred_filter=pred_filter, mistakes=mistakes, count=count)
    shown = pick(comps, *SHOW_OUTPUTS)
    ctx.run_state.change(keyed(show, shown), [ctx.run_state], list(shown.values()), api_visibility="private",
                         show_progress="minimal", show_progress_on=[message], trigger_mode="always_last")
    for dropdown in (true_filter, pred_filter):
        dropdown.input(filter_mistakes, [ctx.run_state, true_filter, pred_filter], [mistakes, count],
                       api_visibility="private", show_progress="hidden")
    return comps
