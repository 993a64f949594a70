"""The data layer: read a table (core/data/tables.py), guess the text and label columns, clean it, split it, and report on it.

Every problem a user can fix raises DataError with one plain sentence (shown verbatim in the UI and CLI).
Preparing the data for training is core/data/loading.py, the report on it core/data/report.py, and the warnings both
word core/data/report_warnings.py.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

from core.errors import DataError
from core.data.tables import read_table

__all__ = ["DataError", "read_table", "detect_columns", "guess_text_column", "order_labels"]

# Preferred label column names, best first (compared case-insensitively).
LABEL_NAMES = ("label", "labels", "class", "category", "target", "sentiment", "stars", "y",
               "intent", "topic", "tag", "emotion", "rating")
TEXT_NAMES = ("text", "texts", "sentence", "review", "content", "body", "message", "comment", "tweet", "document",
              "question", "title", "description", "utterance")
_INT_RE = re.compile(r"^[+-]?\d+$")
_INT_FLOAT_RE = re.compile(r"^([+-]?\d+)\.0+$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")




# ---------------------------------------------------------------- columns and labels

def _looks_numeric(value: Any) -> bool:
    """A number, or a string that is one (delimited files are read as text)."""
    if isinstance(value, str):
        return bool(_NUMBER_RE.match(value.strip()))
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _is_texty(series: pd.Series) -> bool:
    """A column of strings (pandas 3 'str' dtype, or object holding mostly strings) that are not mostly numbers."""
    values = series.dropna()
    if values.empty or not (pd.api.types.is_string_dtype(series) or series.dtype == object):
        return False
    strings = [v for v in values if isinstance(v, str)]
    return len(strings) >= 0.9 * len(values) and sum(map(_looks_numeric, strings)) < 0.9 * len(strings)


def _nested(series: pd.Series) -> bool:
    if pd.api.types.is_string_dtype(series) and series.dtype != object:  # a column of strings holds no lists
        return False
    return any(isinstance(v, (dict, list, tuple, np.ndarray)) for v in series.dropna())


def _avg_length(series: pd.Series) -> float:
    values = series.dropna().astype(str).str.strip()
    return float(values.str.len().mean()) if len(values) else 0.0


def guess_text_column(df: pd.DataFrame, exclude: Iterable[str] = ()) -> str | None:
    """The string column (not numbers) with the longest texts on average; None when there is none. A column named
    like a label is the text only if nothing else is (long label names like "card_not_working")."""
    candidates = [c for c in df.columns if c not in set(exclude) and _is_texty(df[c])]
    return max(candidates, key=lambda c: (c.lower() not in LABEL_NAMES, _avg_length(df[c])), default=None)


def _not_texts(df: pd.DataFrame, column: str) -> DataError:
    what = "lists" if _nested(df[column]) else "only numbers"
    return DataError(f"Column '{column}' holds {what}, not texts. Columns: {_names(df)}.")


def _detect_text(df: pd.DataFrame, exclude: Iterable[str] = ()) -> str:
    chosen = guess_text_column(df, exclude)
    if chosen is None or chosen.lower() in LABEL_NAMES:
        # A column named like texts that holds none explains the problem better than any guess.
        named = [c for c in df.columns if c.lower() in TEXT_NAMES and c != chosen and c not in set(exclude)
                 and df[c].notna().any() and not _is_texty(df[c])]
        if named:
            raise _not_texts(df, named[0])
    if chosen is None:
        raise DataError(f"No column with texts was found (every column holds numbers or is empty). Columns: {_names(df)}.")
    return chosen  # first on ties


def _detect_label(df: pd.DataFrame, text_column: str) -> str:
    scored = []
    for position, col in enumerate(df.columns):
        if col == text_column:
            continue
        values = df[col].map(_label_name).dropna()  # blank strings are no labels either
        distinct = values.nunique()
        lowered = col.lower()
        name_rank = LABEL_NAMES.index(lowered) if lowered in LABEL_NAMES else len(LABEL_NAMES)
        # "Few distinct values relative to rows": ids and free text repeat rarely, labels repeat a lot.
        # A column named like a label is taken anyway: loading then explains what is wrong with it.
        if distinct == 0 or (distinct > max(2, 0.5 * len(values)) and name_rank == len(LABEL_NAMES)):
            continue
        scored.append(((name_rank, distinct < 2, distinct / len(values), position), col))
    if not scored:
        raise DataError(
            f"No column with labels was found: a label column repeats a few values (like 'spam' / 'not spam'). "
            f"Columns: {_names(df)}."
        )
    return min(scored)[1]


def detect_columns(df: pd.DataFrame) -> tuple[str, str]:
    """(text_column, label_column): the string column with the longest texts, and a column of few repeated values."""
    if len(df.columns) < 2:
        raise DataError(
            f"The table has only one column ({_names(df, quote=True)}). It needs a column of texts and a column of labels."
        )
    try:
        text = _detect_text(df)
        return text, _detect_label(df, text)
    except DataError:
        # A blank column is the likelier problem than a missing one: say which (a header with no data below it).
        empty = [c for c in df.columns if df[c].map(_label_name).isna().all()]
        if not empty:
            raise
        which = ", ".join(f"'{c}'" for c in empty)
        subject = f"Column {which} is" if len(empty) == 1 else f"Columns {which} are"
        raise DataError(f"{subject} empty in every row. The table needs a column of texts and a column of labels, "
                        f"both filled in. Columns: {_names(df)}.")


def _names(df: pd.DataFrame, quote: bool = False) -> str:
    return ", ".join(f"'{c}'" if quote else str(c) for c in df.columns)


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and math.isnan(value))


def _label_name(value: Any) -> str | None:
    """A label as its name: 1.0 -> "1", " spam " -> "spam"; None/NaN/empty -> None."""
    if _is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else str(float(value))
    text = str(value).strip()
    match = _INT_FLOAT_RE.match(text)  # "3.0" from a mixed column means the integer label 3
    return (match.group(1) if match else text) or None


def order_labels(values: Iterable) -> list[str]:
    """Unique label names in id order: numeric when every label is an integer ("-1" < "3" < "10"), else by string
    with the numbers inside names compared as numbers ("class 2" < "class 10"), as a person would list them."""
    names = {n for n in (_label_name(v) for v in values) if n is not None}
    if names and all(_INT_RE.match(n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    if names and all(_NUMBER_RE.match(n) for n in names):
        return sorted(names, key=lambda n: (float(n), n))
    return sorted(names, key=_natural_key)


def _natural_key(name: str) -> tuple[list[str | int], str]:
    # re.split with a group alternates text and digit runs, so equal positions always hold the same type.
    parts = re.split(r"(\d+)", name)
    return [int(p) if i % 2 else p for i, p in enumerate(parts)], name


# ---------------------------------------------------------------- preparing

def _check_column(df: pd.DataFrame, column: str, where: str = "the file") -> None:
    if column not in df.columns:
        raise DataError(f"Column '{column}' is not in {where}. Columns: {_names(df)}.")


def _clean(df: pd.DataFrame, text_column: str, label_column: str, dropped: dict[str, int]) -> pd.DataFrame:
    """Strip texts, name labels, drop empty texts and missing labels (a row missing both counts as empty text).
    Whether the labels can be learnt at all is the task kinds' call (core/tasks/, through core/data/loading.py)."""
    # Columns of strings (every delimited file) are cleaned column-wise: per value in Python, 1M rows took 10.3 s
    # of the 23 s read + detect + split, mostly iterating Arrow-backed strings one by one.
    text, label = df[text_column], df[label_column]
    if pd.api.types.is_string_dtype(text) and text.dtype != object:
        texts = text.fillna("").str.strip().astype(object)
    else:
        texts = ["" if _is_missing(v) else str(v).strip() for v in text]
    if pd.api.types.is_string_dtype(label) and label.dtype != object:
        codes, uniques = pd.factorize(label)  # name each distinct label once; code -1 (missing) becomes None
        labels = np.array([_label_name(u) for u in uniques] + [None], dtype=object)[codes]
    else:
        labels = [_label_name(v) for v in label]
    out = pd.DataFrame({"text": texts, "label": labels}, dtype=object)
    empty_text = out["text"] == ""
    missing_label = out["label"].isna() & ~empty_text
    for reason, mask in (("empty text", empty_text), ("missing label", missing_label)):
        if mask.any():
            dropped[reason] = dropped.get(reason, 0) + int(mask.sum())
    kept = out[~(empty_text | missing_label)].reset_index(drop=True)
    return kept.astype({"text": str, "label": str})


def label_warnings(labels: list[str], label_column: str) -> list[str]:
    """Labels that probably mean the same, and a header row that looks like data."""
    warnings = []
    by_case: dict[str, list[str]] = {}
    for label in labels:
        by_case.setdefault(label.casefold(), []).append(label)
    for group in (g for g in by_case.values() if len(g) > 1):
        names = ", ".join(f"'{label}'" for label in group[:-1]) + f" and '{group[-1]}'"
        warnings.append(f"Labels {names} differ only in upper and lower case, so they are learnt as different "
                        "labels. Write them the same way if they mean the same.")
    if label_column in labels:
        warnings.append(f"'{label_column}' is both the label column's name and one of its labels: if the file has no "
                        "header row, its first row was taken as the column names. Add a header row (like text,label).")
    return warnings


def _rows_read(df: pd.DataFrame, dropped: dict[str, int]) -> int:
    """The table's rows as the file has them: read_table's blank rows count, as dropped."""
    blank = df.attrs.get("blank_rows", 0)
    if blank:
        dropped["blank"] = dropped.get("blank", 0) + blank
    return len(df) + blank
