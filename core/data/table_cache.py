"""The in-process memo behind the Data step and Start: a result computed once per key (least recently used entries
are dropped), keys made from a file's version, and a Hub dataset's tables read once.

Keys include each file's size and modification time: an edited file is read again.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, TypeVar

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


def peek(key: tuple) -> Any | None:
    """The value cached for key, or None; never computes it."""
    with _lock:
        return _cache.get(key)


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


def dataset_tables(data_path: str, data_config: str | None = None, data_split: str | None = None) -> Any:
    """core.data.hub_datasets.read_dataset, cached: the Data step's preview and the prepared data read a dataset once."""
    from core.data.hub_datasets import read_dataset, resolve

    resolve(str(data_path))  # before the cache: what a shared server refuses is refused every time
    config, split = (data_config or "").strip(), (data_split or "").strip()
    return cached(("dataset",) + file_key(data_path) + (config, split), lambda: read_dataset(str(data_path), config, split))
