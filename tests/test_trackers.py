"""Opt-in experiment tracking (Trainer's report_to): off by default, one sentence when the tracker is missing."""
from __future__ import annotations

import argparse
import importlib.util

import pytest

from core import config as config_module
from core.config import TrainConfig
from core.errors import UserError


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
    from core.runs import create_run

    with pytest.raises(UserError, match="^tensorboard is not installed here"):
        create_run(TrainConfig(data_path=str(tmp_path / "d.csv"), report_to="tensorboard"), root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()  # nothing was prepared


def test_trainer_gets_the_tracker_and_tensorboard_writes_into_the_run(tmp_path, monkeypatch):
    from core.train import tracker_settings

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    monkeypatch.delenv("TRACKIO_PROJECT", raising=False)
    assert tracker_settings(TrainConfig(), tmp_path) == "none"
    assert tracker_settings(TrainConfig(report_to="tensorboard"), tmp_path) == ["tensorboard"]
    import os

    assert os.environ["TENSORBOARD_LOGGING_DIR"] == str(tmp_path / "tensorboard")
    assert os.environ["TRACKIO_PROJECT"] == "text-classifier-studio"
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
