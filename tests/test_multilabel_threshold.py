"""Multi-label beyond the core: several 0/1 columns as labels, the decision threshold (tuned after training, moved
and saved from the Evaluate step, used by every prediction and the card), and the best micro-F1 in /status."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import tasks
from core.data.columns import DataError
from core.data.loading import load_training_data
from core.runs.rundir import RunDir
from core.tasks.multi_label import MultiLabel
from core.tasks.threshold import best_thresholds, tuning_words
from tests.topics_data import topic_rows

ROOT = Path(__file__).resolve().parent.parent


def write_columns_csv(path: Path, rows: int = 150) -> Path:
    """The topics table as one 0/1 column per topic (a text may have none of the three kept here)."""
    data = topic_rows(rows)
    kept = ["politics", "sports", "weather"]
    table = pd.DataFrame({"text": [text for text, _ in data],
                          **{t: [int(t in topics) for _, topics in data] for t in kept}, "source": "wire"})
    table.to_csv(path, index=False)
    return path


def test_several_zero_one_columns_are_one_multi_label_target(tmp_path):
    path = write_columns_csv(tmp_path / "columns.csv")
    data = load_training_data(path, label_column="politics, sports,weather")
    assert data.kind is tasks.MULTI_LABEL and data.labels == ["politics", "sports", "weather"]
    assert data.text_column == "text" and data.rows_kept == 150  # texts with none of the labels are kept
    table = pd.read_csv(path)
    both = pd.concat([data.train, data.validation])
    none = both["label"] == "[]"
    assert none.sum() == (table[["politics", "sports", "weather"]].sum(axis=1) == 0).sum() > 0
    first = json.loads(both.set_index("text").loc[table["text"][0], "label"])
    assert first == [t for t in ("politics", "sports", "weather") if table.loc[0, t] == 1]


def test_a_ticked_column_that_is_not_zero_one_is_named_with_its_value(tmp_path):
    path = write_columns_csv(tmp_path / "columns.csv")
    table = pd.read_csv(path, dtype=str)
    table.loc[4, "sports"] = "maybe"
    table.to_csv(path, index=False)
    with pytest.raises(DataError) as error:
        load_training_data(path, label_column="politics,sports")
    assert error.value.message == ("Column 'sports' holds 'maybe' in row 5 of the file: each label column ticked as a "
                                   "label must hold only 0 or 1.")
    with pytest.raises(DataError) as error:
        load_training_data(path, label_column="politics,source")
    assert error.value.message == ("Column 'source' holds 'wire' in row 1 of the file: each label column ticked as a "
                                   "label must hold only 0 or 1.")
    with pytest.raises(DataError) as error:
        load_training_data(path, label_column="politics,weather", task="single")
    assert error.value.message == ("Several label columns (politics, weather) make a multi-label target: choose the "
                                   "task auto or multi-label.")
    with pytest.raises(DataError) as error:
        load_training_data(path, label_column="politics,wether")
    assert error.value.message.startswith("Column 'wether' is not in the file. Columns: ")


def test_per_label_thresholds_are_kept_only_when_rows_they_were_not_tuned_on_gain():
    rng = np.random.default_rng(0)
    truth = rng.random((200, 3)) < 0.3
    # Label 0's scores are right but low (its best threshold is ~0.2); labels 1 and 2 are right at 0.5.
    probs = np.where(truth, 0.7, 0.1)
    probs[:, 0] = np.where(truth[:, 0], 0.3, 0.1)
    kind = MultiLabel()
    tuned, tuning = kind.tuned(probs, truth.astype(float).tolist(), ["a", "b", "c"])
    assert tuned.threshold == [0.3, 0.5, 0.5]  # of the equally good ones (0.15 to 0.3), the nearest 0.5
    assert tuning["estimated"] == pytest.approx(1.0) and tuning["before"] < 0.9
    assert tuning_words({"before": 0.71, "estimated": 0.74}) == (
        "Per-label thresholds tuned on validation: micro-F1 71.0 % -> 74.0 % (measured on validation rows each "
        "threshold was not tuned on; the validation scores shown use thresholds tuned on all of them, so they are a "
        "little optimistic).")
    right = np.where(truth, 0.9, 0.1)
    assert kind.tuned(right, truth.astype(float).tolist(), ["a", "b", "c"]) is None  # nothing to gain
    assert kind.tuned(probs[:40], truth[:40].astype(float).tolist(), ["a", "b", "c"]) is None  # too few rows
    assert best_thresholds(probs, np.zeros_like(truth)).tolist() == [0.5, 0.5, 0.5]
    assert tuned.decisions(probs).tolist() == truth.astype(int).tolist()
    assert tuned.predicted(probs[:1], ["a", "b", "c"])[0] == ["; ".join(
        n for n, on in zip("abc", truth[0]) if on)] or not truth[0].any()


def test_a_threshold_binds_only_when_usable():
    kind = tasks.MULTI_LABEL
    assert kind.at(0.5) is kind and kind.at(None) is kind and kind.at(1.5) is kind and kind.at("x") is kind
    assert kind.at(0.3).threshold == 0.3 and kind.at([0.2, 0.6]).threshold == [0.2, 0.6]
    assert kind.saved_threshold({}) == 0.5 and kind.saved_threshold({"threshold": [0.2, 0.7]}) == [0.2, 0.7]
    two_labels = {"id2label": {"0": "a", "1": "b"}}
    assert kind.saved_threshold({**two_labels, "threshold": [0.2, 0.7, 0.4]}) == 0.5  # not one per label
    assert kind.saved_threshold({**two_labels, "threshold": True}) == 0.5
    assert tasks.SINGLE_LABEL.at(0.3) is tasks.SINGLE_LABEL and tasks.SINGLE_LABEL.saved_threshold({}) is None
    assert kind.at([0.2, 0.6]).card_summary(["a", "b"]).startswith(
        "A multi-label text classifier that tags a text with any of 2 labels (each scored on its own, kept at or "
        "above its own threshold (a 0.20, b 0.60)): `a`, `b`. ")


@pytest.fixture(scope="module")
def columns_run(tmp_path_factory, tiny_model_dir) -> tuple[Path, str]:
    """A CLI run on three 0/1 columns named with --label a,b,c."""
    folder = tmp_path_factory.mktemp("columns")
    path = write_columns_csv(folder / "columns.csv")
    runs_dir = folder / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TEXTCLF_PRECISION": "fp32"}
    out = subprocess.run([sys.executable, "-m", "core", "--runs-dir", str(runs_dir), "train", "--data", str(path),
                          "--label", "politics,sports,weather", "--model", tiny_model_dir, "--epochs", "2",
                          "--lr", "5e-3", "--batch-size", "16"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = [p for p in runs_dir.iterdir() if not p.name.startswith(".")]
    return run_dir, out.stdout


def test_the_cli_trains_on_several_label_columns_and_status_reports_micro_f1(columns_run):
    from core.runs.launcher import list_runs
    from ui.train_api import run_status

    run_dir, printed = columns_run
    assert "multi-label: 3 labels" in printed and "FINISHED: Validation micro-F1 " in printed
    assert RunDir(run_dir).stored_labels()["labels"] == ["politics", "sports", "weather"]
    evals = [e for e in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines()) if e["type"] == "eval"]
    status = run_status(run_dir)
    assert status["best_f1"] == max(e["f1_micro"] for e in evals) and status["best_f1_metric"] == "f1_micro"
    (summary,) = list_runs(run_dir.parent)
    assert summary.best_f1 == status["best_f1"] and summary.best_f1_label == "micro-F1"


def test_the_threshold_moves_in_evaluate_and_saved_reaches_every_prediction(columns_run, tmp_path):
    from core.serving import evaluation, predict
    from core.publish import modelcard
    from core.serving import thresholds

    run_dir, _ = columns_run
    ev = evaluation.load_evaluation(run_dir)
    assert thresholds.adjustable(ev) and thresholds.current_threshold(ev) == ev.metrics["threshold"]
    probs = ev.predictions[[f"prob_{n}" for n in ev.labels]].to_numpy()
    low = thresholds.at_threshold(ev, 0.05)
    assert low.metrics["threshold"] == 0.05 and low.metrics["per_class"][0]["recall"] >= ev.metrics[
        "per_class"][0]["recall"]
    assert (low.predictions[[f"pred_{n}" for n in ev.labels]].to_numpy() == (probs >= 0.05)).all()
    with pytest.raises(evaluation.UserError) as error:
        thresholds.at_threshold(ev, 1.5)
    assert error.value.message == "The threshold must be a number between 0 and 1, not 1.5."

    said = thresholds.save_threshold(run_dir, 0.05)
    assert said == ("Saved: the model now predicts each label whose score reaches 0.05 (in the Predict step, for "
                    "files, through the API and in the model card; pipeline() users read it as `threshold` in "
                    "config.json).")
    assert json.loads((run_dir / "model" / "config.json").read_text())["threshold"] == 0.05
    assert RunDir(run_dir).stored_labels()["threshold"] == 0.05 and RunDir(run_dir).metrics()["threshold"] == 0.05
    again = evaluation.load_evaluation(run_dir)
    assert again.metrics["f1_micro"] == low.metrics["f1_micro"] and again.kind.threshold == 0.05
    text = "Heavy rain flooded streets in the city."
    scores = predict.predict_one(run_dir, text)
    trace = predict.get_predictor(run_dir).trace(text)
    assert trace.predicted == "; ".join(sorted((n for n in scores if scores[n] >= 0.05), key=lambda n: -scores[n]))
    table = predict.predict_table(run_dir, pd.DataFrame({"text": [text]}), "text", tmp_path / "out.csv")
    assert [table[f"pred_{n}"][0] for n in ev.labels] == [int(scores[n] >= 0.05) for n in ev.labels]
    assert "(each scored on its own, kept at 0.05 or more)" in modelcard.render_card(run_dir)
    answer = predict.api_answer(run_dir, scores)  # what /predict returns
    assert answer == {"labels": [n for n in sorted(scores, key=lambda n: -scores[n]) if scores[n] >= 0.05],
                      "scores": scores, "threshold": 0.05}


def test_the_data_step_shows_the_kind_its_separator_and_takes_ticked_columns(tmp_path):
    from tests.topics_data import write_topics_csv
    from ui import data_tab

    settings = ("", 0, 0.2, 42)
    shown = data_tab.on_file(str(write_topics_csv(tmp_path / "topics.csv", separator="|")), *settings)
    assert "multi-label: 8 labels, 1.5 per text on average." in shown["sentences"]
    assert "Given together most often: " in shown["sentences"]
    assert shown["label_separator"].visible and shown["label_separator"].info == (
        "What separates the labels in a cell. Detected: '|'. Choose another if the labels are split wrongly.")
    assert shown["data_extra"]["label_columns"] == ""
    path, text, label = str(tmp_path / "topics.csv"), "text", "topics"
    single = data_tab.on_kind("single", "", [], path, text, label, *settings, shown["data_extra"])
    assert single["label_separator"].visible is False and single["data_extra"]["task"] == "single"
    assert "multi-label" not in single["sentences"]

    columns = str(write_columns_csv(tmp_path / "columns.csv"))
    loaded = data_tab.on_file(columns, *settings)
    assert [c[0] for c in loaded["label_columns"].choices] == ["text", "politics", "sports", "weather", "source"]
    ticked = data_tab.on_kind("auto", "", ["politics", "sports", "weather"], columns, "text", "politics", *settings,
                              loaded["data_extra"])
    assert ticked["data_extra"]["label_columns"] == "politics,sports,weather"
    assert "multi-label: 3 labels" in ticked["sentences"] and ticked["data_status"]["ok"]
    assert ticked["label_separator"].info.endswith("None needed: the cells are lists. Choose another if the labels "
                                                   "are split wrongly.")
    wrong = data_tab.on_kind("auto", "", ["politics", "source"], columns, "text", "politics", *settings,
                             loaded["data_extra"])
    assert wrong["data_status"]["reason"] == ("Column 'source' holds 'wire' in row 1 of the file: each label column "
                                              "ticked as a label must hold only 0 or 1.")


def test_the_evaluate_slider_and_the_predict_step_show_the_threshold_and_every_label(columns_run):
    from core.serving import thresholds
    from ui import evaluate_tab, predict_tab
    from ui.context import RunOnScreen

    run_dir, _ = columns_run
    thresholds.save_threshold(run_dir, 0.5)
    state = RunOnScreen(run_dir=str(run_dir), state="finished")
    shown = evaluate_tab.show(state)
    assert shown["threshold_box"].visible and shown["threshold"].value == 0.5
    assert shown["threshold_note"].startswith("At this threshold: micro-F1 ") and shown["threshold_note"].endswith(
        "The model keeps 0.5.")
    moved = evaluate_tab.on_threshold(state, 0.2)
    assert moved["threshold_note"].endswith("The model keeps 0.5.")
    from core.serving import evaluation

    expected = thresholds.at_threshold(evaluation.load_evaluation(run_dir), 0.2)
    assert moved["per_class"].equals(evaluate_tab.as_percentages(evaluation.per_class_table(expected)))
    assert len(moved["mistakes"]) == len(evaluation.misclassified(expected))
    saved = evaluate_tab.on_save_threshold(state, 0.2)
    assert saved["threshold_note"].endswith("The model keeps 0.2.")
    assert saved["headline"]["micro-F1"][0] == moved["headline"]["micro-F1"][0]
    out = predict_tab.on_predict("Heavy rain flooded streets in the city.", state)
    probs = out["label"].value["confidences"]
    kept = [c["label"] for c in probs if c["confidence"] >= 0.2]
    assert out["label"].label == "Labels: " + (", ".join(kept) or "none of the labels")
    assert out["summary"].startswith("**Labels:** \u2068" + (", ".join(kept) or "none of the labels"))
    assert "the labels at 20 % or more are predicted." in out["summary"]
    preview = predict_tab.on_run(state)["preview"]  # what a predicted file will hold
    assert list(preview.columns)[-1] == "pred_<label>, prob_<label> for each label"


def test_the_zip_and_the_hub_push_of_a_multi_label_run_carry_its_kind(columns_run, monkeypatch):
    import zipfile

    from core.publish import hub, modelcard

    from core.serving import thresholds
    from tests.test_hub import FakeApi

    monkeypatch.delenv("HF_TOKEN", raising=False)
    run_dir, _ = columns_run
    thresholds.save_threshold(run_dir, 0.35)
    api = FakeApi()
    hub.push_to_hub(run_dir, repo_id="team/topics", private=True, token="hf_token_for_the_fake", api=api)
    with zipfile.ZipFile(modelcard.make_zip(run_dir)) as zf:
        zipped = {n.split("/", 1)[1]: zf.read(n) for n in zf.namelist()}
    assert zipped == api.uploaded
    card = api.uploaded["README.md"].decode()
    assert 'classifier = pipeline("text-classification", model="team/topics", top_k=None)' in card
    assert "(each scored on its own, kept at 0.35 or more)" in card
    assert ("`top_k=None` returns every label's score; the labels predicted are those scoring at 0.35 or more, the "
            "`threshold` kept in config.json.") in card
    config = json.loads(api.uploaded["config.json"])
    assert config["problem_type"] == "multi_label_classification" and config["threshold"] == 0.35
    assert [config["id2label"][str(i)] for i in range(3)] == ["politics", "sports", "weather"]
