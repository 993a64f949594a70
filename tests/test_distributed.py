"""The training job as two data-parallel processes (torchrun, gloo, on the CPU): one writer, one event stream, Stop,
a killed rank, and Resume on another number of processes."""
import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from core.runs import launcher
from core.config import TrainConfig
from core.runs.rundir import RunDir, RunState


def _segments(events):
    """The events of each start of the job (a resume starts a new one)."""
    parts = []
    for event in events:
        if event["type"] == "started":
            parts.append([])
        if parts:
            parts[-1].append(event)
    return parts


def _assert_each_step_once(events):
    for part in _segments(events):
        for kind in ("log", "eval"):
            steps = [e["step"] for e in part if e["type"] == kind]
            assert steps == sorted(set(steps)), (kind, steps)
        progress = [e["step"] for e in part if e["type"] == "progress"]
        assert progress == sorted(set(progress)), progress


def _wait_for(condition, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def _trained_steps(run_dir: Path, after: float = 0.0) -> int:
    steps = [e["step"] for e in RunDir(run_dir).events() if e["type"] == "progress" and e["time"] > after]
    return max(steps, default=0)


def test_two_processes_write_one_event_stream_and_one_model(tmp_path, example_data, tiny_model_dir):
    from transformers import pipeline

    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=2, max_length=32, processes=2)
    run_dir = launcher.launch(config, tmp_path / "runs")
    assert launcher.wait(run_dir, timeout=300) == RunState.FINISHED, RunDir(run_dir).log_tail()
    run = RunDir(run_dir)
    events = run.events()
    started = [e for e in events if e["type"] == "started"]
    assert len(started) == 1 and started[0]["world_size"] == 2
    # The batch is the whole step's: 256 training texts in steps of 32 (16 per process) are 8 steps an epoch.
    assert started[0]["batch_size"] == 32 and started[0]["total_steps"] == 16
    _assert_each_step_once(events)
    assert [e["type"] for e in events].count("finished") == 1
    assert [e["step"] for e in events if e["type"] == "eval"] == [8, 16]  # gathered once, not once per process
    # The evaluation over both processes lines up with the validation texts: the predictions file (written from it)
    # scores as the evaluation did.
    metrics = run.metrics()
    best = next(e for e in events if e["type"] == "eval" and e["step"] == metrics["best_step"])
    assert metrics["accuracy"] == pytest.approx(best["accuracy"])
    assert len(run.predictions()) == 64
    assert not run.checkpoints_dir.exists() and not run.model_tmp_dir.exists()
    assert sorted(p.name for p in run.path.iterdir() if p.name.startswith(".")) == []
    classify = pipeline("text-classification", model=str(run.model_dir))
    assert classify("my card was charged twice")[0]["label"] in run.labels()

    # The loss is each batch's mean on 1 or 2 processes: the Trainer once scaled it by the number of processes
    # (twice the gradients and the logged loss).
    alone = launcher.launch(config.replace(processes=1), tmp_path / "runs")
    assert launcher.wait(alone, timeout=300) == RunState.FINISHED
    mean_loss = [sum(losses) / len(losses) for losses in (
        [e["loss"] for e in RunDir(r).events() if e["type"] == "log"] for r in (run_dir, alone))]
    assert 0.67 < mean_loss[0] / mean_loss[1] < 1.5, mean_loss


def test_two_processes_train_the_default_model(tmp_path, example_data, default_model_path):
    config = TrainConfig(data_path=str(example_data), model=default_model_path, epochs=0.5, max_length=32,
                         processes=2)
    run_dir = launcher.launch(config, tmp_path / "runs")
    assert launcher.wait(run_dir, timeout=600) == RunState.FINISHED, RunDir(run_dir).log_tail()
    events = RunDir(run_dir).events()
    started = next(e for e in events if e["type"] == "started")
    assert started["world_size"] == 2 and started["total_steps"] == 4
    _assert_each_step_once(events)
    assert RunDir(run_dir).metrics()["accuracy"] > 0.5  # four labels: the warm-started head is far above chance
    assert RunDir(run_dir).has_model()


def test_stop_then_a_killed_rank_then_resume_on_one_process(tmp_path, example_data, tiny_model_dir):
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=30, max_length=32, processes=2)
    run_dir = launcher.launch(config, tmp_path / "runs")
    run = RunDir(run_dir)
    _wait_for(lambda: _trained_steps(run_dir) >= 2)

    asked = time.time()
    launcher.cancel(run_dir)
    assert launcher.wait(run_dir, timeout=60) == RunState.CANCELLED
    assert time.time() - asked < 30
    stopped_at = _trained_steps(run_dir)
    assert run.events()[-1]["message"] == f"Stopped at step {stopped_at} of 240. Resume continues from there."
    assert [p.name for p in run.checkpoints_dir.iterdir()] == [f"checkpoint-{stopped_at}"]
    assert not list((run.checkpoints_dir / f"checkpoint-{stopped_at}").glob("rng_state_1*"))  # one writer

    launcher.resume(run_dir)  # the same two processes
    resumed = time.time()
    _wait_for(lambda: _trained_steps(run_dir, after=resumed) > stopped_at + 1)
    torchrun = psutil.Process(launcher._children[str(Path(run_dir).resolve())].pid)
    rank_zero = run.read_status()["pid"]
    other = [p for p in torchrun.children() if p.pid != rank_zero]
    assert len(other) == 1
    os.kill(other[0].pid, signal.SIGKILL)
    assert launcher.wait(run_dir, timeout=60) == RunState.INTERRUPTED
    view = launcher.view(run_dir)
    assert view.message == "The training process ended unexpectedly. Resume continues from the last checkpoint."
    assert run.events()[-1]["type"] != "failed"

    launcher.resume(run_dir, processes=1)
    assert launcher.wait(run_dir, timeout=300) == RunState.FINISHED, run.log_tail()
    assert run.config().processes == 1
    last = _segments(run.events())[-1]
    assert last[0]["world_size"] == 1 and last[0]["resumed_from_step"] == stopped_at
    assert last[0]["batch_size"] == 32 and last[0]["total_steps"] == 240  # the same schedule on one process
    _assert_each_step_once(run.events())
    assert run.has_model()
