"""The Train step's API endpoints /train, /status, /stop and /resume (registered by ui/layout.py with gr.api): the
same core calls as the page's buttons, with the caller's key checked first and every UserError turned into one
readable API error."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from core.config import DEFAULT_MODEL
from core.errors import UserError
from core.rundir import RunDir, RunState
from ui import session
from ui.data_check import hub_path
from ui.train_tab import _DEFAULTS, _run_name, config_from_ui, resume_within_limits, start_training


def _api_error(exc: UserError) -> gr.Error:
    return gr.Error(exc.message, print_exception=False)


def run_status(run_dir: Path) -> dict[str, Any]:
    """A run as plain JSON: state, progress, scores, the epoch table and the curves."""
    from core.runs import queue_position, view

    v = view(run_dir)
    return {
        "run_id": run_dir.name, "name": _run_name(str(run_dir)), "state": v.state, "message": v.message,
        "stage": v.stage if v.state == RunState.RUNNING else "", "step": v.step, "total_steps": v.total_steps, "epoch": v.epoch,
        "elapsed_seconds": round(v.elapsed_seconds, 1), "eta_seconds": v.eta_seconds,
        "samples_per_second": v.samples_per_second, "best_f1": v.best_f1, "best_accuracy": v.best_accuracy,
        "queue_position": queue_position(run_dir) if v.state == RunState.QUEUED else None,
        "epochs": [dataclasses.asdict(r) for r in v.epochs], "evals": [dataclasses.asdict(e) for e in v.evals],
        "train_loss": [[s, l] for s, l in v.train_loss],
        "test": _test_scores(run_dir),
    }


def _test_scores(run_dir: Path) -> dict[str, Any] | None:
    """A Hub dataset's test split, scored once after training, apart from validation (None without one)."""
    test = RunDir(run_dir).test_metrics()
    return {k: test.get(k) for k in ("accuracy", "f1_macro", "rows")} if test is not None else None


def api_train(data_file: FileData | None = None, text_column: str = "", label_column: str = "", model: str = DEFAULT_MODEL,
              epochs: float = 3.0, learning_rate: float = 0.0, batch_size: int = 0, max_length: int = 0,
              val_share: float = 0.2, early_stopping_patience: int = 0, class_weights: bool = _DEFAULTS.class_weights, seed: int = 42,
              run_name: str = "", key: str = "",
              warm_start_head: bool = _DEFAULTS.warm_start_head, hub_dataset: str = "", dataset_config: str = "",
              dataset_split: str = "", report_to: str = "none", request: gr.Request = None) -> dict[str, Any]:
    """Start training a text classifier on a table (CSV, TSV, JSONL, Parquet or XLSX) or a Hugging Face Hub dataset.

    Returns the new run's id, its state ("queued" or "running") and `key`: pass the key to /status, /stop, /resume,
    /predict and /runs (and to your next /train, to keep your runs together). On a shared server it is what makes the
    run yours; keep it private.

    Args:
        data_file: the table of texts and labels (leave it empty when giving hub_dataset)
        text_column: column with the texts; guessed when empty
        label_column: column with the labels; guessed when empty
        model: base model: the offline default, a Hub id or a local folder
        epochs: passes over the training data
        learning_rate: peak learning rate; 0 picks one from the model size
        batch_size: texts per training step; 0 picks one (32 on a CPU, larger on a GPU for large data)
        max_length: longest text in tokens; 0 picks one from the data
        val_share: share of rows held out for validation
        early_stopping_patience: evaluations without improvement before stopping; 0 turns it off
        class_weights: weight the loss by inverse class frequency
        seed: random seed
        run_name: a name for the run; made from the file name when empty
        key: the key an earlier /train returned, so this run joins your other runs; empty for a new key
        warm_start_head: start the classification head from a logistic regression on the base model's features
        hub_dataset: a Hugging Face Hub dataset id (like ag_news or hf://org/name) instead of a file
        dataset_config: the dataset's config; empty for its default (else its first)
        dataset_split: the dataset split to train on; empty for 'train' (its validation and test splits are used as such)
        report_to: also log to an experiment tracker: none (default), trackio, tensorboard, wandb or mlflow
    """
    try:
        if (hub_dataset or "").strip() and data_file:
            raise UserError("Give either a data file or a Hub dataset, not both.")
        # Files only from the upload folder (session.uploaded_file); a dataset is a Hub id, which core.hub_data
        # checks on a shared server (no folder of the server's disk is read as one).
        data_path = hub_path(hub_dataset) if (hub_dataset or "").strip() else session.uploaded_file(data_file)
        config = config_from_ui(data_path, text_column, label_column, model, epochs, learning_rate,
                                batch_size, max_length, val_share, early_stopping_patience, class_weights, seed,
                                run_name, warm_start_head, report_to=report_to, data_config=dataset_config,
                                data_split=dataset_split)
        root = session.runs_root()
        caller = session.api_caller(key or "", root, request, mint=True)
        run_dir = start_training(config, caller, root)
    except UserError as exc:
        raise _api_error(exc)
    return {**run_status(Path(run_dir)), "key": caller.key}


def _run_action(run_id: str, key: str, request: gr.Request | None, action: Any = None) -> dict[str, Any]:
    """Find the caller's run, apply the action (if any) and return its status; a UserError becomes an API error."""
    try:
        root = session.runs_root()
        caller = session.api_caller(key or "", root, request)
        run_dir = session.run_dir_for(run_id, caller, root)
        if action is not None:
            action(run_dir, caller, root)
        return run_status(run_dir)
    except UserError as exc:
        raise _api_error(exc)


def api_status(run_id: str, key: str = "", request: gr.Request = None) -> dict[str, Any]:
    """The state, progress, epoch table and curves of a run.

    Args:
        run_id: the id returned by /train
        key: the key returned by /train (needed on a shared server)
    """
    return _run_action(run_id, key, request)


def api_stop(run_id: str, key: str = "", request: gr.Request = None) -> dict[str, Any]:
    """Stop a run within seconds; it keeps a checkpoint so /resume can continue it.

    Args:
        run_id: the id returned by /train
        key: the key returned by /train (needed on a shared server)
    """
    from core.runs import cancel

    return _run_action(run_id, key, request, lambda run_dir, caller, root: cancel(run_dir))


def api_resume(run_id: str, key: str = "", request: gr.Request = None) -> dict[str, Any]:
    """Continue a stopped, interrupted or failed run from its last checkpoint.

    Args:
        run_id: the id returned by /train
        key: the key returned by /train (needed on a shared server)
    """
    return _run_action(run_id, key, request, resume_within_limits)
