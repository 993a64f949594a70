"""Evaluation: headline vs. baseline, per-class table, misclassified rows, confusion matrix; read from a run dir."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.serving import evaluation
from core.errors import UserError
from tests.test_predict import LABELS, synthetic_rows

# Six validation rows: three mistakes with known confidences.
PREDICTIONS = pd.DataFrame({
    "text": ["refund please", "app crashes", "love it", "charged twice", "error 500", "NA"],
    "label": ["billing", "bug", "praise", "billing", "bug", "praise"],
    "predicted": ["billing", "billing", "praise", "bug", "praise", "bug"],
    "confidence": [0.9, 0.8, 0.95, 0.6, 0.99, 0.5],
})


def write_run(root: Path, baseline_f1: float | None = None) -> Path:
    run = root / "run-a"
    (run / "data").mkdir(parents=True)
    synthetic_rows(10).to_parquet(run / "data" / "train.parquet")
    synthetic_rows(4, offset=50).to_parquet(run / "data" / "validation.parquet")
    (run / "labels.json").write_text(json.dumps(LABELS))
    (run / "run.json").write_text(json.dumps({"run_id": "run-a", "name": "tickets", "owner": "o", "created": 0}))
    df = PREDICTIONS.copy()
    for lab in LABELS:
        df[f"prob_{lab}"] = 0.1
    df.to_csv(run / "validation_predictions.csv", index=False)
    metrics = {**evaluation._scores(list(df["label"]), list(df["predicted"]), LABELS), "labels": LABELS,
               "loss": 0.7, "num_validation": 6, "best_step": 10,
               "confusion_matrix": [[1, 1, 0], [1, 0, 1], [0, 1, 1]]}
    (run / "metrics.json").write_text(json.dumps(metrics))
    if baseline_f1 is not None:
        (run / "baseline.json").write_text(json.dumps({"method": "TF-IDF + linear SVM", "accuracy": 0.5,
                                                       "f1_macro": baseline_f1, "per_class": [], "seconds": 0.1}))
    return run


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    return write_run(tmp_path)


def test_no_run_and_unfinished_run_give_friendly_messages(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="^Train a model or open a run from the Runs tab first.$"):
        evaluation.load_evaluation(None)
    with pytest.raises(UserError, match="^This run has not finished training yet: its evaluation appears when it finishes.$"):
        evaluation.load_evaluation(tmp_path)


def test_baseline_is_computed_once_and_stored(run: Path) -> None:
    ev = evaluation.load_evaluation(run)
    stored = json.loads((run / "baseline.json").read_text())
    assert stored == ev.baseline
    assert stored["method"] == "TF-IDF + linear SVM"
    assert {"accuracy", "f1_macro", "per_class", "seconds"} <= set(stored)
    # The synthetic templates are keyword-separable: a working baseline gets them all right.
    assert stored["accuracy"] == 1.0 and stored["f1_macro"] == 1.0
    assert [r["label"] for r in stored["per_class"]] == LABELS
    assert [r["support"] for r in stored["per_class"]] == [4, 4, 4]
    (run / "baseline.json").write_text(json.dumps({**stored, "accuracy": 0.123}))
    assert evaluation.load_evaluation(run).baseline["accuracy"] == 0.123  # read, not recomputed


def test_headline_and_verdict_compare_with_the_baseline(tmp_path: Path) -> None:
    ev = evaluation.load_evaluation(write_run(tmp_path, baseline_f1=0.05))
    table = evaluation.headline_table(ev)
    assert list(table["model"]) == ["Fine-tuned transformer", "Baseline: TF-IDF + linear SVM"]
    assert table["accuracy"].tolist() == [pytest.approx(2 / 6, abs=1e-4), 0.5]
    f1 = ev.metrics["f1_macro"]
    # 2 of 6 right against 3 of 6: one text apart, well within chance on 6 texts.
    assert evaluation.verdict(ev) == (
        f"Accuracy 33.3 %, macro-F1 {100 * f1:.1f} % on 6 validation texts. With so few, one text moves accuracy "
        "by 17 points: treat the scores as rough. The 95 % interval for accuracy on these 6 texts is 10 to 70 %. "
        "A tie with the TF-IDF + linear SVM baseline: the transformer gets "
        f"1 text fewer of the 6 right (33.3 % vs 50.0 % accuracy, macro-F1 {100 * f1:.1f} % vs 5.0 %), within the "
        "±3 texts that chance alone moves it on a set this size. About 68 validation texts would show whether a gap this "
        "size is real.")


def _scored(tmp_path: Path, n: int, accuracy: float, baseline_accuracy: float, f1: float, baseline_f1: float):
    ev = evaluation.load_evaluation(write_run(tmp_path, baseline_f1=baseline_f1))
    ev.metrics.update(num_validation=n, accuracy=accuracy, f1_macro=f1, per_class=[])
    ev.baseline.update(accuracy=baseline_accuracy)
    return ev


def test_verdict_says_how_many_texts_the_difference_is(tmp_path: Path) -> None:
    # 0.845 vs 0.793 on 40 texts: 2 texts, a tie, and what would settle it.
    tie = _scored(tmp_path / "a", 40, 0.85, 0.8, 0.845, 0.793)
    assert evaluation.outcome(tie) == "same"
    assert evaluation.verdict(tie) == (
        "Accuracy 85.0 %, macro-F1 84.5 % on 40 validation texts. A tie with the TF-IDF + linear SVM baseline: the "
        "transformer gets 2 texts more of the 40 right (85.0 % vs 80.0 % accuracy, macro-F1 84.5 % vs 79.3 %), within "
        "the ±7 texts that chance alone moves it on a set this size. About 460 validation texts would show whether "
        "a gap this size is real.")
    # The same scores on 1,000 texts: 50 texts, more than chance.
    win = _scored(tmp_path / "b", 1000, 0.85, 0.8, 0.845, 0.793)
    assert evaluation.verdict(win).endswith(
        "The transformer gets 50 texts more of the 1,000 right than the TF-IDF + linear SVM baseline (85.0 % vs "
        "80.0 % accuracy, macro-F1 84.5 % vs 79.3 %): more than chance explains on a set this size.")
    # Both perfect: an honest tie, never "has not earned its cost yet".
    both = _scored(tmp_path / "c", 40, 1.0, 1.0, 1.0, 1.0)
    assert evaluation.verdict(both) == (
        "Accuracy 100.0 %, macro-F1 100.0 % on 40 validation texts. A tie: the transformer and the TF-IDF + linear "
        "SVM baseline both get all 40 texts right. This data is easy for a classic model, which is far cheaper to "
        "run; only harder or more validation texts could tell them apart.")


def test_verdict_when_the_baseline_wins(tmp_path: Path) -> None:
    ev = _scored(tmp_path, 500, 0.7, 0.9, 0.7, 0.9)
    assert evaluation.outcome(ev) == "worse"
    assert evaluation.verdict(ev).endswith(
        "The TF-IDF + linear SVM baseline gets 100 texts more of the 500 right (70.0 % vs 90.0 % accuracy, macro-F1 "
        "70.0 % vs 90.0 %): more epochs, more data or a larger model may help; or use the baseline.")


def test_the_data_step_never_promises_to_beat_a_perfect_baseline() -> None:
    from ui import data_tab

    perfect = data_tab.baseline_markdown({"accuracy": 1.0, "f1_macro": 1.0, "seconds": 0.2})
    assert "should beat" not in perfect and perfect.endswith(
        "It already gets every validation text right: fine-tuning can only tie it here, so the classic model may "
        "be all you need.")
    assert data_tab.baseline_markdown({"accuracy": 0.8, "f1_macro": 0.79, "seconds": 0.2}).endswith(
        "Fine-tuning has to beat this to be worth its cost.")


def test_few_validation_texts_and_labels_without_any(tmp_path: Path) -> None:
    ev = evaluation.load_evaluation(write_run(tmp_path, baseline_f1=0.05))
    assert ("on 6 validation texts. With so few, one text moves accuracy by 17 points: treat the scores as rough. "
            "The 95 % interval for accuracy on these 6 texts is 10 to 70 %.") in evaluation.verdict(ev)
    assert evaluation.outcome(ev) == "same"
    # A label with no validation texts: blank recall and F1 (not 0, which macro-F1 leaves out too).
    ev.metrics["per_class"][2]["support"] = 0
    table = evaluation.per_class_table(ev)
    assert table.iloc[2][["recall", "f1"]].isna().all() and not pd.isna(table.iloc[1]["f1"])
    from core.serving.plotting import short_label

    assert short_label("category_with_a_long_name_07") == "category_…_name_07"
    # Enough texts in all, but few per label: the per-label scores are the rough ones.
    ev.metrics.update(num_validation=40, per_class=[{"label": f"l{i}", "support": 4} for i in range(10)])
    assert "on 40 validation texts. That is about 4 per label: treat the per-label scores as rough." in (
        evaluation.verdict(ev))


def test_per_class_table(run: Path) -> None:
    table = evaluation.per_class_table(evaluation.load_evaluation(run))
    assert list(table.columns) == ["label", "precision", "recall", "f1", "support", "baseline f1"]
    assert table["label"].tolist() == LABELS
    assert table["support"].tolist() == [2, 2, 2]
    billing = table.iloc[0]
    assert (billing["precision"], billing["recall"]) == (0.5, 0.5)  # 1 of 2 billing predictions right


def test_misclassified_most_confident_first_and_filters(run: Path) -> None:
    ev = evaluation.load_evaluation(run)
    wrong = evaluation.misclassified(ev)
    assert list(wrong.columns) == ["text", "true label", "predicted label", "confidence"]
    assert wrong["text"].tolist() == ["error 500", "app crashes", "charged twice", "NA"]  # "NA" stays text
    assert wrong["confidence"].tolist() == [0.99, 0.8, 0.6, 0.5]
    assert evaluation.misclassified(ev, true_label="bug")["text"].tolist() == ["error 500", "app crashes"]
    assert evaluation.misclassified(ev, predicted_label="bug")["text"].tolist() == ["charged twice", "NA"]
    assert evaluation.misclassified(ev, "bug", "praise")["text"].tolist() == ["error 500"]
    assert evaluation.misclassified(ev, "praise", "praise").empty


def test_confusion_matrix_from_metrics_or_rebuilt_from_predictions(run: Path) -> None:
    ev = evaluation.load_evaluation(run)
    assert ev.confusion == [[1, 1, 0], [1, 0, 1], [0, 1, 1]]
    ev.metrics.pop("confusion_matrix")
    assert ev.confusion == [[1, 1, 0], [1, 0, 1], [0, 1, 1]]


def test_confusion_figure_has_label_names(run: Path) -> None:
    fig = evaluation.confusion_figure(evaluation.load_evaluation(run))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == LABELS
    assert [t.get_text() for t in ax.get_yticklabels()] == LABELS
    assert ax.get_xlabel() == "Predicted label" and ax.get_ylabel() == "True label"
    assert sorted(t.get_text() for t in ax.texts) == sorted(["1", "1", "0", "1", "0", "1", "0", "1", "1"])
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # renders without a display
    assert buf.getvalue()[:4] == b"\x89PNG"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: str, example_data: Path) -> Path:
    """A real run: core.runs.launcher.create_run + core.engine.job.train in-process on the example tickets, tiny model, 1 epoch."""
    from core.config import TrainConfig
    from core.runs.launcher import create_run
    from core.engine.job import train

    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, batch_size=32, run_name="tickets")
    run = create_run(config, root=tmp_path_factory.mktemp("real-runs"), owner="test")
    assert train(run) == "finished", (run / "events.jsonl").read_text()[-2000:]
    return run


@pytest.mark.slow
def test_a_real_run_evaluates_predicts_and_exports(real_run: Path, tmp_path: Path) -> None:
    from core.publish import modelcard
    from core.serving import predict

    ev = evaluation.load_evaluation(real_run)
    labels = json.loads((real_run / "labels.json").read_text())
    assert ev.labels == labels and ev.baseline is not None  # baseline.json written by create_run, read here
    assert len(ev.predictions) == ev.metrics["num_validation"] == len(pd.read_parquet(real_run / "data" / "validation.parquet"))
    assert sum(map(sum, ev.confusion)) == len(ev.predictions)
    assert list(evaluation.per_class_table(ev)["label"]) == labels
    wrong = evaluation.misclassified(ev)
    assert wrong["confidence"].is_monotonic_decreasing
    assert len(wrong) == round((1 - ev.metrics["accuracy"]) * len(ev.predictions))
    # The mistakes table agrees with metrics.json, and the kept model agrees with the table wherever it is sure.
    assert evaluation._confusion(ev.predictions, labels) == ev.metrics["confusion_matrix"]
    predictor = predict.get_predictor(real_run)
    assert predictor.labels == labels
    again = predictor.predict_proba(list(ev.predictions["text"]))
    for (_, row), probs in zip(ev.predictions.iterrows(), again):
        ranked = sorted(probs, reverse=True)
        if ranked[0] - ranked[1] > 1e-3:  # train.py's CSV comes from batched eval: skip near-ties
            assert labels[probs.index(ranked[0])] == row["predicted"], row["text"]
    assert (real_run / "model" / "training_args.bin").exists()  # Trainer.save_model writes it; the export leaves it out
    with __import__("zipfile").ZipFile(modelcard.make_zip(real_run, tmp_path)) as zf:
        assert "tickets/README.md" in zf.namelist() and "tickets/training_args.bin" not in zf.namelist()


def test_evaluate_tab_handlers(tmp_path: Path) -> None:
    from ui import evaluate_tab
    from ui.context import RunOnScreen

    run = write_run(tmp_path, baseline_f1=0.05)
    out = evaluate_tab.show(RunOnScreen(str(run), "finished"))
    assert set(out) == set(evaluate_tab.SHOW_OUTPUTS)
    note = out["note"]
    assert "tickets: Accuracy 33.3 %, macro-F1" in note and "A tie with the TF-IDF + linear SVM baseline" in note
    assert "tc-warn" in note  # a tie is no win
    assert out["content"].visible is True and len(out["headline"]) == 2 and len(out["per_class"]) == 3
    assert out["true_filter"].choices == out["pred_filter"].choices == [(c, c) for c in ["(all)"] + LABELS]
    assert len(out["mistakes"]) == 4
    assert out["count"] == "4 of 4 misclassified validation texts, most confident mistakes first."
    shown, count = evaluate_tab.filter_mistakes(RunOnScreen(str(run), "finished"), "bug", "(all)")
    assert shown["text"].tolist() == ["error 500", "app crashes"] and count.startswith("2 of 4")
    out = evaluate_tab.show(RunOnScreen())
    assert "Train a model or open a run from the Runs tab first." in out["note"] and out["content"].visible is False
    assert "headline" not in out  # kept as it was, behind the hidden column
    assert "This run has not finished training yet" in evaluate_tab.show(RunOnScreen(str(run), "running"))["note"]


def test_chart_labels_no_font_can_draw_are_shown_by_position() -> None:
    from core.serving.plotting import axis_labels, drawable

    hieroglyphs = "\U00013000\U00013001"  # in no font that ships with matplotlib or a usual server
    assert drawable("café · naïve") and not drawable(hieroglyphs)
    assert axis_labels(["positive", hieroglyphs, "category_with_a_long_name_07"]) == [
        "positive", "label #2", "category_…_name_07"]


def test_evaluate_tables_show_scores_as_percentages(tmp_path: Path) -> None:
    from ui.evaluate_tab import as_percentages

    ev = evaluation.load_evaluation(write_run(tmp_path, baseline_f1=0.05))
    head = as_percentages(evaluation.headline_table(ev))
    assert head["accuracy"].tolist() == ["33.3 %", "50.0 %"]
    per_class = evaluation.per_class_table(ev)
    per_class.loc[2, "f1"] = float("nan")
    shown = as_percentages(per_class)
    assert shown["f1"].tolist()[2] == "–" and shown["support"].tolist() == [2, 2, 2]
    assert all(x.endswith(" %") for x in shown["precision"])
