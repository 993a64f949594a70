"""The Train step's API endpoints /train, /status, /stop and /resume (registered by ui/layout.py with gr.api): the
same core calls as the page's buttons, with the caller's key checked first and every UserError turned into one
readable API error."""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.data_classes import FileData

from core.config import TrainConfig
from core.errors import UserError
from core.runs.rundir import RunDir, RunState
from core.tasks import TaskKind
from ui import session, settings
from ui.data_check import hub_path
from ui.train_tab import _run_name, resume_within_limits, start_training


def _api_error(exc: UserError) -> gr.Error:
    return gr.Error(exc.message, print_exception=False)


def run_status(run_dir: Path) -> dict[str, Any]:
    """A run as plain JSON: state, progress, scores, the epoch table and the curves."""
    from core.runs.launcher import queue_position, view

    v = view(run_dir)
    return {
        "run_id": run_dir.name, "name": _run_name(str(run_dir)), "state": v.state, "message": v.message,
        "stage": v.stage if v.state == RunState.RUNNING else "", "step": v.step, "total_steps": v.total_steps, "epoch": v.epoch,
        "elapsed_seconds": round(v.elapsed_seconds, 1), "eta_seconds": v.eta_seconds,
        "samples_per_second": v.samples_per_second, "best_f1": v.best_f1, "best_f1_metric": v.kind.f1_metric, "best_accuracy": v.best_accuracy,
        "queue_position": queue_position(run_dir) if v.state == RunState.QUEUED else None,
        # Each epoch's scores side by side with its losses: {"epoch", "train_loss", "val_loss", "accuracy", ...}.
        "epochs": [{"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss,
                    **{m.key: r.scores.get(m.key) for m in v.kind.metrics}} for r in v.epochs],
        # Each evaluation flat, as its event recorded it: {"step", "epoch", "loss", "accuracy", "f1_macro"}.
        "evals": [{"step": e.step, "epoch": e.epoch, "loss": e.loss, **e.scores} for e in v.evals],
        "train_loss": [[s, l] for s, l in v.train_loss],
        "test": _test_scores(run_dir, v.kind),
    }


def _test_scores(run_dir: Path, kind: TaskKind) -> dict[str, Any] | None:
    """The test table's or a Hub dataset's test split's scores, once after training, apart from validation (None
    without test rows)."""
    test = RunDir(run_dir).test_metrics()
    keys = [*(m.key for m in kind.metrics), "rows"]
    return {k: test.get(k) for k in keys} if test is not None else None


# /train's parameters before any setting added later, in their public order: clients pass them by position too, so
# a new TrainConfig setting is appended after these (and before `request`, which Gradio fills in).
PUBLIC_ORDER = ("data_file", "text_column", "label_column", "model", "epochs", "learning_rate", "batch_size",
                "max_length", "val_share", "early_stopping_patience", "class_weights", "seed", "run_name", "key",
                "warm_start_head", "hub_dataset", "dataset_config", "dataset_split", "report_to", "test_file",
                "validation_file")
# The parameters that are not TrainConfig settings: (type, default, description).
_OWN = {
    "data_file": (FileData | None, None, "the table of texts and labels (leave it empty when giving hub_dataset)"),
    "text_column": (str, "", "column with the texts; guessed when empty"),
    "label_column": (str, "", "column with the labels; guessed when empty"),
    "key": (str, "", "the key an earlier /train returned, so this run joins your other runs; empty for a new key"),
    "hub_dataset": (str, "", "a Hugging Face Hub dataset id (like ag_news or hf://org/name) instead of a file"),
    "dataset_config": (str, "", "the dataset's config; empty for its default (else its first)"),
    "dataset_split": (str, "", "the dataset split to train on; empty for 'train' (its validation and test splits are "
                               "used as such)"),
    "test_file": (FileData | None, None, "an optional test table with the same columns: scored once after training "
                                         "and reported apart from validation (`test` in the answer and in /status); "
                                         "for a Hub dataset it replaces the dataset's test split"),
    "validation_file": (FileData | None, None, "an optional validation table with the same columns: scored at each "
                                               "evaluation instead of rows held out of data_file (val_share is then "
                                               "unused); for a Hub dataset it replaces the dataset's validation split"),
}
# The API page's words for the settings it has always had (shorter than TrainConfig's help, which describes the rest).
_WORDS = {
    "model": "base model: the offline default, a Hub id or a local folder",
    "epochs": "passes over the training data",
    "learning_rate": "peak learning rate; 0 picks one from the model size",
    "batch_size": "texts per training step; 0 picks one (32 on a CPU, larger on a GPU for large data)",
    "max_length": "longest text in tokens; 0 picks one from the data",
    "val_share": "share of rows held out for validation",
    "early_stopping_patience": "evaluations without improvement before stopping; 0 turns it off",
    "class_weights": "weight the loss by inverse class frequency",
    "seed": "random seed",
    "run_name": "a name for the run; made from the file name when empty",
    "warm_start_head": "start the classification head from a logistic regression on the base model's features",
    "report_to": "also log to an experiment tracker: none (default), trackio, tensorboard, wandb or mlflow",
    "task": "what the label column holds: auto (detected), single, multi (several labels per text) or regression (a "
            "number per text)",
}
_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _parameter_specs() -> dict[str, tuple[Any, Any, str]]:
    """name -> (type, default, description) for every /train parameter, in order."""
    kinds = {s.name: s for s in settings.SETTINGS}
    names = list(PUBLIC_ORDER) + [n for n in settings.NAMES + settings.API_ONLY if n not in PUBLIC_ORDER]
    specs = {}
    for name in names:
        if name in _OWN:
            specs[name] = _OWN[name]
        elif name in kinds:
            s = kinds[name]
            specs[name] = (s.kind, s.default, _WORDS.get(name) or s.help)
        else:  # a TrainConfig field /train takes that is no Train-step setting (settings.API_ONLY)
            f = _FIELDS[name]
            specs[name] = (str, f.default, _WORDS.get(name) or f.metadata.get("help", ""))
    return specs


_SPECS = _parameter_specs()
_P = inspect.Parameter
SIGNATURE = inspect.Signature(
    [_P(n, _P.POSITIONAL_OR_KEYWORD, default=d, annotation=t) for n, (t, d, _) in _SPECS.items()]
    + [_P("request", _P.POSITIONAL_OR_KEYWORD, default=None, annotation=gr.Request)],
    return_annotation="dict[str, Any]")  # a string like every endpoint's here (this module has future annotations)


def _start(values: dict[str, Any]) -> dict[str, Any]:
    try:
        data_file, hub_dataset = values["data_file"], (values["hub_dataset"] or "").strip()
        if hub_dataset and data_file:
            raise UserError("Give either a data file or a Hub dataset, not both.")
        # Files only from the upload folder (session.uploaded_file); a dataset is a Hub id, which core.data.hub_datasets
        # checks on a shared server (no folder of the server's disk is read as one).
        data_path = hub_path(hub_dataset) if hub_dataset else session.uploaded_file(data_file)
        test_path = session.uploaded_file(values["test_file"]) if values["test_file"] else None
        val_path = session.uploaded_file(values["validation_file"]) if values["validation_file"] else None
        config = settings.config_from_ui(data_path, values["text_column"], values["label_column"],
                                         val_data_path=val_path, test_data_path=test_path,
                                         data_config=values["dataset_config"], data_split=values["dataset_split"],
                                         run_name=values["run_name"],
                                         **{n: values[n] for n in settings.NAMES})
        root = session.runs_root()
        caller = session.api_caller(values["key"] or "", root, values["request"], mint=True)
        run_dir = start_training(config, caller, root)
    except UserError as exc:
        raise _api_error(exc)
    return {**run_status(Path(run_dir)), "key": caller.key}


def api_train(*args: Any, **kwargs: Any) -> dict[str, Any]:
    bound = SIGNATURE.bind(*args, **kwargs)
    bound.apply_defaults()
    return _start(bound.arguments)


# Gradio builds the endpoint (its parameters, types, defaults and the API page's descriptions) from the function's
# signature, type hints and docstring: these are generated, so a new TrainConfig setting is a new /train parameter.
api_train.__signature__ = SIGNATURE  # type: ignore[attr-defined]
api_train.__annotations__ = {**{n: t for n, (t, _, _) in _SPECS.items()}, "request": gr.Request,
                             "return": "dict[str, Any]"}
api_train.__doc__ = "\n".join([
    "Start training a text classifier on a table (CSV, TSV, JSONL, Parquet or XLSX) or a Hugging Face Hub dataset.",
    "",
    "Returns the new run's id, its state (\"queued\" or \"running\") and `key`: pass the key to /status, /stop, "
    "/resume, /predict and /runs (and to your next /train, to keep your runs together). On a shared server it is "
    "what makes the run yours; keep it private.",
    "",
    "Args:",
    *(f"    {name}: {words}" for name, (_, _, words) in _SPECS.items()),
])


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
    from core.runs.launcher import cancel

    return _run_action(run_id, key, request, lambda run_dir, caller, root: cancel(run_dir))


def api_resume(run_id: str, key: str = "", request: gr.Request = None) -> dict[str, Any]:
    """Continue a stopped, interrupted or failed run from its last checkpoint.

    Args:
        run_id: the id returned by /train
        key: the key returned by /train (needed on a shared server)
    """
    return _run_action(run_id, key, request, resume_within_limits)
