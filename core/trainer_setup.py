"""The Hugging Face Trainer as the engine uses it: the collator, the class-weighted loss, evaluation in dataset order
with the best weights captured (core/checkpoints.py), and early stopping."""
from __future__ import annotations

from typing import Any

import pandas as pd


def collator(tokenizer: Any, max_length: int, cuda: bool, lean_gpu: bool) -> Any:
    """CPU: pad to each batch's longest text (compute is the bottleneck). GPU: pad to a few bucket lengths."""
    from transformers import DataCollatorWithPadding

    from core.batching import BucketPaddingCollator

    if lean_gpu:
        return BucketPaddingCollator(tokenizer.pad_token_id or 0, max_length)
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if cuda else None)


def class_weight_values(counts: list[int]) -> list[float]:
    """Inverse-frequency weights normalised to average 1 over the classes present, so the learning rate keeps its
    meaning and balanced data gets exactly 1 everywhere. A class absent from training gets 0."""
    present = [c for c in counts if c > 0]
    raw = [sum(present) / (len(present) * c) if c > 0 else 0.0 for c in counts]
    mean = sum(w for w in raw if w > 0) / len(present)
    return [w / mean for w in raw]


def weighted_loss(train_df: pd.DataFrame, labels: list[str]) -> Any:
    import torch

    counts = train_df["label"].value_counts().reindex(labels, fill_value=0).astype(int).tolist()
    weight_tensor = torch.tensor(class_weight_values(counts), dtype=torch.float32)

    def loss(outputs: Any, target: Any, num_items_in_batch: Any = None) -> Any:
        nonlocal weight_tensor
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
        if weight_tensor.device != logits.device:  # moved once: a copy per step makes the GPU wait every step
            weight_tensor = weight_tensor.to(logits.device)
        return torch.nn.functional.cross_entropy(logits.float(), target, weight=weight_tensor)

    return loss


def early_stopping(patience: int) -> Any:
    from transformers import EarlyStoppingCallback

    class EarlyStopping(EarlyStoppingCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            pass  # its warning that the best model will not be loaded: core/checkpoints.py puts the best weights back

    return EarlyStopping(early_stopping_patience=patience)


def engine_trainer(best: Any) -> type:
    """The Trainer, evaluating in dataset order (transformers 5 length-groups evaluation batches by default), and
    copying the weights of each new best evaluation into `best` (a core.checkpoints.BestWeights)."""
    import torch
    from transformers import Trainer

    class EngineTrainer(Trainer):
        def _get_eval_sampler(self, eval_dataset: Any) -> Any:
            return torch.utils.data.SequentialSampler(eval_dataset)

        def _get_train_sampler(self, train_dataset: Any = None) -> Any:
            """Length-grouped batches from the lengths the tokenised data already holds: the Trainer would otherwise
            read every row back to measure it (a million rows: a long wait before the first step)."""
            from transformers.trainer_pt_utils import LengthGroupedSampler

            dataset = self.train_dataset if train_dataset is None else train_dataset
            lengths = getattr(dataset, "lengths", None)
            if self.args.train_sampling_strategy != "group_by_length" or lengths is None:
                return super()._get_train_sampler(train_dataset)
            return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                        lengths=lengths.tolist())

        def _determine_best_metric(self, metrics: dict[str, float], trial: Any) -> bool:
            is_new_best = super()._determine_best_metric(metrics, trial)
            if is_new_best:
                best.capture(self.model, self.state.global_step)
            return is_new_best

    return EngineTrainer
