"""One training job: `python -m core.train <run_dir> [--resume]` reads the run directory and fills it in.

Runs as a child process (started by core/runs/launcher.py) so a crash or out-of-memory cannot take the web server down.
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

# Before torch loads its OpenMP runtime: threads that find nothing to do sleep instead of spinning. On a 2-core box
# shared with the web server (and the lower priority below), spinning threads wait on a descheduled sibling at every
# barrier: measured an epoch of 800 sentences at 61.9 s with the default policy vs 13.5 s passive (load ~4).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core import distributed, tasks
from core.config import TrainConfig, auto_learning_rate
from core.errors import UserError, is_disk_full
from core.runs.gpus import job_devices
from core.hardware import choose_precision, cuda_available, device_name, use_fast_gpu_attention
from core.runs.device_lock import device_slot
from core.runs.rundir import RunDir, RunState
from core.engine.final_files import finished_message, save_model_atomically, write_final_metrics, write_test_metrics
from core.engine.model_setup import load_starting_model
from core.engine.head_start import planned_pairs, start_head
from core.engine.trainer_setup import collator, early_stopping, engine_trainer
from core.limits import shared_server
from core.models import model_max_length, resolve_model
from core.runs.warm_child import wait_for_job
from core.small_data import (evaluation_steps, is_small, learning_rate as small_data_rate, schedule_for,
                              selects_on_validation)


STOPPED_BEFORE_TRAINING = "Stopped before training started. Resume starts the run from the beginning."
DISK_FULL_MESSAGE = "The disk is full: free some space, then resume the run."


class _StoppedBeforeTraining(Exception):
    """Stop was asked for while a fresh run fitted its head: there is no checkpoint yet to keep."""


def train(run_dir: Path, resume: bool = False) -> str:
    """Run the whole job in this process; returns the terminal state. Writes exactly one terminal event."""
    run = RunDir.for_process(Path(run_dir).resolve())  # under torchrun: rank 0 writes, the other ranks read
    stop_flag = [False]
    _install_sigterm(stop_flag)
    try:
        run.write_status(RunState.QUEUED, pid=os.getpid())
        distributed.join(cuda_available())

        def take(while_waiting: Any) -> Any:
            return device_slot(run.path.parent, job_devices(), should_give_up=run.stop_requested,
                               while_waiting=while_waiting)

        with distributed.job_slot(take) as got:
            if not got:
                return _end(run, RunState.CANCELLED, "Cancelled before training started.")
            run.write_status(RunState.RUNNING, pid=os.getpid(), world_size=distributed.world_size())
            return _run(run, resume, stop_flag)
    except _StoppedBeforeTraining:
        return _end(run, RunState.CANCELLED, STOPPED_BEFORE_TRAINING)
    except UserError as exc:
        return _end(run, RunState.FAILED, exc.message)
    except Exception as exc:  # the full traceback goes to train.log; the user gets one sentence
        traceback.print_exc()
        if distributed.peer_lost(exc):
            # Another rank died and took the group with it: no ending is written, so the run reads as interrupted
            # (its status names this process, which is about to end) and Resume continues from the last checkpoint.
            return RunState.INTERRUPTED
        return _end(run, RunState.FAILED, _explain(exc))
    finally:
        distributed.leave()


def _run(run: RunDir, resume: bool, stop_flag: list[bool]) -> str:
    # torch and transformers load here, not at import: the warm child imports them while it waits (main).
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from core.batching import batch_per_process
    from core.engine.callback import EventCallback
    from core.engine.checkpoints import BestWeights, CheckpointPolicy, auto_checkpoint_seconds, best_weights_for_resume
    from core.engine.token_store import encode_splits

    config = TrainConfig.load(run.config_file)
    kind, labels = tasks.read_labels(run.stored_labels())
    set_seed(config.seed)
    cuda = cuda_available()
    precision = choose_precision()
    lean_gpu = cuda and os.environ.get("TEXTCLF_GPU_PIPELINE", "lean") != "stock"
    if cuda:
        use_fast_gpu_attention()

    run.append_event("status", message="Loading the model")
    train_df = pd.read_parquet(run.train_data)
    taught_labels = kind.taught_labels(train_df["label"])  # small data counts per label those it learns
    start = load_starting_model(resolve_model(config.model), kind, labels, is_small(len(train_df), taught_labels),
                                cuda, config.fused_attention_long_batches)
    model, tokenizer = start.model, start.tokenizer

    run.append_event("status", message="Tokenising")
    val_df = pd.read_parquet(run.validation_data)
    limit = model_max_length(tokenizer, model.config)
    with distributed.main_rank_first():  # one rank tokenises into the store; the others map what it kept
        (train_set, val_set), max_length = encode_splits(
            tokenizer, [train_df, val_df], labels, config.max_length, limit,
            lambda: _stop_before_training_if_asked(run, stop_flag), store=_token_store(run.path), kind=kind)
    # Validation is evaluated in order, longest first: batches are length-grouped, and every evaluation's
    # predictions line up with the texts, so the final report reuses them instead of predicting again.
    val_order = np.argsort(-val_set.lengths, kind="stable")
    val_set = val_set.select(val_order)

    checkpoint = None
    if resume and run.checkpoints_dir.is_dir():
        checkpoint = get_last_checkpoint(str(run.checkpoints_dir))
    # A resumed run loads its head from the checkpoint. Only rank 0 fits the probe (and runs the pair phase before
    # it): DDP hands rank 0's weights to every rank when training starts, so the others' would be overwritten, and
    # beside it they only take its cores (measured on 2 shared cores under load: a 2,000-sentence probe took 115 s
    # alone, 166 s with a second one beside it).
    # The pair phase, decided once: rank 0 of a new run runs it, every rank and a resumed run count its schedule, and
    # the "started" event names its pairs (the model card does).
    pairs = planned_pairs(config, start, train_set, labels, kind)
    if config.warm_start_head and checkpoint is None and distributed.rank() == 0:
        if cuda:
            model.to("cuda")
        start_head(run, config, start, train_set, labels, kind, precision, pairs,
                   lambda: _stop_before_training_if_asked(run, stop_flag))
    processes = distributed.world_size()
    device_batch = batch_per_process(config.batch_size, processes, train_set.lengths, cuda,
                                     _gpu_memory() if cuda else 0, model.num_parameters())
    schedule = schedule_for(len(train_set), taught_labels, config.batch_size, config.epochs,
                            0 if config.batch_size else device_batch * processes,
                            after_pairs=pairs.active)
    if schedule.small:  # the small-data batch is the whole step's, split between the processes like a batch set
        device_batch = batch_per_process(schedule.batch_size, processes, train_set.lengths, cuda)
    batch_size, epochs = device_batch * processes, schedule.epochs  # the whole step's texts, over every rank
    steps_per_epoch = math.ceil(len(train_set) / batch_size)
    total_steps = math.ceil(steps_per_epoch * epochs)
    # The Trainer adds an evaluation at the last step when it is not on the steps' grid.
    eval_steps = evaluation_steps(schedule.small, config.eval_steps, steps_per_epoch, epochs, len(train_set),
                                  len(val_set))
    evaluate_by_steps = eval_steps > 0
    # Neither a tiny validation set nor small data's fixed schedule chooses a model by its validation score
    # (core/small_data.py): the last model is kept and its score reported.
    selects = selects_on_validation(len(val_set)) and not schedule.small
    keep_best = (config.keep_best or config.early_stopping_patience > 0) and selects
    best, best_is_resumed_model = BestWeights(), False  # stays empty without keep_best: nothing is ever "best"
    if keep_best and checkpoint is not None:
        best, best_is_resumed_model = best_weights_for_resume(Path(checkpoint))
    learning_rate = small_data_rate(schedule, config.learning_rate, auto_learning_rate(model.num_parameters()))
    args = TrainingArguments(
        output_dir=str(run.checkpoints_dir),
        num_train_epochs=epochs,
        per_device_train_batch_size=device_batch,
        per_device_eval_batch_size=max(64, device_batch),
        learning_rate=learning_rate,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a share of all steps
        weight_decay=config.weight_decay,
        seed=config.seed,
        eval_strategy="steps" if evaluate_by_steps else "epoch",
        save_strategy="steps" if evaluate_by_steps else "epoch",
        eval_steps=eval_steps or None,
        save_steps=eval_steps or None,
        save_total_limit=1,  # only to resume: the best weights travel inside it (core/engine/checkpoints.py)
        # The best weights are kept in memory instead (core/engine/checkpoints.py): no checkpoint per evaluation needed.
        load_best_model_at_end=False,
        metric_for_best_model="selection" if keep_best else None,  # the kind's main metric (core/tasks/)
        greater_is_better=True if keep_best else None,  # `selection` is made so that higher is better
        # A curve of a one-minute run needs >= 20 points; long runs need not log every step.
        logging_steps=max(1, min(50, total_steps // 100)),
        logging_first_step=True,  # the live chart gets its first point after one step
        report_to=tracker_settings(config, run),
        run_name=run.name,  # the tracker's name for this run
        project=TRACKER_PROJECT,  # trackio's project (Trainer passes this, not TRACKIO_PROJECT, to trackio.init)
        disable_tqdm=True,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=not cuda,
        dataloader_num_workers=0,  # workers would fight the model for the same few CPU cores
        dataloader_pin_memory=cuda,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: far less padding
        # Our losses are batch means; left on, the Trainer multiplies them by the number of processes (2x gradients).
        average_tokens_across_devices=False,
        # The NaN/inf loss filter reads the loss back every step: a GPU sync that stalls the CPU's run-ahead.
        logging_nan_inf_filter=not lean_gpu,
    )
    if cuda and not distributed.is_distributed() and args.n_gpu > 1:
        # One process seeing several GPUs (started by hand, not pinned: core/runs/gpus.py) would get nn.DataParallel (the
        # batch silently multiplied, samples/s and the time left wrong): it trains on its first GPU, as it queued.
        args._n_gpu = 1

    eval_logits: dict[int, np.ndarray] = {}  # by step: the latest evaluation's and the best one's

    def compute_metrics(prediction: Any) -> dict[str, float]:
        logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
        step = trainer.state.global_step
        for stale in [s for s in eval_logits if s != best.step]:
            del eval_logits[stale]
        eval_logits[step] = logits
        return kind.eval_scores(logits, prediction.label_ids)

    facts = {
        "num_train": len(train_set), "num_validation": len(val_set), "max_length": max_length,
        "device": device_name(), "precision": precision, "learning_rate": learning_rate,
        "batch_size": batch_size, "model": config.model, "labels": labels, "task": kind.name, "world_size": processes,
        "epochs": epochs, "pairs": pairs.num_pairs,
    }
    events = EventCallback(run, batch_size, facts, stop_flag, kind)
    every = config.checkpoint_every_minutes * 60 or auto_checkpoint_seconds(model.num_parameters())
    callbacks: list[Any] = [events, CheckpointPolicy(every, lambda: events.cancelled, best, best_is_resumed_model)]
    if config.early_stopping_patience > 0 and selects:
        callbacks.append(early_stopping(config.early_stopping_patience))
    trainer = engine_trainer(best)(
        model=model, args=args, train_dataset=train_set, eval_dataset=val_set, processing_class=tokenizer,
        data_collator=collator(tokenizer, max_length, cuda, lean_gpu),
        compute_metrics=compute_metrics, callbacks=callbacks,
        compute_loss_func=kind.loss(train_df["label"], labels) if config.class_weights else None,
    )
    run.append_event("status", message="Training")
    trainer.train(resume_from_checkpoint=checkpoint)
    if events.cancelled:
        step = trainer.state.global_step
        return _end(run, RunState.CANCELLED, f"Stopped at step {step} of {total_steps}. Resume continues from there.")

    run.append_event("status", message="Saving the model")
    # The weights being saved: the best evaluation's (kept) or the last step's.
    if best.step is not None and best.step != trainer.state.global_step:
        best.restore(trainer.model)
    final_step = trainer.state.global_step if best.step is None else best.step
    kind = write_final_metrics(run, trainer, val_set, val_order, val_df, kind, labels, final_step,
                               eval_logits.get(final_step), best_step=best.step)
    report = run.report()
    tested = "test file" if report is not None and report.test_source == "file" else "test split"
    if run.test_data.exists():
        run.append_event("status", message=f"Scoring the {tested}")
    test = write_test_metrics(run, trainer, tokenizer, kind, labels, max_length)
    save_model_atomically(run, trainer, tokenizer)
    if run.writes:  # a finished run needs no resume state
        shutil.rmtree(run.checkpoints_dir, ignore_errors=True)
    message = finished_message(kind, run.metrics() or {}, trainer.state, total_steps, config.replace(epochs=epochs),
                               best.step, len(val_set), test, tested)
    return _end(run, RunState.FINISHED, message)


def _token_store(run_dir: Path) -> Path | None:
    """Where tokenised data is kept for the next run on the same data: beside the runs on your own machine; nowhere on
    a shared server, where a visitor's texts must not outlive the runs they delete."""
    from core.engine.token_store import STORE_FOLDER  # its module loads torch

    return None if shared_server() else run_dir.parent / STORE_FOLDER


def _stop_before_training_if_asked(run: RunDir, stop_flag: list[bool]) -> None:
    if stop_flag[0] or run.stop_requested():
        raise _StoppedBeforeTraining


def _gpu_memory() -> int:
    import torch

    return int(torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory)


TRACKER_PROJECT = "text-classifier-studio"


def tracker_settings(config: TrainConfig, run_dir: Path | RunDir) -> str | list[str]:
    """Trainer's report_to: "none" unless the user chose a tracker. TensorBoard writes into the run folder; a
    tracker's run is named after the run id. TrainingArguments never holds a Hub token here, so none is logged."""
    if config.report_to in ("", "none"):
        return "none"
    os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(RunDir.of(run_dir).tensorboard_dir))
    return [config.report_to]


def _end(run: RunDir, state: RunState, message: str) -> str:
    """The terminal event, then the status. Each is tried whatever happens to the other: a dead process whose status
    still says running reads as the ending its last event records (core/runs/launcher.py)."""
    for write in (lambda: run.append_event(state, message=message),
                  lambda: run.write_status(state, pid=os.getpid())):
        try:
            write()
        except OSError:
            traceback.print_exc()
    return state


def _explain(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return "Training ran out of memory: try a smaller batch size or max length."
    if is_disk_full(exc):
        return DISK_FULL_MESSAGE
    if isinstance(exc, PermissionError):
        return (f"Permission denied when writing '{exc.filename or 'the run folder'}': make the runs folder "
                "writable, then resume the run.")
    return f"Training stopped with an error: {type(exc).__name__}: {first[:300]}"


def _install_sigterm(stop_flag: list[bool]) -> None:
    """SIGTERM asks for a clean stop at the next step (with a checkpoint), like the Stop button."""
    def handler(signum: int, frame: Any) -> None:
        stop_flag[0] = True

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (tests calling train() from a thread)
        pass


def _yield_cpu_to_the_app() -> None:
    """On a CPU-only machine the web server and prediction must stay responsive while a run uses every core;
    a lower priority costs training nothing when the machine is otherwise idle."""
    if hasattr(os, "nice") and not cuda_available():
        try:
            os.nice(10)
        except OSError:
            pass
        # A run is started in a session of its own (so Stop can signal its whole process group), and where the kernel
        # groups processes by session (sched_autogroup, on by default in most distributions) a process's nice value
        # only ranks it inside its group: the server and the run then got one of two cores each whatever the nice
        # (measured: server 97 % of a core, run 98 %). The group's own nice value ranks the groups; raising it needs no
        # privilege. Where autogroup is off or /proc is absent this does nothing.
        try:
            Path("/proc/self/autogroup").write_text("10")
        except OSError:
            pass


def _import_training_stack() -> None:
    """What every run imports anyway, done while a prepared child waits (core/runs/warm_child.py)."""
    import sklearn.linear_model  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer  # noqa: F401

    import core.engine.checkpoints  # noqa: F401
    import core.tasks.probe  # noqa: F401

    try:
        if torch.cuda.is_available():
            torch.zeros(1, device="cuda")  # the CUDA context takes a second or more: made while waiting, not after Start
    except RuntimeError:  # a broken driver surfaces in the run itself, with its own message
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.train", description="Run one prepared training run.")
    parser.add_argument("run_dir", type=Path, nargs="?")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument("--warm", action="store_true",
                        help="import the training stack, then wait for a run directory on stdin (used by the app)")
    args = parser.parse_args(argv)
    os.umask(0o077)  # checkpoints, the model and metrics hold the user's work: this user only (run folders are 0700)
    _yield_cpu_to_the_app()
    if args.warm:
        _import_training_stack()
        job = wait_for_job()
        if job is None:
            return 0
        args.run_dir, args.resume = job
    elif args.run_dir is None:
        parser.error("the run directory is required")
    state = train(args.run_dir, resume=args.resume)
    return {RunState.FINISHED: 0, RunState.CANCELLED: 3}.get(state, 1)


if __name__ == "__main__":
    sys.exit(main())
