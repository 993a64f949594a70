"""Stop takes effect at once whatever the data size: no evaluation after the stop, and a stop while the head is
warm-started ends the run before training begins."""
import io

import pandas as pd
import pytest
from transformers import Trainer

from core.runs import launcher
from core.config import TrainConfig
from core.runs.events import epoch_table_header, read_events
from core.runs.rundir import RunDir
from core.tasks import SINGLE_LABEL
from core.engine.job import STOPPED_BEFORE_TRAINING, train


@pytest.fixture
def big_validation(tmp_path, example_data):
    """4,000 validation texts: a full evaluation of them is what made Stop slow."""
    rows = pd.read_csv(example_data)
    val = pd.concat([rows] * 13, ignore_index=True).head(4000)
    val["text"] = val["text"] + " #" + val.index.astype(str)
    path = tmp_path / "val.csv"
    val.to_csv(path, index=False)
    return path


@pytest.fixture
def evaluations(monkeypatch):
    calls = []
    original = Trainer.evaluate
    monkeypatch.setattr(Trainer, "evaluate", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    return calls


def _stop_when(monkeypatch, wanted):
    """Ask for a stop (as the Stop button does) once the event `wanted(event_type, fields)` is appended."""
    append_event = RunDir.append_event

    def appending(run, event_type, **fields):
        event = append_event(run, event_type, **fields)
        if wanted(event_type, fields):
            RunDir(run.path).request_stop()
        return event

    monkeypatch.setattr(RunDir, "append_event", appending)


def test_stop_saves_a_checkpoint_without_evaluating_and_resume_finishes(tmp_path, example_data, tiny_model_dir,
                                                                        big_validation, evaluations, monkeypatch):
    from core import __main__ as cli

    config = TrainConfig(data_path=str(example_data), val_data_path=str(big_validation), model=tiny_model_dir,
                         epochs=1, max_length=16)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    with monkeypatch.context() as patch:
        _stop_when(patch, lambda kind, fields: kind == "started")
        assert train(run_dir) == "cancelled"
    events = read_events(run_dir)
    assert evaluations == [] and [e for e in events if e["type"] == "eval"] == []
    assert events[-1]["message"] == "Stopped at step 1 of 10. Resume continues from there."
    assert [p.name for p in (run_dir / "checkpoints").glob("checkpoint-*")] == ["checkpoint-1"]

    out = io.StringIO()
    assert cli.follow(run_dir, out=out) == "cancelled"
    # No "epoch 1" row for an epoch that was never evaluated.
    assert epoch_table_header(SINGLE_LABEL) not in out.getvalue()
    assert "CANCELLED: Stopped at step 1 of 10. Resume continues from there." in out.getvalue()

    RunDir(run_dir).clear_stop()
    assert train(run_dir, resume=True) == "finished"
    events = read_events(run_dir)
    assert [e["resumed_from_step"] for e in events if e["type"] == "started"] == [0, 1]
    assert [e["step"] for e in events if e["type"] == "eval"] == [10]


def test_stop_while_the_head_is_fitted_ends_the_run_before_training(tmp_path, example_data, tiny_model_dir,
                                                                    evaluations, monkeypatch):
    fitted = []
    monkeypatch.setattr("core.tasks.probe.fit_probe", lambda *a, **k: fitted.append(1))
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, max_length=16)
    run_dir = launcher.create_run(config, tmp_path)
    # The probe reads 256 texts in 4 batches; Stop comes after the first one.
    _stop_when(monkeypatch,
               lambda kind, fields: fields.get("message") == "Fitting the classification head (64 of 256 texts)")
    assert train(run_dir) == "cancelled"
    events = read_events(run_dir)
    assert events[-1] == {**events[-1], "type": "cancelled", "message": STOPPED_BEFORE_TRAINING}
    assert STOPPED_BEFORE_TRAINING == "Stopped before training started. Resume starts the run from the beginning."
    assert fitted == [] and evaluations == []
    assert not any(e["type"] == "started" for e in events)  # the Trainer never began
    assert not (run_dir / "checkpoints").exists()


def test_stop_while_tokenising_ends_the_run_before_the_rest_is_tokenised(tmp_path, example_data, tiny_model_dir,
                                                                        evaluations, monkeypatch):
    """A million rows take about a minute to tokenise: Stop is seen between chunks, not after all of them."""
    import core.engine.token_store
    import core.engine.job

    monkeypatch.setattr(core.engine.token_store, "CHUNK_TEXTS", 10)
    calls = []
    original = core.engine.job._stop_before_training_if_asked
    monkeypatch.setattr(core.engine.job, "_stop_before_training_if_asked", lambda *a: calls.append(1) or original(*a))
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, max_length=16)
    run_dir = launcher.create_run(config, tmp_path)
    _stop_when(monkeypatch, lambda kind, fields: fields.get("message") == "Tokenising")
    assert train(run_dir) == "cancelled"
    events = read_events(run_dir)
    assert events[-1] == {**events[-1], "type": "cancelled", "message": STOPPED_BEFORE_TRAINING}
    assert calls == [1]  # the first chunk boundary saw the Stop; the ~25 other chunks were never tokenised
    assert evaluations == [] and not any(e["type"] == "started" for e in events)
