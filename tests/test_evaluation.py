"""Evaluation: headline vs. baseline, per-class table, misclassified rows, confusion matrix; read from a run dir."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core import evaluation
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
    assert evaluation.verdict(ev) == (
        f"Macro-F1 {f1:.3f}, accuracy 0.333 on 6 validation texts. With so few, one text moves accuracy by 17 "
        f"points: treat the scores as rough. The transformer beats the TF-IDF + linear SVM baseline by {f1 - 0.05:+.3f} macro-F1."
    )


def test_verdict_calls_a_small_gap_a_tie(tmp_path: Path) -> None:
    # 6 validation texts: a 0.13 gap is within one standard error (0.5 / sqrt(6) = 0.20).
    ev = evaluation.load_evaluation(write_run(tmp_path, baseline_f1=0.2))
    assert evaluation.verdict(ev).endswith(
        "About the same as the TF-IDF + linear SVM baseline (0.200): the transformer has not earned its cost yet."
    )


def test_verdict_when_the_baseline_wins(run: Path) -> None:
    ev = evaluation.load_evaluation(run)  # computed baseline: 1.0 macro-F1, model 0.33
    assert "baseline is better by" in evaluation.verdict(ev)


def test_few_validation_texts_and_labels_without_any(tmp_path: Path) -> None:
    ev = evaluation.load_evaluation(write_run(tmp_path, baseline_f1=0.05))
    assert "on 6 validation texts. With so few, one text moves accuracy by 17 points: treat the scores as rough." in (
        evaluation.verdict(ev))
    assert evaluation.outcome(ev) == "better"
    # A label with no validation texts: blank recall and F1 (not 0, which macro-F1 leaves out too).
    ev.metrics["per_class"][2]["support"] = 0
    table = evaluation.per_class_table(ev)
    assert table.iloc[2][["recall", "f1"]].isna().all() and not pd.isna(table.iloc[1]["f1"])
    from core.plotting import short_label

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
    """A real run: core.runs.create_run + core.train.train in-process on the example tickets, tiny model, 1 epoch."""
    from core.config import TrainConfig
    from core.runs import create_run
    from core.train import train

    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, batch_size=32, run_name="tickets")
    run = create_run(config, root=tmp_path_factory.mktemp("real-runs"), owner="test")
    assert train(run) == "finished", (run / "events.jsonl").read_text()[-2000:]
    return run


@pytest.mark.slow
def test_a_real_run_evaluates_predicts_and_exports(real_run: Path, tmp_path: Path) -> None:
    from core import modelcard, predict

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

    run = write_run(tmp_path, baseline_f1=0.05)
    note, content, headline, per_class, figure, true_f, pred_f, mistakes, count = evaluate_tab.show(f"{run}|finished")
    assert "tickets: Macro-F1" in note and "The transformer beats" in note
    assert content.visible is True and len(headline) == 2 and len(per_class) == 3
    assert true_f.choices == pred_f.choices == [(c, c) for c in ["(all)"] + LABELS]
    assert len(mistakes) == 4 and count == "4 of 4 misclassified validation texts, most confident mistakes first."
    shown, count = evaluate_tab.filter_mistakes(f"{run}|finished", "bug", "(all)")
    assert shown["text"].tolist() == ["error 500", "app crashes"] and count.startswith("2 of 4")
    note, content, *_ = evaluate_tab.show("|")
    assert "Train a model or open a run from the Runs tab first." in note and content.visible is False
    note, *_ = evaluate_tab.show(f"{run}|running")
    assert "This run has not finished training yet" in note


def test_chart_labels_no_font_can_draw_are_shown_by_position() -> None:
    from core.plotting import axis_labels, drawable

    hieroglyphs = "\U00013000\U00013001"  # in no font that ships with matplotlib or a usual server
    assert drawable("café · naïve") and not drawable(hieroglyphs)
    assert axis_labels(["positive", hieroglyphs, "category_with_a_long_name_07"]) == [
        "positive", "label #2", "category_…_name_07"]
