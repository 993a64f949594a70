"""Tokenise once, up front, with the fast tokenizer, into Arrow tables; padding happens per batch in the collator.

Arrow columns (int32 token ids, int8 masks; core/encoded.py) instead of Python lists of ints: the tokenised
1,000,000 short texts of `bench.data_scale` held 2.03 GiB as lists and 0.41 GiB as columns (peak 3.00 -> 1.60 GiB,
the data check's own). A training run keeps its tables in a cache next to the runs (keyed by the texts, labels,
tokenizer and length settings) and maps them from disk: a second run or a resume on the same data skips tokenising.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pyarrow as pa

from core import tasks
from core.encoded import EncodedDataset, table_of

# Texts per tokenizer call. One call over a million texts runs for about a minute in Rust and nothing can stop it;
# between chunks a Stop is seen, so it waits at most one chunk (~2 s of short texts on 2 busy cores). Measured on
# 160,000 short texts: one call 6.9 s, chunks of 50,000 within noise of it.
CHUNK_TEXTS = 50_000
STORE_FOLDER = ".tokens"  # in the runs folder: hidden, so it is never listed as a run
STORE_ENTRIES = 4  # tokenised data sets kept; the least recently used goes first
_STORE_FORMAT = 1  # part of every key: a change of layout never reads an old entry

def encode_split(
    tokenizer: Any, df: pd.DataFrame, labels: list[str], max_length: int, model_limit: int,
    kind: tasks.TaskKind = tasks.DEFAULT,
) -> tuple[EncodedDataset, int]:
    """Encode texts and labels; max_length 0 picks one that covers ~99% of these texts (never above the model's limit)."""
    (encoded,), cap = encode_splits(tokenizer, [df], labels, max_length, model_limit, kind=kind)
    return encoded, cap


def encode_splits(
    tokenizer: Any, frames: list[pd.DataFrame], labels: list[str], max_length: int, model_limit: int,
    between_chunks: Callable[[], None] = lambda: None, store: Path | None = None,
    kind: tasks.TaskKind = tasks.DEFAULT,
) -> tuple[list[EncodedDataset], int]:
    """Encode several tables with one max length; 0 picks it from all their texts together (~99 % kept whole),
    the same texts the data report measures (a sample of them past data_report.LENGTH_SAMPLE), so the length it
    suggests is the length training uses. `between_chunks` runs after every CHUNK_TEXTS texts; it raises to abandon
    the work (a Stop). `store`: a cache folder to reuse and keep the result in (memory-mapped from there)."""
    key = _store_key(tokenizer, frames, labels, max_length, model_limit, kind) if store is not None else None
    if key is not None:
        found = _load(store / key, len(frames))
        if found is not None:
            return found
    texts = [df["text"].astype(str).tolist() for df in frames]
    ids = [kind.targets(df["label"].astype(str).tolist(), labels) for df in frames]
    cap = min(max_length, model_limit) if max_length else model_limit
    if max_length:
        tables = [_encode_table(tokenizer, t, y, cap, between_chunks) for t, y in zip(texts, ids)]
    else:
        tables, cap = _encode_choosing_length(tokenizer, texts, ids, model_limit, between_chunks)
    if key is not None:
        saved = _save(store, key, tables, cap)
        if saved is not None:
            return saved
    return [EncodedDataset(t) for t in tables], cap


def _encode_choosing_length(tokenizer: Any, texts: list[list[str]], ids: list[list[Any]], model_limit: int,
                            between_chunks: Callable[[], None]) -> tuple[list[pa.Table], int]:
    from core.data.report import length_sample, suggest_max_length, text_lengths

    every = [t for frame_texts in texts for t in frame_texts]
    sample = length_sample(every)
    if len(sample) < len(every):  # big data: the report's sample decides, then one pass at that length
        cap = suggest_max_length(text_lengths(sample, tokenizer), model_limit)
        return [_encode_table(tokenizer, t, y, cap, between_chunks) for t, y in zip(texts, ids)], cap
    encoded = [_encode_in_chunks(tokenizer, t, model_limit, between_chunks) for t in texts]
    cap = suggest_max_length([len(x) for enc in encoded for x in enc["input_ids"]], model_limit)
    for enc, frame_texts in zip(encoded, texts):
        _shorten(tokenizer, enc, frame_texts, cap)
    return [table_of(enc, y) for enc, y in zip(encoded, ids)], cap


def _encode_table(tokenizer: Any, texts: list[str], targets: list[Any], cap: int,
                  between_chunks: Callable[[], None]) -> pa.Table:
    """Chunk by chunk, so only one chunk's Python lists exist at a time."""
    parts = []
    for start in range(0, max(len(texts), 1), CHUNK_TEXTS):
        if start:
            between_chunks()
        encoded = tokenizer(texts[start:start + CHUNK_TEXTS], truncation=True, max_length=cap)
        parts.append(table_of(encoded, targets[start:start + CHUNK_TEXTS]))
    return pa.concat_tables(parts).combine_chunks()


def _encode_in_chunks(tokenizer: Any, texts: list[str], cap: int, between_chunks: Callable[[], None]) -> Any:
    encoded = tokenizer(texts[:CHUNK_TEXTS], truncation=True, max_length=cap)
    for start in range(CHUNK_TEXTS, len(texts), CHUNK_TEXTS):
        between_chunks()
        more = tokenizer(texts[start:start + CHUNK_TEXTS], truncation=True, max_length=cap)
        for key in encoded.keys():
            encoded[key].extend(more[key])
    return encoded


def _shorten(tokenizer: Any, encoded: Any, texts: list[str], cap: int) -> None:
    too_long = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) > cap]
    if too_long:  # re-encode only those, so truncation keeps the closing special token
        again = tokenizer([texts[i] for i in too_long], truncation=True, max_length=cap)
        for key in encoded.keys():
            for j, i in enumerate(too_long):
                encoded[key][i] = again[key][j]


def _store_key(tokenizer: Any, frames: list[pd.DataFrame], labels: list[str], max_length: int,
               model_limit: int, kind: tasks.TaskKind) -> str | None:
    """What the tokenised tables depend on: the texts and labels, the tokenizer's whole definition and the length
    settings. None (no caching) for a tokenizer without a serialisable definition (a slow, Python one)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    digest = hashlib.sha256(json.dumps([_STORE_FORMAT, kind.name, labels, max_length, model_limit, CHUNK_TEXTS]).encode())
    definition = json.loads(backend.to_str())
    for setting in ("truncation", "padding"):  # the last call's settings, not the tokenizer's definition
        definition.pop(setting, None)
    digest.update(json.dumps(definition, sort_keys=True).encode())
    for df in frames:
        digest.update(str(len(df)).encode())
        digest.update(pd.util.hash_pandas_object(df[["text", "label"]].astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()[:32]


def _load(entry: Path, splits: int, reused: bool = True) -> tuple[list[EncodedDataset], int] | None:
    try:
        cap = int(json.loads((entry / "meta.json").read_text())["max_length"])
        tables = [pa.ipc.open_file(pa.memory_map(str(entry / f"split{i}.arrow"))).read_all() for i in range(splits)]
        os.utime(entry)  # recently used: evicted last
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None
    if reused:
        print(f"Tokenised data reused from an earlier run on the same data ({sum(t.num_rows for t in tables):,} "
              "texts).")
    return [EncodedDataset(t) for t in tables], cap


def _save(store: Path, key: str, tables: list[pa.Table], cap: int) -> tuple[list[EncodedDataset], int] | None:
    """Write the entry aside and rename it into place, then map it from disk; None when it cannot be kept (a full
    disk, a read-only folder): training goes on with the tables in memory."""
    from core.runs.rundir import DIR_MODE, write_text

    work = store / f".{key}.{os.getpid()}.tmp"
    try:
        store.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        os.chmod(store, DIR_MODE)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=DIR_MODE)
        for i, table in enumerate(tables):
            fd = os.open(work / f"split{i}.arrow", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        write_text(work / "meta.json", json.dumps({"max_length": cap}))
        try:
            os.rename(work, store / key)
        except OSError:  # another run stored the same data meanwhile: use theirs
            shutil.rmtree(work, ignore_errors=True)
        _evict(store)
    except OSError as exc:
        shutil.rmtree(work, ignore_errors=True)
        print(f"Tokenised data not kept for later runs: {exc.strerror or exc}.")
        return None
    return _load(store / key, len(tables), reused=False)


def _evict(store: Path) -> None:
    entries = sorted((p for p in store.iterdir() if p.is_dir() and not p.name.startswith(".")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[STORE_ENTRIES:]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in store.glob(".*.tmp"):  # left by a run killed while writing, over an hour ago
        if time.time() - stale.stat().st_mtime > 3600:
            shutil.rmtree(stale, ignore_errors=True)
