"""The prepared data, its report and its baseline, computed once per file version and reused.

The Data step computes all three when a file is loaded; pressing Start then needs exactly the same numbers for the
run directory. Tokenising every text for the report and fitting the baseline take seconds on large files, so both
callers share this small in-process cache. Keys include each file's size and modification time: an edited file
is read again.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, TypeVar

from core.data import PreparedData

T = TypeVar("T")
_ENTRIES = 12  # each may hold a whole table: a few files and splits are enough to avoid repeats
_cache: "OrderedDict[tuple, Any]" = OrderedDict()
_lock = threading.Lock()


_making: dict[tuple, threading.Event] = {}  # keys being computed right now


def cached(key: tuple, make: Callable[[], T]) -> T:
    """make() once per key (least recently used entries are dropped). Errors are not cached.

    A caller that asks while another thread computes the same key waits for that result instead of computing it
    again: the Data step fits the baseline in the background, and Start may ask for it before it is done.
    """
    while True:
        with _lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
            running = _making.get(key)
            if running is None:
                _making[key] = threading.Event()
                break
        running.wait()  # then look again: a result, or (after an error) this caller's turn to try
    try:
        value = make()
        with _lock:
            _cache[key] = value
            while len(_cache) > _ENTRIES:
                _cache.popitem(last=False)
        return value
    finally:
        with _lock:
            _making.pop(key).set()


def file_key(path: str | Path | None) -> tuple:
    if not path:
        return (None,)
    if str(path).startswith("hf://"):
        return (str(path), None, None)  # a Hub dataset: `datasets` keeps its own cache of the download
    try:
        if os.path.isdir(path):  # a dataset folder: its newest file is its version
            stats = [os.stat(p) for p in Path(path).rglob("*") if p.is_file()]
            return (str(path), max((s.st_mtime_ns for s in stats), default=0), sum(s.st_size for s in stats))
        st = os.stat(path)
    except OSError:  # missing or unreadable: the reader raises the user-facing message (errors are not cached)
        return (str(path), None, None)
    return (str(path), st.st_mtime_ns, st.st_size)


def data_key(data_path: str | Path, text_column: str | None, label_column: str | None,
             val_data_path: str | Path | None, val_share: float, seed: int, data_config: str | None = None,
             data_split: str | None = None) -> tuple:
    return file_key(data_path) + file_key(val_data_path) + (
        (text_column or "").strip() or None, (label_column or "").strip() or None, float(val_share), int(seed),
        (data_config or "").strip() or None, (data_split or "").strip() or None)


def dataset_tables(data_path: str, data_config: str | None = None, data_split: str | None = None) -> Any:
    """core.hub_data.read_dataset, cached: the Data step's preview and the prepared data read a dataset once."""
    from core.hub_data import read_dataset, resolve

    resolve(str(data_path))  # before the cache: what a shared server refuses is refused every time
    config, split = (data_config or "").strip(), (data_split or "").strip()
    return cached(("dataset",) + file_key(data_path) + (config, split), lambda: read_dataset(str(data_path), config, split))


def prepared_data(data_path: str | Path, text_column: str | None = None, label_column: str | None = None,
                  val_data_path: str | Path | None = None, val_share: float = 0.2, seed: int = 42,
                  data_config: str | None = None, data_split: str | None = None) -> PreparedData:
    """core.data.load_training_data, cached. Callers must not modify the frames."""
    from core.data import load_training_data

    key = ("prepared",) + data_key(data_path, text_column, label_column, val_data_path, val_share, seed,
                                   data_config, data_split)
    return cached(key, lambda: load_training_data(data_path, text_column, label_column, val_data_path, val_share, seed,
                                                  data_config=data_config, data_split=data_split))


def _tokenizer_name(tokenizer: Any) -> str:
    return str(getattr(tokenizer, "name_or_path", "") or id(tokenizer))


def text_lengths(data: PreparedData, tokenizer: Any) -> list[int]:
    """Tokens per text of length_sample(training texts then validation texts), cached per prepared data and
    tokenizer: the report and the Data step's histogram share one tokenisation."""
    from core.data_report import length_sample, text_lengths as measure

    key = ("lengths", id(data), _tokenizer_name(tokenizer))
    texts = lambda: length_sample(list(data.train["text"]) + list(data.validation["text"]))  # noqa: E731
    return cached(key, lambda: (data, measure(texts(), tokenizer)))[1]


def data_report(data: PreparedData, tokenizer: Any, max_length: int | None, model_max_length: int) -> dict[str, Any]:
    """core.data.build_report, cached per prepared data (by identity), tokenizer and length settings."""
    from core.data import build_report

    key = ("report", id(data), _tokenizer_name(tokenizer), max_length, model_max_length)
    return cached(key, lambda: (data, build_report(data, tokenizer, max_length, model_max_length,
                                                   lengths=text_lengths(data, tokenizer))))[1]


def baseline(data: PreparedData) -> dict[str, Any]:
    """core.baseline.train_baseline on the prepared split, cached per prepared data (by identity)."""
    from core.baseline import train_baseline

    return cached(_baseline_key(data), lambda: (data, train_baseline(data.train, data.validation, data.labels)))[1]


def baseline_if_ready(data: PreparedData) -> dict[str, Any] | None:
    """The cached baseline, or None when it has not been fitted yet (never fits it)."""
    with _lock:
        entry = _cache.get(_baseline_key(data))
    return entry[1] if entry else None


def _baseline_key(data: PreparedData) -> tuple:
    return ("baseline", id(data))
