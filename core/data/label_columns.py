"""Several 0/1 columns as the labels of one multi-label target: a row holds the labels (the columns' names) whose
cell is 1. The user names them as the label column, comma-separated (`--label sports,politics,tech`, /train's
label_column, or the Data step's ticked columns); a row with none of them is a text with no label, kept as such."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core.data.columns import _names
from core.tasks.label_values import is_missing
from core.errors import DataError

ONES = frozenset({"1", "1.0", "true"})
ZEROS = frozenset({"0", "0.0", "false"})


def named_columns(df: pd.DataFrame, label_column: str | None, where: str = "the file") -> list[str] | None:
    """The columns `label_column` names when it lists two or more of them, comma-separated; None when it names one
    column (a column whose own name holds a comma included)."""
    if not label_column or label_column in df.columns or "," not in label_column:
        return None
    parts = [part.strip() for part in label_column.split(",")]
    if any(not part for part in parts):
        return None
    for part in parts:
        if part not in df.columns:
            raise DataError(f"Column '{part}' is not in {where}. Columns: {_names(df)}.")
    if len(set(parts)) < len(parts):
        twice = next(part for part in parts if parts.count(part) > 1)
        raise DataError(f"Column '{twice}' is named twice among the label columns.")
    return parts


def _cells(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "" if is_missing(v) else str(v).strip().lower())


def combined(df: pd.DataFrame, columns: list[str], where: str = "the file") -> pd.Series:
    """One list of label names per row: the columns whose cell is 1. A cell other than 0 or 1 is refused, naming
    the column, the value and the row."""
    hot = []
    for column in columns:
        cells = _cells(df[column])
        bad = np.flatnonzero(~cells.isin(ONES | ZEROS).to_numpy())
        if len(bad):
            value = df[column].iloc[bad[0]]
            shown = "an empty cell" if cells.iloc[bad[0]] == "" else f"'{value}'"
            raise DataError(f"Column '{column}' holds {shown} in row {bad[0] + 1:,} of {where}: each label column "
                            "ticked as a label must hold only 0 or 1.")
        hot.append(cells.isin(ONES).to_numpy())
    rows = np.column_stack(hot)
    return pd.Series([[c for c, on in zip(columns, row) if on] for row in rows], index=df.index, dtype=object)


def with_label_columns(df: pd.DataFrame, label_column: str | None, task: str,
                       where: str = "the file") -> tuple[pd.DataFrame, str]:
    """(df with `label_column` added as the rows' label lists, "multi") when `label_column` lists several 0/1
    columns; (df, task) unchanged otherwise."""
    columns = named_columns(df, label_column, where)
    if columns is None:
        return df, task
    if task not in ("auto", "multi"):
        raise DataError(f"Several label columns ({', '.join(columns)}) make a multi-label target: choose the task "
                        "auto or multi-label.")
    return df.assign(**{str(label_column): combined(df, columns, where)}), "multi"
