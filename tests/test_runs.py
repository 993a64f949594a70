"""Runs as child processes: stop and resume, a killed process reported as interrupted, the device queue, the CLI."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.runs import rundir, launcher
from core.runs.rundir import RunDir
from core.config import TrainConfig
from core.runs.events import read_events

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def _long_config(example_data, tiny_model_dir, **changes):
    """Hundreds of fast steps: long enough to stop in the middle."""
    values = dict(data_path=str(example_data), model=tiny_model_dir, epochs=12, batch_size=4, learning_rate=1e-3)
    return TrainConfig(**{**values, **changes})


def _wait_for(predicate, timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


def test_stop_keeps_a_checkpoint_and_resume_finishes(tmp_path, example_data, tiny_model_dir):
    run_dir = launcher.launch(_long_config(example_data, tiny_model_dir), tmp_path, owner="bob")
    _wait_for(lambda: launcher.view(run_dir).step >= 70)  # past the first epoch's checkpoint
    launcher.cancel(run_dir)
    assert launcher.wait(run_dir, timeout=60) == "cancelled"
    view = launcher.view(run_dir)
    stopped_at = view.step
    assert view.message == f"Stopped at step {stopped_at} of {view.total_steps}. Resume continues from there."
    # Only the stop's checkpoint: a run this short writes no routine one (core/engine/checkpoints.py).
    assert [p.name for p in (run_dir / "checkpoints").glob("checkpoint-*")] == [f"checkpoint-{stopped_at}"]
    assert not (run_dir / "model").exists()

    launcher.resume(run_dir)
    assert launcher.wait(run_dir, timeout=300) == "finished"
    view = launcher.view(run_dir)
    started = [e for e in read_events(run_dir) if e["type"] == "started"]
    assert [e["resumed_from_step"] for e in started] == [0, stopped_at]
    fitted = [e for e in read_events(run_dir) if e["type"] == "status" and e["message"] == "Fitting the classification head"]
    assert len(fitted) == 1  # the resumed part takes its head from the checkpoint
    steps = [s for s, _ in view.train_loss]
    assert steps == sorted(set(steps)) and steps[-1] > stopped_at
    assert view.step == view.total_steps
    assert (run_dir / "model" / "config.json").exists()


KILLED = ("The training process was killed, most likely because the machine ran out of memory. Resume continues from "
          "the last checkpoint; if it happens again, start a new run with a smaller batch size or max length.")
CRASHED = "The training process ended unexpectedly. Resume continues from the last checkpoint."
CRASHED_EARLY = ("The training process ended unexpectedly. Resume starts the run again from the beginning (it ended "
                 "before its first checkpoint).")


@pytest.mark.parametrize("signal_number, checkpoint_minutes, message", [
    (signal.SIGKILL, 1e-4, KILLED),
    (signal.SIGSEGV, 1e-4, CRASHED),
    (signal.SIGSEGV, 0, CRASHED_EARLY),  # automatic interval: at least a minute, longer than this run gets
], ids=["killed-like-the-oom-killer", "crashed", "crashed-before-the-first-checkpoint"])
def test_killed_process_is_reported_interrupted_and_resumes(signal_number, checkpoint_minutes, message, tmp_path,
                                                            example_data, tiny_model_dir):
    config = _long_config(example_data, tiny_model_dir, checkpoint_every_minutes=checkpoint_minutes)
    run_dir = launcher.launch(config, tmp_path)
    _wait_for(lambda: launcher.view(run_dir).step >= 70)  # past the first epoch's evaluation
    os.kill(RunDir(run_dir).read_status()["pid"], signal_number)
    _wait_for(lambda: launcher.status(run_dir)["state"] == "interrupted", timeout=30)
    view = launcher.view(run_dir)
    assert view.state == "interrupted"
    assert view.message == message
    launcher.resume(run_dir)
    assert launcher.wait(run_dir, timeout=300) == "finished"
    resumed_from = [e["resumed_from_step"] for e in read_events(run_dir) if e["type"] == "started"][1]
    assert (resumed_from >= 64) if checkpoint_minutes else (resumed_from == 0)


def test_a_child_that_dies_before_it_starts_ends_the_run_interrupted_not_queued(tmp_path, example_data, tiny_model_dir,
                                                                                 monkeypatch):
    """A training child that exits before writing its pid (it could not even import) is seen as dead at once: the
    run does not wait queued for ever, and Resume is offered."""
    from core.runs import warm_child

    def crashing_child(run_dir, resume, command=None, extra_env=None):
        return subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])

    monkeypatch.setattr(warm_child, "start_training_child", crashing_child)
    run_dir = launcher.launch(_long_config(example_data, tiny_model_dir), tmp_path)
    assert RunDir(run_dir).read_status()["pid"] is None  # the child never got as far as saying it started
    _wait_for(lambda: launcher.status(run_dir)["state"] == "interrupted", timeout=30)
    view = launcher.view(run_dir)
    assert view.state == "interrupted" and view.message == launcher.interrupted_message(False, False)


def test_runs_queue_for_the_device_and_stop_while_queued(tmp_path, example_data, tiny_model_dir):
    first = launcher.launch(_long_config(example_data, tiny_model_dir), tmp_path, owner="a")
    _wait_for(lambda: launcher.status(first)["state"] == "running")
    second = launcher.launch(_long_config(example_data, tiny_model_dir), tmp_path, owner="b")
    _wait_for(lambda: RunDir(second).read_status().get("pid") is not None)
    time.sleep(1.0)
    assert launcher.status(second)["state"] == "queued"
    assert launcher.queue_position(second) == 2
    assert launcher.queue_position(first) is None
    launcher.cancel(second)
    assert launcher.wait(second, timeout=30) == "cancelled"
    assert launcher.view(second).message == "Cancelled before training started."
    launcher.cancel(first)
    assert launcher.wait(first, timeout=60) == "cancelled"
    assert [s.run_dir for s in launcher.list_runs(tmp_path, owner="a")] == [first]
    assert {s.run_dir for s in launcher.list_runs(tmp_path)} == {first, second}


def test_resume_of_a_finished_run_is_refused(tmp_path):
    RunDir(tmp_path).write_info({"run_id": "r"})
    RunDir(tmp_path).write_status("finished", pid=None)
    with pytest.raises(launcher.UserError) as err:
        launcher.resume(tmp_path)
    assert err.value.message == "Only a stopped, interrupted or failed run can be resumed; this one is finished."


def test_cli_resume_of_something_that_is_not_a_run(tmp_path):
    result = _cli("resume", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"Error: There is no run at '{tmp_path / 'nope'}'."


def test_cli_resume_takes_a_run_id_and_runs_says_when_there_are_none(tmp_path):
    assert _cli("--runs-dir", str(tmp_path), "runs").stdout.strip() == f"No runs yet in {tmp_path}."
    run_dir = tmp_path / "20261123-101010-reviews-ab12"
    run_dir.mkdir()
    RunDir(run_dir).write_info({"run_id": run_dir.name})
    RunDir(run_dir).write_status("finished", pid=None)
    result = _cli("--runs-dir", str(tmp_path), "resume", run_dir.name)
    assert result.returncode == 2
    assert result.stderr.strip() == "Error: Only a stopped, interrupted or failed run can be resumed; this one is finished."


def test_cli_a_file_as_the_runs_folder(tmp_path, example_data):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("x")
    for command in (["train", "--data", str(example_data)], ["runs"], ["resume", "some-run"]):
        result = _cli("--runs-dir", str(not_a_folder), *command)
        assert result.returncode == 2
        assert result.stdout == ""  # said before anything else, not after "Checking the data..."
        assert result.stderr.strip() == f"Error: The runs folder '{not_a_folder}' cannot be used: Not a directory."


def test_an_interrupted_create_run_leaves_no_half_made_run(tmp_path, example_data, monkeypatch):
    from core.config import TrainConfig

    def interrupted(path, value):
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "write_json", interrupted)
    with pytest.raises(KeyboardInterrupt):
        launcher.create_run(TrainConfig(data_path=str(example_data)), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_cli_a_second_ctrl_c_stops_waiting_without_a_traceback(tmp_path, monkeypatch, capsys):
    import core.__main__ as cli

    def follow(run_dir, out=None, printed=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "follow", follow)
    monkeypatch.setattr(launcher, "cancel", lambda run_dir: None)
    assert cli._follow_with_ctrl_c(tmp_path) == 3
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"The run is still stopping in the background. Continue it later with: python -m core resume {tmp_path}")


def _cli(*args, cwd=ROOT):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=cwd, env=env)


def test_cli_trains_and_prints_the_epoch_table(tmp_path, example_data, tiny_model_dir, monkeypatch):
    import html
    import re

    from ui import data_tab, train_tab

    # What the Train step says before Start for the same data, model and epochs, with the same (empty) runs folder.
    monkeypatch.setenv("TEXTCLF_RUNS_DIR", str(tmp_path))
    status = data_tab.check_data(str(example_data), None, None, tiny_model_dir, 0, 0.2, 42).status()
    shown = html.unescape(re.sub(r"<[^>]+>", "", train_tab.estimate_html(status, tiny_model_dir, 2, 0, 0.2, None)))
    assert shown.startswith("Under a minute on this machine: 256 training texts of ~")
    result = _cli("--runs-dir", str(tmp_path), "train", "--data", str(example_data), "--model", tiny_model_dir,
                  "--epochs", "2", "--lr", "0.001")
    assert result.returncode == 0, result.stderr
    assert "epoch | train loss | val loss | accuracy | macro-F1" in result.stdout
    assert "FINISHED: Validation accuracy" in result.stdout
    assert "4 labels: account 55, billing 100, shipping 75, technical 90." in result.stdout
    assert ("Texts from column 'text', labels from column 'label' (guessed; choose others with --text and --label)."
            in result.stdout)
    assert "Settings: cpu (" in result.stdout and " · batch 32 · learning rate 0.001 · " in result.stdout
    assert f"\n  {shown}\n" in result.stdout  # the same estimate, before training starts
    assert result.stdout.index(shown) < result.stdout.index("epoch | train loss")
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")]  # .tokens/: the store
    assert (run_dir / "model" / "config.json").exists()


def test_cli_help_lists_every_setting_with_its_help_text():
    result = _cli("train", "-h")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # argparse wraps lines to the terminal width
    assert "--epochs EPOCHS Passes over the training data. (default: 3.0)" in text
    assert "covers ~99% of texts" in text
    assert "--text TEXT_COLUMN Column with the texts; guessed when empty. --label" in text  # no "(default: None)"
    assert "--class-weights, --no-class-weights" in text


@pytest.mark.parametrize("args, message", [
    (["--data", "no-such-file.csv"], "Error: The file 'no-such-file.csv' was not found."),
    (["--data", "EXAMPLE", "--model", "./missing-model"], "Error: The folder './missing-model' does not exist."),
    (["--data", "EXAMPLE", "--model", "someone/not-downloaded"],
     "Error: The model 'someone/not-downloaded' is not downloaded and the app is offline: "
     "choose the offline default model or a local folder."),
    (["--data", "EXAMPLE", "--epochs", "0"], "Error: Epochs must be more than 0 and at most 100."),
    (["--data", "EXAMPLE", "--text", "body"], "Error: Column 'body' is not in the file. Columns: text, label."),
    (["--data", "EXAMPLE", "--seed", "-1"], "Error: The seed must be a whole number from 0 to 4294967295."),
    (["--data", "EXAMPLE", "--seed", str(2**40)], "Error: The seed must be a whole number from 0 to 4294967295."),
])
def test_cli_bad_input_exits_non_zero_with_one_clear_line(args, message, example_data, tmp_path):
    args = [str(example_data) if a == "EXAMPLE" else a for a in args]
    result = _cli("--runs-dir", str(tmp_path), "train", *args)
    assert result.returncode == 2
    assert result.stderr.strip() == message
    assert "Traceback" not in result.stdout + result.stderr


def test_view_of_a_resumed_run_follows_the_live_status_not_the_old_ending(tmp_path, monkeypatch):
    from core.runs.events import append_event

    append_event(tmp_path, "started", total_steps=10)
    append_event(tmp_path, "cancelled", message="Stopped at step 3 of 10. Resume continues from there.")
    RunDir(tmp_path).write_status("running", pid=12345)  # the resumed child, before its first event
    monkeypatch.setattr(launcher, "_alive", lambda pid, run_dir, pid_started=None: True)
    view = launcher.view(tmp_path)
    assert (view.state, view.message) == ("running", "")


def test_a_prepared_child_takes_the_next_run_and_is_replaced_when_it_ends(tmp_path, example_data, tiny_model_dir):
    """The app starts a training child ahead of time (imports done); Start hands it the run."""
    from core.runs import warm_child

    warm_child.prepare()
    try:
        prepared = warm_child.waiting_child()
        first = launcher.launch(TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, max_length=16),
                            tmp_path)
        assert launcher._children[str(first.resolve())] is prepared and warm_child.waiting_child() is None
        assert launcher.wait(first, timeout=120) == "finished"
        assert "{'loss'" in (first / "train.log").read_text()  # its output went to the run's log
        _wait_for(lambda: warm_child.waiting_child() not in (None, prepared))  # a new one, once the run ended

        second = launcher.launch(_long_config(example_data, tiny_model_dir), tmp_path)
        _wait_for(lambda: launcher.view(second).step >= 5)
        launcher._children.clear()  # as after a server restart: the child is known only by its status file
        assert str(second) not in " ".join(__import__("psutil").Process(RunDir(second).read_status()["pid"]).cmdline())
        assert launcher.status(second)["state"] == "running"
        launcher.cancel(second)
        assert launcher.wait(second, timeout=60) == "cancelled"
    finally:
        warm_child.discard()
    assert warm_child.waiting_child() is None


def test_a_pid_now_used_by_another_process_is_not_the_run(tmp_path):
    """status.json keeps the child's pid and start time; a different process with that pid means the run died."""
    RunDir(tmp_path).write_info({"run_id": "r"})
    RunDir(tmp_path).write_status("running", pid=os.getpid())  # this very process: alive, same start time
    assert launcher.status(tmp_path)["state"] == "running"
    status = RunDir(tmp_path).read_status()
    RunDir(tmp_path).write_json(RunDir.STATUS, {**status, "pid_started": status["pid_started"] - 3600})
    assert launcher.status(tmp_path)["state"] == "interrupted"  # same pid, but a process that started later


def test_runs_on_the_same_file_get_told_apart_by_their_start_time():
    from core.runs.launcher import display_name

    at = time.mktime((2026, 11, 30, 14, 31, 7, 0, 0, -1))
    config = TrainConfig(data_path="/data/support_tickets.csv", run_name="support_tickets")
    assert display_name(config, at) == "support_tickets · Nov 30 14:31:07"
    assert display_name(config.replace(run_name=""), at) == "support_tickets · Nov 30 14:31:07"
    assert display_name(config.replace(run_name="Baseline check"), at) == "Baseline check"  # the user's own name


def test_a_space_with_persistent_storage_keeps_runs_and_the_hub_cache_in_data(tmp_path, monkeypatch):
    from core.runs import launcher

    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setattr(launcher, "PERSISTENT_STORAGE", data)
    for name in ("TEXTCLF_RUNS_DIR", "HF_HOME", "SPACE_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert launcher.runs_root() == (tmp_path / "runs").resolve()  # your own machine: ./runs, even with a /data folder
    assert launcher.use_persistent_hub_cache() is None
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")
    assert launcher.runs_root() == data / "runs"
    assert launcher.use_persistent_hub_cache() == data / ".huggingface"
    import os

    assert os.environ["HF_HOME"] == str(data / ".huggingface")
    from ui import runs_tab

    assert runs_tab.storage_note() == (
        f" Runs are kept in {data / 'runs'}, this Space's persistent storage: they survive restarts.")
    monkeypatch.setenv("TEXTCLF_RUNS_DIR", str(tmp_path / "elsewhere"))  # an explicit folder wins
    assert launcher.runs_root() == (tmp_path / "elsewhere").resolve() and runs_tab.storage_note() == ""
    data.chmod(0o500)  # /data without write access (no persistent storage bought): not used
    try:
        monkeypatch.delenv("TEXTCLF_RUNS_DIR")
        if not os.access(data, os.W_OK):  # root ignores the mode
            assert launcher.runs_root() == (tmp_path / "runs").resolve()
    finally:
        data.chmod(0o700)


@pytest.mark.skipif(not os.path.exists("/proc/self/autogroup"), reason="the kernel groups no processes by session")
def test_a_run_in_its_own_session_yields_the_cpu_to_the_server_as_a_group():
    """A run starts in a session of its own; where the kernel schedules sessions as groups, a process's nice value
    only ranks it inside its group, so the group's own priority must drop too (BENCHMARKS.md: the server got one of
    two cores under load until it did)."""
    code = ("from core.engine.job import _yield_cpu_to_the_app; _yield_cpu_to_the_app(); import os; "
            "print(os.nice(0), open('/proc/self/autogroup').read().split()[-1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         start_new_session=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}).stdout.split()
    assert out == ["10", "10"]
