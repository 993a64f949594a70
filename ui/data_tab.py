"""Step 1, Data: upload a table (or use the example), pick the columns, read the report, see the charts.

Handlers only turn UI values into core.data.columns / core.tasks.baseline calls and their results into components.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from core.data import hub_datasets
from core.config import DEFAULT_MODEL
from core.errors import UserError
from ui import charts, data_charts, settings
from ui.context import AppContext, DataPieces
from ui.data_check import (  # noqa: F401 - re-exported: the Data step's handlers and tests use them from here
    BASELINE_PENDING, DataCheck, _tokenizer, baseline_markdown, check_data, data_options, histogram_sample, hub_path,
    label_choice, read_columns, status_html, tokenizer_for,
)
from ui.wiring import keyed, pick

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_DATA = ROOT / "examples" / "support_tickets.csv"
FILE_TYPES = [".csv", ".tsv", ".txt", ".jsonl", ".json", ".parquet", ".xlsx"]
PREVIEW_ROWS = 50


BLOCKED_CHART = "No chart: this data cannot be used yet (see above)"


def _blocked_note(check: DataCheck) -> list[str]:
    """The empty charts' note when a file was checked and refused (else the charts' own 'appear here' note)."""
    return [BLOCKED_CHART] if check.file_name and not check.ok else []


CHECK_OUTPUTS = ("status", "sentences", "warnings", "baseline", "counts_plot", "length_plot", "next", "data_status",
                 "label_separator")
MULTI_LABEL = "multi_label"


def separator_update(check: DataCheck) -> Any:
    """The Label separator control: shown for multi-label data, saying which separator it found."""
    if check.kind != MULTI_LABEL:
        return gr.Dropdown(visible=False)
    found = (f"Detected: '{check.separator}'." if check.separator
             else "None needed: the cells are lists.")
    return gr.Dropdown(visible=True, info=f"What separates the labels in a cell. {found} Choose another if the labels "
                                          "are split wrongly.")


def check_outputs(check: DataCheck) -> dict[str, Any]:
    """DataCheck -> what the page shows of it, by component name (CHECK_OUTPUTS)."""
    return {
        "status": status_html(check),
        "sentences": charts.sentences_markdown(check.sentences + ([check.note] if check.note else [])),
        "warnings": charts.warnings_html(check.warnings) if check.ok else "",
        "baseline": BASELINE_PENDING if check.ok and check.baseline is None else baseline_markdown(check.baseline),
        "counts_plot": (data_charts.target_histogram_plot(check.target, check.label_column or "") if check.target
                        else data_charts.class_counts_plot(check.class_counts, *_blocked_note(check))),
        "length_plot": length_plot_update(check),
        "next": gr.Button(interactive=check.ok),
        "data_status": check.status(),
        "label_separator": separator_update(check),
    }


def length_plot_update(check: DataCheck) -> Any:
    automatic = check.marked_max_length == check.suggested_max_length
    return data_charts.token_histogram_plot(check.lengths, check.marked_max_length, automatic, *_blocked_note(check))


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


FILE_OUTPUTS = ("data_path", "preview", "text_column", "label_column", "label_columns", "data_extra") + CHECK_OUTPUTS


def _label_columns(columns: list[str]) -> gr.Dropdown:
    return gr.Dropdown(choices=columns, value=[], multiselect=True, interactive=bool(columns))


def _no_table(path: str, check: DataCheck, extra: Any = None) -> dict[str, Any]:
    return {"data_path": path, "preview": empty_preview(), "text_column": _dropdown([], None),
            "label_column": _dropdown([], None), "label_columns": _label_columns([]),
            "data_extra": {**data_options(extra), "label_columns": ""}, **check_outputs(check)}


def on_file(path: str | None, model: str, max_length: float, val_share: float, seed: float,
            wanted: dict | None = None, extra: Any = None, phase: Any = None) -> dict[str, Any]:
    """A new file (upload, example or restored after a reload): preview, the wanted or guessed columns, full check.
    `phase(share_done, what)`: the step under way, shown over the outputs (a big file takes tens of seconds)."""
    extra = {**data_options(extra), "label_columns": ""}  # the columns ticked were the last file's
    if not path:
        return _no_table("", DataCheck(), extra)
    phase = phase or (lambda done, what: None)
    try:
        phase(0.0, "Reading the table…")
        df, text_col, label_col = read_columns(path, extra)
    except UserError as exc:
        gr.Warning(exc.message)
        bad = DataCheck(file_name=hub_datasets.dataset_name(path) if hub_datasets.is_dataset(path) else Path(path).name,
                        reason=exc.message)
        return _no_table(path, bad, extra)
    columns = [str(c) for c in df.columns]
    text_col, label_col = _wanted_for(wanted, path, columns) or (text_col, label_col)
    check = check_data(path, text_col, label_col, model, max_length, val_share, seed, extra=extra, phase=phase)
    return {"data_path": path, "preview": preview_update(df, check.text_column or text_col),
            "text_column": _dropdown(columns, check.text_column or text_col),
            "label_column": _dropdown(columns, check.label_column or label_col),
            "label_columns": _label_columns(columns), "data_extra": extra, **check_outputs(check)}


def on_file_event(path: str | None, model: str, max_length: float, val_share: float, seed: float,
                  wanted: dict | None, extra: Any = None, progress: gr.Progress = gr.Progress()) -> dict[str, Any]:
    """on_file, then forget the wanted columns: they were for the file restored after a reload, not the next one."""
    return {**on_file(path, model, max_length, val_share, seed, wanted, extra, _shown(progress)), "wanted_columns": {}}


def _shown(progress: gr.Progress) -> Any:
    return lambda done, what: progress(done, desc=what)


def on_hub(name: str | None, extra: Any, model: str, max_length: float, val_share: float, seed: float,
           config: str | None = "", split: str | None = "", progress: gr.Progress = gr.Progress(),
           wanted: dict | None = None) -> dict[str, Any]:
    """A Hub dataset typed (Enter), or its config or split chosen: the same preview and check as a file, and the
    configs and splits the dataset offers (hub_config, hub_split, data_extra)."""
    options = {**data_options(extra), "data_config": config or "", "data_split": split or "", "label_columns": ""}
    path = hub_path(name)
    result = on_file(path or None, model, max_length, val_share, seed, wanted, options, _shown(progress))
    offered: dict[str, Any] = {}
    if path:
        try:
            offered = read_columns(path, options)[0].attrs.get("dataset", {})  # cached: read once by on_file
        except UserError:
            pass  # on_file has already said why
    configs, splits = offered.get("configs") or [], offered.get("splits") or []
    return {**result,
            "hub_config": gr.Dropdown(choices=configs, value=offered.get("config") or None, interactive=len(configs) > 1),
            "hub_split": gr.Dropdown(choices=splits, value=offered.get("split") or None, interactive=len(splits) > 1),
            "data_extra": options}


def on_hub_config(name: str | None, extra: Any, model: str, max_length: float, val_share: float, seed: float,
                  config: str | None, progress: gr.Progress = gr.Progress()) -> dict[str, Any]:
    """Another config of the dataset: its own splits, so the split chosen before no longer applies."""
    return on_hub(name, extra, model, max_length, val_share, seed, config, "", progress)


def on_hub_restored(name: str | None, extra: Any, model: str, max_length: float, val_share: float, seed: float,
                    wanted: dict | None, progress: gr.Progress = gr.Progress()) -> dict[str, Any]:
    """After a reload or a run opened: the dataset put back in the box, checked with its config, split and columns
    as stored (data_extra, wanted_columns). Nothing when no dataset was put back (`wanted` names the one it is for)."""
    if not name or not isinstance(wanted, dict) or wanted.get("dataset") != hub_path(name):
        return {}
    options = data_options(extra)
    return {**on_hub(name, extra, model, max_length, val_share, seed, options["data_config"], options["data_split"],
                     progress, wanted), "wanted_columns": {}}


def on_val_file(val_path: str | None, extra: Any, path: str, text_col: str, label_col: str, model: str,
                max_length: float, val_share: float, seed: float) -> dict[str, Any]:
    """A separate validation table (or none again): the check redone with it, and the options now (data_extra)."""
    return _with_option("val_data_path", val_path, extra, path, text_col, label_col, model, max_length, val_share, seed)


def on_test_file(test_path: str | None, extra: Any, path: str, text_col: str, label_col: str, model: str,
                 max_length: float, val_share: float, seed: float) -> dict[str, Any]:
    """A test table (or none again): the check redone with it (its labels must be training labels), and the options
    now (data_extra)."""
    return _with_option("test_data_path", test_path, extra, path, text_col, label_col, model, max_length, val_share,
                        seed)


def _with_option(name: str, value: str | None, extra: Any, path: str, text_col: str, label_col: str, model: str,
                 max_length: float, val_share: float, seed: float) -> dict[str, Any]:
    options = {**data_options(extra), name: value or ""}
    return {**check_outputs(check_data(path, text_col, label_col, model, max_length, val_share, seed, extra=options)),
            "data_extra": options}


def on_columns(path: str, text_col: str, label_col: str, model: str, max_length: float, val_share: float, seed: float,
               extra: Any = None) -> dict[str, Any]:
    return check_outputs(check_data(path, text_col, label_col, model, max_length, val_share, seed, extra=extra))


def on_kind(task: str | None, separator: str | None, ticked: list[str] | None, path: str, text_col: str,
            label_col: str, model: str, max_length: float, val_share: float, seed: float,
            extra: Any = None) -> dict[str, Any]:
    """The Task, the Label separator or the ticked 0/1 label columns changed: the check redone with them, and the
    options now (data_extra). Ticked columns replace the label column: one is read as it is, two or more as one
    multi-label target."""
    ticked = [str(c) for c in ticked or []]
    options = {**data_options(extra), "task": task or "auto", "label_separator": separator or "",
               "label_columns": ",".join(ticked)}
    if not path:
        return {"data_extra": options}
    check = check_data(path, text_col, label_col, model, max_length, val_share, seed, extra=options)
    return {**check_outputs(check), "data_extra": options}


def on_length_settings(path: str, text_col: str, label_col: str, model: str, max_length: float,
                       val_share: float, seed: float, extra: Any = None) -> dict[str, Any]:
    """Model or max length changed: redo the report and histogram (the baseline is cached)."""
    if not path:
        return {}
    return check_outputs(check_data(path, text_col, label_col, model, max_length, val_share, seed, extra=extra))


def on_baseline(path: str | None, text_col: str | None, label_col: str | None, model: str, max_length: float,
                val_share: float, seed: float, extra: Any = None) -> str:
    """The baseline on the split just checked, after the report is on screen: fitting it takes seconds on big files.
    (Start asks for the same cached result, and waits for it if it is still being fitted.)"""
    from core.data.prepared_cache import baseline, prepared_data

    if not path:
        return ""
    try:
        options = data_options(extra)
        data = prepared_data(path, text_col, label_choice(label_col, options), options["val_data_path"] or None,
                             val_share=float(val_share), seed=int(seed), data_config=options["data_config"],
                             data_split=options["data_split"], task=options["task"],
                             label_separator=options["label_separator"],
                             test_data_path=options["test_data_path"] or None)
        return baseline_markdown(baseline(data))
    except UserError:  # the check above has already said what is wrong with the data
        return ""


def warm_up() -> None:
    """Import the data stack and load the default tokenizer in the background, so the first check is quick."""
    try:
        import sklearn.svm  # noqa: F401

        import core.tasks.baseline  # noqa: F401
        import core.data.columns  # noqa: F401

        _tokenizer(DEFAULT_MODEL)
    except Exception:  # noqa: BLE001 - a warm-up must never break the app
        pass


def use_example() -> str:
    return str(EXAMPLE_DATA)


def render(ctx: AppContext) -> dict[str, gr.Component]:
    gr.Markdown("### 1 · Your data\nA table with one column of texts and one column of labels "
                "(CSV, TSV, JSONL, Parquet or Excel), or a dataset from the Hugging Face Hub.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=280):
            file = gr.File(label="Upload a table", file_types=FILE_TYPES, type="filepath", elem_id="tc-data-file")
            example = gr.Button("Use example data (support tickets, 4 labels)", elem_id="tc-use-example",
                                interactive=EXAMPLE_DATA.exists())
            with gr.Row():
                hub = gr.Textbox(label="Or a Hugging Face dataset (press Enter)", placeholder="ag_news or org/name",
                                 scale=2, elem_id="tc-hub-dataset")
                hub_config = gr.Dropdown(label="Config", choices=[], interactive=False, allow_custom_value=True,
                                         scale=1, elem_id="tc-hub-config")
                hub_split = gr.Dropdown(label="Split to train on", choices=[], interactive=False,
                                        allow_custom_value=True, scale=1, elem_id="tc-hub-split")
            with gr.Row():
                val_file = gr.File(label="Validation table (optional; else a stratified share of the data)",
                                   file_types=FILE_TYPES, type="filepath", height=110, elem_id="tc-val-file")
                test_file = gr.File(label="Test table (optional; scored once after training)",
                                    file_types=FILE_TYPES, type="filepath", height=110, elem_id="tc-test-file")
            with gr.Row():
                text_col = gr.Dropdown(label="Text column", choices=[], interactive=False, elem_id="tc-text-col")
                label_col = gr.Dropdown(label="Label column", choices=[], interactive=False, elem_id="tc-label-col")
            label_cols = gr.Dropdown(label="Or several 0/1 label columns (multi-label)", choices=[], value=[],
                                     multiselect=True, interactive=False, elem_id="tc-label-cols")
            with gr.Row():
                kind_widgets = settings.render("data")  # Task and Label separator (ui/settings.py)
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
        counts_plot = gr.Plot(data_charts.class_counts_plot({}), label="Examples per label", show_label=False,
                              elem_id="tc-class-chart")
        length_plot = gr.Plot(data_charts.token_histogram_plot([], None), label="Text length in tokens",
                              show_label=False, elem_id="tc-length-chart")  # titled inside, like the bars beside it
    next_btn = gr.Button("Next: choose a model and train →", variant="primary", interactive=False, elem_id="tc-data-next")
    data_path = gr.State("")
    data_status = gr.State(DataCheck().status())
    wanted = gr.State({})
    data_extra = gr.State(data_options({}))

    comps = dict(file=file, example=example, text_column=text_col, label_column=label_col, preview=preview,
                 status=status, sentences=sentences, warnings=warnings, baseline=baseline, counts_plot=counts_plot,
                 length_plot=length_plot, next=next_btn, data_path=data_path, data_status=data_status,
                 wanted_columns=wanted, hub=hub, hub_config=hub_config, hub_split=hub_split, val_file=val_file,
                 test_file=test_file, data_extra=data_extra, label_columns=label_cols, **kind_widgets)
    example.click(use_example, None, file, api_visibility="private")
    next_btn.click(lambda: gr.Tabs(selected="train"), None, ctx.tabs, api_visibility="private")
    return comps


def pieces(c: dict[str, gr.Component]) -> DataPieces:
    """What the Train step takes from this step."""
    return DataPieces(path=c["data_path"], status=c["data_status"], text_column=c["text_column"],
                      label_column=c["label_column"], extra=c["data_extra"],
                      settings={name: c[name] for name in settings.NAMES if name in c})
