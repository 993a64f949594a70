"""Prepare the data for training: read a table file or a dataset (core/data/hub_datasets.py), pick and check the columns,
clean, and split into train / validation (and a dataset's own test split).

"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.data import hub_datasets

from core import tasks
from core.data.table_cache import dataset_tables
from core.tasks.multi_label import find_separator
from core.data.columns import (
    DataError, _check_column, _clean, _detect_label, _detect_text, _looks_numeric, _not_texts, _rows_read,
    detect_columns, label_warnings, order_labels, read_table,
)
from core.data.report_warnings import SINGLE_EXAMPLE_LISTED, single_example_warning, single_examples_warning

DETECT_SAMPLE = 20_000


@dataclass
class PreparedData:
    """Clean train/validation (and optional test) tables with exactly the columns "text" and "label" (label names as
    strings). `validation_source`: "split" (a stratified split of the data), "file" (a validation table) or
    "dataset" (the dataset's own validation split)."""

    train: pd.DataFrame
    validation: pd.DataFrame
    labels: list[str]
    text_column: str
    label_column: str
    rows_read: int
    rows_kept: int
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    validation_source: str = "split"
    test: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"text": [], "label": []}, dtype=str))
    kind: tasks.TaskKind = tasks.DEFAULT  # what the label column holds (core/tasks/)
    label_separator: str = ""  # a multi-label column's separator as found or given ("" for JSON lists)

    @property
    def validation_share(self) -> float:
        """The validation rows' share of all rows: the setting's split, or what a validation table leaves."""
        return len(self.validation) / max(len(self.train) + len(self.validation), 1)


def _split(df: pd.DataFrame, val_share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per-class seeded split: every class with >= 2 rows gets >= 1 validation row and keeps >= 1 training row.

    Done per class rather than with sklearn's stratify=..., which neither guarantees a validation row for
    a rare class nor accepts classes with a single example.
    """
    rng = np.random.default_rng(seed)
    val_index: list[np.ndarray] = []
    single: list[str] = []
    # One factorisation instead of a full-column comparison per label: 10 labels x 1M rows was 10 passes.
    codes, uniques = pd.factorize(df["label"])
    members = pd.Series(np.arange(len(df))).groupby(codes).indices  # code -> row positions, in file order
    position = {label: i for i, label in enumerate(uniques)}
    for label in order_labels(df["label"].unique()):  # fixed class order keeps the random stream reproducible
        index = members[position[label]]
        if len(index) < 2:
            single.append(label)
            continue
        n_val = min(len(index) - 1, max(1, round(len(index) * val_share)))
        val_index.append(rng.permutation(index)[:n_val])
    if not val_index:
        raise DataError("Every label has only one example, so nothing is left to validate on. Add at least two examples per label.")
    warnings = ([single_examples_warning(single)] if len(single) > SINGLE_EXAMPLE_LISTED
                else [single_example_warning(label) for label in single])
    is_val = np.zeros(len(df), dtype=bool)
    is_val[np.concatenate(val_index)] = True
    # Keep file order inside each part: easier to read back, and still deterministic.
    return df[~is_val].reset_index(drop=True), df[is_val].reset_index(drop=True), warnings


def _read(data_path: str | Path, data_config: str | None, data_split: str | None
          ) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None, str | None, list[str]]:
    """(training table, the dataset's validation and test tables or None, a ClassLabel column, warnings)."""
    if hub_datasets.is_dataset(data_path):

        tables = dataset_tables(str(data_path), data_config, data_split)
        return tables.train, tables.validation, tables.test, tables.label_column, list(tables.warnings)
    df = read_table(data_path)
    return df, None, None, None, list(df.attrs.get("read_warnings", []))


def detection_sample(df: pd.DataFrame) -> pd.DataFrame:
    """The rows columns are guessed from: all, or DETECT_SAMPLE of them drawn at random (seeded)."""
    return df if len(df) <= DETECT_SAMPLE else df.sample(DETECT_SAMPLE, random_state=0)


def _columns(df: pd.DataFrame, text_column: str | None, label_column: str | None, hint: str | None) -> tuple[str, str]:
    for column in (text_column, label_column):
        if column is not None:
            _check_column(df, column)
    if text_column is not None and text_column == label_column:
        raise DataError(f"The text column and the label column are both '{text_column}'. Choose two different columns.")
    if label_column is None and hint is not None and hint != text_column:
        label_column = hint  # a ClassLabel feature: the dataset itself says which column holds the labels
    # Guessed from a fixed random sample of a big table: on 1M rows, guessing from every row took 9.2 s of the 23 s
    # read + detect + split, and the answer (longest texts, fewest distinct values) is the same. Cleaning and the
    # label checks below still see every row.
    probe = detection_sample(df)
    if text_column is None and label_column is None:
        text_column, label_column = detect_columns(probe)
    elif text_column is None:
        text_column = _detect_text(probe, exclude=[label_column])
    elif label_column is None:
        label_column = _detect_label(probe, text_column)
    return text_column, label_column


def load_training_data(
    data_path: str | Path,
    text_column: str | None = None,
    label_column: str | None = None,
    val_data_path: str | Path | None = None,
    val_share: float = 0.2,
    seed: int = 42,
    data_config: str | None = None,
    data_split: str | None = None,
    task: str = "auto",
    label_separator: str = "",
) -> PreparedData:
    """Read, pick/validate columns, clean, and split (or take the validation file / the dataset's validation split)
    into a PreparedData. A dataset's test split is cleaned alongside, for one evaluation at the end. `task`: the
    kind of target (config.TASKS; "auto" detects it), `label_separator`: a multi-label cell's ("" finds it)."""
    text_column = (text_column or "").strip() or None  # the UI sends "" for "guess it"
    label_column = (label_column or "").strip() or None
    df, dataset_val, dataset_test, hint, read_warnings = _read(data_path, data_config, data_split)
    text_column, label_column = _columns(df, text_column, label_column, hint)
    numbers = df[text_column].dropna()
    if len(numbers) and numbers.head(10_000).map(_looks_numeric).all():  # chosen by hand too: numbers are no texts
        if numbers.map(_looks_numeric).all():
            raise _not_texts(df, text_column)

    dropped: dict[str, int] = {}
    rows_read = _rows_read(df, dropped)
    data = _clean(df, text_column, label_column, dropped)
    column = tasks.LabelColumn(label_column, df[label_column], data["label"], separator=label_separator)
    kind = _kind(column, task)
    separator = label_separator or (find_separator(column.values) if kind is tasks.MULTI_LABEL else "")
    normalised = kind.normalised(dataclasses.replace(column, separator=separator))
    if normalised is not None:  # the labels the kind reads (multi-label: a JSON list per row), cleaned again
        dropped.clear()
        _rows_read(df, dropped)
        data = _clean(df.assign(**{label_column: normalised}), text_column, label_column, dropped)
    del df
    if data.empty:
        raise DataError(
            f"None of the {rows_read:,} rows can be used: each has an empty '{text_column}' or a missing '{label_column}'."
        )
    warnings: list[str] = []
    if val_data_path or dataset_val is not None:
        if val_data_path:
            vdf, where, source = read_table(val_data_path), "the validation file", "file"
            read_warnings += vdf.attrs.get("read_warnings", [])
        else:
            vdf, where, source = dataset_val, "the dataset's validation split", "dataset"
        for column in (text_column, label_column):
            _check_column(vdf, column, where=where)
        rows_read += _rows_read(vdf, dropped)
        vdf = _settled(kind, tasks.LabelColumn(label_column, vdf[label_column], separator=separator), vdf)
        train, validation = data, _clean(vdf, text_column, label_column, dropped)
        if validation.empty:
            raise DataError(f"{where[0].upper()}{where[1:]} has no usable rows: each has an empty '{text_column}' or a "
                            f"missing '{label_column}'.")
    else:
        if not 0 < val_share < 1:
            raise DataError(f"The validation share must be between 0 and 1 (for example 0.2), not {val_share}.")
        train, validation, source = data, data.iloc[0:0], "split"

    test = _test_split(dataset_test, text_column, label_column, read_warnings, kind, separator)
    train_labels = kind.label_names(train["label"].unique())
    if len(train_labels) < 2:
        raise DataError(
            f"The file has only one label ('{train_labels[0]}'). A classifier needs at least two different labels."
        )
    if source == "split" and kind is tasks.MULTI_LABEL:
        train, validation, warnings = _random_split(data, val_share, seed)
    elif source == "split":
        train, validation, warnings = _split(data, val_share, seed)
    else:
        warnings = _validation_warnings(kind.each_label(train["label"]), kind.each_label(validation["label"]),
                                        train_labels)

    labels = kind.label_names(np.concatenate([train["label"].unique(), validation["label"].unique()]))
    warnings = read_warnings + label_warnings(labels, label_column) + warnings
    return PreparedData(
        train=train, validation=validation,
        labels=labels,
        text_column=text_column, label_column=label_column,
        rows_read=rows_read, rows_kept=len(train) + len(validation), dropped=dropped,
        warnings=warnings, validation_source=source, test=test, kind=kind, label_separator=separator,
    )


def _kind(column: tasks.LabelColumn, task: str) -> tasks.TaskKind:
    found = tasks.detect(column, task)
    if isinstance(found, str):
        raise DataError(found)
    return found


def _settled(kind: tasks.TaskKind, column: tasks.LabelColumn, df: pd.DataFrame) -> pd.DataFrame:
    """A validation or test table, its labels checked to be of the training labels' kind and read as that kind
    reads them."""
    column = dataclasses.replace(column, chosen=True)  # the training labels chose the kind: refuse only the impossible
    reason = kind.refusal(column)
    if reason is not None:
        raise DataError(reason)
    normalised = kind.normalised(column)
    return df if normalised is None else df.assign(**{column.name: normalised})


def _random_split(df: pd.DataFrame, val_share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """A seeded random split for label lists: stratifying by the combination of labels, as `_split` would, keeps
    every rare combination out of validation (most combinations are rare)."""
    rng = np.random.default_rng(seed)
    n_val = min(len(df) - 1, max(1, round(len(df) * val_share)))
    if n_val < 1:
        raise DataError("Only one row has labels, so nothing is left to validate on. Add more labelled rows.")
    is_val = np.zeros(len(df), dtype=bool)
    is_val[rng.permutation(len(df))[:n_val]] = True
    return df[~is_val].reset_index(drop=True), df[is_val].reset_index(drop=True), []


def _test_split(dataset_test: pd.DataFrame | None, text_column: str, label_column: str,
                warnings: list[str], kind: tasks.TaskKind, separator: str) -> pd.DataFrame:
    """The dataset's test split, cleaned like the rest; empty (with a sentence why) when it cannot be scored."""
    empty = pd.DataFrame({"text": [], "label": []}, dtype=str)
    if dataset_test is None:
        return empty
    if text_column not in dataset_test.columns or label_column not in dataset_test.columns:
        warnings.append(f"The dataset's test split has no '{text_column}' and '{label_column}' columns, so it is not used.")
        return empty
    dataset_test = _settled(kind, tasks.LabelColumn(label_column, dataset_test[label_column], separator=separator),
                            dataset_test)
    test = _clean(dataset_test, text_column, label_column, {})
    if test.empty:
        # GLUE-style test splits hide their labels (-1): nothing to score against.
        warnings.append("The dataset's test split has no labels, so it is not evaluated.")
    return test


def _validation_warnings(train: pd.Series, validation: pd.Series, train_labels: list[str]) -> list[str]:
    """From one entry per (row, label) of each table."""
    warnings = []
    counts = train.value_counts()
    val_labels = set(validation)
    for label in order_labels(set(val_labels) | set(train_labels)):
        if label not in counts:
            warnings.append(f"Label '{label}' appears only in the validation file, so the model can never predict it.")
        elif counts[label] == 1:
            warnings.append(single_example_warning(label, in_validation=label in val_labels))
        elif label not in val_labels:
            warnings.append(f"Label '{label}' has no validation examples, so its score cannot be measured.")
    return warnings
