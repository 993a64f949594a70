"""The pure fold from events to what the screens show."""
import json

import pytest

from core.runs.events import append_event, epoch_table_header, fold, format_epoch_row, read_events
from core.tasks import SINGLE_LABEL


def _ev(kind, **fields):
    return {"type": kind, "time": fields.pop("time", 0.0), **fields}


@pytest.fixture
def two_epoch_events():
    return [
        _ev("status", message="Loading the model", time=99.0),
        _ev("started", total_steps=4, num_train=8, time=100.0),
        _ev("log", step=1, epoch=0.5, loss=1.0, time=101.0),
        _ev("log", step=2, epoch=1.0, loss=0.8, time=102.0),
        _ev("progress", step=2, total_steps=4, epoch=1.0, samples_per_second=16.0, eta_seconds=2.0, time=102.5),
        _ev("eval", step=2, epoch=1.0, loss=0.9, accuracy=0.5, f1_macro=0.4, time=103.0),
        _ev("log", step=3, epoch=1.5, loss=0.6, time=104.0),
        _ev("log", step=4, epoch=2.0, loss=0.2, time=105.0),
        _ev("eval", step=4, epoch=2.0, loss=0.5, accuracy=0.75, f1_macro=0.7, time=106.0),
        _ev("finished", message="Validation accuracy 75.0%, macro-F1 0.700.", time=110.0),
    ]


def test_fold_builds_curves_epoch_table_and_final_state(two_epoch_events):
    view = fold(two_epoch_events)
    assert view.state == "finished"
    assert view.message == "Validation accuracy 75.0%, macro-F1 0.700."
    assert view.train_loss == [(1, 1.0), (2, 0.8), (3, 0.6), (4, 0.2)]
    assert [e.f1_macro for e in view.evals] == [0.4, 0.7]
    assert view.evals[-1].scores == {"accuracy": 0.75, "f1_macro": 0.7}  # the run's kind's metrics, by key
    assert view.best_f1 == 0.7 and view.best_accuracy == 0.75
    assert view.total_steps == 4 and view.step == 4 and view.fraction_done == 1.0
    assert view.elapsed_seconds == 10.0
    assert [(r.epoch, r.train_loss, r.val_loss, r.scores["accuracy"]) for r in view.epochs] == [
        (1, pytest.approx(0.9), 0.9, 0.5), (2, pytest.approx(0.4), 0.5, 0.75)]


def test_fold_while_running_reports_progress(two_epoch_events):
    view = fold(two_epoch_events[:5])
    assert view.state == "running"
    assert view.stage == "Loading the model"
    assert (view.step, view.samples_per_second, view.eta_seconds) == (2, 16.0, 2.0)
    assert view.fraction_done == 0.5
    assert view.best_f1 is None


def test_resumed_run_replays_steps_without_duplicate_points():
    events = [
        _ev("started", total_steps=4), _ev("log", step=1, epoch=0.5, loss=1.0), _ev("log", step=2, epoch=1.0, loss=0.9),
        _ev("log", step=3, epoch=1.5, loss=0.8), _ev("cancelled", message="Stopped at step 3 of 4."),
        # resumed from the checkpoint at step 2: step 3 is trained again
        _ev("started", total_steps=4), _ev("log", step=3, epoch=1.5, loss=0.7), _ev("log", step=4, epoch=2.0, loss=0.5),
        _ev("finished", message="done"),
    ]
    view = fold(events)
    assert view.train_loss == [(1, 1.0), (2, 0.9), (3, 0.7), (4, 0.5)]
    assert view.state == "finished" and view.message == "done"


def test_a_new_start_clears_the_previous_terminal_state():
    view = fold([_ev("started", total_steps=4), _ev("cancelled", message="Stopped"), _ev("started", total_steps=4)])
    assert view.state == "running" and view.message == ""


def test_epoch_table_text(two_epoch_events):
    rows = [format_epoch_row(row, SINGLE_LABEL) for row in fold(two_epoch_events).epochs]
    assert "\n".join([epoch_table_header(SINGLE_LABEL), *rows]) == (
        "epoch | train loss | val loss | accuracy | macro-F1\n"
        "    1 |     0.9000 |   0.9000 |   0.5000 |   0.4000\n"
        "    2 |     0.4000 |   0.5000 |   0.7500 |   0.7000"
    )


def test_the_epoch_shown_follows_the_losses_between_progress_events(two_epoch_events):
    # Progress events are throttled; the step/epoch pair shown must not mix a new step with an old epoch.
    view = fold(two_epoch_events[:7])  # the last event is the loss of step 3
    assert (view.step, view.epoch) == (3, 1.5)


def _cli_lines(polls: list[list[dict]], monkeypatch) -> list[str]:
    """What the CLI prints while following a run whose directory reads as each of `polls` in turn."""
    import io

    from core import __main__ as cli

    from core.runs import launcher

    views = iter([fold(events) for events in polls])
    monkeypatch.setattr(runs, "view", lambda run_dir: next(views))
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: None)
    out = io.StringIO()
    assert cli.follow("unused", out) == "finished"
    return [line.strip("\r").rstrip() for line in out.getvalue().splitlines() if line.strip()]


def test_cli_prints_the_last_evaluation_before_the_stage_that_follows_it(two_epoch_events, monkeypatch):
    running = two_epoch_events[1:-1] + [_ev("status", message="Saving the model", time=107.0)]
    lines = _cli_lines([running, two_epoch_events[1:]], monkeypatch)
    assert lines.index("    2 |     0.4000 |   0.5000 |   0.7500 |   0.7000") < lines.index("Saving the model...")
    assert lines.index("Saving the model...") < lines.index("[##############################] step 4/4 epoch 2.00 16.0 samples/s ETA 2s")


def test_cli_prints_the_settings_before_training_starts(two_epoch_events, monkeypatch):
    # A poll can land between the "Training" status and the "started" event that carries the settings.
    first = two_epoch_events[:1] + [_ev("status", message="Training", time=99.5)]
    lines = _cli_lines([first, first + two_epoch_events[1:3], first + two_epoch_events[1:]], monkeypatch)
    assert lines.index("Settings: training texts 8") < lines.index("Training...")


def test_read_events_skips_a_half_written_last_line(tmp_path):
    append_event(tmp_path, "started", total_steps=3)
    append_event(tmp_path, "log", step=1, epoch=0.3, loss=2.0)
    with open(tmp_path / "events.jsonl", "a") as f:
        f.write('{"type": "log", "step": 2, "lo')
    events = read_events(tmp_path)
    assert [e["type"] for e in events] == ["started", "log"]
    assert json.loads((tmp_path / "events.jsonl").read_text().splitlines()[0])["total_steps"] == 3
    assert read_events(tmp_path / "missing") == []


def test_elapsed_time_skips_the_time_a_run_sat_stopped():
    events = [
        _ev("started", total_steps=4, time=100.0), _ev("log", step=1, epoch=0.5, loss=1.0, time=110.0),
        _ev("cancelled", message="Stopped", time=120.0),
        _ev("started", total_steps=4, time=1000.0), _ev("log", step=2, epoch=1.0, loss=0.9, time=1005.0),
    ]
    assert fold(events).elapsed_seconds == 25.0
    assert fold(events + [_ev("finished", message="ok", time=1010.0)]).elapsed_seconds == 30.0


def test_fold_keeps_learning_rate_and_gradient_norm_per_step():
    events = [
        _ev("started", total_steps=4),
        _ev("log", step=1, epoch=0.5, loss=1.0, learning_rate=5e-5, grad_norm=2.5),
        _ev("log", step=2, epoch=1.0, loss=0.9, learning_rate=1e-4, grad_norm=float("nan")),
        _ev("log", step=3, epoch=1.5, loss=0.8, learning_rate=5e-5, grad_norm=1.5),
        _ev("cancelled", message="Stopped at step 3 of 4."),
        _ev("started", total_steps=4),  # resumed from step 2: step 3 is logged again
        _ev("log", step=3, epoch=1.5, loss=0.7, learning_rate=5e-5, grad_norm=1.25),
        _ev("log", step=4, epoch=2.0, loss=0.5),  # an old run's log without either
    ]
    view = fold(events)
    assert view.learning_rate == [(1, 5e-5), (2, 1e-4), (3, 5e-5)]
    assert view.grad_norm == [(1, 2.5), (3, 1.25)]  # NaN is not a point
    assert view.planned_epochs == 2


def test_the_evaluation_a_stop_asks_for_is_not_shown():
    """Stop mid-epoch 2 of 8: the Trainer evaluates at epoch 1.45 on the way out. The epoch table has no such
    row, so the curves must not have the point either."""
    events = [
        _ev("started", total_steps=160),
        _ev("log", step=20, epoch=1.0, loss=0.9),
        _ev("eval", step=20, epoch=1.0, loss=0.8, accuracy=0.5, f1_macro=0.4),
        _ev("log", step=29, epoch=1.45, loss=0.7),
        _ev("eval", step=29, epoch=1.45, loss=0.6, accuracy=0.6, f1_macro=0.5),
        _ev("progress", step=29, total_steps=160, epoch=1.45),
        _ev("cancelled", message="Stopped at step 29 of 160."),
    ]
    view = fold(events)
    assert [e.epoch for e in view.evals] == [1.0]
    assert [(r.epoch, r.val_loss) for r in view.epochs] == [(1, 0.8), (2, None)]
    # A scheduled evaluation at the end of an epoch stays, stop or not.
    kept = fold(events[:3] + [_ev("cancelled", message="Stopped.")])
    assert [e.epoch for e in kept.evals] == [1.0]
