"""Tokenised texts as an Arrow table, read row by row or batch by batch as the collator wants them.

Kept apart from core/engine/token_store.py (which makes these tables) so that the modules that only read them (the head's
warm start, the task kinds) depend on nothing else in core/.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

_NARROW = {"attention_mask": pa.int8(), "token_type_ids": pa.int8(), "special_tokens_mask": pa.int8()}


class EncodedDataset(torch.utils.data.Dataset):
    """Rows of an Arrow table as the collator wants them: {"input_ids": [...], "attention_mask": [...], "labels": 3}."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.lengths = np.asarray(pc.list_value_length(table["input_ids"]).to_numpy(), dtype=np.int64)
        self.label_ids = _targets(table["labels"])  # the task kind's targets

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> "EncodedDataset":
        return cls(table_of({key: [row[key] for row in rows] for key in rows[0] if key != "labels"},
                            [row["labels"] for row in rows]))

    def __len__(self) -> int:
        return self.table.num_rows

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.table.slice(int(index), 1).to_pylist()[0]

    def __getitems__(self, indices: Iterable[int]) -> list[dict[str, Any]]:
        """A batch in one Arrow call (torch's DataLoader asks for whole batches this way)."""
        return self.table.take(pa.array(list(indices), pa.int64())).to_pylist()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for batch in self.table.to_batches(max_chunksize=10_000):
            yield from batch.to_pylist()

    def select(self, indices: Iterable[int]) -> "EncodedDataset":
        return EncodedDataset(self.table.take(pa.array(list(indices), pa.int64())))


def _targets(column: pa.ChunkedArray) -> np.ndarray:
    """One target per row: a class id, or (a list column: multi-label) a row of a 2-D array."""
    if pa.types.is_list(column.type):
        values = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return values.reshape(len(column), -1) if len(column) else values.reshape(0, 0)
    return np.asarray(column.to_numpy(zero_copy_only=False))


def table_of(encoded: Any, targets: Any) -> pa.Table:
    """A tokenizer's output as a table: token columns narrowed; the targets as the task kind makes them (single-label: class ids, int64)."""
    columns = {key: pa.array(encoded[key], pa.list_(_NARROW.get(key, pa.int32()))) for key in encoded.keys()}
    return pa.table({**columns, "labels": pa.array(targets)})
