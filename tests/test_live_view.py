"""The Train step's live view without a browser: events -> chart specs, tables, log lines, and what draw() sets."""
from __future__ import annotations

import json
import time

import gradio as gr
import pytest

from core.runs.events import fold
from tests.fake_runs import fake_run
from ui import charts, layout, live_charts, live_view
from ui.context import RunOnScreen

EVENTS = [
    {"type": "started", "time": 100.0, "total_steps": 20},
    {"type": "status", "time": 100.5, "message": "Training"},
    {"type": "log", "time": 101.0, "step": 1, "epoch": 0.1, "loss": 1.40, "learning_rate": 5e-5, "grad_norm": 3.0},
    {"type": "log", "time": 102.0, "step": 5, "epoch": 0.5, "loss": 1.20, "learning_rate": 1e-4, "grad_norm": 2.0},
    {"type": "progress", "time": 103.0, "step": 10, "total_steps": 20, "epoch": 1.0, "samples_per_second": 31.5,
     "eta_seconds": 30.0},
    {"type": "eval", "time": 104.0, "step": 10, "epoch": 1.0, "loss": 1.10, "accuracy": 0.85, "f1_macro": 0.85},
    {"type": "log", "time": 105.0, "step": 15, "epoch": 1.5, "loss": 0.90, "learning_rate": 5e-5, "grad_norm": 1.5},
]
FINISHED = EVENTS + [
    {"type": "log", "time": 106.0, "step": 20, "epoch": 2.0, "loss": 0.70, "learning_rate": 0.0, "grad_norm": 1.0},
    {"type": "eval", "time": 107.0, "step": 20, "epoch": 2.0, "loss": 0.95, "accuracy": 0.82, "f1_macro": 0.8},
    {"type": "finished", "time": 108.0, "message": "Done."},
]


def _layers(spec):
    return {layer["transform"][0]["filter"]["equal"]: layer for layer in spec["layer"]}


def test_loss_chart_draws_lines_with_markers_so_a_single_point_shows():
    spec = live_charts.loss_spec(fold(EVENTS))
    assert live_charts.points(spec) == {"training loss": [(1, 1.4), (5, 1.2), (15, 0.9)],
                                        "validation loss": [(10, 1.1)]}  # one evaluation: one point
    for name, layer in _layers(spec).items():
        assert layer["mark"]["type"] == "line" and layer["mark"]["point"], name  # the marker draws a lone point
    layers = _layers(spec)
    assert "strokeDash" not in layers["training loss"]["mark"] and layers["validation loss"]["mark"]["strokeDash"]
    assert layers["training loss"]["mark"]["point"]["shape"] != layers["validation loss"]["mark"]["point"]["shape"]


def test_axes_fit_the_data_and_epoch_ticks_are_whole():
    running = fold(EVENTS)
    x = live_charts.loss_spec(running)["layer"][0]["encoding"]["x"]
    assert x["scale"] == {"domain": [0, 20], "nice": False}  # the planned 20 steps while training, not 25
    done = fold(FINISHED)
    assert live_charts.loss_spec(done)["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 20]
    stopped = fold(EVENTS + [{"type": "cancelled", "time": 106.0, "message": "Stopped."}])
    assert live_charts.loss_spec(stopped)["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, 15]  # last point
    scores = live_charts.scores_spec(done)
    sx, sy = scores["layer"][0]["encoding"]["x"], scores["layer"][0]["encoding"]["y"]
    assert sx["axis"]["values"] == [0, 1, 2] and sx["scale"]["domain"] == [0, 2]  # not 0.1 … 1.45, not to 3
    low, high = sy["scale"]["domain"]
    assert 0.7 < low < 0.8 and 0.85 < high < 0.9  # fitted: 0.82 and 0.85 look apart, no fixed 0-1 axis
    # Labelled '84.5 %' like the epoch table (one decimal: the scores lie within 5 points), tooltips too.
    assert sy["axis"] == {"labelExpr": "format(datum.value * 100, '.1f') + ' %'"}
    assert {"calculate": "format(datum.value * 100, '.1f') + ' %'", "as": "shown"} in scores["layer"][0]["transform"]
    apart = fold(EVENTS + [{"type": "eval", "time": 109.0, "step": 20, "epoch": 2.0, "loss": 0.5, "accuracy": 0.99,
                            "f1_macro": 0.99}])
    assert live_charts.scores_spec(apart)["layer"][0]["encoding"]["y"]["axis"]["labelExpr"] == (
        "format(datum.value * 100, '.0f') + ' %'")
    # While training, the epoch axis spans the planned epochs (20 steps at 10 per epoch).
    assert live_charts.scores_spec(running)["layer"][0]["encoding"]["x"]["axis"]["values"] == [0, 1, 2]


def test_equal_accuracy_and_macro_f1_stay_visible():
    spec = live_charts.scores_spec(fold(EVENTS))
    pts = live_charts.points(spec)
    assert pts["accuracy"] == pts["macro-F1"] == [(1.0, 0.85)]
    acc, f1 = (_layers(spec)[n]["mark"] for n in ("accuracy", "macro-F1"))
    assert (acc["point"]["shape"], acc["point"]["filled"]) == ("circle", True)
    assert (f1["point"]["shape"], f1["point"]["filled"]) == ("diamond", False)  # a hollow ring around the dot
    assert f1["point"]["size"] > acc["point"]["size"] and f1["strokeDash"] and "strokeDash" not in acc


def test_learning_rate_and_gradient_norm_charts():
    view = fold(FINISHED)
    assert live_charts.points(live_charts.learning_rate_spec(view)) == {
        "learning rate": [(1, 5e-5), (5, 1e-4), (15, 5e-5), (20, 0.0)]}
    grad = live_charts.grad_norm_spec(view)
    assert live_charts.points(grad) == {"gradient norm": [(1, 3.0), (5, 2.0), (15, 1.5), (20, 1.0)]}
    assert grad["title"] == "Gradient norm" and grad["layer"][0]["encoding"]["y"]["axis"]["format"] == ".2f"


def test_tables_use_one_number_format_per_column():
    table = charts.epoch_frame(fold(FINISHED))
    assert table.values.tolist() == [["1", "1.3000", "1.1000", "85.0 %", "85.0 %"],
                                     ["2", "0.8000", "0.9500", "82.0 %", "80.0 %"]]
    running = charts.epoch_frame(fold(EVENTS))
    assert running.values.tolist()[1] == ["2", "0.9000", "–", "–", "–"]


def test_log_box_lines_are_readable():
    raw = "\n".join([
        "\x1b[1mBertForSequenceClassification LOAD REPORT\x1b[0m",
        "{'loss': '0.3724', 'grad_norm': '6.103', 'learning_rate': '8.5e-06', 'epoch': '0.125'}",
        "{'eval_loss': '0.2802', 'eval_accuracy': '1', 'eval_f1_macro': '0.9667', 'eval_runtime': '0.7434', "
        "'eval_samples_per_second': '86.09', 'epoch': '1'}",
        "Writing:   0%|    | 0/1\rWriting: 100%|████| 1/1",
        "{'train_runtime': '25.79', 'train_samples_per_second': '32.26', 'train_loss': '0.2178', 'epoch': '3'}",
    ])
    assert live_view.readable_log(raw).splitlines() == [
        "BertForSequenceClassification LOAD REPORT",
        "epoch 0.12 · training loss 0.3724 · learning rate 8.5e-06 · gradient norm 6.10",
        "epoch 1 · validation loss 0.2802 · accuracy 100.0 % · macro-F1 96.7 % · took 0.7 s",
        "Writing: 100%|████| 1/1",
        "training done in 25.8 s · 32.26 samples/s · average training loss 0.2178",
    ]
    assert "scrollTop = t.scrollHeight" in live_view.SCROLL_LOG_TO_END  # the box opens at its end


def test_draw_running_then_finished_run(tmp_path):
    demo = layout.build(tmp_path / "app-runs")
    lv = _live_view(demo)
    run_dir = fake_run(tmp_path, "r1", "s-owner-1", EVENTS, "running")
    out = live_view.draw(lv, str(run_dir), data_ok=True)
    assert 'data-state="running"' in out[lv.banner] and "Step 15 / 20" in out[lv.progress]
    assert json.loads(out[lv.loss_plot].plot)["layer"][0]["mark"]["type"] == "line"
    assert len(out[lv.epoch_table]) == 2
    assert out[lv.timer].active is True and out[lv.stop].interactive is True and out[lv.resume].interactive is False
    assert out[lv.start].interactive is False  # no second Start while this one trains
    assert out[lv.run_state] == RunOnScreen(str(run_dir), "running")
    unchanged = live_view.draw(lv, str(run_dir), out[lv.signature], force=False, data_ok=True)
    assert set(unchanged) == set(lv.outputs()) and all(v == gr.skip() for v in unchanged.values())  # nothing new
    with open(run_dir / "events.jsonl", "a") as f:
        f.write(json.dumps({"type": "finished", "time": 120.0, "message": "Done."}) + "\n")
    (run_dir / "status.json").write_text(json.dumps({"state": "finished", "pid": None, "updated": time.time()}))
    out = live_view.draw(lv, str(run_dir), out[lv.signature], force=False, data_ok=True)
    assert 'data-state="finished"' in out[lv.banner] and out[lv.timer].active is False
    assert out[lv.run_state] == RunOnScreen(str(run_dir), "finished") and out[lv.start].interactive is True
    empty = live_view.draw(lv, None)
    assert 'data-state="none"' in empty[lv.banner] and empty[lv.timer].active is False and empty[lv.run_state] == RunOnScreen()


def test_a_resumed_run_keeps_being_polled_before_it_logs_started(tmp_path):
    demo = layout.build(tmp_path / "app-runs")
    lv = _live_view(demo)
    # Just resumed: the last event is still "cancelled" but status.json says the process is starting.
    run_dir = fake_run(tmp_path, "r-resumed", "s-owner-1", EVENTS + [{"type": "cancelled", "time": 106.0}], "queued")
    out = live_view.draw(lv, str(run_dir))
    assert 'data-state="queued"' in out[lv.banner] and out[lv.timer].active is True


def _live_view(demo) -> live_view.LiveView:
    return demo.train["live_view"]


@pytest.mark.parametrize("state", ["running", "queued"])
def test_start_stays_disabled_when_data_arrives_during_a_run(state):
    from ui import train_tab

    button, _ = train_tab.on_data_status({"ok": True, "summary": "x"}, RunOnScreen("/runs/r1", state))
    assert button.interactive is False
    button, _ = train_tab.on_data_status({"ok": True, "summary": "x"}, RunOnScreen("/runs/r1", "finished"))
    assert button.interactive is True


def test_step_ticks_are_whole_and_end_at_the_last_step():
    assert live_charts.int_ticks(20) == [0, 5, 10, 15, 20]
    assert live_charts.int_ticks(160) == [0, 20, 40, 60, 80, 100, 120, 140, 160]  # not on to 180
    assert live_charts.int_ticks(1) == [0, 1]
    assert live_charts.int_ticks(7) == [0, 1, 2, 3, 4, 5, 6, 7]
    empty = live_charts.learning_rate_spec(fold([]))
    assert empty["layer"][0]["encoding"]["y"]["axis"]["labels"] is False  # no made-up numbers before any point
