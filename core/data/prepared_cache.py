"""The prepared data, its report and its baseline, computed once per file version and reused.

The Data step computes all three when a file is loaded; pressing Start then needs exactly the same numbers for the
run directory. Tokenising every text for the report and fitting the baseline take seconds on large files, so both
callers share this small in-process cache. Keys include each file's size and modification time: an edited file
is read again.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.artefacts import DataReport
from core.data.loading import PreparedData
from core.data.table_cache import cached, file_key, peek


def data_key(data_path: str | Path, text_column: str | None, label_column: str | None,
             val_data_path: str | Path | None, val_share: float, seed: int, data_config: str | None = None,
             data_split: str | None = None, task: str = "auto", label_separator: str = "") -> tuple:
    return file_key(data_path) + file_key(val_data_path) + (
        (text_column or "").strip() or None, (label_column or "").strip() or None, float(val_share), int(seed),
        (data_config or "").strip() or None, (data_split or "").strip() or None, task, label_separator)


def prepared_data(data_path: str | Path, text_column: str | None = None, label_column: str | None = None,
                  val_data_path: str | Path | None = None, val_share: float = 0.2, seed: int = 42,
                  data_config: str | None = None, data_split: str | None = None, task: str = "auto",
                  label_separator: str = "") -> PreparedData:
    """core.data.loading.load_training_data, cached. Callers must not modify the frames."""
    from core.data.loading import load_training_data

    key = ("prepared",) + data_key(data_path, text_column, label_column, val_data_path, val_share, seed,
                                   data_config, data_split, task, label_separator)
    return cached(key, lambda: load_training_data(data_path, text_column, label_column, val_data_path, val_share, seed,
                                                  data_config=data_config, data_split=data_split, task=task,
                                                  label_separator=label_separator))


def _tokenizer_name(tokenizer: Any) -> str:
    return str(getattr(tokenizer, "name_or_path", "") or id(tokenizer))


def text_lengths(data: PreparedData, tokenizer: Any) -> list[int]:
    """Tokens per text of length_sample(training texts then validation texts), cached per prepared data and
    tokenizer: the report and the Data step's histogram share one tokenisation."""
    from core.data.report import length_sample, text_lengths as measure

    key = ("lengths", id(data), _tokenizer_name(tokenizer))
    texts = lambda: length_sample(list(data.train["text"]) + list(data.validation["text"]))  # noqa: E731
    return cached(key, lambda: (data, measure(texts(), tokenizer)))[1]


def data_report(data: PreparedData, tokenizer: Any, max_length: int | None, model_max_length: int) -> DataReport:
    """core.data.report.build_report, cached per prepared data (by identity), tokenizer and length settings."""
    from core.data.report import build_report

    key = ("report", id(data), _tokenizer_name(tokenizer), max_length, model_max_length)
    return cached(key, lambda: (data, build_report(data, tokenizer, max_length, model_max_length,
                                                   lengths=text_lengths(data, tokenizer))))[1]


def baseline(data: PreparedData) -> dict[str, Any]:
    """The task kind's baseline on the prepared split, cached per prepared data (by identity)."""
    return cached(_baseline_key(data), lambda: (data, data.kind.baseline(data.train, data.validation, data.labels)))[1]


def baseline_if_ready(data: PreparedData) -> dict[str, Any] | None:
    """The cached baseline, or None when it has not been fitted yet (never fits it)."""
    entry = peek(_baseline_key(data))
    return entry[1] if entry else None


def _baseline_key(data: PreparedData) -> tuple:
    return ("baseline", id(data))
