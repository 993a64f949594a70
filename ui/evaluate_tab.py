"""Step 3, Evaluate: headline vs. baseline, per-class table, confusion matrix, the most confident mistakes.

Handlers only turn a run directory into core.serving.evaluation calls and their results into components.
"""
from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from core.serving import evaluation

from core.serving import thresholds
from core.tasks.threshold import tuning_words
from core.errors import UserError
from core.runs.rundir import RunState
from ui.context import AppContext, RunOnScreen
from ui.notes import note
from ui.wiring import keyed, pick

ALL = "(all)"
THRESHOLD_DEFAULT = 0.5
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
                "count", "threshold_box", "threshold", "threshold_note")
SCORED_OUTPUTS = ("note", "headline", "per_class", "mistakes", "count", "threshold_note")


def threshold_sentence(ev: evaluation.Evaluation, saved: evaluation.Evaluation | None = None) -> str:
    """What the threshold slider shows: the scores at this threshold, and what the model keeps."""
    kind = ev.kind
    scores = ", ".join(f"{m.label} {evaluation.pct(ev.metrics.get(m.key) or 0.0)}" for m in kind.metrics)
    kept = thresholds.current_threshold(saved or ev)
    kept_words = (f"per-label thresholds ({', '.join(f'{n} {t:.2f}' for n, t in zip(ev.labels, kept))})"
                  if isinstance(kept, list) else f"{kept:g}")
    tuned = (saved or ev).metrics.get("tuning")
    then = f" {tuning_words(tuned)}" if tuned else ""
    return f"At this threshold: {scores}. The model keeps {kept_words}.{then}"


def _verdict_note(ev: evaluation.Evaluation) -> str:
    return note(f"{ev.name}: {evaluation.verdict(ev)}", "warn" if evaluation.outcome(ev) in ("worse", "same") else "ok")


def show(shown: RunOnScreen | None) -> dict[str, Any]:
    """The run on screen's evaluation, by component name (SHOW_OUTPUTS); only the note when there is none."""
    shown = shown or RunOnScreen()
    run_dir, state = shown.run_dir, shown.state
    hidden = {"content": gr.Column(visible=False), "true_filter": gr.Dropdown(choices=[ALL], value=ALL),
              "pred_filter": gr.Dropdown(choices=[ALL], value=ALL),
              "mistakes": pd.DataFrame(columns=_MISTAKE_COLUMNS), "count": "",
              "threshold_box": gr.Column(visible=False), "threshold": gr.Slider(), "threshold_note": ""}
    if not run_dir:
        return {"note": note(evaluation.NO_RUN_MESSAGE), **hidden}
    if state and state != RunState.FINISHED:
        return {"note": note(evaluation.NOT_FINISHED_MESSAGE), **hidden}
    try:
        ev = evaluation.load_evaluation(run_dir)
    except UserError as exc:
        return {"note": note(exc.message), **hidden}
    mistakes = evaluation.misclassified(ev)
    number = not ev.kind.classes  # regression: a scatter instead of the confusion matrix, errors instead of mistakes
    choices = [ALL] + ([] if number else ev.labels)
    adjustable = thresholds.adjustable(ev)
    kept = thresholds.current_threshold(ev) if adjustable else None
    return {
        "threshold_box": gr.Column(visible=adjustable),
        "threshold": gr.Slider(value=kept if isinstance(kept, float) else THRESHOLD_DEFAULT),
        "threshold_note": threshold_sentence(ev) if adjustable else "",
        "note": _verdict_note(ev),
        "content": gr.Column(visible=True),
        "headline": as_percentages(evaluation.headline_table(ev)),
        "per_class": as_percentages(evaluation.per_class_table(ev)),
        "confusion": (evaluation.prediction_figure(ev) if number  # none for several labels a text
                      else evaluation.confusion_figure(ev) if ev.confusion else None),
        "true_filter": gr.Dropdown(choices=choices, value=ALL),
        "pred_filter": gr.Dropdown(choices=choices, value=ALL),
        "mistakes": mistakes,
        "count": (f"All {len(mistakes):,} validation texts, the largest errors first." if number
                  else _mistakes_note(len(mistakes), len(mistakes))),
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


def _scored(ev: evaluation.Evaluation, saved: evaluation.Evaluation) -> dict[str, Any]:
    mistakes = evaluation.misclassified(ev)
    return {"note": _verdict_note(ev), "headline": as_percentages(evaluation.headline_table(ev)),
            "per_class": as_percentages(evaluation.per_class_table(ev)), "mistakes": mistakes,
            "count": _mistakes_note(len(mistakes), len(mistakes)), "threshold_note": threshold_sentence(ev, saved)}


def on_threshold(shown: RunOnScreen | None, threshold: float) -> dict[str, Any]:
    """The slider moved: the scores, per-label table and mistakes as if the model decided at this threshold."""
    try:
        ev = evaluation.load_evaluation((shown or RunOnScreen()).run_dir)
        return _scored(thresholds.at_threshold(ev, threshold), ev)
    except UserError as exc:
        gr.Warning(exc.message)
        return {}


def on_save_threshold(shown: RunOnScreen | None, threshold: float) -> dict[str, Any]:
    """Keep the slider's threshold in the model: Predict, files, the API, the card and pipeline() users get it."""
    try:
        said = thresholds.save_threshold((shown or RunOnScreen()).run_dir, threshold)
        ev = evaluation.load_evaluation((shown or RunOnScreen()).run_dir)
    except UserError as exc:
        gr.Warning(exc.message)
        return {}
    gr.Info(said)
    return _scored(ev, ev)


def render(ctx: AppContext) -> dict[str, gr.Component]:
    gr.Markdown("### 3 · Evaluate\nHow good is the model on the validation texts it never trained on, and is it "
                "better than a classic baseline trained in seconds?")
    message = gr.HTML(note(evaluation.NO_RUN_MESSAGE), elem_id="tc-eval-note")
    with gr.Column(visible=False) as content:
        headline = gr.Dataframe(label="Headline: fine-tuned model vs. TF-IDF + linear SVM baseline",
                                interactive=False, elem_id="tc-eval-headline")
        with gr.Column(visible=False) as threshold_box:  # kinds that decide at a threshold (multi-label)
            with gr.Row():
                threshold = gr.Slider(0.05, 0.95, value=THRESHOLD_DEFAULT, step=0.05, label="Decision threshold",
                                      info="A label is predicted when its score reaches this. Lower finds more "
                                           "labels (recall), higher makes fewer mistakes (precision).",
                                      elem_id="tc-eval-threshold", scale=3)
                save = gr.Button("Save this threshold into the model", elem_id="tc-eval-save-threshold", scale=1)
            threshold_note = gr.Markdown(elem_id="tc-eval-threshold-note")
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
                 true_filter=true_filter, pred_filter=pred_filter, mistakes=mistakes, count=count,
                 threshold_box=threshold_box, threshold=threshold, threshold_note=threshold_note, save_threshold=save)
    shown = pick(comps, *SHOW_OUTPUTS)
    ctx.run_state.change(keyed(show, shown), [ctx.run_state], list(shown.values()), api_visibility="private",
                         show_progress="minimal", show_progress_on=[message], trigger_mode="always_last")
    scored = pick(comps, *SCORED_OUTPUTS)
    threshold.input(keyed(on_threshold, scored), [ctx.run_state, threshold], list(scored.values()),
                      api_visibility="private", show_progress="hidden", trigger_mode="always_last")
    save.click(keyed(on_save_threshold, scored), [ctx.run_state, threshold], list(scored.values()),
               api_visibility="private")
    for dropdown in (true_filter, pred_filter):
        dropdown.input(filter_mistakes, [ctx.run_state, true_filter, pred_filter], [mistakes, count],
                       api_visibility="private", show_progress="hidden")
    return comps
