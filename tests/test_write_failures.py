"""Writes that fail (a full disk, a file that may not be written) end in one sentence and leave no half-made files."""
import errno
import io

import pandas as pd
import pytest

from core.runs import launcher
from core.runs.rundir import ENDINGS, RunDir
from core.config import TrainConfig
from core.errors import UserError
from core.runs.events import read_events
from core.engine.job import train


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_the_run_is_created_says_so_and_leaves_no_run(tmp_path, example_data, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _disk_full)
    with pytest.raises(UserError) as err:
        launcher.create_run(TrainConfig(data_path=str(example_data)), tmp_path)
    assert err.value.message == "The disk is full: free some space and start again."
    assert list(tmp_path.iterdir()) == []


def test_the_cli_says_the_disk_is_full_and_exits_2(tmp_path, example_data, monkeypatch, capsys):
    from core import __main__ as cli
    from core.runs import warm_child

    monkeypatch.setattr(warm_child, "prepare_one", lambda: None)  # no training child for a run that never starts
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _disk_full)
    assert cli.main(["--runs-dir", str(tmp_path / "runs"), "train", "--data", str(example_data)]) == 2
    assert capsys.readouterr().err.strip() == "Error: The disk is full: free some space and start again."
    assert list((tmp_path / "runs").iterdir()) == []


def test_a_full_disk_while_the_model_is_saved_fails_the_run_and_removes_the_partial_model(
        tmp_path, example_data, tiny_model_dir, monkeypatch):
    from safetensors import SafetensorError

    def full_after_a_few_bytes(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\0" * 1024)
        # What safetensors raises when the disk fills: not an OSError, the errno only in its text.
        raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: '
                              '"No space left on device" })')

    monkeypatch.setattr("transformers.modeling_utils.safe_save_file", full_after_a_few_bytes)
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, max_length=16)
    run_dir = launcher.create_run(config, tmp_path)
    assert train(run_dir) == "failed"
    assert read_events(run_dir)[-1]["message"] == "The disk is full: free some space, then resume the run."
    assert RunDir(run_dir).read_status()["state"] == "failed"
    assert not (run_dir / ".model.tmp").exists() and not (run_dir / "model").exists()


def _as_if_the_child_had_exited(run_dir):
    """status.json names this test process (train() ran in it); make it name a process that has ended."""
    import subprocess
    import sys

    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    status = RunDir(run_dir).read_status()
    RunDir(run_dir).write_json(RunDir.STATUS, {**status, "pid": ended.pid})  # the same "updated" time


def test_a_run_whose_status_cannot_be_written_still_ends_failed_with_the_reason(tmp_path, example_data,
                                                                                tiny_model_dir, monkeypatch):
    from core import __main__ as cli

    def denied(run, trainer, tokenizer):
        raise PermissionError(errno.EACCES, "Permission denied", str(run.model_tmp_dir))

    real_write_status = RunDir.write_status

    def status_denied_at_the_end(run, state, pid=None, **extra):
        if state in ENDINGS:
            raise PermissionError(errno.EACCES, "Permission denied", str(run.status_file))
        real_write_status(run, state, pid=pid, **extra)

    monkeypatch.setattr("core.engine.final_files.save_model_atomically", denied)
    monkeypatch.setattr(RunDir, "write_status", status_denied_at_the_end)
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, max_length=16)
    run_dir = launcher.create_run(config, tmp_path)
    assert train(run_dir) == "failed"
    assert RunDir(run_dir).read_status()["state"] == "running"  # as the child left it
    _as_if_the_child_had_exited(run_dir)

    message = (f"Permission denied when writing '{run_dir / '.model.tmp'}': make the runs folder writable, then "
               "resume the run.")
    view = launcher.view(run_dir)
    assert (view.state, view.message) == ("failed", message)
    assert [e["type"] for e in read_events(run_dir)].count("failed") == 1
    out = io.StringIO()
    assert cli.follow(run_dir, out=out) == "failed"
    assert f"FAILED: {message}" in out.getvalue()


def test_an_ending_from_before_a_resume_does_not_explain_a_dead_process(tmp_path):
    from core.runs.events import append_event

    append_event(tmp_path, "started", total_steps=10)
    append_event(tmp_path, "cancelled", message="Stopped at step 3 of 10. Resume continues from there.")
    RunDir(tmp_path).write_status("running", pid=None)  # resumed afterwards
    _as_if_the_child_had_exited(tmp_path)
    assert launcher.status(tmp_path)["state"] == "interrupted"
