"""A multi-label model's decision threshold: a label is predicted when its sigmoid score reaches it. One number for
every label, or one per label (tuned on validation after training, or chosen in the Evaluate step); kept in the
model's config.json, labels.json and metrics.json. Reading a stored one, saying it, and tuning per-label ones."""
from __future__ import annotations

from typing import Any

import numpy as np

THRESHOLD = 0.5  # a label is predicted when its sigmoid score reaches this; saved in the model's config
# Per-label thresholds after training (`tuned`): tried on this grid, kept only when they lift micro-F1 on rows they
# were not tuned on by more than a point, and never tuned on fewer validation rows than this (half of them each way).
THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)
MIN_TUNING_GAIN = 0.01
MIN_TUNING_ROWS = 50


def readable_threshold(value: Any, labels_count: int | None) -> float | list[float] | None:
    """A stored threshold as a number in (0, 1), or a list of them (one per label, `labels_count` of them when
    known); None when the value is none of these (a hand-edited config, a run from before thresholds)."""
    def number(x: Any) -> float | None:
        return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and 0 < float(x) < 1 else None

    if isinstance(value, (list, tuple)):
        numbers = [number(x) for x in value]
        if not numbers or None in numbers or (labels_count is not None and len(numbers) != labels_count):
            return None
        return numbers  # type: ignore[return-value]
    return number(value)


def threshold_words(threshold: float | list[float], labels: list[str]) -> str:
    """'at 0.5 or more', or for per-label thresholds 'at or above its own threshold (sports 0.35, politics 0.60)'."""
    if isinstance(threshold, (list, tuple)):
        return "at or above its own threshold (" + ", ".join(
            f"{name} {cut:.2f}" for name, cut in zip(labels, threshold)) + ")"
    return f"at {threshold:g} or more"


def best_thresholds(probabilities: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each label, the THRESHOLD_GRID value with the best F1 on these rows (of equals, the nearest to THRESHOLD);
    THRESHOLD for a label none of the rows holds."""
    out = np.full(probabilities.shape[1], THRESHOLD)
    for j in range(probabilities.shape[1]):
        holds = truth[:, j].astype(bool)
        if not holds.any():
            continue
        said = probabilities[:, j][None, :] >= THRESHOLD_GRID[:, None]  # grid x rows
        tp, fp, fn = (said & holds).sum(1), (said & ~holds).sum(1), (~said & holds).sum(1)
        f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
        best = THRESHOLD_GRID[f1 >= f1.max() - 1e-12]
        out[j] = best[np.argmin(np.abs(best - THRESHOLD))]
    return out


def tuning_words(tuning: dict[str, float]) -> str:
    """The sentence a run's last message and the Evaluate step say about thresholds tuned after training."""
    return (f"Per-label thresholds tuned on validation: micro-F1 {100 * tuning['before']:.1f} % -> "
            f"{100 * tuning['estimated']:.1f} % (measured on validation rows each threshold was not tuned on; the "
            "validation scores shown use thresholds tuned on all of them, so they are a little optimistic).")
