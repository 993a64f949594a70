"""Batches for the GPU: few distinct tensor shapes, and padding done with one array copy instead of per-token Python.

On a GPU the model step is so fast that the data path and per-shape warm-up decide the speed: every new
(batch, length) shape costs fresh allocator blocks and kernel choices, and the stock collator pads in Python.
Rounding each batch's length up to one of ~16 bucket lengths bounds the shapes a whole run sees.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

# Steps between bucket lengths: fine where texts are short (padding is relatively costly), coarse where long.
_BUCKET_STEPS = ((128, 16), (256, 32), (512, 64))
_LONG_STEP = 128


def bucket_length(length: int, limit: int | None = None) -> int:
    """The padded length for a batch whose longest text has `length` tokens (never above `limit`)."""
    bucket = None
    for upper, step in _BUCKET_STEPS:
        if length <= upper:
            bucket = -(-length // step) * step
            break
    if bucket is None:
        bucket = -(-length // _LONG_STEP) * _LONG_STEP
    bucket = max(bucket, _BUCKET_STEPS[0][1])
    return min(bucket, limit) if limit else bucket


CPU_BATCH_SIZE = 32
GPU_TOKENS_PER_STEP = 16384  # the average padded tokens per step a GPU batch aims at
BASE_MODEL_PARAMETERS = 120_000_000  # the token limits below were sized for models up to bert-base
# Bigger batches never leave fewer steps than this. Fewer steps cost accuracy: the default model on all of R8 lost
# 0.4 points at 58 steps per epoch (batch 96) and kept it at 115 (batch 48) (BENCHMARKS.md, GPU: Accuracy).
MIN_STEPS_PER_EPOCH = 100


def auto_batch_size(lengths: list[int], cuda: bool, gpu_memory_bytes: int = 0, num_parameters: int = 0) -> int:
    """32 on a CPU (compute-bound: bigger batches gain nothing). On a GPU a step of 32 short texts leaves the chip
    idle while Python launches kernels, so the batch grows until a step holds ~16k tokens, within three limits:
    at least MIN_STEPS_PER_EPOCH steps per epoch, at most 256 texts, and a batch of the longest texts must fit
    (64k tokens on a 40 GB+ card, 16k on smaller ones, for a bert-base-sized model; proportionally fewer for
    bigger models: bert-base took 25 GiB at 64k tokens on an H100)."""
    if not cuda or not lengths:
        return CPU_BATCH_SIZE
    mean = sum(bucket_length(n) for n in lengths) / len(lengths)
    longest_allowed = 65536 if gpu_memory_bytes >= 40 * 2**30 else 16384
    if num_parameters > BASE_MODEL_PARAMETERS:
        longest_allowed = int(longest_allowed * BASE_MODEL_PARAMETERS / num_parameters)
    rows = min(int(GPU_TOKENS_PER_STEP // mean), longest_allowed // bucket_length(max(lengths)), 256,
               len(lengths) // MIN_STEPS_PER_EPOCH)
    return max(CPU_BATCH_SIZE, rows // 8 * 8)


def batch_per_process(configured: int, processes: int, lengths: Any, cuda: bool, gpu_memory_bytes: int = 0,
                      num_parameters: int = 0) -> int:
    """Texts per step on each of a job's processes. A batch size the user set, and the CPU's, is the whole step's,
    split between the processes: a run's steps, schedule and results then mean the same on 1 or N processes, and a
    resume on another number continues the same schedule. A GPU's own batch is sized from its share of the texts, so
    the whole step still leaves >= MIN_STEPS_PER_EPOCH steps an epoch."""
    if configured or not cuda:
        return max(1, math.ceil((configured or CPU_BATCH_SIZE) / max(1, processes)))
    return auto_batch_size(list(lengths[::processes]), cuda, gpu_memory_bytes, num_parameters)


class BucketPaddingCollator:
    """Collates pre-tokenised features into padded tensors of a bucket length; labels as int64 class ids or float
    multi-hot rows."""

    def __init__(self, pad_token_id: int, limit: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.limit = limit

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        lengths = [len(f["input_ids"]) for f in features]
        width = bucket_length(max(lengths), self.limit)
        rows = len(features)
        batch: dict[str, torch.Tensor] = {}
        for key in features[0]:
            if key == "labels":
                targets = [f["labels"] for f in features]  # class ids, or multi-hot rows (multi-label: BCE's floats)
                dtype = torch.float32 if isinstance(targets[0], list) else torch.long
                batch["labels"] = torch.tensor(targets, dtype=dtype)
                continue
            fill = self.pad_token_id if key == "input_ids" else 0
            array = np.full((rows, width), fill, dtype=np.int64)
            for i, feature in enumerate(features):
                values = feature[key]
                array[i, : len(values)] = values
            batch[key] = torch.from_numpy(array)
        return batch
