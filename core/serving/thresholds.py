"""Moving a finished run's decision threshold (multi-label: a label is predicted when its score reaches it).

The Evaluate step's slider rescores the validation predictions the run kept at another threshold (no model needed:
their per-label scores are in validation_predictions.csv), and its button saves the chosen threshold into the model:
model/config.json (what Predict, a predicted file, /predict, the card and pipeline() users read), labels.json, and
metrics.json and the validation predictions, rescored, so that every view of the run agrees.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import UserError
from core.serving.evaluation import Evaluation, load_evaluation
from core.serving.predict import neutralise_frame
from core.runs.rundir import RunDir, write_json

# The keys of metrics.json about thresholds tuned after training: no longer true once the user picks one.
TUNING_KEYS = ("tuning", "untuned")


def adjustable(ev: Evaluation) -> bool:
    """Whether the run's kind decides at a threshold a user can move."""
    return ev.kind.saved_threshold({}) is not None


def current_threshold(ev: Evaluation) -> Any:
    """The threshold the run decides at now (a number, or one per label), as its metrics say."""
    return ev.kind.saved_threshold({"threshold": ev.metrics.get("threshold")})


def checked_threshold(threshold: Any) -> float:
    try:
        value = float(threshold)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 < value < 1:
        raise UserError(f"The threshold must be a number between 0 and 1, not {threshold}.")
    return value


def _targets(ev: Evaluation) -> list[Any]:
    """The validation rows' targets, from data/validation.parquet (the labels exactly as trained on)."""
    path = RunDir(ev.run_dir).validation_data
    validation = pd.read_parquet(path) if path.exists() else None
    if validation is None or len(validation) != len(ev.predictions):
        raise UserError("This run's validation data is missing, so its scores cannot be recomputed.")
    return ev.kind.targets(validation["label"].astype(str).tolist(), ev.labels)


def at_threshold(ev: Evaluation, threshold: Any) -> Evaluation:
    """The evaluation as it would read if the model decided at `threshold` (one number for every label)."""
    if not adjustable(ev):
        return ev
    kind = ev.kind.at(checked_threshold(threshold))
    columns = [f"prob_{name}" for name in ev.labels]
    if not set(columns) <= set(ev.predictions.columns):
        raise UserError("This run's validation predictions have no per-label scores, so its threshold cannot move.")
    probs = ev.predictions[columns].to_numpy(dtype=np.float64)
    decided = kind.decisions(probs)
    predictions = ev.predictions.copy()
    predictions["predicted"], confidence = kind.predicted(probs, ev.labels)
    predictions["confidence"] = np.round(confidence, 6)
    for i, name in enumerate(ev.labels):
        if f"pred_{name}" in predictions.columns:
            predictions[f"pred_{name}"] = decided[:, i]
    metrics = {key: value for key, value in ev.metrics.items() if key not in TUNING_KEYS}
    metrics.update(kind.scores(_targets(ev), decided.tolist(), ev.labels))
    return dataclasses.replace(ev, metrics=metrics, predictions=predictions, kind=kind)


def save_threshold(run_dir: Path | str, threshold: Any) -> str:
    """Decide at `threshold` from now on: the model's config, labels.json, metrics.json and the validation
    predictions all rewritten. Returns the sentence that says so."""
    value = checked_threshold(threshold)
    ev = load_evaluation(run_dir)
    run = RunDir(run_dir)
    if not adjustable(ev):
        raise UserError("This run's model has no decision threshold: it predicts the most likely label.")
    if not run.has_model():
        raise UserError("This run has no saved model to keep the threshold in.")
    moved = at_threshold(ev, value)
    model_config = run.model_config()
    model_config.update(moved.kind.model_config())
    write_json(run.model_dir / "config.json", model_config)
    stored = run.stored_labels()
    if isinstance(stored, dict):
        run.write_json(RunDir.LABELS, {**stored, **moved.kind.labels_json(ev.labels)})
    run.write_json(RunDir.METRICS, moved.metrics)
    neutralise_frame(moved.predictions).to_csv(run.predictions_file, index=False)
    return (f"Saved: the model now predicts each label whose score reaches {value:g} (in the Predict step, for files, "
            "through the API and in the model card; pipeline() users read it as `threshold` in config.json).")
