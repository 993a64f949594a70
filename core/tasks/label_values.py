"""Label values as names: 1.0 -> "1", missing values, numbers written as text, and the order a person lists labels in.

Shared by the data layer (core/data/columns.py reads and cleans a label column) and every task kind (core/tasks/),
which turns the cleaned names into targets; it sits with the kinds so that they need nothing from the data layer.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

INT_RE = re.compile(r"^[+-]?\d+$")
INT_FLOAT_RE = re.compile(r"^([+-]?\d+)\.0+$")
NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def is_nested(series: pd.Series) -> bool:
    if pd.api.types.is_string_dtype(series) and series.dtype != object:  # a column of strings holds no lists
        return False
    return any(isinstance(v, (dict, list, tuple, np.ndarray)) for v in series.dropna())


def is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and math.isnan(value))


def label_name(value: Any) -> str | None:
    """A label as its name: 1.0 -> "1", " spam " -> "spam"; None/NaN/empty -> None."""
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else str(float(value))
    text = str(value).strip()
    match = INT_FLOAT_RE.match(text)  # "3.0" from a mixed column means the integer label 3
    return (match.group(1) if match else text) or None


def order_labels(values: Iterable) -> list[str]:
    """Unique label names in id order: numeric when every label is an integer ("-1" < "3" < "10"), else by string
    with the numbers inside names compared as numbers ("class 2" < "class 10"), as a person would list them."""
    names = {n for n in (label_name(v) for v in values) if n is not None}
    if names and all(INT_RE.match(n) for n in names):
        return sorted(names, key=lambda n: (int(n), n))
    if names and all(NUMBER_RE.match(n) for n in names):
        return sorted(names, key=lambda n: (float(n), n))
    return sorted(names, key=natural_key)


def natural_key(name: str) -> tuple[list[str | int], str]:
    # re.split with a group alternates text and digit runs, so equal positions always hold the same type.
    parts = re.split(r"(\d+)", name)
    return [int(p) if i % 2 else p for i, p in enumerate(parts)], name
