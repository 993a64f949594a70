"""The Hugging Face Trainer as the engine uses it: the collator, evaluation in dataset order with the best
weights captured (core/engine/checkpoints.py), and early stopping. The loss is the task kind's (core/tasks/)."""
from __future__ import annotations

from typing import Any


def collator(tokenizer: Any, max_length: int, cuda: bool, lean_gpu: bool) -> Any:
    """CPU: pad to each batch's longest text (compute is the bottleneck). GPU: pad to a few bucket lengths."""
    from transformers import DataCollatorWithPadding

    from core.batching import BucketPaddingCollator

    if lean_gpu:
        return BucketPaddingCollator(tokenizer.pad_token_id or 0, max_length)
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if cuda else None)


def early_stopping(patience: int) -> Any:
    from transformers import EarlyStoppingCallback

    class EarlyStopping(EarlyStoppingCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            pass  # its warning that the best model will not be loaded: core/engine/checkpoints.py puts the best weights back

    return EarlyStopping(early_stopping_patience=patience)


def engine_trainer(best: Any) -> type:
    """The Trainer, evaluating in dataset order (transformers 5 length-groups evaluation batches by default), and
    copying the weights of each new best evaluation into `best` (a core.engine.checkpoints.BestWeights)."""
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
