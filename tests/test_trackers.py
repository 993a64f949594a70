"""Opt-in experiment tracking (Trainer's report_to): off by default, one sentence when the tracker is missing."""
from __future__ import annotations

import argparse
import importlib.util
import json

import pytest

from core import config as config_module
from core.config import TrainConfig
from core.errors import UserError
from tests.fixtures_app import ROOT


def test_off_by_default_and_only_known_trackers():
    assert TrainConfig().report_to == "none"
    assert TrainConfig(data_path="d.csv", report_to="neptune").validate() == [
        "Report to must be one of: none, trackio, tensorboard, wandb, mlflow."]


def test_a_missing_tracker_is_one_sentence_before_any_work(tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    assert config_module.tracker_problem("none") is None
    assert config_module.tracker_problem("tensorboard") == (
        "tensorboard is not installed here: pip install tensorboard, or set Report to none.")
    from core.runs.launcher import create_run

    with pytest.raises(UserError, match="^tensorboard is not installed here"):
        create_run(TrainConfig(data_path=str(tmp_path / "d.csv"), report_to="tensorboard"), root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # nothing was prepared


def test_trainer_gets_the_tracker_and_tensorboard_writes_into_the_run(tmp_path, monkeypatch):
    from core.engine.job import tracker_settings

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    assert tracker_settings(TrainConfig(), tmp_path) == "none"
    assert tracker_settings(TrainConfig(report_to="tensorboard"), tmp_path) == ["tensorboard"]
    import os

    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "tensorboard")
    assert "token" not in " ".join(f.name for f in __import__("dataclasses").fields(TrainConfig))


def test_cli_ui_and_api_offer_it(tmp_path):
    from core.__main__ import _add_config_flags
    from ui import layout, settings, train_api

    parser = argparse.ArgumentParser()
    _add_config_flags(parser)
    assert parser.parse_args(["--report-to", "trackio"]).report_to == "trackio"
    assert settings.config_from_ui("d.csv", epochs=1, report_to="TensorBoard").report_to == "tensorboard"
    demo = layout.build(tmp_path)
    box = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "tc-report-to")
    assert [c[1] for c in box.choices] == ["none", "trackio", "tensorboard", "wandb", "mlflow"] and box.value == "none"
    import inspect

    assert inspect.signature(train_api.api_train).parameters["report_to"].default == "none"


FAKE_TOKEN = "hf_FakeTokenThatMustNeverBeLogged0123456789"


@pytest.mark.slow
@pytest.mark.parametrize("tracker", ["trackio", "tensorboard"])
def test_a_real_run_logs_to_the_tracker_on_disk_and_never_the_token(tracker, tmp_path, tiny_model_dir, example_data):
    """The training process as the app starts it, with a token in its environment: the tracker's files appear
    locally, hold the run's loss, and nowhere the token."""
    import os
    import subprocess
    import sys

    from core.runs.launcher import create_run

    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, batch_size=32, max_length=16,
                         report_to=tracker)
    run_dir = create_run(config, root=tmp_path / "runs")
    env = {**os.environ, "HF_TOKEN": FAKE_TOKEN, "HUGGING_FACE_HUB_TOKEN": FAKE_TOKEN, "HF_HUB_OFFLINE": "1",
           "TRACKIO_DIR": str(tmp_path / "trackio")}
    for name in ("TENSORBOARD_LOGGING_DIR", "TRACKIO_PROJECT", "TRACKIO_SPACE_ID"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "core.train", str(run_dir)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads((run_dir / "status.json").read_text())["state"] == "finished"

    logged = tmp_path / "trackio" if tracker == "trackio" else run_dir / "tensorboard"
    files = [p for p in logged.rglob("*") if p.is_file()]
    assert files, f"{tracker} wrote nothing under {logged}"
    if tracker == "trackio":
        assert [p.name for p in files if p.suffix == ".db"] == ["text-classifier-studio.db"]
    else:
        assert any(p.name.startswith("events.out.tfevents") for p in files)
    logged_bytes = b"".join(p.read_bytes() for p in files)
    assert b"loss" in logged_bytes and run_dir.name.encode() in logged_bytes  # the metrics and the run's settings
    for path in [*files, *(p for p in run_dir.rglob("*") if p.is_file())]:
        assert FAKE_TOKEN.encode() not in path.read_bytes(), path
