"""Start the new classification head from a linear probe instead of random weights.

A pretrained encoder already separates most classes; a randomly initialised head does not know where, and with few
optimizer steps (small data, or many classes sharing them) it never finds out: on 1,000 Reuters texts in 52 topics
the model ended with a median confidence of 3 %. Fitting a logistic regression on the frozen encoder's features first
(the "linear probe, then fine-tune" recipe, Kumar et al. 2022) gives the head a sensible start for one forward pass
over (a sample of) the training texts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from core.encoded import EncodedDataset

PROBE_ROWS = 2000  # enough to place 50 classes; larger training sets are sampled (stratified) to keep it cheap
# Longer texts are cut to this many tokens for the probe (the first ones and the closing special token): the head
# only needs a sensible start. On long-text corpora it halved the probe (20 Newsgroups posts 14.3 -> 8.0 s, book
# excerpts 5.3 -> 1.9 s) with the same accuracy after fine-tuning (BENCHMARKS.md).
PROBE_MAX_TOKENS = 256
PROBE_BATCH = 64
# The logistic regression runs on features centred and scaled to unit average spread, so its regularisation means the
# same for every model whatever its feature scale. C = 0.04 ** 2 reproduces C = 1 on all-MiniLM-L6-v2's raw features
# (average spread ~0.04), the setting validated on eight corpora (BENCHMARKS.md); a larger C made the head near-certain
# before fine-tuning (median confidence 0.8-0.99) with no better accuracy.
PROBE_C = 0.04 ** 2


def output_layer(model: Any, new_parameter_names: Sequence[str], num_labels: int) -> Any | None:
    """The newly initialised linear layer that produces the logits, or None when the head has another shape."""
    import torch

    modules = dict(model.named_modules())
    for name in new_parameter_names:
        if not name.endswith(".weight"):
            continue
        module = modules.get(name[: -len(".weight")])
        if isinstance(module, torch.nn.Linear) and module.out_features == num_labels:
            return module
    return None


def probe_sample(labels: Sequence[int], limit: int, seed: int) -> np.ndarray:
    """Row indices: all rows up to `limit`, else a stratified sample of about `limit` that keeps every class."""
    labels = np.asarray(labels)
    if len(labels) <= limit:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        take = max(1, round(len(rows) * limit / len(labels)))
        chosen.append(rng.choice(rows, size=min(take, len(rows)), replace=False))
    return np.sort(np.concatenate(chosen))


def shortened(feature: dict[str, Any], limit: int) -> dict[str, Any]:
    """The feature cut to `limit` tokens, keeping its last one (the closing special token: [SEP], </s>)."""
    if len(feature["input_ids"]) <= limit:
        return feature
    return {key: value[: limit - 1] + value[-1:] if isinstance(value, list) else value for key, value in feature.items()}


def head_features(model: Any, layer: Any, features: Sequence[dict[str, Any]], pad_token_id: int,
                  precision: str, progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """The output layer's inputs for each text, from the model in eval mode (no dropout), longest texts first.
    `progress(done, total)` is called after each batch."""
    import torch

    from core.batching import BucketPaddingCollator  # torch, as above

    # Never padded past the longest text: a bucket above the model's position limit would not fit.
    collate = BucketPaddingCollator(pad_token_id, limit=max(len(f["input_ids"]) for f in features))
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda module, inputs, output: captured.append(inputs[0].detach().float()))
    order = np.argsort([-len(f["input_ids"]) for f in features], kind="stable")
    device = next(model.parameters()).device
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            for start in range(0, len(order), PROBE_BATCH):
                batch = collate([features[i] for i in order[start:start + PROBE_BATCH]])
                batch.pop("labels", None)
                model(**{key: value.to(device) for key, value in batch.items()})
                if progress is not None:
                    progress(min(start + PROBE_BATCH, len(order)), len(order))
    finally:
        hook.remove()
        model.train(was_training)
    stacked = torch.cat(captured).cpu().numpy()
    result = np.empty_like(stacked)
    result[order] = stacked
    return result


def fit_probe(x: np.ndarray, y: np.ndarray, num_labels: int, balanced: bool) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on the features; returns (weight [num_labels, dim], bias [num_labels]).
    Classes absent from the sample keep zero weight and a low bias, as training would leave them."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    present = np.unique(y)
    weight = np.zeros((num_labels, x.shape[1]), dtype=np.float32)
    bias = np.full(num_labels, -10.0, dtype=np.float32)
    if len(present) < 2:
        bias[present] = 0.0
        return weight, bias
    centre = x.mean(axis=0)
    spread = float(x.std(axis=0).mean()) or 1.0
    model = LogisticRegression(C=PROBE_C, max_iter=1000, class_weight="balanced" if balanced else None)
    # One BLAS thread: the solver makes thousands of small matrix products, and waking a pool of threads for each
    # (which sleep between calls: core/engine/job.py's OpenMP policy) made the fit 10x slower on 2 cores (1.3 vs 0.15 s
    # for 2,000 bert-base features) and took ~6 s on a 16-core GPU machine.
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit((x - centre) / spread, y)
    coef = model.coef_ / spread  # back to the raw features the layer sees: w.x + b == w_z.z + b_z
    intercept = model.intercept_ - coef @ centre
    if len(present) == 2:  # sklearn keeps one row for two classes: split it symmetrically
        coef = np.vstack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weight[model.classes_] = coef
    bias[model.classes_] = intercept
    return weight, bias


def init_head_from_probe(model: Any, new_parameter_names: Sequence[str], features: EncodedDataset,
                         num_labels: int, pad_token_id: int, precision: str, balanced: bool, seed: int,
                         progress: Callable[[int, int], None] | None = None) -> bool:
    """Fit the probe and copy it into the output layer; False (head left as is) when the head is not a plain
    linear layer over features. `progress(done, total)` follows the forward pass over the texts."""
    layer = output_layer(model, new_parameter_names, num_labels)
    if layer is None:
        return False
    labels = features.label_ids
    rows = probe_sample(labels, PROBE_ROWS, seed)
    x = rows_features(model, layer, features, rows, pad_token_id, precision, progress)
    set_head(layer, *fit_probe(x, labels[rows], num_labels, balanced))
    return True


def random_rows(n: int, seed: int) -> np.ndarray:
    """The rows a probe reads when their labels cannot be stratified (lists of labels, numbers): all n, or a sorted
    random PROBE_ROWS of them."""
    rows = np.arange(n)
    if n > PROBE_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, PROBE_ROWS, replace=False))
    return rows


def rows_features(model: Any, layer: Any, features: EncodedDataset, rows: np.ndarray, pad_token_id: int,
                  precision: str, progress: Callable[[int, int], None] | None) -> np.ndarray:
    """The frozen features the output layer sees for these rows, each text cut to PROBE_MAX_TOKENS."""
    return head_features(model, layer, [shortened(features[i], PROBE_MAX_TOKENS) for i in rows], pad_token_id,
                         precision, progress)


def set_head(layer: Any, weight: np.ndarray, bias: np.ndarray) -> None:
    """The fitted probe copied into the output layer."""
    import torch

    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight))
        if layer.bias is not None:
            layer.bias.copy_(torch.from_numpy(bias))
