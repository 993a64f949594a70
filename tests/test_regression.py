"""Numeric targets (core/tasks/regression.py) end to end on the small ratings table of tests/ratings_data.py:
detection, the data report, refusals, targets and metrics, a whole CLI run of the tiny model, prediction, the
card, and pipeline() in a new process."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core.data import report as data_report

from core import tasks
from core.config import TrainConfig
from core.data.columns import DataError
from core.data.loading import load_training_data
from core.runs.rundir import RunDir, RunState
from core.tasks import REGRESSION, SINGLE_LABEL
from core.tasks.regression import Regression, measures, offer
from tests.ratings_data import rating_rows, write_ratings_csv

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ratings_csv(tmp_path_factory) -> Path:
    return write_ratings_csv(tmp_path_factory.mktemp("ratings") / "reviews.csv")


def _report(data) -> list[str]:
    return data_report.report_sentences(data_report.build_report(data))


def test_decimal_ratings_are_a_number_to_predict_with_its_range_and_histogram(ratings_csv):
    data = load_training_data(ratings_csv)
    assert isinstance(data.kind, Regression) and data.labels == ["rating"]
    assert (len(data.train), len(data.validation)) == (160, 40)  # a random 20 %
    train = data.train["label"].astype(float)
    # The scale comes from the training rows alone.
    assert (data.kind.mean, data.kind.std) == (pytest.approx(train.mean()), pytest.approx(train.std(ddof=0)))
    report = data_report.build_report(data)
    lines = data_report.report_sentences(report)
    assert lines[1:3] == ["160 rows for training and 40 for validation (a random split of the file).",
                          "numeric target (regression): range 1 … 5, mean 3.057 (41 different values)."]
    assert not any("label" in line for line in lines)  # no per-class counts or warnings for a number
    histogram = report.regression["histogram"]
    assert sum(histogram["counts"]) == 200 and len(histogram["edges"]) == 21 and histogram["edges"][0] == 1.0
    assert report.to_json()["regression"]["distinct"] == 41


def test_a_score_column_of_hundreds_of_values_gets_no_per_label_warnings(tmp_path):
    rng = np.random.default_rng(0)
    scores = np.round(rng.uniform(-1, 1, 400), 3)
    pd.DataFrame({"text": [f"sentence number {i} says {s}" for i, s in enumerate(scores)], "score": scores}).to_csv(
        tmp_path / "s.csv", index=False)
    data = load_training_data(tmp_path / "s.csv")
    assert isinstance(data.kind, Regression) and data.warnings == []
    lines = _report(data)
    assert lines[2] == "numeric target (regression): range −0.999 … 0.994, mean 0.06137 (351 different values)."
    assert not any("only one training example" in line for line in lines)


def test_a_few_whole_numbers_stay_classes_and_the_report_offers_regression(tmp_path, ratings_csv):
    stars = pd.read_csv(ratings_csv).assign(rating=lambda d: d["rating"].round().astype(int))
    stars.to_csv(tmp_path / "stars.csv", index=False)
    data = load_training_data(tmp_path / "stars.csv")
    assert data.kind is SINGLE_LABEL and data.labels == ["1", "2", "3", "4", "5"]
    assert ("The labels are whole numbers (1 … 5), learnt as 5 classes; to predict them as a number instead, set Task "
            "to 'regression (a number)' beside the label column (CLI: --task regression).") in _report(data)
    from ui import settings
    assert ("regression (a number)", "regression") in settings.task_choices()  # the words the sentence names
    chosen = load_training_data(tmp_path / "stars.csv", task="regression")
    assert isinstance(chosen.kind, Regression) and chosen.kind.target == "rating"
    # Asked for classes, decimal ratings are classes (a class per value), as before kinds existed.
    assert load_training_data(ratings_csv, task="single").kind is SINGLE_LABEL
    # Two numbers are a yes/no, and names no scale: no offer.
    assert offer(["0", "1"]) is None and offer(["1", "2", "x"]) is None


def test_many_whole_numbers_are_a_score_but_every_id_of_a_range_is_classes(tmp_path):
    rng = np.random.default_rng(1)
    points = rng.choice(np.arange(0, 101), 150)  # a 0-100 score over 150 rows: many values, gaps between them
    ids = np.arange(300) % 30  # 30 class ids, each in ten rows
    texts = [f"text {i}" for i in range(300)]
    pd.DataFrame({"text": texts[:150], "points": points}).to_csv(tmp_path / "points.csv", index=False)
    pd.DataFrame({"text": texts, "intent": ids}).to_csv(tmp_path / "ids.csv", index=False)
    assert isinstance(load_training_data(tmp_path / "points.csv", label_column="points").kind, Regression)
    assert load_training_data(tmp_path / "ids.csv").kind is SINGLE_LABEL


def test_what_regression_refuses_in_one_sentence(tmp_path, ratings_csv):
    frame = pd.read_csv(ratings_csv, dtype=str)
    frame.loc[6, "rating"] = "n/a"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError) as refused:
        load_training_data(tmp_path / "bad.csv", task="regression")
    assert str(refused.value) == ("Column 'rating' must hold a number in every row to train a regression, but row 7 "
                                  "holds 'n/a'.")
    pd.read_csv(ratings_csv).assign(rating=3.5).to_csv(tmp_path / "flat.csv", index=False)
    with pytest.raises(DataError) as refused:
        load_training_data(tmp_path / "flat.csv", task="regression")
    assert str(refused.value) == ("Column 'rating' has the same value (3.5) in every row, so there is nothing to "
                                  "predict: a regression target needs values that vary.")
    # A validation file is held to numbers too.
    frame.iloc[:20].to_csv(tmp_path / "val.csv", index=False)
    with pytest.raises(DataError) as refused:
        load_training_data(ratings_csv, val_data_path=tmp_path / "val.csv")
    assert str(refused.value) == ("Column 'rating' must hold a number in every row to train a regression, but row 7 "
                                  "holds 'n/a'.")
    assert TrainConfig(data_path="a.csv", task="both").validate() == [
        "Task must be one of: auto, single, multi, regression."]


def test_targets_are_standardised_with_the_training_scale_and_scored_back_on_the_users():
    kind = REGRESSION.fitted("rating", pd.Series(["1", "3", "5"]))
    assert (kind.mean, kind.std) == (3.0, pytest.approx(np.sqrt(8 / 3)))
    assert kind.targets(["3", "5"], ["rating"]) == [0.0, pytest.approx(2 / np.sqrt(8 / 3))]
    assert kind.model_settings(["rating"]) == {"num_labels": 1, "id2label": {0: "rating"}, "label2id": {"rating": 0},
                                               "problem_type": "regression"}
    stored = kind.labels_json(["rating"])
    assert stored == {"task": "regression", "labels": ["rating"], "target_mean": 3.0, "target_std": kind.std}
    assert tasks.read_labels(json.loads(json.dumps(stored))) == (kind, ["rating"])
    logits = np.array([[0.0], [1.0], [-1.0]], dtype=np.float32)
    assert kind.probabilities(logits).reshape(-1).tolist() == pytest.approx([3.0, 3 + kind.std, 3 - kind.std])
    assert kind.predicted(kind.probabilities(logits), ["rating"])[0] == ["3", "4.633", "1.367"]
    targets = kind.targets(["3", "5", "1"], ["rating"])
    scores = kind.eval_scores(logits, targets)
    # Predictions 3, 4.63, 1.37 for 3, 5, 1: the same order (Spearman 1), errors 0, 0.37, 0.37 on the user's scale.
    assert scores["spearman"] == pytest.approx(1.0) and scores["mae"] == pytest.approx(2 * (2 - kind.std) / 3)
    assert scores["selection"] < scores["spearman"]
    full = kind.scores(targets, kind.decisions(kind.probabilities(logits)).tolist(), ["rating"])
    assert {k: full[k] for k in ("spearman", "rmse", "mae", "r2")} == pytest.approx(
        {k: scores[k] for k in ("spearman", "rmse", "mae", "r2")})
    assert measures([1, 2, 3], [2, 2, 2])["spearman"] == 0.0  # one number for every text orders nothing
    assert measures([1, 2, 3], [1, 2, 3])["r2"] == 1.0
    loss = kind.loss(["1", "3", "5"], ["rating"])
    assert loss({"logits": torch.tensor([[0.5], [1.0]])}, torch.tensor([0.0, 2.0])).item() == pytest.approx(
        (0.25 + 1.0) / 2)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_model_dir, ratings_csv) -> tuple[Path, str]:
    runs_dir = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TEXTCLF_PRECISION": "fp32"}
    out = subprocess.run([sys.executable, "-m", "core", "--runs-dir", str(runs_dir), "train", "--data",
                          str(ratings_csv), "--model", tiny_model_dir, "--epochs", "2", "--lr", "5e-3",
                          "--batch-size", "16"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = [p for p in runs_dir.iterdir() if not p.name.startswith(".")]
    return run_dir, out.stdout


def test_a_cli_run_trains_a_regression_model_to_the_end(cli_run):
    run_dir, printed = cli_run
    assert "  numeric target (regression): range 1 … 5, mean 3.057 (41 different values).\n" in printed
    assert "epoch | train loss | val loss | Spearman | R² | RMSE | MAE\n" in printed
    assert "Baseline (TF-IDF + ridge regression): Spearman " in printed
    assert "FINISHED: Validation Spearman " in printed
    run = RunDir(run_dir)
    stored = run.stored_labels()
    train = pd.read_parquet(run.train_data)["label"].astype(float)
    assert stored == {"task": "regression", "labels": ["rating"], "target_mean": pytest.approx(train.mean()),
                      "target_std": pytest.approx(train.std(ddof=0))}
    metrics = run.metrics()
    assert {"spearman", "rmse", "mae", "r2"} <= set(metrics) and metrics["num_validation"] == 40
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["problem_type"] == "regression" and config["id2label"] == {"0": "rating"}
    assert (config["target_mean"], config["target_std"]) == (stored["target_mean"], stored["target_std"])
    predictions = pd.read_csv(run.predictions_file)
    assert list(predictions.columns) == ["text", "label", "predicted"]
    assert predictions["label"].tolist() == pd.read_parquet(run.validation_data)["label"].astype(float).tolist()
    true, pred = predictions["label"].to_numpy(), predictions["predicted"].to_numpy()
    assert metrics["mae"] == pytest.approx(np.abs(true - pred).mean(), abs=1e-5)
    evals = [e for e in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines()) if e["type"] == "eval"]
    assert len(evals) == 2 and all({"spearman", "r2", "rmse", "mae"} <= set(e) for e in evals)
    # The tiny random model's features hardly vary: the ridge probe would be huge, so it is skipped, and says why.
    assert "Warm start skipped: the model's features hardly differ between texts" in run.log_file.read_text()


def test_prediction_matches_pipeline_plus_the_saved_scale_in_a_new_process(cli_run, tmp_path):
    from core.serving import predict
    from core.serving.predict import Predictor

    run_dir, _ = cli_run
    texts = ["My new kettle - absolutely love it.", "The toaster: it broke on the first day."]
    predictor = Predictor(run_dir / "model")
    assert predictor.kind == tasks.read_labels(RunDir(run_dir).stored_labels())[0]
    ours = predictor.predict(texts)
    assert [list(p) for p in ours] == [["rating"], ["rating"]]
    code = ("import json,sys; from transformers import AutoConfig, pipeline; "
            "p = pipeline('text-classification', model=sys.argv[1], function_to_apply='none'); "
            "c = AutoConfig.from_pretrained(sys.argv[1]); "
            "print(json.dumps([r['score'] * c.target_std + c.target_mean for r in p(sys.argv[2:], truncation=True)]))")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir / "model"), *texts], capture_output=True, text=True,
                         check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    assert theirs == pytest.approx([p["rating"] for p in ours], abs=1e-4)
    assert predict.predict_one(run_dir, texts[0]) == pytest.approx(ours[0], abs=1e-5)
    # What /predict answers: {"rating": 4.1}, the number on the user's scale under the target column's name. In a
    # thread of its own: another test's event loop may be running in this one.
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(asyncio.run, predict.predict_one_async(run_dir, texts[1])).result()
    assert answer == pytest.approx(ours[1], abs=1e-5)
    trace = predictor.trace(texts[0])
    assert trace.task == "regression" and float(trace.predicted.replace("−", "-")) == pytest.approx(
        ours[0]["rating"], rel=1e-3)
    table = predict.predict_table(run_dir, pd.DataFrame({"review": [texts[0], "", texts[1]]}), "review",
                                  tmp_path / "out.csv")
    assert list(table.columns) == ["review", "predicted"]
    written = pd.read_csv(tmp_path / "out.csv")
    assert written["predicted"][0] == pytest.approx(ours[0]["rating"], abs=1e-5) and pd.isna(written["predicted"][1])


def test_the_card_and_the_evaluate_step_follow_the_kind(cli_run):
    from core.serving import evaluation
    from core.publish import modelcard
    from ui import evaluate_tab
    from ui.context import RunOnScreen

    run_dir, _ = cli_run
    run = RunDir(run_dir)
    metrics, baseline, kind = run.metrics(), run.baseline(), tasks.read_labels(run.stored_labels())[0]
    card = modelcard.render_card(run_dir)
    assert 'regressor = pipeline("text-classification", model="path/to/this/folder", function_to_apply="none")' in card
    assert "print(score * config.target_std + config.target_mean)  # rating" in card
    assert "| model | Spearman | R² | RMSE | MAE |" in card and "## Labels" not in card
    assert "`rating`, a number. In the data: 1 to 5, mean 3.057. pipeline() gives the standardised score" in card
    assert "metrics:\n- spearmanr\n- r_squared\n- rmse\n- mae\n" in card
    ev = evaluation.load_evaluation(run_dir)
    assert list(evaluation.headline_table(ev).columns) == ["model", "Spearman", "R²", "RMSE", "MAE"]
    said = evaluation.verdict(ev)
    assert said.startswith(f"Spearman {metrics['spearman']:.3f}, RMSE {metrics['rmse']:.4g}, MAE "
                           f"{metrics['mae']:.4g}, R² {metrics['r2']:.3f} on 40 validation texts.")
    # The tiny random model after two epochs orders these reviews about as well as the ridge (a tie on 40 texts:
    # Spearman 0.86-0.87 vs 0.91), or worse with an unlucky start.
    scores = (f"(Spearman {metrics['spearman']:.3f} vs {baseline['spearman']:.3f}, RMSE {metrics['rmse']:.4g} vs "
              f"{baseline['rmse']:.4g})")
    assert said.endswith({
        "same": f" A tie with the TF-IDF + ridge regression baseline {scores}: the gap is within what chance alone "
                "moves it by on a set this size.",
        "worse": f" The TF-IDF + ridge regression baseline orders the texts better {scores}: more epochs, more data "
                 "or a larger model may help; or use the baseline."}[evaluation.outcome(ev)])
    errors = evaluation.misclassified(ev)
    assert list(errors.columns) == ["text", "true value", "predicted", "error"] and len(errors) == 40
    assert errors["error"].abs().is_monotonic_decreasing
    assert errors["error"].abs().mean() == pytest.approx(metrics["mae"], abs=1e-4)
    assert evaluation.per_class_table(ev).empty
    shown = evaluate_tab.show(RunOnScreen(run_dir=str(run_dir), state="finished"))
    assert shown["confusion"].axes[0].get_title() == "Predicted vs. true (validation)"
    assert shown["count"] == "All 40 validation texts, the largest errors first."
    assert kind.verdict({"spearman": 0.9, "rmse": 0.3, "mae": 0.2, "r2": 0.8, "num_validation": 200},
                        {"spearman": 0.7, "rmse": 0.5, "method": "m"})[1] == "better"
    assert kind.verdict({"spearman": 0.72, "rmse": 0.3, "mae": 0.2, "r2": 0.8, "num_validation": 200},
                        {"spearman": 0.7, "rmse": 0.5, "method": "m"})[1] == "same"


def test_the_data_step_draws_the_values_and_says_what_is_predicted(ratings_csv, tiny_model_dir):
    from ui import data_charts, data_tab
    from ui.data_check import check_data

    check = check_data(str(ratings_csv), None, None, tiny_model_dir)
    assert check.ok and check.target["distinct"] == 41
    assert check.summary == "reviews.csv: 200 rows, a number to predict ('review' → 'rating')."
    spec = data_charts.target_histogram_spec(check.target, "rating")
    assert spec["title"]["text"] == "Values of rating" and sum(r["rows"] for r in spec["data"]["values"]) == 200
    assert data_tab.baseline_markdown({"spearman": 0.9123, "rmse": 0.4391, "method": "TF-IDF + ridge regression",
                                       "seconds": 0.21}) == (
        "**A classic baseline** (TF-IDF + ridge regression, 0.2 s) reaches **Spearman 0.912** (RMSE 0.4391) on the "
        "same validation rows. Fine-tuning has to beat this to be worth its cost.")


def test_the_live_chart_and_epoch_table_show_the_kinds_scores(cli_run):
    from core.runs import launcher
    from ui import charts, live_charts

    run_dir, _ = cli_run
    view = launcher.view(run_dir)
    table = charts.epoch_frame(view)
    assert list(table.columns) == ["epoch", "train loss", "val loss", "Spearman", "R²", "RMSE", "MAE"]
    last = view.epochs[-1].scores
    assert table["Spearman"].iloc[-1] == f"{last['spearman']:.4f}" and "%" not in table["RMSE"].iloc[-1]
    spec = live_charts.scores_spec(view)
    assert {row["series"] for row in spec["data"]["values"]} == {"Spearman", "R²"}
    assert spec["layer"][0]["encoding"]["y"]["axis"] == {"format": ".2f"}  # scores below 0 are no percentages
    assert [s.name for s in live_charts.score_series(view.kind)] == ["Spearman", "R²"]  # RMSE is on the target's scale
    # The runs list and the banner show the best Spearman as a number, where a classifier's show its F1.
    (summary,) = [s for s in launcher.list_runs(run_dir.parent) if s.run_dir == run_dir]
    best = max(e.scores["spearman"] for e in view.evals)
    assert (summary.best_f1, summary.best_f1_label, summary.best_f1_percent) == (best, "Spearman", False)
    assert charts.run_rows([summary])["best macro-F1"].iloc[0] == f"{best:.3f} (Spearman)"
    stopped = dataclasses.replace(view, state=RunState.CANCELLED)
    assert f"Best Spearman {best:.3f}." in charts.banner_html(stopped)


def test_train_takes_the_kind_as_the_cli_does():
    from ui import settings, train_api

    assert "task" in train_api.SIGNATURE.parameters and "regression" in train_api._SPECS["task"][2]
    assert settings.config_from_ui("a.csv", task="Regression").task == "regression"
    assert settings.config_from_ui("a.csv", task="").task == "auto"
    out = subprocess.run([sys.executable, "-m", "core", "train", "-h"], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    assert "regression" in out
