"""Tokenise once, up front, with the fast tokenizer; padding happens per batch in the collator."""
from __future__ import annotations

from typing import Any

import pandas as pd
import torch

from core import tasks


class EncodedDataset(torch.utils.data.Dataset):
    """Plain Python lists: the collator pads them per batch; no Arrow round-trips on every step."""

    def __init__(self, features: list[dict[str, list[int] | int]]) -> None:
        self.features = features

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.features[index]


def encode_split(
    tokenizer: Any, df: pd.DataFrame, labels: list[str], max_length: int, model_limit: int,
    kind: tasks.TaskKind = tasks.DEFAULT,
) -> tuple[EncodedDataset, int]:
    """Encode texts and labels; max_length 0 picks one that covers ~99% of these texts (never above the model's limit)."""
    (encoded,), cap = encode_splits(tokenizer, [df], labels, max_length, model_limit, kind)
    return encoded, cap


def encode_splits(
    tokenizer: Any, frames: list[pd.DataFrame], labels: list[str], max_length: int, model_limit: int,
    kind: tasks.TaskKind = tasks.DEFAULT,
) -> tuple[list[EncodedDataset], int]:
    """Encode several tables with one max length; 0 picks it from all their texts together (~99 % kept whole),
    the same texts the data report measures, so the length it suggests is the length training uses."""
    from core.data_report import suggest_max_length

    texts = [df["text"].astype(str).tolist() for df in frames]
    cap = min(max_length, model_limit) if max_length else model_limit
    encoded = [tokenizer(t, truncation=True, max_length=cap) for t in texts]
    if not max_length:
        cap = suggest_max_length([len(ids) for enc in encoded for ids in enc["input_ids"]], model_limit)
        for enc, frame_texts in zip(encoded, texts):
            _shorten(tokenizer, enc, frame_texts, cap)
    targets = [kind.targets(df["label"].astype(str).tolist(), labels) for df in frames]
    return [_features(enc, frame_targets) for enc, frame_targets in zip(encoded, targets)], cap


def _shorten(tokenizer: Any, encoded: Any, texts: list[str], cap: int) -> None:
    too_long = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) > cap]
    if too_long:  # re-encode only those, so truncation keeps the closing special token
        again = tokenizer([texts[i] for i in too_long], truncation=True, max_length=cap)
        for key in encoded.keys():
            for j, i in enumerate(too_long):
                encoded[key][i] = again[key][j]


def _features(encoded: Any, targets: list[Any]) -> EncodedDataset:
    keys = list(encoded.keys())
    return EncodedDataset([{**{k: encoded[k][i] for k in keys}, "labels": target} for i, target in enumerate(targets)])
