"""The task-kind seam (core/tasks/): how a run's kind is found, and SingleLabel's pieces on tiny real data."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core import tasks
from core.runs.events import fold
from core.tasks import SINGLE_LABEL, LabelColumn

ROOT = Path(__file__).resolve().parent.parent
LABELS = ["billing", "bug", "praise"]


def test_a_run_without_a_stored_kind_is_single_label_and_its_labels_json_is_unchanged():
    assert tasks.read_labels(["neg", "pos"]) == (SINGLE_LABEL, ["neg", "pos"])  # every run written so far
    assert tasks.read_labels([1, 2]) == (SINGLE_LABEL, ["1", "2"])
    assert tasks.read_labels({"task": "single_label", "labels": ["a", "b"]}) == (SINGLE_LABEL, ["a", "b"])
    assert SINGLE_LABEL.labels_json(LABELS) == LABELS  # the file keeps its format: a list of names in id order
    assert tasks.named(None) is tasks.named("single_label") is SINGLE_LABEL
    assert tasks.for_problem_type(None) is tasks.for_problem_type("single_label_classification") is SINGLE_LABEL
    # The "started" event names the kind; the events of a run from before kinds existed fold as single-label.
    assert fold([{"type": "started", "time": 0, "total_steps": 2}]).kind is SINGLE_LABEL
    assert fold([{"type": "started", "time": 0, "total_steps": 2, "task": "single_label"}]).kind is SINGLE_LABEL


def test_single_label_detection_accepts_classes_and_refuses_lists_scores_and_ids():
    def column(values: list, name: str = "label") -> LabelColumn:
        series = pd.Series(values, dtype=object)
        return LabelColumn(name, series, series.astype(str))

    assert tasks.detect(column(["spam", "ham", "spam", "ham"])) is SINGLE_LABEL
    assert tasks.detect(column([str(i % 5) for i in range(40)])) is SINGLE_LABEL  # 1-5 stars are classes
    lists = pd.Series([["a"], ["a", "b"], ["b"]], dtype=object)
    assert tasks.detect(LabelColumn("tags", lists)) is tasks.MULTI_LABEL  # lists of a few labels: multi-label
    assert tasks.detect(LabelColumn("tags", lists), "single") == (
        "Column 'tags' holds lists of labels (several per text). This app learns one label per text: give each row "
        "a single label.")
    assert tasks.detect(column([f"{i / 37:.4f}" for i in range(40)], "score")) == (
        "Column 'score' holds 40 different numbers in 40 rows, so it looks like a score, not a label. A classifier "
        "needs a column of a few repeated labels.")
    assert tasks.detect(column(["1001", "1002", "1003", "1004"], "id")) == (
        "Column 'id' has a different value in every row, so it is not a column of labels (an id?). Choose the column "
        "whose values repeat, like 'spam' / 'not spam'.")
    # A validation table is judged by its values alone: only lists are refused there.
    assert SINGLE_LABEL.refusal(LabelColumn("label", pd.Series(["1001", "1002", "1003", "1004"]))) is None


def test_label_encoding_and_model_settings():
    assert SINGLE_LABEL.targets(["praise", "billing", "praise"], LABELS) == [2, 0, 2]
    with pytest.raises(KeyError):
        SINGLE_LABEL.targets(["unknown"], LABELS)
    assert SINGLE_LABEL.model_settings(["neg", "pos"]) == {
        "num_labels": 2, "id2label": {0: "neg", 1: "pos"}, "label2id": {"neg": 0, "pos": 1},
        "problem_type": "single_label_classification"}


def test_the_loss_is_cross_entropy_weighted_by_inverse_label_frequency():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.3, 0.2], [-1.0, 0.0, 3.0], [0.5, 0.5, 0.5]])
    target = torch.tensor([0, 1, 2, 0])
    balanced = SINGLE_LABEL.loss(["billing", "bug", "praise"] * 4, LABELS)
    assert balanced({"logits": logits}, target).item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, target).item())
    skewed = SINGLE_LABEL.loss(["billing"] * 6 + ["bug"] * 2 + ["praise"], LABELS)
    # Weights 1/6 : 1/2 : 1, normalised to average 1 (0.3, 0.9, 1.8): the rare label counts most.
    expected = torch.nn.functional.cross_entropy(logits, target, weight=torch.tensor([0.3, 0.9, 1.8]))
    assert skewed({"logits": logits}, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_evaluation_scores_name_the_kinds_metrics_and_pick_the_best_by_the_main_one():
    targets = [0, 1, 2, 2]
    right = SINGLE_LABEL.eval_scores(np.eye(3)[targets] * 3.0, targets)
    wrong = SINGLE_LABEL.eval_scores(np.eye(3)[[0, 1, 2, 0]] * 3.0, targets)
    assert set(right) == {m.key for m in SINGLE_LABEL.metrics} | {"selection"}
    assert SINGLE_LABEL.main_metric == "f1_macro" and SINGLE_LABEL.greater_is_better
    assert right["f1_macro"] == 1.0 and wrong["accuracy"] == 0.75
    assert right["selection"] > wrong["selection"]
    assert [(m.key, m.label) for m in SINGLE_LABEL.metrics] == [("accuracy", "accuracy"), ("f1_macro", "macro-F1")]


def test_predictions_are_softmax_probabilities_and_the_most_likely_label():
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0]], dtype=np.float32)
    probs = SINGLE_LABEL.probabilities(logits)
    assert probs.dtype == np.float32  # the API's numbers do not depend on which path computed them
    np.testing.assert_allclose(probs, torch.tensor(logits).softmax(-1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    names, confidence = SINGLE_LABEL.predicted(probs, LABELS)
    assert names == ["billing", "praise"]
    assert confidence == pytest.approx([float(probs[0, 0]), float(probs[1, 2])])
    assert SINGLE_LABEL.decisions(probs).tolist() == [0, 2]
    scores = SINGLE_LABEL.scores([0, 1], SINGLE_LABEL.decisions(probs).tolist(), LABELS)
    assert (scores["accuracy"], scores["confusion_matrix"]) == (0.5, [[1, 0, 0], [0, 0, 1], [0, 0, 0]])


def test_baseline_and_words(example_data):
    df = pd.read_csv(example_data).astype(str)
    labels = sorted(df["label"].unique())
    result = SINGLE_LABEL.baseline(df.iloc[::2], df.iloc[1::2], labels)
    assert result["method"] == "TF-IDF + linear SVM"
    assert {m.key for m in SINGLE_LABEL.metrics} <= set(result) and result["labels"] == labels
    assert SINGLE_LABEL.scores_words({"accuracy": 0.8456, "f1_macro": 0.8}) == "accuracy 84.6 %, macro-F1 80.0 %"
    assert SINGLE_LABEL.card_summary(["neg", "pos"]) == (
        "A text classifier that sorts a text into one of 2 labels: `neg`, `pos`. ")


def test_warm_start_head_fits_the_new_output_layer(tiny_model_dir, example_data):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.engine.token_store import encode_split

    df = pd.read_csv(example_data).astype(str)
    labels = sorted(df["label"].unique())
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model, info = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, **SINGLE_LABEL.model_settings(labels), ignore_mismatched_sizes=True, output_loading_info=True)
    assert model.config.problem_type == "single_label_classification"
    new = sorted(set(info["missing_keys"]) | {k[0] for k in info["mismatched_keys"]})
    data, _ = encode_split(tokenizer, df, labels, 32, 128, SINGLE_LABEL)
    before = model.classifier.weight.detach().clone()
    assert SINGLE_LABEL.warm_start_head(model, new, data, labels, tokenizer.pad_token_id, "fp32", True, 0)
    assert not torch.equal(before, model.classifier.weight)
    assert not SINGLE_LABEL.warm_start_head(model, [], data, labels, tokenizer.pad_token_id, "fp32", True, 0)


# What only a task kind may know, and the files besides core/tasks/ allowed to say it (where it is defined).
KIND_ONLY = {
    r"single_label_classification": set(),
    r"problem_type\s*=": set(),
    r"cross_entropy": set(),
    r"\.softmax\(": set(),
    r"class_weight_values": set(),
    r"init_head_from_probe\(": {"core/tasks/probe.py"},
    r"train_baseline\(": {"core/tasks/baseline.py"},
    r"from core\.metrics import": {"core/tasks/baseline.py"},
    r"id2label=": set(),
}


def test_every_place_that_depends_on_the_kind_goes_through_core_tasks():
    sources = [p for p in [ROOT / "app.py", *(ROOT / "core").rglob("*.py"), *(ROOT / "ui").rglob("*.py")]
               if "tasks" not in p.relative_to(ROOT).parts]
    found = {pattern: {p.relative_to(ROOT).as_posix() for p in sources if re.search(pattern, p.read_text("utf-8"))}
             for pattern in KIND_ONLY}
    assert found == KIND_ONLY


def test_a_run_directory_written_before_kinds_existed_still_reads_as_single_label(tmp_path):
    (tmp_path / "labels.json").write_text(json.dumps(["negative", "positive"]))
    from core.runs.rundir import RunDir

    assert tasks.read_labels(RunDir(tmp_path).stored_labels()) == (SINGLE_LABEL, ["negative", "positive"])
    assert RunDir(tmp_path).labels() == ["negative", "positive"]


def test_the_api_status_of_a_run_from_before_kinds_keeps_its_fields(tmp_path):
    from tests.fake_runs import fake_run
    from ui.train_api import run_status

    events = [{"type": "started", "time": 1.0, "total_steps": 2},
              {"type": "log", "time": 2.0, "step": 1, "epoch": 0.5, "loss": 0.9},
              {"type": "eval", "time": 3.0, "step": 2, "epoch": 1.0, "loss": 0.5, "accuracy": 0.75, "f1_macro": 0.7},
              {"type": "finished", "time": 4.0, "message": "done"}]
    run_dir = fake_run(tmp_path, "old-run", "", events, "finished")
    (run_dir / "test_metrics.json").write_text(json.dumps({"accuracy": 0.8, "f1_macro": 0.75, "rows": 20,
                                                           "per_class": []}))
    status = run_status(run_dir)
    assert status["epochs"] == [{"epoch": 1, "train_loss": 0.9, "val_loss": 0.5, "accuracy": 0.75, "f1_macro": 0.7}]
    assert status["evals"] == [{"step": 2, "epoch": 1.0, "loss": 0.5, "accuracy": 0.75, "f1_macro": 0.7}]
    assert status["test"] == {"accuracy": 0.8, "f1_macro": 0.75, "rows": 20}
    assert (status["best_f1"], status["best_accuracy"]) == (0.7, 0.75)
