"""The files a finished run leaves behind: metrics.json, validation_predictions.csv and model/ (core/engine/job.py)."""
from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import pandas as pd

from core.runs.rundir import RunDir
from core.tasks import TaskKind


def write_final_metrics(run: RunDir, trainer: Any, val_set: Any, val_order: np.ndarray, val_df: pd.DataFrame,
                        kind: TaskKind, labels: list[str], final_step: int, logits: np.ndarray | None,
                        best_step: int | None) -> None:
    """metrics.json and the validation predictions table (in the data's original order), from the final model's
    evaluation when training kept it (the best or the last one), else from a fresh prediction."""
    from core.serving.predict import neutralise_frame

    loss = eval_loss(trainer, final_step)
    if logits is None or loss is None:
        output = trainer.predict(val_set)
        logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
        loss = output.metrics.get("test_loss")
    # val_set is val_df sorted by val_order: put each row's logits back at its place in the validation file.
    unsorted = np.empty((len(val_order), np.shape(logits)[1]), dtype=np.float64)
    unsorted[val_order] = np.asarray(logits, dtype=np.float64)
    logits = unsorted
    probs = kind.probabilities(logits)
    predicted, confidence = kind.predicted(probs, labels)
    targets = kind.targets(val_df["label"].astype(str).tolist(), labels)
    decided = kind.decisions(probs)
    metrics = kind.scores(targets, decided.tolist(), labels)
    metrics["loss"] = loss
    metrics["best_step"] = best_step
    run.write_json(RunDir.METRICS, metrics)
    table = pd.DataFrame({
        "text": val_df["text"].to_numpy(), "label": kind.written(val_df["label"]).to_numpy(),
        "predicted": predicted, "confidence": np.round(confidence, 6),
    })
    for i, name in enumerate(labels):
        if decided.ndim == 2:  # a decision per label (multi-label), as in a predicted file
            table[f"pred_{name}"] = decided[:, i]
        table[f"prob_{name}"] = probs[:, i].round(6)
    # The CSV is a download, opened in spreadsheets: formula-like cells are neutralised as in predicted files. The
    # Evaluate tab shows the texts and labels as written, from data/validation.parquet (core/serving/evaluation.py).
    if run.writes:
        neutralise_frame(table).to_csv(run.predictions_file, index=False)


def eval_loss(trainer: Any, step: int) -> float | None:
    found = [h["eval_loss"] for h in trainer.state.log_history if h.get("step") == step and "eval_loss" in h]
    return found[-1] if found else None


def save_model_atomically(run: RunDir, trainer: Any, tokenizer: Any) -> None:
    """Write into a temporary folder, then rename: a crash never leaves a half-written model/."""
    if not run.writes:
        return
    final, tmp = run.model_dir, run.model_tmp_dir
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        trainer.save_model(str(tmp))
        tokenizer.save_pretrained(str(tmp))
    except BaseException:  # a full disk: the half-written folder would only take more space
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if final.exists():
        old = run.model_old_dir
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def write_test_metrics(run: RunDir, trainer: Any, tokenizer: Any, kind: TaskKind, labels: list[str],
                       max_length: int) -> dict | None:
    """A dataset's own test split, scored once with the final model and kept apart from validation
    (test_metrics.json); None when the run has no test split. Test rows whose label the model never saw are left
    out (the model cannot predict them) and counted."""
    from core.engine.token_store import encode_splits

    path = run.test_data
    if not path.exists():
        return None
    test_df = pd.read_parquet(path)
    known = kind.known(test_df["label"].astype(str), labels)
    test_df = test_df[known].reset_index(drop=True)
    if test_df.empty:
        return None
    (test_set,), _ = encode_splits(tokenizer, [test_df], labels, max_length, max_length, kind=kind)
    output = trainer.predict(test_set, metric_key_prefix="test")
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    decisions = kind.decisions(kind.probabilities(np.asarray(logits)))
    metrics = kind.scores(test_set.label_ids.tolist(), decisions.tolist(), labels)
    metrics.update(loss=output.metrics.get("test_loss"), rows=len(test_df), unknown_label_rows=int((~known).sum()))
    run.write_json(RunDir.TEST_METRICS, metrics)
    return metrics
