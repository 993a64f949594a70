"""Step 1, Data: upload a table (or use the example), pick the columns, read the report, see the charts.

Handlers only turn UI values into core.data / core.baseline calls and their results into components.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from core import access
from core.config import DEFAULT_MODEL
from core.errors import UserError
from ui import charts
from ui.context import AppContext

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DATA = ROOT / "examples" / "support_tickets.csv"
FILE_TYPES = [".csv", ".tsv", ".txt", ".jsonl", ".json", ".parquet", ".xlsx"]
PREVIEW_ROWS = 50
HISTOGRAM_SAMPLE = 5000


@dataclass
class DataCheck:
    """What the Data step shows, and whether training may start (pure data, easy to test)."""

    ok: bool = False
    reason: str = "Upload a table or press “Use example data” to begin."
    file_name: str = ""
    columns: list[str] = field(default_factory=list)
    text_column: str | None = None
    label_column: str | None = None
    sentences: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)
    lengths: list[int] = field(default_factory=list)
    marked_max_length: int | None = None
    suggested_max_length: int | None = None
    baseline: dict[str, Any] | None = None
    note: str = ""

    @property
    def summary(self) -> str:
        if not self.ok:
            return self.reason
        rows = sum(self.class_counts.values())
        return f"{self.file_name}: {rows:,} rows, {len(self.class_counts)} labels ('{self.text_column}' → '{self.label_column}')."

    def status(self) -> dict[str, Any]:
        """The small dict other steps read (Train enables Start when ok)."""
        return {"ok": self.ok, "reason": self.reason, "summary": self.summary,
                "suggested_max_length": self.suggested_max_length,
                "lengths": list(self.lengths)}  # server-side (gr.State): the Train step's time estimate reads them


@functools.lru_cache(maxsize=4)
def _tokenizer(model: str) -> Any:
    from core.models import load_tokenizer

    return load_tokenizer(model)


def tokenizer_for(model: str | None) -> tuple[Any, str]:
    """The chosen model's tokenizer, or the default model's with a note when it cannot be loaded (offline Hub id)."""
    model = (model or "").strip() or DEFAULT_MODEL
    try:
        if access.shared_server() and (access.looks_like_path(model) or Path(model).exists()):
            # A shared server never reads a typed folder here: Start checks it belongs to one of the visitor's runs.
            raise UserError(access.SHARED_MODEL_MESSAGE)
        return _tokenizer(model), ""
    except UserError:
        if model == DEFAULT_MODEL:
            raise
        return _tokenizer(DEFAULT_MODEL), "Token lengths are measured with the default model's tokenizer (the chosen model is not available)."


def histogram_sample(lengths: list[int]) -> list[int]:
    """At most HISTOGRAM_SAMPLE lengths (a fixed random sample): the chart looks the same and stays light."""
    if len(lengths) <= HISTOGRAM_SAMPLE:
        return lengths
    return pd.Series(lengths).sample(HISTOGRAM_SAMPLE, random_state=0).tolist()


def read_columns(path: str) -> tuple[pd.DataFrame, str | None, str | None]:
    """The table, and the guessed text/label columns (None when they cannot be guessed)."""
    from core.data import detect_columns, read_table

    from core.prepared import cached, file_key

    df = cached(("table",) + file_key(path), lambda: read_table(path))
    try:
        text_col, label_col = detect_columns(df)
    except UserError:
        text_col = label_col = None
    return df, text_col, label_col


def check_data(path: str | None, text_column: str | None, label_column: str | None, model: str | None = None,
               max_length: int | float | None = 0, val_share: float = 0.2, seed: int = 42,
               with_baseline: bool = False) -> DataCheck:
    """Read, prepare and report on the data exactly as training will; never raises for user mistakes. The baseline
    is included only when already fitted, unless `with_baseline` (the app fits it afterwards: on_baseline)."""
    from core.data import report_sentences
    from core.models import model_max_length
    from core.prepared import baseline, baseline_if_ready, data_report, prepared_data, text_lengths

    check = DataCheck()
    if not path:
        return check
    check.file_name = Path(path).name
    try:
        df, guessed_text, guessed_label = read_columns(path)
        check.columns = [str(c) for c in df.columns]
        check.text_column = text_column or guessed_text
        check.label_column = label_column or guessed_label
        data = prepared_data(path, check.text_column, check.label_column, val_share=float(val_share), seed=int(seed))
        check.text_column, check.label_column = data.text_column, data.label_column
        tokenizer, check.note = tokenizer_for(model)
        limit = model_max_length(tokenizer)
        chosen = int(max_length or 0) or None
        report = data_report(data, tokenizer, chosen, limit)
        check.sentences = report_sentences(report)
        check.warnings = list(report.get("warnings", []))
        check.sentences = [s for s in check.sentences if s not in check.warnings]
        check.class_counts = dict(report["class_counts"]["total"])
        check.suggested_max_length = int(report["suggested_max_length"])
        check.marked_max_length = int(report["effective_max_length"])  # never beyond what the model reads
        check.lengths = histogram_sample(text_lengths(data, tokenizer))  # the report's own measurement
        check.baseline = baseline(data) if with_baseline else baseline_if_ready(data)
        check.ok, check.reason = True, ""
    except UserError as exc:
        check.ok, check.reason = False, exc.message
    return check


BASELINE_PENDING = "*Fitting a classic baseline (TF-IDF + linear SVM) on the same split…*"


def baseline_markdown(baseline: dict[str, Any] | None) -> str:
    if not baseline or baseline.get("accuracy") is None:
        return ""
    perfect = float(baseline["accuracy"]) >= 1.0
    then = (" It already gets every validation text right: fine-tuning can only tie it here, so the classic model "
            "may be all you need." if perfect else " Fine-tuning has to beat this to be worth its cost.")
    return (f"**A classic baseline** ({baseline.get('method', 'TF-IDF + linear SVM')}, "
            f"{baseline.get('seconds', 0):.1f} s) reaches **{100 * baseline['accuracy']:.1f} % accuracy** and "
            f"**{100 * baseline.get('f1_macro', 0):.1f} % macro-F1** on the same validation rows.{then}")


def status_html(check: DataCheck) -> str:
    import html

    if check.ok:
        return f'<div class="tc-ready" id="tc-data-ready">✓ Ready to train. {html.escape(check.summary)}</div>'
    cls = "tc-note" if not check.file_name else "tc-blocked"
    prefix = "" if not check.file_name else "Training is blocked: "
    return f'<div class="{cls}" id="tc-data-blocked">{prefix}{html.escape(check.reason)}</div>'


BLOCKED_CHART = "No chart: this data cannot be used yet (see above)"


def _blocked_note(check: DataCheck) -> list[str]:
    """The empty charts' note when a file was checked and refused (else the charts' own 'appear here' note)."""
    return [BLOCKED_CHART] if check.file_name and not check.ok else []


def check_outputs(check: DataCheck) -> tuple:
    """DataCheck -> (status, sentences, warnings, baseline, class plot, length plot, next button, data status)."""
    return (
        status_html(check),
        charts.sentences_markdown(check.sentences + ([check.note] if check.note else [])),
        charts.warnings_html(check.warnings) if check.ok else "",
        BASELINE_PENDING if check.ok and check.baseline is None else baseline_markdown(check.baseline),
        charts.class_counts_figure(check.class_counts, *_blocked_note(check)),
        length_plot_update(check),
        gr.Button(interactive=check.ok),
        check.status(),
    )


def length_plot_update(check: DataCheck) -> Any:
    automatic = check.marked_max_length == check.suggested_max_length
    return charts.token_histogram_figure(check.lengths, check.marked_max_length, automatic, *_blocked_note(check))


def _dropdown(columns: list[str], value: str | None) -> gr.Dropdown:
    return gr.Dropdown(choices=columns, value=value if value in columns else None, interactive=bool(columns))


EMPTY_PREVIEW_HEADER = "Your table's first rows appear here"


def empty_preview() -> pd.DataFrame:
    """No file yet: one header that says so (an empty gr.Dataframe shows the headers '1 2 3')."""
    return pd.DataFrame(columns=[EMPTY_PREVIEW_HEADER])


def preview_update(df: pd.DataFrame, text_column: str | None) -> gr.Dataframe:
    """First rows, the text column wide and the others narrow, so every column is visible."""
    columns = [str(c) for c in df.columns]
    if len(columns) <= 1:
        return gr.Dataframe(value=df.head(PREVIEW_ROWS), column_widths=None)
    text_share = max(40, 100 - 15 * (len(columns) - 1))
    other = (100 - text_share) / (len(columns) - 1)
    widths = [f"{text_share if c == text_column else other:.0f}%" for c in columns]
    return gr.Dataframe(value=df.head(PREVIEW_ROWS), column_widths=widths)


def wanted_columns(path: str, text_column: str | None, label_column: str | None) -> dict[str, str]:
    """The columns the user picked for a file, to apply when that file comes back after a page reload."""
    if not text_column or not label_column:
        return {}
    return {"file_name": Path(path).name, "text_column": text_column, "label_column": label_column}


def _wanted_for(wanted: Any, path: str, columns: list[str]) -> tuple[str, str] | None:
    """(text, label) from `wanted` if it is for this file and both columns are still in it, else None (guess)."""
    if not isinstance(wanted, dict) or wanted.get("file_name") != Path(path).name:
        return None
    text_col, label_col = wanted.get("text_column"), wanted.get("label_column")
    return (text_col, label_col) if text_col in columns and label_col in columns else None


def on_file(path: str | None, model: str, max_length: float, val_share: float, seed: float,
            wanted: dict | None = None) -> tuple:
    """A new file (upload, example or restored after a reload): preview, the wanted or guessed columns, full check."""
    if not path:
        empty = DataCheck()
        return ("", empty_preview(), _dropdown([], None), _dropdown([], None)) + check_outputs(empty)
    try:
        df, text_col, label_col = read_columns(path)
    except UserError as exc:
        gr.Warning(exc.message)
        bad = DataCheck(file_name=Path(path).name, reason=exc.message)
        return (path, empty_preview(), _dropdown([], None), _dropdown([], None)) + check_outputs(bad)
    columns = [str(c) for c in df.columns]
    text_col, label_col = _wanted_for(wanted, path, columns) or (text_col, label_col)
    check = check_data(path, text_col, label_col, model, max_length, val_share, seed)
    return (path, preview_update(df, check.text_column or text_col), _dropdown(columns, check.text_column or text_col),
            _dropdown(columns, check.label_column or label_col)) + check_outputs(check)


def on_file_event(path: str | None, model: str, max_length: float, val_share: float, seed: float,
                  wanted: dict | None) -> tuple:
    """on_file, then forget the wanted columns: they were for the file restored after a reload, not the next one."""
    return on_file(path, model, max_length, val_share, seed, wanted) + ({},)


def on_columns(path: str, text_col: str, label_col: str, model: str, max_length: float, val_share: float, seed: float) -> tuple:
    return check_outputs(check_data(path, text_col, label_col, model, max_length, val_share, seed))


def on_length_settings(path: str, text_col: str, label_col: str, model: str, max_length: float,
                       val_share: float, seed: float) -> tuple:
    """Model or max length changed: redo the report and histogram (the baseline is cached)."""
    if not path:
        return tuple(gr.skip() for _ in range(8))
    return check_outputs(check_data(path, text_col, label_col, model, max_length, val_share, seed))


def on_baseline(path: str | None, text_col: str | None, label_col: str | None, model: str, max_length: float,
                val_share: float, seed: float) -> str:
    """The baseline on the split just checked, after the report is on screen: fitting it takes seconds on big files.
    (Start asks for the same cached result, and waits for it if it is still being fitted.)"""
    from core.prepared import baseline, prepared_data

    if not path:
        return ""
    try:
        data = prepared_data(path, text_col, label_col, val_share=float(val_share), seed=int(seed))
        return baseline_markdown(baseline(data))
    except UserError:  # the check above has already said what is wrong with the data
        return ""


def warm_up() -> None:
    """Import the data stack and load the default tokenizer in the background, so the first check is quick."""
    try:
        import sklearn.svm  # noqa: F401

        import core.baseline  # noqa: F401
        import core.data  # noqa: F401

        _tokenizer(DEFAULT_MODEL)
    except Exception:  # noqa: BLE001 - a warm-up must never break the app
        pass


def use_example() -> str:
    return str(EXAMPLE_DATA)


def render(ctx: AppContext) -> dict[str, gr.Component]:
    gr.Markdown("### 1 · Your data\nA table with one column of texts and one column of labels. "
                "CSV, TSV, JSONL, Parquet or Excel.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            file = gr.File(label="Upload a table", file_types=FILE_TYPES, type="filepath", elem_id="tc-data-file")
            example = gr.Button("Use example data (support tickets, 4 labels)", elem_id="tc-use-example",
                                interactive=EXAMPLE_DATA.exists())
            with gr.Row():
                text_col = gr.Dropdown(label="Text column", choices=[], interactive=False, elem_id="tc-text-col")
                label_col = gr.Dropdown(label="Label column", choices=[], interactive=False, elem_id="tc-label-col")
        with gr.Column(scale=3, min_width=320):
            preview = gr.Dataframe(empty_preview(), label=f"Preview (first {PREVIEW_ROWS} rows)", interactive=False,
                                   max_height=330, wrap=False, elem_id="tc-preview")
    status = gr.HTML(status_html(DataCheck()), elem_id="tc-data-status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            sentences = gr.Markdown(elem_id="tc-data-report")
            baseline = gr.Markdown(elem_id="tc-baseline")
        with gr.Column(scale=2):
            warnings = gr.HTML(elem_id="tc-data-warnings")
    with gr.Row():
        counts_plot = gr.Plot(charts.class_counts_figure({}), label="Examples per label", show_label=False,
                              format="png", elem_id="tc-class-chart")
        length_plot = gr.Plot(charts.token_histogram_figure([], None), label="Text length in tokens", show_label=False,
                              format="png", elem_id="tc-length-chart")  # titled inside, like the bar chart beside it
    next_btn = gr.Button("Next: choose a model and train →", variant="primary", interactive=False, elem_id="tc-data-next")
    data_path = gr.State("")
    data_status = gr.State(DataCheck().status())
    wanted = gr.State({})

    ctx.shared.update(data_path=data_path, data_status=data_status, text_column=text_col, label_column=label_col)
    comps = dict(file=file, example=example, text_column=text_col, label_column=label_col, preview=preview,
                 status=status, sentences=sentences, warnings=warnings, baseline=baseline, counts_plot=counts_plot,
                 length_plot=length_plot, next=next_btn, data_path=data_path, data_status=data_status,
                 wanted_columns=wanted)
    example.click(use_example, None, file, api_visibility="private")
    if ctx.tabs is not None:
        next_btn.click(lambda: gr.Tabs(selected="train"), None, ctx.tabs, api_visibility="private")
    return comps


def check_targets(c: dict[str, gr.Component]) -> list[gr.Component]:
    return [c["status"], c["sentences"], c["warnings"], c["baseline"], c["counts_plot"], c["length_plot"],
            c["next"], c["data_status"]]


def wire(c: dict[str, gr.Component], model: gr.Component, max_length: gr.Component,
         val_share: gr.Component, seed: gr.Component) -> None:
    """Events that need the Train step's settings (rendered later): called by ui/layout.py."""
    settings = [model, max_length, val_share, seed]
    column_inputs = [c["data_path"], c["text_column"], c["label_column"]] + settings
    fit_baseline = dict(fn=on_baseline, inputs=column_inputs, outputs=[c["baseline"]], api_visibility="private",
                        concurrency_limit=4, show_progress="hidden")
    c["file"].change(on_file_event, [c["file"]] + settings + [c["wanted_columns"]],
                     [c["data_path"], c["preview"], c["text_column"], c["label_column"]] + check_targets(c)
                     + [c["wanted_columns"]],
                     api_visibility="private", concurrency_limit=4, trigger_mode="always_last").then(**fit_baseline)
    for dd in (c["text_column"], c["label_column"]):
        dd.input(on_columns, column_inputs, check_targets(c), api_visibility="private", concurrency_limit=4,
                 trigger_mode="always_last").then(**fit_baseline)
    for comp in (model, max_length, val_share, seed):
        comp.change(on_length_settings, column_inputs, check_targets(c), api_visibility="private",
                    concurrency_limit=4, trigger_mode="always_last", show_progress="hidden").then(**fit_baseline)
