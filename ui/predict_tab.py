"""Step 4, Predict: type a sentence and see every class probability plus the pipeline trace; predict a whole file.

Handlers only turn UI values into core.serving.predict calls and their results into components. The model of the run on
screen is loaded when the run is shown (core.serving.predict keeps it), so the first prediction is already fast.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from core.serving import predict
from core.errors import UserError
from core.serving.evaluation import NO_RUN_MESSAGE
from core.serving.batcher import api_concurrency
from ui import session
from ui.context import AppContext, RunOnScreen, finished_run
from ui.downloads import fresh_folder
from ui.notes import note
from ui.wiring import keyed, pick

FILE_TYPES = [".csv", ".tsv", ".txt", ".xlsx", ".jsonl", ".json", ".parquet"]
PREVIEW_ROWS = 20
EMPTY_TEXT_MESSAGE = "Type a text to classify first."
_TOKEN_COLUMNS = ["#", "token", "input id", "attention mask"]
_SCORE_COLUMNS = ["label", "logit", "softmax probability"]


RUN_OUTPUTS = ("note", "examples", "label", "summary", "tokens", "scores", "button", "batch_button", "preview")
PREDICT_OUTPUTS = ("label", "summary", "tokens", "scores")


def _cleared(note: str, examples: list[str] | None = None, task: str = "") -> dict[str, Any]:
    """The run's note and examples, the last prediction cleared, Predict usable only with examples to show; the
    file preview shows the columns this run's kind (`task`) writes."""
    ready = examples is not None
    return {"note": note, "examples": gr.Dataset(samples=[[t] for t in examples or []]), "label": None,
            "summary": "", "tokens": pd.DataFrame(columns=_TOKEN_COLUMNS),
            "scores": pd.DataFrame(columns=_SCORE_COLUMNS), "button": gr.Button(interactive=ready),
            "batch_button": gr.Button(interactive=ready), "preview": _empty_preview(task)}


def on_run(shown: RunOnScreen | None) -> dict[str, Any]:
    """Re-drawn for the run on screen, by component name (RUN_OUTPUTS)."""
    run_dir, problem = finished_run(shown)
    if problem:
        return _cleared(note(problem))
    try:
        predictor = predict.get_predictor(run_dir)  # load now: the first prediction is then fast
        examples = predict.example_texts(run_dir, 6)
    except UserError as exc:
        return _cleared(note(exc.message))
    what = labels_phrase(predictor.labels) if predictor.kind.classes else f"It predicts {predictor.labels[0]}, a number"
    return _cleared(note(f"Model of run {Path(run_dir).name} is ready. {what}.", "ok"), examples,
                    predictor.kind.problem_type)


def labels_phrase(labels: list[str]) -> str:
    """'Labels: a, b, c', or past a dozen the count, the first two and the last (the trace table lists every one)."""
    from core.data.report import LABELS_LISTED

    if len(labels) <= LABELS_LISTED:
        return "Labels: " + ", ".join(labels)
    return f"{len(labels)} labels: {labels[0]}, {labels[1]}, … {labels[-1]}"


def trace_tables(trace: predict.Trace) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """The trace as (summary, tokens table, scores table)."""
    tokens = pd.DataFrame({"#": range(len(trace.tokens)), "token": trace.tokens,
                           "input id": trace.input_ids, "attention mask": trace.attention_mask})
    if trace.task == "regression":
        return _number_trace(trace, tokens)
    multi = trace.task == "multi_label"  # each label scored on its own: no shared probability, no one winner
    scores = pd.DataFrame({"label": list(trace.logits),
                           "logit": [round(v, 4) for v in trace.logits.values()],
                           "sigmoid score" if multi else "softmax probability":
                               [round(v, 4) for v in trace.probs.values()]})
    # First-strong isolate: a right-to-left label (Arabic, Hebrew) does not reorder the sentence around it.
    predicted = f"\u2068{html.escape(predicted_labels(trace))}\u2069" + (
        "" if multi else f" ({100 * trace.confidence:.1f} %)")
    then = (f"sigmoid → a score per label on its own; the labels {_threshold_words(trace)} are predicted." if multi
            else "softmax → probabilities that sum to 1.")
    summary = (f"**{'Labels' if multi else 'Predicted'}:** {predicted} · "
               f"{len(trace.tokens)} tokens, including the special [CLS]/[SEP]-style markers. "
               "Text → tokenizer (word pieces → ids, attention mask 1 = real token) → model → one logit per "
               f"label → {then}")
    if trace.truncated:
        summary += f"\n\n⚠ The text is longer than {trace.max_length} tokens: only the beginning was read."
    return summary, tokens, scores


def _number_trace(trace: predict.Trace, tokens: pd.DataFrame) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """A regression model's trace: one output, the standardised score, mapped back to the target's scale."""
    (target, logit), = trace.logits.items()
    scores = pd.DataFrame({"label": [target], "logit": [round(logit, 4)],
                           f"{target} (× std + mean)": [round(trace.probs[target], 4)]})
    summary = (f"**Predicted {html.escape(target)}:** {html.escape(trace.predicted)} · "
               f"{len(trace.tokens)} tokens, including the special [CLS]/[SEP]-style markers. "
               "Text → tokenizer (word pieces → ids, attention mask 1 = real token) → model → one output, the "
               f"standardised score → × the training values' standard deviation + their mean → {html.escape(target)}.")
    if trace.truncated:
        summary += f"\n\n⚠ The text is longer than {trace.max_length} tokens: only the beginning was read."
    return summary, tokens, scores


def predicted_labels(trace: predict.Trace) -> str:
    """The prediction as a person reads it: one label, or a multi-label model's labels comma-separated."""
    if trace.task == "multi_label":
        return ", ".join(filter(None, trace.predicted.split("; "))) or "none of the labels"
    return trace.predicted or "no label"


def _threshold_words(trace: predict.Trace) -> str:
    cut = trace.threshold if trace.threshold is not None else 0.5
    if isinstance(cut, list):
        return "at or above their own thresholds (" + ", ".join(
            f"{name} {100 * t:.0f} %" for name, t in zip(trace.probs, cut)) + ")"
    return f"at {100 * cut:g} % or more"


def on_predict(text: str | None, shown: RunOnScreen | None) -> dict[str, Any]:
    """The label probabilities and the trace of one sentence (PREDICT_OUTPUTS); nothing changes on a warning."""
    run_dir, problem = finished_run(shown)
    if problem:
        gr.Warning(problem)
        return {}
    if not text or not text.strip():
        gr.Warning(EMPTY_TEXT_MESSAGE)
        return {}
    try:
        trace = predict.get_predictor(run_dir).trace(text)
    except UserError as exc:
        gr.Warning(exc.message)
        return {}
    summary, tokens, scores = trace_tables(trace)
    # gr.Label heads its bars with the top label: for several labels a text, its title says which are predicted.
    # Each kind names its own boxes, since the previous run shown may have been of another kind.
    if trace.task == "multi_label":
        label = gr.Label(trace.probs, label=f"Labels: {predicted_labels(trace)}")
        scored = gr.Dataframe(scores, label="2 · Logits and sigmoid scores")
    elif trace.task == "regression":  # a number has no label bars
        label = gr.Label(trace.predicted, label="Prediction")
        scored = gr.Dataframe(scores, label="2 · The output and the predicted number")
    else:
        label = gr.Label(trace.probs, label="Prediction")
        scored = gr.Dataframe(scores, label="2 · Logits and softmax probabilities")
    return {"label": label, "summary": summary, "tokens": tokens, "scores": scored}


UPLOAD_OUTPUTS = ("column", "batch_note", "preview", "download")


def on_upload(file_path: str | None) -> dict[str, Any]:
    """An uploaded table's columns with the likely text column preselected (UPLOAD_OUTPUTS); the previous file's
    predictions are cleared so they are never taken for this file's."""
    cleared = {"preview": _empty_preview(), "download": None}
    if not file_path:
        return {"column": gr.Dropdown(choices=[], value=None), "batch_note": "", **cleared}
    try:
        df = predict.read_input_table(file_path)
    except UserError as exc:
        gr.Warning(exc.message)
        return {"column": gr.Dropdown(choices=[], value=None), "batch_note": html.escape(exc.message), **cleared}
    columns = [str(c) for c in df.columns]
    return {"column": gr.Dropdown(choices=columns, value=predict.guess_text_column(df)),
            "batch_note": f"{len(df):,} rows, {len(columns)} columns. Check the text column, then press Predict file.",
            **cleared}


def _empty_preview(task: str = "") -> pd.DataFrame:
    """The columns a predicted file gets, by the model's problem_type (core/serving/predict.py's predict_table)."""
    if task == "regression":
        return pd.DataFrame(columns=["your columns", "predicted"])
    per_label = ("pred_<label>, prob_<label> for each label" if task == "multi_label_classification"
                 else "prob_<label> for each label")
    return pd.DataFrame(columns=["your columns", "predicted", "confidence", per_label])


def on_predict_file(file_path: str | None, column: str | None, shown: RunOnScreen | None,
                    progress: gr.Progress = gr.Progress()) -> tuple:
    """(preview table, downloadable CSV, note) for a whole uploaded table."""
    run_dir, problem = finished_run(shown)
    try:
        if problem:
            raise UserError(problem)
        if not file_path:
            raise UserError("Upload a table first (CSV, TSV, JSONL, Parquet or Excel).")
        df = predict.read_input_table(file_path)  # first: a file that cannot be read says why, not "pick a column"
        if not column:
            raise UserError("Pick the column that holds the texts.")
        out = fresh_folder("predictions") / f"predictions-{Path(file_path).stem}.csv"
        result = predict.predict_table(run_dir, df, column, out, progress=lambda f: progress(f, desc="Predicting"))
    except UserError as exc:
        gr.Warning(exc.message)
        return _empty_preview(), None, html.escape(exc.message)
    empty = int((result["predicted"].isna() | (result["predicted"].astype(str) == "")).sum())  # a number: blank
    skipped = f" {empty:,} rows with no text were left without a prediction." if empty > 1 else (
        " 1 row with no text was left without a prediction." if empty else "")
    return (result.head(PREVIEW_ROWS), str(out),
            f"Predicted {len(result) - empty:,} of {len(result):,} rows.{skipped} Download the CSV below "
            f"(first {PREVIEW_ROWS} rows shown).")


async def api_predict(text: str, run_id: str, key: str = "", request: gr.Request = None) -> dict[str, Any]:
    """Classify one text with a finished run's model: the probability of every label ({label: probability}); for
    a multi-label model {"labels": [the labels predicted], "scores": {label: score}, "threshold": the model's}; for a
    regression model, the predicted number ({target column: value}).

    Args:
        text: the text to classify
        run_id: the id returned by /train
        key: the key returned by /train (needed on a shared server)
    """
    try:
        root = session.runs_root()
        run_dir = session.run_dir_for(run_id, session.api_caller(key or "", root, request), root)
        if not (text or "").strip():
            raise UserError(EMPTY_TEXT_MESSAGE)
        scores = await predict.predict_one_async(run_dir, text)  # batched with concurrent callers' texts
        return predict.api_answer(run_dir, scores)
    except UserError as exc:
        raise gr.Error(exc.message, print_exception=False)


def render(ctx: AppContext) -> dict[str, gr.Component]:
    gr.Markdown("### 4 · Predict\nTry the model: type a text and press Enter, or predict a whole file.")
    message = gr.HTML(note(NO_RUN_MESSAGE), elem_id="tc-predict-note")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=320):
            text = gr.Textbox(label="Text", placeholder="Type a sentence and press Enter", lines=1, max_lines=8,
                              elem_id="tc-predict-text")
            button = gr.Button("Predict", variant="primary", interactive=False, elem_id="tc-predict-button")
            examples = gr.Dataset(components=[text], samples=[], label="Examples from your validation data",
                                  elem_id="tc-predict-examples", samples_per_page=6)
        with gr.Column(scale=2, min_width=280):
            # The ten likeliest labels: with 50 the full list would run off the page (the trace table has them all).
            label = gr.Label(label="Prediction", num_top_classes=10, elem_id="tc-predict-label")
    with gr.Accordion("Pipeline trace: what happened to this sentence", open=True, elem_id="tc-trace"):
        summary = gr.Markdown(elem_id="tc-trace-summary")
        with gr.Row(equal_height=False):
            tokens = gr.Dataframe(pd.DataFrame(columns=_TOKEN_COLUMNS), label="1 · Tokens, ids and attention mask",
                                  interactive=False, max_height=320, elem_id="tc-trace-tokens")
            scores = gr.Dataframe(pd.DataFrame(columns=_SCORE_COLUMNS), label="2 · Logits and softmax probabilities",
                                  interactive=False, elem_id="tc-trace-scores")
    gr.Markdown("#### Predict a file\nUpload a table (CSV, TSV, JSONL, Parquet or Excel), pick the text column, and download the table "
                "with the predictions: the predicted label and one probability column per label (a number model: "
                "the predicted number).")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=280):
            upload = gr.File(label="Table to predict", file_types=FILE_TYPES, type="filepath",
                             elem_id="tc-batch-file")
            column = gr.Dropdown([], label="Text column", elem_id="tc-batch-column")
            batch_button = gr.Button("Predict file", interactive=False, elem_id="tc-batch-button")
            batch_note = gr.Markdown(elem_id="tc-batch-note")
            download = gr.File(label="Predictions (CSV)", interactive=False, elem_id="tc-batch-download")
        with gr.Column(scale=2, min_width=320):
            preview = gr.Dataframe(_empty_preview(),
                                   label=f"Preview (first {PREVIEW_ROWS} rows)", interactive=False, max_height=400,
                                   elem_id="tc-batch-preview")

    comps = dict(note=message, text=text, button=button, examples=examples, label=label, summary=summary, tokens=tokens,
                 scores=scores, upload=upload, column=column, batch_button=batch_button, batch_note=batch_note,
                 download=download, preview=preview)
    drawn, predicted, uploaded = (pick(comps, *names) for names in (RUN_OUTPUTS, PREDICT_OUTPUTS, UPLOAD_OUTPUTS))
    ctx.run_state.change(keyed(on_run, drawn), [ctx.run_state], list(drawn.values()), api_visibility="private",
                         show_progress="minimal", show_progress_on=[message], trigger_mode="always_last")
    for trigger in (text.submit, button.click):
        trigger(keyed(on_predict, predicted), [text, ctx.run_state], list(predicted.values()),
                api_visibility="private", show_progress="hidden", trigger_mode="always_last", concurrency_limit=4)
    examples.click(lambda sample: sample[0], [examples], [text], api_visibility="private", queue=False,
                   show_progress="hidden").then(
        keyed(on_predict, predicted), [text, ctx.run_state], list(predicted.values()), api_visibility="private",
        show_progress="hidden")
    upload.change(keyed(on_upload, uploaded), [upload], list(uploaded.values()), api_visibility="private")
    batch_button.click(on_predict_file, [upload, column, ctx.run_state], [preview, download, batch_note],
                       api_visibility="private", concurrency_limit=1)
    gr.api(api_predict, api_name="predict", concurrency_limit=api_concurrency())
    return comps
