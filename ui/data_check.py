"""The Data step's check, without any component: read a table or a dataset, prepare and report on it exactly as
training will (the same cached core functions Start uses). Pure data in, a DataCheck out: easy to test. Also the
words the step shows for it: the ready/blocked line and the baseline's sentence."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from core import limits
from core.runs import access

from core.data import hub_datasets
from core.config import DEFAULT_MODEL, TrainConfig
from core.errors import UserError
from core.tasks import SINGLE_LABEL
from ui.notes import note

HISTOGRAM_SAMPLE = 5000
_DEFAULTS = TrainConfig()
# data_extra's keys: TrainConfig fields, except label_columns (the 0/1 columns ticked, read as the label column)
OPTIONS = ("val_data_path", "test_data_path", "data_config", "data_split", "task", "label_separator", "label_columns")


def data_options(extra: Any) -> dict[str, str]:
    """The Data step's choices beside the main data: a validation and a test table, a dataset's config and split,
    what the label column holds (task, label_separator: the Task and Label separator controls) and several 0/1 label
    columns ticked instead of one ("a,b,c"; empty: the label column)."""
    extra = extra if isinstance(extra, dict) else {}
    options = {name: str(extra.get(name) or "") for name in OPTIONS}
    options["task"] = options["task"] or _DEFAULTS.task
    return options


def label_choice(label_column: str | None, options: dict[str, str]) -> str | None:
    """The label column the data is read with: the ticked 0/1 columns when there are several, else the one chosen."""
    return options["label_columns"] or label_column


def hub_path(name: str | None) -> str:
    """What the dataset box holds as a data path: `hf://<id>` ('' for an empty box)."""
    name = (name or "").strip()
    return "" if not name else name if name.startswith(hub_datasets.PREFIX) else hub_datasets.PREFIX + name


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
    taught_labels: int = 0  # the labels with training rows: what small data's rules count per label
    rows: int = 0  # the texts kept (a multi-label text counts once in each of its labels' counts)
    lengths: list[int] = field(default_factory=list)
    marked_max_length: int | None = None
    suggested_max_length: int | None = None
    baseline: dict[str, Any] | None = None
    note: str = ""
    kind: str = ""  # what the label column holds, as detected or chosen (core/tasks/ names: "multi_label", ...)
    separator: str = ""  # a multi-label column's separator, as detected or given
    # The validation rows' share of all rows when a validation table or the dataset's own split fixes them (the
    # share setting then does not apply); None while the data is split by the share.
    fixed_val_share: float | None = None
    target: dict[str, Any] | None = None  # a numeric target (regression): the report's range, mean and histogram

    @property
    def summary(self) -> str:
        if not self.ok:
            return self.reason
        rows = self.rows or sum(self.class_counts.values())
        what = "a number to predict" if self.target else f"{len(self.class_counts)} labels"
        return f"{self.file_name}: {rows:,} rows, {what} ('{self.text_column}' → '{self.label_column}')."

    def status(self) -> dict[str, Any]:
        """The small dict other steps read (Train enables Start when ok)."""
        return {"ok": self.ok, "reason": self.reason, "summary": self.summary,
                "suggested_max_length": self.suggested_max_length,
                # server-side (gr.State): the Train step's time estimate reads them; `lengths` may be a sample
                "lengths": list(self.lengths), "texts": sum(self.class_counts.values()),
                "labels": self.taught_labels, "fixed_val_share": self.fixed_val_share,
                "single_label": self.kind == SINGLE_LABEL.name}


@functools.lru_cache(maxsize=4)
def _tokenizer(model: str) -> Any:
    from core.models import load_tokenizer

    return load_tokenizer(model)


def tokenizer_for(model: str | None) -> tuple[Any, str]:
    """The chosen model's tokenizer, or the default model's with a note when it cannot be loaded (offline Hub id)."""
    model = (model or "").strip() or DEFAULT_MODEL
    try:
        if limits.shared_server() and (access.looks_like_path(model) or Path(model).exists()):
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


def read_columns(path: str, extra: Any = None) -> tuple[pd.DataFrame, str | None, str | None]:
    """The table (a dataset's training split), and the guessed text/label columns (None when they cannot be
    guessed). A dataset's own choices (configs, splits, the config used) ride along in df.attrs["dataset"]."""
    from core.data.columns import detect_columns, read_table
    from core.data.loading import detection_sample
    from core.data.table_cache import cached, dataset_tables, file_key

    if hub_datasets.is_dataset(path):
        options = data_options(extra)
        tables = dataset_tables(path, options["data_config"], options["data_split"])
        df = tables.train.head(1000).copy()  # enough to guess columns and preview; prepared_data reads it whole
        df.attrs["dataset"] = {"configs": tables.configs, "splits": tables.splits, "config": tables.config or "",
                               "split": tables.train_split, "label_column": tables.label_column}
    else:
        df = cached(("table",) + file_key(path), lambda: read_table(path))
    try:
        text_col, label_col = detect_columns(detection_sample(df))  # as training guesses them
    except UserError:
        text_col = label_col = None
    hint = df.attrs.get("dataset", {}).get("label_column")
    if hint and hint != text_col:
        label_col = hint  # a ClassLabel feature names the labels
    return df, text_col, label_col


def check_data(path: str | None, text_column: str | None, label_column: str | None, model: str | None = None,
               max_length: int | float | None = 0, val_share: float = _DEFAULTS.val_share,
               seed: int = _DEFAULTS.seed, with_baseline: bool = False, extra: Any = None,
               phase: Callable[[float, str], None] = lambda done, what: None) -> DataCheck:
    """Read, prepare and report on the data exactly as training will; never raises for user mistakes. The baseline
    is included only when already fitted, unless `with_baseline` (the app fits it afterwards: on_baseline).
    `phase(share_done, what)` is told as each step starts: on a big file each takes seconds."""
    from core.data.report import report_sentences
    from core.models import model_max_length
    from core.data.prepared_cache import baseline, baseline_if_ready, data_report, prepared_data, text_lengths

    check = DataCheck()
    if not path:
        return check
    options = data_options(extra)
    check.file_name = hub_datasets.dataset_name(path) if hub_datasets.is_dataset(path) else Path(path).name
    try:
        df, guessed_text, guessed_label = read_columns(path, options)
        check.columns = [str(c) for c in df.columns]
        check.text_column = text_column or guessed_text
        check.label_column = label_choice(label_column, options) or guessed_label
        phase(0.3, "Cleaning and splitting the rows…")
        data = prepared_data(path, check.text_column, check.label_column, options["val_data_path"] or None,
                             val_share=float(val_share), seed=int(seed), data_config=options["data_config"],
                             data_split=options["data_split"], task=options["task"],
                             label_separator=options["label_separator"],
                             test_data_path=options["test_data_path"] or None)
        check.text_column, check.label_column = data.text_column, data.label_column
        check.kind, check.separator = data.kind.name, data.label_separator
        if data.validation_source != "split":
            check.fixed_val_share = data.validation_share
        tokenizer, check.note = tokenizer_for(model)
        limit = model_max_length(tokenizer)
        chosen = int(max_length or 0) or None
        phase(0.6, "Measuring the texts' lengths in tokens…")
        report = data_report(data, tokenizer, chosen, limit)
        check.sentences = report_sentences(report)
        check.warnings = list(report.warnings)
        check.sentences = [s for s in check.sentences if s not in check.warnings]
        check.class_counts = dict(report.class_counts["total"])
        check.taught_labels = report.taught_labels
        check.target = report.regression
        check.rows = int(report.rows_kept)
        check.suggested_max_length = int(report.suggested_max_length)
        check.marked_max_length = int(report.effective_max_length)  # never beyond what the model reads
        check.lengths = histogram_sample(text_lengths(data, tokenizer))  # the report's own measurement
        check.baseline = baseline(data) if with_baseline else baseline_if_ready(data)
        check.ok, check.reason = True, ""
    except UserError as exc:
        check.ok, check.reason = False, exc.message
    return check


# The baseline is the kind's (TF-IDF + linear SVM, one-vs-rest for several labels, ridge for a number): named once it ran.
BASELINE_PENDING = "*Fitting a classic baseline (TF-IDF + a linear model) on the same split…*"


def baseline_markdown(baseline: dict[str, Any] | None) -> str:
    if baseline and baseline.get("spearman") is not None:  # a number to predict (regression)
        sample = f", {baseline['sample_note']}" if baseline.get("sample_note") else ""
        return (f"**A classic baseline** ({baseline.get('method')}{sample}, {baseline.get('seconds', 0):.1f} s) "
                f"reaches **Spearman {baseline['spearman']:.3f}** (RMSE {baseline.get('rmse', 0):.4g}) on the same "
                "validation rows. Fine-tuning has to beat this to be worth its cost.")
    if baseline and baseline.get("f1_micro") is not None:  # multi-label: its own scores
        return (f"**A classic baseline** ({baseline.get('method')}, {baseline.get('seconds', 0):.1f} s) reaches "
                f"**{100 * baseline['f1_micro']:.1f} % micro-F1** and **{100 * baseline.get('f1_macro', 0):.1f} % "
                "macro-F1** on the same validation rows. Fine-tuning has to beat this to be worth its cost.")
    if not baseline or baseline.get("accuracy") is None:
        return ""
    perfect = float(baseline["accuracy"]) >= 1.0
    then = (" It already gets every validation text right: fine-tuning can only tie it here, so the classic model "
            "may be all you need." if perfect else " Fine-tuning has to beat this to be worth its cost.")
    sample = f", {baseline['sample_note']}" if baseline.get("sample_note") else ""
    return (f"**A classic baseline** ({baseline.get('method', 'TF-IDF + linear SVM')}{sample}, "
            f"{baseline.get('seconds', 0):.1f} s) reaches **{100 * baseline['accuracy']:.1f} % accuracy** and "
            f"**{100 * baseline.get('f1_macro', 0):.1f} % macro-F1** on the same validation rows.{then}")


def status_html(check: DataCheck) -> str:
    if check.ok:
        return note(f"✓ Ready to train. {check.summary}", "ready", "tc-data-ready")
    if not check.file_name:
        return note(check.reason, "note", "tc-data-blocked")
    return note(f"Training is blocked: {check.reason}", "blocked", "tc-data-blocked")
