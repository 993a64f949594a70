"""Tokenise once, up front, with the fast tokenizer; padding happens per batch in the collator."""
from __future__ import annotations

from typing import Any

import pandas as pd
import torch


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
    from core.data_report import suggest_max_length

    texts = df["text"].astype(str).tolist()
    cap = min(max_length, model_limit) if max_length else model_limit
    encoded = tokenizer(texts, truncation=True, max_length=cap)
    if not max_length:
        cap = suggest_max_length([len(ids) for ids in encoded["input_ids"]], model_limit)
        too_long = [i for i, ids in enumerate(encoded["input_ids"]) if len(ids) > cap]
        if too_long:  # re-encode only those, so truncation keeps the closing special token
            again = tokenizer([texts[i] for i in too_long], truncation=True, max_length=cap)
            for key in encoded.keys():
                for j, i in enumerate(too_long):
                    encoded[key][i] = again[key][j]
    label_id = {name: i for i, name in enumerate(labels)}
    keys = list(encoded.keys())
    features = [
        {**{k: encoded[k][i] for k in keys}, "labels": label_id[label]}
        for i, label in enumerate(df["label"].astype(str).tolist())
    ]
    return EncodedDataset(features), cap
