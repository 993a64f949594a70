"""Resume checkpoints only when due or on Stop; the best evaluation's weights kept in memory and carried across a
resume, so the saved model is the best one without a checkpoint per evaluation."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from transformers import TrainerControl, TrainerState

from core.runs import launcher
from core.engine.checkpoints import (
    BEST_WEIGHTS_FILE, BestWeights, CheckpointPolicy, auto_checkpoint_seconds, best_weights_for_resume,
)
from core.config import TrainConfig
from core.runs.events import read_events
from core.engine.job import train


def _epoch_end(policy, step, max_steps=100):
    state, control = TrainerState(global_step=step, max_steps=max_steps), TrainerControl(should_save=True)
    policy.on_epoch_end(None, state, control)
    return control.should_save


def test_routine_saves_wait_for_the_interval_and_the_end_of_training_saves_none(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("core.engine.checkpoints.time.monotonic", lambda: clock[0])
    policy = CheckpointPolicy(every_seconds=60, stopping=lambda: False)
    policy.on_train_begin(None, TrainerState(), TrainerControl())
    clock[0] += 59
    assert _epoch_end(policy, 10) is False
    clock[0] += 2
    assert _epoch_end(policy, 20) is True
    policy.on_save(type("Args", (), {"output_dir": "unused"})(), TrainerState(global_step=20), TrainerControl())
    clock[0] += 30
    assert _epoch_end(policy, 30) is False  # counted from the last save
    clock[0] += 1000
    assert _epoch_end(policy, 100) is False  # the last step: the model is saved instead


def test_a_stop_always_saves(monkeypatch):
    policy = CheckpointPolicy(every_seconds=3600, stopping=lambda: True)
    policy.on_train_begin(None, TrainerState(), TrainerControl())
    state, control = TrainerState(global_step=100, max_steps=100), TrainerControl(should_save=True)
    policy.on_step_end(None, state, control)
    assert control.should_save is True


def test_the_interval_grows_with_the_model_so_writes_stay_cheap():
    assert auto_checkpoint_seconds(22_000_000) == 60  # MiniLM: ~0.3 GB a checkpoint, a minute is the floor
    assert auto_checkpoint_seconds(110_000_000) == pytest.approx(132)  # bert-base: 1.3 GB
    assert auto_checkpoint_seconds(335_000_000) > 6 * 60  # a large model: 4 GB


def test_best_weights_travel_inside_a_checkpoint(tmp_path):
    model = torch.nn.Linear(3, 2)
    best = BestWeights()
    best.capture(model, step=7)
    with torch.no_grad():
        model.weight.add_(1.0)  # training goes on after the best evaluation
    folder = tmp_path / "checkpoint-9"
    folder.mkdir()
    policy = CheckpointPolicy(every_seconds=60, stopping=lambda: True, best=best)
    policy.on_save(type("Args", (), {"output_dir": str(tmp_path)})(), TrainerState(global_step=9), TrainerControl())
    assert (folder / BEST_WEIGHTS_FILE).exists()

    loaded, from_model = best_weights_for_resume(folder)
    assert (loaded.step, from_model) == (7, False)
    loaded.restore(model)
    assert torch.equal(model.weight, best.state["weight"])


def test_a_checkpoint_that_is_itself_the_best_takes_the_copy_from_the_loaded_model(tmp_path):
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 16, "best_global_step": 16}))
    best, from_model = best_weights_for_resume(tmp_path)
    assert from_model and best.step is None
    policy = CheckpointPolicy(every_seconds=60, stopping=lambda: False, best=best, best_is_resumed_model=True)
    model = torch.nn.Linear(3, 2)
    policy.on_train_begin(None, TrainerState(global_step=16), TrainerControl(), model=model)
    assert best.step == 16 and torch.equal(best.state["bias"], model.bias)
    (tmp_path / "trainer_state.json").write_text(json.dumps({"global_step": 16, "best_global_step": None}))
    assert best_weights_for_resume(tmp_path)[1] is False  # stopped before any evaluation: nothing to keep yet


def _config(example_data, tiny_model_dir, **changes):
    values = dict(data_path=str(example_data), model=tiny_model_dir, epochs=4, batch_size=16, learning_rate=5e-3)
    return TrainConfig(**{**values, **changes})


@pytest.fixture
def first_evaluation_scores_best(monkeypatch):
    """Real scores, but each evaluation's `selection` (what picks the best) lower than the one before: the best is
    the first evaluation (step 16 of 64) whatever the tiny model learns, so the last step's weights are never it."""
    from core.tasks import metrics

    calls = [0]
    real = metrics.eval_scores

    def scores(logits, label_ids):
        calls[0] += 1
        return {**real(logits, label_ids), "selection": -float(calls[0])}

    monkeypatch.setattr(metrics, "eval_scores", scores)
    monkeypatch.setenv("TEXTCLF_PRECISION", "fp32")  # so a fresh prediction matches the table to 1e-4


def _saved_model_probabilities(run_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    model = AutoModelForSequenceClassification.from_pretrained(run_dir / "model").eval()
    table = pd.read_csv(run_dir / "validation_predictions.csv")
    with torch.no_grad():
        logits = model(**tokenizer(table["text"].tolist(), padding=True, truncation=True, return_tensors="pt")).logits
    return torch.softmax(logits.double(), -1).numpy(), table


def _evals(run_dir):
    return [e for e in read_events(run_dir) if e["type"] == "eval"]


def _assert_saved_model_made_the_table(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    probs, table = _saved_model_probabilities(run_dir)
    np.testing.assert_allclose(probs, table[[f"prob_{n}" for n in metrics["labels"]]].to_numpy(), atol=1e-4)
    return probs


def test_the_saved_model_is_the_best_evaluations_not_the_last_steps(first_evaluation_scores_best, tmp_path,
                                                                    tiny_model_dir, example_data):
    run_dir = launcher.create_run(_config(example_data, tiny_model_dir), tmp_path)
    assert train(run_dir) == "finished"
    evals = _evals(run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["best_step"] == 16 and [e["step"] for e in evals] == [16, 32, 48, 64]
    assert read_events(run_dir)[-1]["message"] == (
        f"Validation accuracy {100 * metrics['accuracy']:.1f} %, macro-F1 {100 * metrics['f1_macro']:.1f} %. Kept the "
        "model of step 16, the best evaluation.")
    assert metrics["loss"] == evals[0]["loss"] != evals[-1]["loss"]
    probs = _assert_saved_model_made_the_table(run_dir)
    assert not (run_dir / "checkpoints").exists()

    last = launcher.create_run(_config(example_data, tiny_model_dir, keep_best=False), tmp_path)
    assert train(last) == "finished"
    assert json.loads((last / "metrics.json").read_text())["best_step"] is None
    assert np.abs(_assert_saved_model_made_the_table(last) - probs).max() > 1e-3  # the last step's weights differ


def test_a_resumed_run_still_saves_the_best_evaluation_from_before_the_stop(first_evaluation_scores_best, tmp_path,
                                                                             tiny_model_dir, example_data, monkeypatch):
    from core.engine.callback import EventCallback
    from core.runs.rundir import RunDir

    run_dir = launcher.create_run(_config(example_data, tiny_model_dir), tmp_path)
    step_end = EventCallback.on_step_end

    def stop_at_step_40(self, args, state, control, **kwargs):
        if state.global_step == 40:
            RunDir(run_dir).request_stop()  # as the Stop button does, just before the callback looks
        return step_end(self, args, state, control, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(EventCallback, "on_step_end", stop_at_step_40)
        assert train(run_dir) == "cancelled"
    checkpoint = run_dir / "checkpoints" / "checkpoint-40"
    assert (checkpoint / BEST_WEIGHTS_FILE).exists()  # the best (step 16) is not the checkpoint's own weights
    RunDir(run_dir).clear_stop()
    assert train(run_dir, resume=True) == "finished"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    evals = _evals(run_dir)
    assert metrics["best_step"] == 16 and evals[-1]["step"] == 64
    # Predicted afresh after the resume: by the step-16 weights, the same scores as step 16's evaluation.
    assert metrics["loss"] == pytest.approx(evals[0]["loss"], rel=1e-4) and metrics["loss"] != evals[-1]["loss"]
    assert (metrics["accuracy"], metrics["f1_macro"]) == pytest.approx((evals[0]["accuracy"], evals[0]["f1_macro"]))
    _assert_saved_model_made_the_table(run_dir)


def test_early_stopping_ends_the_run_and_keeps_the_best_evaluation(first_evaluation_scores_best, tmp_path, caplog,
                                                                   tiny_model_dir, example_data):
    from transformers.utils import logging

    run_dir = launcher.create_run(_config(example_data, tiny_model_dir, early_stopping_patience=2), tmp_path)
    logging.enable_propagation()  # transformers' warnings reach caplog only this way
    try:
        assert train(run_dir) == "finished"
    finally:
        logging.disable_propagation()
    assert [e["step"] for e in _evals(run_dir)] == [16, 32, 48]  # two evaluations without a better score
    message = read_events(run_dir)[-1]["message"]
    assert message.startswith("Stopped early at epoch 3 of 4: no better validation macro-F1 in 2 evaluations. "
                              "Validation accuracy ")
    assert message.endswith(" Kept the model of step 16, the best evaluation.")
    assert json.loads((run_dir / "metrics.json").read_text())["best_step"] == 16
    _assert_saved_model_made_the_table(run_dir)
    assert "load_best_model_at_end" not in caplog.text  # no warning that contradicts what happens
