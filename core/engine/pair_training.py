"""The pair-training phase for small data on a sentence-embedding base model (core/small_data.py decides when it may
run; `--no-pair-training` turns it off): SetFit's contrastive recipe (Tunstall et al. 2022) inside the same
AutoModelForSequenceClassification.

Pairs of texts make more training signal from the same few rows: K texts per label give ~K² pairs. The phase pulls
texts of the same label together and pushes the others apart in the very features the classification layer reads (its
input, captured by a hook: the pooler for BERT-like models), so the probe fitted afterwards (core/tasks/probe.py)
separates the labels, and the saved model is the plain transformers folder every other step loads. It runs only on
the mean-pooled features of a sentence encoder (core/engine/mean_pooling.py), which SetFit tunes too: a plain model's
[CLS] pooler features hardly gained from it (BENCHMARKS.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from core.small_data import PAIR_MAX_TOKENS, SmallDataPlan, plan_for

if TYPE_CHECKING:
    from core.encoded import EncodedDataset

PAIR_BATCH = 16  # pairs per step, SetFit's default


def sample_pairs(label_ids: Sequence[int], num_pairs: int, seed: int) -> np.ndarray:
    """Rows [i, j, same]: half the pairs share a label (drawn from labels with two or more texts), half do not;
    labels are drawn evenly, so a rare label is paired as often as a common one."""
    labels = np.asarray(label_ids)
    rng = np.random.default_rng(seed)
    groups = {label: np.flatnonzero(labels == label) for label in np.unique(labels)}
    pairable = [label for label, rows in groups.items() if len(rows) >= 2]
    names = list(groups)
    pairs = np.empty((num_pairs, 3), dtype=np.int64)
    for n in range(num_pairs):
        if n % 2 == 0 and pairable:
            i, j = rng.choice(groups[pairable[rng.integers(len(pairable))]], size=2, replace=False)
            pairs[n] = (i, j, 1)
        else:
            a, b = rng.choice(len(names), size=2, replace=False)
            pairs[n] = (rng.choice(groups[names[a]]), rng.choice(groups[names[b]]), 0)
    return pairs[rng.permutation(num_pairs)]


def contrastive_phase(model: Any, layer: Any, features: EncodedDataset, num_pairs: int, pad_token_id: int,
                      precision: str, seed: int, learning_rate: float,
                      progress: Callable[[int, int], None] | None = None) -> None:
    """Fine-tune the encoder so the output layer's inputs of two texts have cosine 1 when they share a label and 0
    otherwise (mean squared error, SetFit's CosineSimilarityLoss): AdamW at `learning_rate` (the job passes SetFit's
    2e-5), 10 % warm-up then linear decay. `progress(step, total)` is called after each step. The output layer itself
    is not touched."""
    import torch

    from core.batching import BucketPaddingCollator
    from core.tasks.probe import shortened

    pairs = sample_pairs(features.label_ids, num_pairs, seed)
    rows = [shortened(features[i], PAIR_MAX_TOKENS) for i in range(len(features))]
    for row in rows:
        row.pop("labels", None)
    collate = BucketPaddingCollator(pad_token_id, limit=max(len(r["input_ids"]) for r in rows))
    device = next(model.parameters()).device
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    trained = [p for name, p in model.named_parameters() if p.requires_grad and not _belongs_to(name, model, layer)]
    # The fused kernel (the Trainer's default optimizer too): the loop over the encoder's tensors took a fifth of a
    # step on 2 cores (the word embeddings alone are half the weights), the fused one a thirtieth (0.135 -> 0.023 s).
    optimizer = torch.optim.AdamW(trained, lr=learning_rate, fused=device.type in ("cpu", "cuda"))
    total = -(-num_pairs // PAIR_BATCH)
    warmup = max(1, total // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0]))
    torch.manual_seed(seed)
    was_training = model.training
    model.train()
    try:
        for step in range(total):
            chunk = pairs[step * PAIR_BATCH:(step + 1) * PAIR_BATCH]
            batch = collate([rows[i] for i in chunk[:, 0]] + [rows[j] for j in chunk[:, 1]])
            captured.clear()
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                model(**{key: value.to(device) for key, value in batch.items()})
            left, right = captured[0].float().chunk(2)
            cosine = torch.nn.functional.cosine_similarity(left, right)
            target = torch.from_numpy(chunk[:, 2]).to(device=device, dtype=cosine.dtype)
            loss = torch.nn.functional.mse_loss(cosine, target)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            if progress is not None:
                progress(step + 1, total)
    finally:
        hook.remove()
        model.train(was_training)


PAIR_STAGE = "Small data: training on {pairs:,} pairs of texts"


def phase_plan(model: Any, new_parameters: Sequence[str], train_set: EncodedDataset, labels: list[str],
               single_label: bool) -> SmallDataPlan:
    """Whether the phase runs on this training set (plan_for) and model (a new linear output layer to read the
    features it tunes), and on how many pairs. It reads no weights, so every process of a run decides it alike."""
    from core.tasks.probe import output_layer

    counts = np.bincount(train_set.label_ids, minlength=len(labels)).tolist() if single_label else []
    plan = plan_for(counts, single_label, warm_start_head=True)
    if plan.active and output_layer(model, new_parameters, len(labels)) is None:
        return SmallDataPlan(False)
    return plan


def pair_phase(model: Any, new_parameters: Sequence[str], train_set: EncodedDataset, labels: list[str],
               plan: SmallDataPlan, pad_token_id: int, precision: str, seed: int, learning_rate: float,
               status: Callable[[str], None], check_stop: Callable[[], None]) -> None:
    """The training job's phase before the head's warm start, as `plan` (phase_plan's) says: the contrastive phase
    on its pairs, with a `status` message at its start and then at most one a second ("...: step 40 of 125"), so the
    live view shows its own progress. `check_stop` is called after every step and raises to end the run."""
    import time

    from core.tasks.probe import output_layer

    if not plan.active:
        return
    layer = output_layer(model, new_parameters, len(labels))
    stage = PAIR_STAGE.format(pairs=plan.num_pairs)
    status(stage)
    last = [time.monotonic()]

    def report(step: int, total: int) -> None:
        check_stop()
        now = time.monotonic()
        if step < total and now - last[0] >= 1.0:
            last[0] = now
            status(f"{stage}: step {step:,} of {total:,}")

    contrastive_phase(model, layer, train_set, plan.num_pairs, pad_token_id, precision, seed, learning_rate, report)


def _belongs_to(name: str, model: Any, layer: Any) -> bool:
    modules = dict(model.named_modules())
    owner = name.rsplit(".", 1)[0]
    return modules.get(owner) is layer
