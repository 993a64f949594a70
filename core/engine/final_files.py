"""The files a finished run leaves behind: metrics.json, validation_predictions.csv and model/ (core/engine/job.py)."""
from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np
import pandas as pd

from core.config import TrainConfig
from core.runs.rundir import RunDir
from core.serving.predict import neutralise_frame
from core.small_data import selects_on_validation, tiny_validation_note
from core.tasks import TaskKind
from core.tasks.threshold import tuning_words


def write_final_metrics(run: RunDir, trainer: Any, val_set: Any, val_order: np.ndarray, val_df: pd.DataFrame,
                        kind: TaskKind, labels: list[str], final_step: int, logits: np.ndarray | None,
                        best_step: int | None) -> TaskKind:
    """metrics.json and the validation predictions table (in the data's original order), from the final model's
    evaluation when training kept it (the best or the last one), else from a fresh prediction. Returns the kind as
    the saved model decides: with the thresholds tuned on validation when the kind tunes them and they are clearly
    better (then kept in the model's config and labels.json too, and said in metrics.json's `tuning`)."""

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
    targets = kind.targets(val_df["label"].astype(str).tolist(), labels)
    untuned = kind.scores(targets, kind.decisions(probs).tolist(), labels)
    tuned = kind.tuned(probs, targets, labels)
    if tuned is not None:
        kind, tuning = tuned
        for key, value in kind.model_config().items():
            setattr(trainer.model.config, key, value)
        run.write_json(RunDir.LABELS, kind.labels_json(labels))
    predicted, confidence = kind.predicted(probs, labels)
    decided = kind.decisions(probs)
    metrics = kind.scores(targets, decided.tolist(), labels)
    if tuned is not None:
        metrics["tuning"] = tuning
        metrics["untuned"] = {m.key: untuned[m.key] for m in kind.metrics}
    metrics["loss"] = loss
    metrics["best_step"] = best_step
    run.write_json(RunDir.METRICS, metrics)
    table = pd.DataFrame({"text": val_df["text"].to_numpy(), "label": kind.written(val_df["label"]).to_numpy()})
    own = kind.prediction_columns(probs, labels)  # a number (regression): just the predicted value
    for name, values in (own or {}).items():
        table[name] = values
    if own is None:
        table["predicted"], table["confidence"] = predicted, np.round(confidence, 6)
    for i, name in enumerate(labels if own is None else []):
        if decided.ndim == 2:  # a decision per label (multi-label), as in a predicted file
            table[f"pred_{name}"] = decided[:, i]
        table[f"prob_{name}"] = probs[:, i].round(6)
    # The CSV is a download, opened in spreadsheets: formula-like cells are neutralised as in predicted files. The
    # Evaluate tab shows the texts and labels as written, from data/validation.parquet (core/serving/evaluation.py).
    if run.writes:
        neutralise_frame(table).to_csv(run.predictions_file, index=False)
    return kind


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
    """The test rows (a test table or a dataset's own test split), scored once with the final model and kept apart
    from validation (test_metrics.json); None when the run has none. Test rows whose label the model never saw are
    left out (the model cannot predict them) and counted: a test table never has any (core/data/loading.py refuses it)."""
    from core.engine.token_store import encode_splits  # torch: only when test rows are scored

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


def finished_message(kind: TaskKind, metrics: dict[str, Any], state: Any, total_steps: int, config: TrainConfig,
                     best_step: int | None, num_validation: int, test: dict[str, Any] | None, tested: str) -> str:
    """The scores; why the run ended before its last epoch or kept an earlier model, if it did; how uncertain a tiny
    validation set's score is; and the test rows' scores, apart (`tested`: "test file" or "test split")."""
    message = f"Validation {kind.scores_words(metrics)}."
    if state.global_step < total_steps:  # not stopped by the user (that ends as cancelled): early stopping
        message = (f"Stopped early at epoch {state.epoch:g} of {config.epochs:g}: no better validation "
                   f"{kind.metric_label(kind.main_metric)} in {config.early_stopping_patience} evaluations. {message}")
    if best_step is not None and best_step != state.global_step:
        message += f" Kept the model of step {best_step}, the best evaluation."
    if metrics.get("tuning"):
        message += " " + tuning_words(metrics["tuning"])
    if kind.classes and not selects_on_validation(num_validation) and metrics.get(kind.exact_metric) is not None:
        message += " " + tiny_validation_note(kind, float(metrics[kind.exact_metric]), num_validation,
                                              config.keep_best or config.early_stopping_patience > 0)
    if test:  # reported apart: the test rows never chose the model, so theirs is the honest score
        message += f" {tested.capitalize()}: {kind.scores_words(test)}."
    return message
