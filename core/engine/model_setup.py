"""The model a training job starts from: the base model loaded with a head for the run's kind of target, read
through the mean of its token states when the data is small (core/engine/mean_pooling.py), and on a CPU with the
attention kernel chosen per batch (core/engine/attention.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.engine.attention import choose_kernel_per_batch
from core.engine.mean_pooling import add_mean_pooling_layer
from core.models import trained_with_mean_pooling
from core.tasks import TaskKind


@dataclass
class StartingModel:
    model: Any
    tokenizer: Any
    new_parameters: list[str]  # the weights the base model did not have (the new head): the probe fits them
    mean_pooled: bool = False  # small data on a sentence encoder: the classifier reads the mean of the token states


def load_starting_model(source: str | Path, kind: TaskKind, labels: list[str], small_data: bool, cuda: bool,
                        fused_attention_long_batches: bool) -> StartingModel:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source)
    model, loading = AutoModelForSequenceClassification.from_pretrained(
        source, **kind.model_settings(labels), ignore_mismatched_sizes=True, output_loading_info=True,
    )
    for key, value in kind.model_config().items():  # kept in config.json: the app and pipeline() read the same
        setattr(model.config, key, value)
    # Small data reads a sentence-embedding model through the mean of its token states; a resumed run decides the
    # same way (the same training texts), so its checkpoint finds the layer it was saved with.
    mean_pooled = (small_data and trained_with_mean_pooling(source)
                   and add_mean_pooling_layer(model))
    if mean_pooled:
        print("Small data: the classifier reads the mean of the token states, as the base model was trained to.")
    if not cuda:
        choose_kernel_per_batch(model, fused_attention_long_batches)
    new = set(loading["missing_keys"]) | {k if isinstance(k, str) else k[0] for k in loading["mismatched_keys"]}
    return StartingModel(model, tokenizer, sorted(new), mean_pooled)
