"""Multi-label targets (core/tasks/multi_label.py) end to end on a small topics table written by tests/topics_data.py:
detection, targets, metrics, a whole CLI run of the tiny model, prediction, and pipeline() in a new process."""
from __future__ import annotations

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
from core.batching import BucketPaddingCollator
from core.config import TrainConfig
from core.data.columns import DataError
from core.data.loading import load_training_data
from core.runs.rundir import RunDir
from core.tasks import MULTI_LABEL, SINGLE_LABEL, LabelColumn
from tests.topics_data import TOPICS, write_topics_csv

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["politics", "sports", "weather"]


@pytest.fixture(scope="module")
def topics_csv(tmp_path_factory) -> Path:
    return write_topics_csv(tmp_path_factory.mktemp("topics") / "multi.csv")


@pytest.mark.parametrize("separator", [";", "|", ",", "json"])
def test_a_column_of_label_lists_is_multi_label_whatever_separates_them(tmp_path, separator):
    data = load_training_data(write_topics_csv(tmp_path / "t.csv", separator=separator))
    assert data.kind is MULTI_LABEL and data.labels == TOPICS
    assert data.label_separator == ("" if separator == "json" else separator)
    assert (len(data.train), len(data.validation)) == (120, 30)  # a random 20 %, not one class per combination
    assert data.train["label"].map(lambda cell: all(t in TOPICS for t in json.loads(cell))).all()
    lines = data_report.report_sentences(data_report.build_report(data))
    assert lines[1:6] == [
        "120 rows for training and 30 for validation (a random split of the file).",
        "multi-label: 8 labels, 1.5 per text on average.",
        "8 labels: culture 39, economy 28, health 25, politics 25, science 33, sports 25, technology 26, weather 31.",
        # 120 texts of 8 labels is small data for the training job too; no pairs with several labels per text.
        "Small data: 120 training texts for 8 labels. With the automatic batch size the app trains at batch 16 for 10 "
        "epochs (when epochs are left at 3) and keeps the last epoch's model.",
        "Given together most often: culture + politics 9, science + technology 7, science + sports 6.",
    ]


def test_single_labels_stay_single_and_what_is_still_refused_keeps_its_sentence(tmp_path, example_data, topics_csv):
    assert load_training_data(example_data).kind is SINGLE_LABEL
    # Texts with commas are no lists of labels: 71 % of the example's texts hold a comma, in 353 different pieces.
    texts = pd.read_csv(example_data)["text"]
    assert MULTI_LABEL.refusal(LabelColumn("text", texts)) == (
        "Column 'text' does not look like lists of labels: 227 of 320 rows hold more than one, in 353 different "
        "labels.")
    # Asked for single labels, label lists are combinations (a class each), and JSON lists are refused as before.
    combined = load_training_data(topics_csv, task="single")
    assert combined.kind is SINGLE_LABEL and "culture;politics" in combined.labels
    write_topics_csv(tmp_path / "json.csv", separator="json")
    frame = pd.read_csv(tmp_path / "json.csv")
    frame.assign(topics=frame["topics"].map(json.loads)).to_parquet(tmp_path / "lists.parquet")
    with pytest.raises(DataError) as refused:
        load_training_data(tmp_path / "lists.parquet", task="single")
    assert str(refused.value) == ("Column 'topics' holds lists of labels (several per text). This app learns one "
                                  "label per text: give each row a single label.")
    assert load_training_data(tmp_path / "lists.parquet").kind is MULTI_LABEL
    # A multi-label column of one label only has nothing to learn.
    one = pd.DataFrame({"text": [f"text number {i}" for i in range(10)], "label": ["news;news"] * 10})
    one.to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(DataError) as refused:
        load_training_data(tmp_path / "one.csv", task="multi")
    assert str(refused.value) == ("Column 'label' holds fewer than two different labels, so there is nothing to tell "
                                  "apart. A multi-label column lists labels like 'sports;politics'.")


def test_the_separator_can_be_given_and_the_validation_file_is_read_the_same_way(tmp_path):
    train = write_topics_csv(tmp_path / "train.csv", separator="|")
    val = write_topics_csv(tmp_path / "val.csv", rows=20, seed=1, separator="|")
    # "|" given: a comma inside a label name is no separator then.
    frame = pd.read_csv(train)
    frame["topics"] = frame["topics"].str.replace("culture", "arts, culture")
    frame.to_csv(train, index=False)
    data = load_training_data(train, val_data_path=val, label_separator="|")
    assert data.kind is MULTI_LABEL and "arts, culture" in data.labels and data.validation_source == "file"
    assert len(data.validation) == 20 and json.loads(data.validation["label"][0])[0] in TOPICS
    # A validation table of one label is still a validation table of label lists.
    pd.DataFrame({"text": ["Heavy rain again.", "Snow on the roads."], "topics": ["weather", "weather"]}).to_csv(
        tmp_path / "one.csv", index=False)
    data = load_training_data(train, val_data_path=tmp_path / "one.csv")
    assert data.validation["label"].tolist() == ['["weather"]', '["weather"]']


def test_targets_scores_and_predictions():
    assert MULTI_LABEL.targets(['["politics", "weather"]', '["sports"]'], LABELS) == [[1.0, 0.0, 1.0],
                                                                                     [0.0, 1.0, 0.0]]
    assert MULTI_LABEL.model_settings(LABELS)["problem_type"] == "multi_label_classification"
    assert tasks.read_labels(MULTI_LABEL.labels_json(LABELS)) == (MULTI_LABEL, LABELS)
    assert MULTI_LABEL.labels_json(LABELS) == {"task": "multi", "labels": LABELS, "threshold": 0.5}
    targets = [[1, 0, 1], [0, 1, 0], [1, 0, 0]]
    logits = np.array([[2.0, -1.0, 3.0], [-2.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
    scores = MULTI_LABEL.eval_scores(logits, targets)
    # 3 true positives, 1 false positive, 1 false negative: micro-F1 2*3/(2*3+2) = 0.75; one row of three exact.
    assert scores["f1_micro"] == pytest.approx(0.75) and scores["subset_accuracy"] == pytest.approx(1 / 3)
    assert scores["selection"] < scores["f1_micro"]
    probs = MULTI_LABEL.probabilities(logits)
    assert probs[0] == pytest.approx(1 / (1 + np.exp(-logits[0])))
    full = MULTI_LABEL.scores(targets, MULTI_LABEL.decisions(probs).tolist(), LABELS)
    assert full["per_class"][0] == {"label": "politics", "precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3),
                                    "support": 2}
    names, sure = MULTI_LABEL.predicted(probs, LABELS)
    assert names == ["weather; politics", "sports; weather", ""]
    assert sure[2] == pytest.approx(1 - 1 / (1 + np.e))
    assert MULTI_LABEL.scores_words(full) == "micro-F1 75.0 %, macro-F1 77.8 %, subset accuracy 33.3 %"


def test_the_loss_is_binary_cross_entropy_with_positive_weights():
    loss = MULTI_LABEL.loss(['["politics"]', '["politics", "sports"]', '["weather"]', '["politics"]'], LABELS)
    logits, target = torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]])
    # pos_weight = negatives / positives per label: politics 1/3, sports 3, weather 3.
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, target,
                                                                    pos_weight=torch.tensor([1 / 3, 3.0, 3.0]))
    assert loss({"logits": logits}, target).item() == pytest.approx(expected.item())


def test_the_collators_batch_multi_hot_rows_as_floats(tiny_model_dir):
    from transformers import AutoTokenizer

    from core.engine.trainer_setup import collator

    features = [{"input_ids": [101, 7, 102], "attention_mask": [1, 1, 1], "labels": [1.0, 0.0, 1.0]},
                {"input_ids": [101, 102], "attention_mask": [1, 1], "labels": [0.0, 1.0, 0.0]}]
    stock = collator(AutoTokenizer.from_pretrained(tiny_model_dir), 64, False, False)
    for collate in (BucketPaddingCollator(0), stock):
        batch = collate([dict(f) for f in features])
        assert batch["labels"].dtype == torch.float32 and batch["labels"].tolist() == [[1, 0, 1], [0, 1, 0]]


def test_the_cli_and_settings_offer_the_kind_and_the_separator():
    assert TrainConfig(data_path="a.csv", task="both").validate() == ["Task must be one of: auto, single, multi, regression."]
    assert TrainConfig(data_path="a.csv", label_separator=";;").validate() == [
        "The label separator must be one character, such as ; or |."]
    out = subprocess.run([sys.executable, "-m", "core", "train", "-h"], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout
    assert "--task" in out and "--label-separator" in out


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, tiny_model_dir, topics_csv) -> tuple[Path, str]:
    runs_dir = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TEXTCLF_PRECISION": "fp32"}
    out = subprocess.run([sys.executable, "-m", "core", "--runs-dir", str(runs_dir), "train", "--data", str(topics_csv),
                          "--model", tiny_model_dir, "--epochs", "2", "--lr", "5e-3", "--batch-size", "16"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    (run_dir,) = [p for p in runs_dir.iterdir() if not p.name.startswith(".")]
    return run_dir, out.stdout


def test_a_cli_run_trains_a_multi_label_model_to_the_end(cli_run):
    run_dir, printed = cli_run
    assert "  multi-label: 8 labels, 1.5 per text on average.\n" in printed
    assert "epoch | train loss | val loss | micro-F1 | macro-F1 | subset accuracy\n" in printed
    assert "Baseline (TF-IDF + one-vs-rest logistic regression): micro-F1 " in printed
    assert "FINISHED: Validation micro-F1 " in printed
    assert RunDir(run_dir).stored_labels() == {"task": "multi", "labels": TOPICS, "threshold": 0.5}
    metrics = RunDir(run_dir).metrics()
    assert 0 <= metrics["f1_micro"] <= 1 and [c["label"] for c in metrics["per_class"]] == TOPICS
    assert sum(c["support"] for c in metrics["per_class"]) == sum(
        len(json.loads(cell)) for cell in pd.read_parquet(RunDir(run_dir).validation_data)["label"])
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification" and config["threshold"] == 0.5
    assert [config["id2label"][str(i)] for i in range(8)] == TOPICS
    predictions = pd.read_csv(RunDir(run_dir).predictions_file, keep_default_na=False)
    validation = pd.read_parquet(RunDir(run_dir).validation_data)
    assert predictions["label"].tolist() == ["; ".join(json.loads(cell)) for cell in validation["label"]]
    assert (predictions[[f"pred_{t}" for t in TOPICS]].to_numpy() == (
        predictions[[f"prob_{t}" for t in TOPICS]].to_numpy() >= 0.5)).all()
    evals = [e for e in map(json.loads, (run_dir / "events.jsonl").read_text().splitlines()) if e["type"] == "eval"]
    assert len(evals) == 2 and all({"f1_micro", "f1_macro", "subset_accuracy"} <= set(e) for e in evals)


def test_prediction_matches_pipeline_in_a_new_process(cli_run):
    from core.serving.predict import Predictor

    run_dir, _ = cli_run
    text = "Heavy rain flooded streets in the city. The parliament passed the budget after a long debate."
    predictor = Predictor(run_dir / "model")
    assert predictor.kind is MULTI_LABEL
    ours = predictor.predict([text])[0]
    trace = predictor.trace(text)
    assert trace.predicted == "; ".join(sorted((n for n in ours if ours[n] >= 0.5), key=lambda n: -ours[n]))
    code = ("import json,sys; from transformers import pipeline; "
            "p = pipeline('text-classification', model=sys.argv[1], top_k=None); "
            "print(json.dumps(p([sys.argv[2]], truncation=True)[0]))")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir / "model"), text], capture_output=True, text=True,
                         check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    theirs = {r["label"]: r["score"] for r in json.loads(out.stdout.strip().splitlines()[-1])}
    assert set(theirs) == set(TOPICS)
    assert all(theirs[name] == pytest.approx(ours[name], abs=1e-5) for name in TOPICS)
    assert sum(ours.values()) != pytest.approx(1.0)  # one sigmoid per label, not a softmax


def test_the_card_the_predict_step_and_the_evaluate_step_follow_the_kind(cli_run, tmp_path):
    from core.serving import evaluation, predict
    from core.publish import modelcard
    from ui import evaluate_tab, predict_tab
    from ui.context import RunOnScreen

    run_dir, _ = cli_run
    card = modelcard.render_card(run_dir)
    assert 'classifier = pipeline("text-classification", model="path/to/this/folder", top_k=None)' in card
    assert "| model | micro-F1 | macro-F1 | subset accuracy |" in card
    assert card.count("A multi-label text classifier that tags a text with any of 8 labels") == 1
    assert "metrics:\n- f1\n- accuracy\n" in card  # micro- and macro-F1 are one Hub metric, with two averages
    summary, _, scores = predict_tab.trace_tables(predict.get_predictor(run_dir).trace("Snowstorms closed roads."))
    assert list(scores.columns) == ["label", "logit", "sigmoid score"]
    assert summary.endswith("model → one logit per label → sigmoid → a score per label on its own; the labels at "
                            "50 % or more are predicted.")
    metrics = RunDir(run_dir).metrics()
    ev = evaluation.load_evaluation(run_dir)
    assert list(evaluation.headline_table(ev).columns) == ["model", "micro-F1", "macro-F1", "subset accuracy"]
    assert evaluation.verdict(ev).startswith(
        f"Micro-F1 {100 * metrics['f1_micro']:.1f} %, macro-F1 {100 * metrics['f1_macro']:.1f} %, subset accuracy "
        f"{100 * metrics['subset_accuracy']:.1f} % on 30 validation texts.")
    # The baseline gets every text of this templated data right.
    compared = f"vs 100.0 % subset accuracy, micro-F1 {100 * metrics['f1_micro']:.1f} % vs 100.0 %)"
    assert compared in evaluation.verdict(ev)
    assert evaluation.per_class_table(ev)["label"].tolist() == TOPICS
    wrong = evaluation.misclassified(ev)
    exact = round(metrics["subset_accuracy"] * 30)
    assert len(wrong) == 30 - exact and set(wrong["true label"][0].split("; ")) <= set(TOPICS)
    politics = evaluation.misclassified(ev, true_label="politics")
    assert len(politics) and all("politics" in cell.split("; ") for cell in politics["true label"])
    shown = evaluate_tab.show(RunOnScreen(run_dir=str(run_dir), state="finished"))
    assert shown["confusion"] is None and list(shown["headline"].columns)[1] == "micro-F1"
    table = predict.predict_table(run_dir, pd.DataFrame({"text": ["Heavy rain flooded streets.", ""]}), "text",
                                  tmp_path / "out.csv")
    per_label = [column for t in TOPICS for column in (f"pred_{t}", f"prob_{t}")]
    assert list(table.columns) == ["text", "predicted", "confidence", *per_label]
    assert table["predicted"][1] == "" and pd.isna(table[f"pred_{TOPICS[0]}"][1])
    written = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, dtype=str)
    assert written[f"pred_{TOPICS[0]}"].tolist()[0] in {"0", "1"} and written[f"pred_{TOPICS[0]}"][1] == ""
    chosen = [t for t in TOPICS if table[f"pred_{t}"][0] == 1]
    assert chosen == [t for t in TOPICS if table[f"prob_{t}"][0] >= 0.5]
    assert sorted(filter(None, table["predicted"][0].split("; "))) == chosen


@pytest.mark.slow
def test_a_dataset_of_label_lists_scores_its_test_split(tmp_path, tiny_model_dir):
    from datasets import Dataset

    from core.runs import launcher
    from core.engine.job import train
    from tests.topics_data import topic_rows

    repo = tmp_path / "topics-dataset"
    splits = {"train": topic_rows(100, 0), "validation": topic_rows(20, 1),
              "test": topic_rows(12, 2) + [("Aliens landed in the square.", ["aliens"])]}
    for split, rows in splits.items():
        repo.mkdir(exist_ok=True)
        Dataset.from_dict({"text": [t for t, _ in rows], "topics": [y for _, y in rows]}).to_parquet(
            str(repo / f"{split}.parquet"))
    config = TrainConfig(data_path=f"hf://{repo}", model=tiny_model_dir, epochs=1, batch_size=16,
                         warm_start_head=False)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    assert train(run_dir) == "finished"
    test = RunDir(run_dir).test_metrics()
    # The row with a label training never saw cannot be scored: left out and counted.
    assert (test["rows"], test["unknown_label_rows"]) == (12, 1) and 0 <= test["f1_micro"] <= 1
    message = RunDir(run_dir).read_status().get("message") or launcher.view(run_dir).message
    assert message.endswith(
        f"Test split: micro-F1 {100 * test['f1_micro']:.1f} %, macro-F1 {100 * test['f1_macro']:.1f} %, "
        f"subset accuracy {100 * test['subset_accuracy']:.1f} %.")
