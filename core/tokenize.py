"""Tokenise once, up front, with the fast tokenizer; padding happens per batch in the collator."""
from __future__ import annotations

from typing import Any, Callable

import pandas as pd
import torch

# Texts per tokenizer call. One call over a million texts runs for about a minute in Rust and nothing can stop it;
# between chunks a Stop is seen, so it waits at most one chunk (~2 s of short texts on 2 busy cores). Measured on
# 160,000 short texts: one call 6.9 s, chunks of 50,000 within noise of it.
CHUNK_TEXTS = 50_000


class EncodedDataset(torch.utils.data.Dataset):
    """Plain Python lists: the collator pads them per batch; no Arrow round-trips on every step."""

    def __init__(self, features: list[dict[str, list[int] | int]]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


def encode_split(
    tokenizer: Any, df: pd.DataFrame, labels: list[str], max_length: int, model_limit: int
) -> tuple[EncodedDataset, int]:
    """Encode texts and labels; max_length 0 picks one that covers ~99% of these texts (never above the model's limit)."""
    (encoded,), cap = encode_splits(tokenizer, [df], labels, max_length, model_limit)
    return encoded, cap


def encode_splits(
    tokenizer: Any, frames: list[pd.DataFrame], labels: list[str], max_length: int, model_limit: int,
    between_chunks: Callable[[], None] = lambda: None,
) -> tuple[list[EncodedDataset], int]:
    """Encode several tables with one max length; 0 picks it from all their texts together (~99 % kept whole),
    the same texts the data report measures, so the length it suggests is the length training uses.
    `between_chunks` runs after every CHUNK_TEXTS texts; it raises to abandon the work (a Stop)."""
    from core.data_report import suggest_max_length

    texts = [df["text"].astype(str).tolist() for df in frames]
    cap = min(max_length, model_limit) if max_length else model_limit
    encoded = [_encode_in_chunks(tokenizer, t, cap, between_chunks) for t in texts]
    if not max_length:
        cap = suggest_max_length([len(ids) for enc in encoded for ids in enc["input_ids"]], model_limit)
        for enc, frame_texts in zip(encoded, texts):
            _shorten(tokenizer, enc, frame_texts, cap)
    label_id = {name: i for i, name in enumerate(labels)}
    return [_features(enc, df, label_id) for enc, df in zip(encoded, frames)], cap


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


def _features(encoded: Any, df: pd.DataFrame, label_id: dict[str, int]) -> EncodedDataset:
    keys = list(encoded.keys())
    return EncodedDataset([
        {**{k: encoded[k][i] for k in keys}, "labels": label_id[label]}
        for i, label in enumerate(df["label"].astype(str).tolist())
    ])
