"""A real training run in-process: every file of the run-directory contract, and the model reloads."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.runs import launcher
from core.runs.rundir import RunDir
from core.config import TrainConfig
from core.runs.events import read_events
from core.engine.job import train

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir, example_data):
    root = tmp_path_factory.mktemp("runs")
    # A rate high enough that even the tiny model learns to tell the labels apart (probabilities differ per text).
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=3, batch_size=16, learning_rate=5e-3)
    run_dir = launcher.create_run(config, root, owner="alice")
    # fp32, so the prediction table can be checked against a fresh fp32 prediction of each text to 1e-4: bf16
    # rounding, amplified by the sharp warm-started head, moves some probabilities by a few hundredths.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTCLF_PRECISION", "fp32")
        assert train(run_dir) == "finished"
    return run_dir


def test_run_directory_has_every_file(finished_run):
    for name in ("config.json", "run.json", "labels.json", "data/train.parquet", "data/validation.parquet",
                 "data_report.json", "baseline.json", "events.jsonl", "status.json", "metrics.json",
                 "validation_predictions.csv", "model/config.json", "model/tokenizer.json", "model/model.safetensors"):
        assert (finished_run / name).exists(), name
    assert not (finished_run / "checkpoints").exists()  # a finished run keeps no resume state
    assert not (finished_run / ".model.tmp").exists()
    assert RunDir(finished_run).read_status()["state"] == "finished"


def _documented_event_fields() -> dict[str, set[str]]:
    """The fields core/runs/events.py's docstring lists for each event type (its "Event shapes" block)."""
    import re

    from core.runs import events

    shapes: dict[str, set[str]] = {}
    kinds: list[str] = []
    for line in events.__doc__.split("Event shapes", 1)[1].splitlines()[1:]:
        if not line.strip():
            break
        shape = line.split("}")[0]
        if '"type":' in line:
            kinds_part, fields_part = re.split(r',\s*"time"', shape.split('"type":', 1)[1], maxsplit=1)
            kinds = re.findall(r'"(\w+)"', kinds_part)
            shapes.update({kind: {"time"} for kind in kinds})
            shape = fields_part
        for kind in kinds:
            shapes[kind] |= set(re.findall(r'"(\w+)"', shape))
    return shapes


def test_the_event_schema_in_core_events_lists_every_field_written(finished_run):
    shapes = _documented_event_fields()
    assert set(shapes) == {"started", "log", "progress", "eval", "status", "finished", "cancelled", "failed"}
    for event in read_events(finished_run):
        assert set(event) - {"type"} == shapes[event["type"]], event["type"]


def test_config_records_detected_columns_and_no_secrets(finished_run):
    config = json.loads((finished_run / "config.json").read_text())
    assert (config["text_column"], config["label_column"]) == ("text", "label")
    assert "token" not in json.dumps(config).lower()


def test_label_names_are_in_the_saved_model(finished_run):
    model_config = json.loads((finished_run / "model" / "config.json").read_text())
    assert model_config["id2label"] == {"0": "account", "1": "billing", "2": "shipping", "3": "technical"}
    assert model_config["label2id"]["technical"] == 3


def test_events_have_one_terminal_event_last_and_enough_points(finished_run):
    events = read_events(finished_run)
    kinds = [e["type"] for e in events]
    assert kinds.count("finished") == 1 and kinds[-1] == "finished"
    assert sum(k in ("cancelled", "failed") for k in kinds) == 0
    assert kinds.count("eval") == 3  # one per epoch
    started = next(e for e in events if e["type"] == "started")
    assert started["total_steps"] == 48 and started["num_train"] == 256
    assert kinds.count("log") >= 20  # a curve worth looking at, even for a short run


def test_the_warm_start_reports_how_far_it_has_read(finished_run):
    statuses = [e["message"] for e in read_events(finished_run) if e["type"] == "status"]
    start = statuses.index("Fitting the classification head")
    # At most one progress line a second: this probe is far quicker, so only the first batch is reported.
    assert statuses[start + 1:statuses.index("Training")] == ["Fitting the classification head (64 of 256 texts)"]


def test_metrics_and_predictions_agree(finished_run):
    metrics = json.loads((finished_run / "metrics.json").read_text())
    table = pd.read_csv(finished_run / "validation_predictions.csv")
    assert metrics["labels"] == ["account", "billing", "shipping", "technical"]
    assert metrics["num_validation"] == len(table) == 64
    assert metrics["accuracy"] == pytest.approx((table["label"] == table["predicted"]).mean())
    assert sum(map(sum, metrics["confusion_matrix"])) == 64
    assert [c["label"] for c in metrics["per_class"]] == metrics["labels"]
    probs = table[[f"prob_{name}" for name in metrics["labels"]]]
    assert probs.sum(axis=1).round(3).eq(1.0).all()
    assert (probs.max(axis=1).round(5) == table["confidence"].round(5)).all()


def test_each_prediction_row_belongs_to_its_own_text(finished_run):
    """Evaluation batches are length-grouped; the table must still pair every text with its own prediction."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    table = pd.read_csv(finished_run / "validation_predictions.csv")
    tokenizer = AutoTokenizer.from_pretrained(finished_run / "model")
    model = AutoModelForSequenceClassification.from_pretrained(finished_run / "model").eval()
    probs = []
    with torch.inference_mode():
        for text in table["text"]:  # one at a time: no padding, no batching order to get wrong
            probs.append(model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0].tolist())
    columns = [c for c in table.columns if c.startswith("prob_")]
    # Both fp32: equal up to batching's float noise; a row paired with another text's prediction is far off.
    assert abs(table[columns].to_numpy() - __import__("numpy").array(probs)).max() < 1e-4


def test_prediction_table_follows_the_validation_rows_and_the_best_evaluation(finished_run):
    table = pd.read_csv(finished_run / "validation_predictions.csv", keep_default_na=False)
    validation = pd.read_parquet(finished_run / "data" / "validation.parquet")
    assert table["text"].tolist() == validation["text"].astype(str).tolist()
    metrics = json.loads((finished_run / "metrics.json").read_text())
    evals = {e["step"]: e for e in read_events(finished_run) if e["type"] == "eval"}
    best = evals[metrics["best_step"]]
    assert metrics["loss"] == best["loss"]
    assert metrics["accuracy"] == pytest.approx(best["accuracy"]) and metrics["f1_macro"] == pytest.approx(best["f1_macro"])


@pytest.mark.parametrize("changes", [{}, {"keep_best": False, "eval_steps": 3}], ids=["best-kept", "last-kept"])
def test_final_report_reuses_the_final_models_evaluation(changes, tmp_path, tiny_model_dir, example_data, monkeypatch):
    """The Trainer evaluates the final model anyway (the best one, or the last step): no second validation pass.
    (Only a resumed run whose best evaluation came before the resume predicts again.)"""
    from transformers import Trainer

    calls = []
    original = Trainer.predict
    monkeypatch.setattr(Trainer, "predict", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, batch_size=32, max_length=16,
                         **changes)
    run_dir = launcher.create_run(config, tmp_path)
    assert train(run_dir) == "finished"
    assert calls == []
    assert len(pd.read_csv(run_dir / "validation_predictions.csv")) == 64


def test_baseline_is_computed_on_the_same_split(finished_run):
    baseline = json.loads((finished_run / "baseline.json").read_text())
    assert baseline["method"] == "TF-IDF + linear SVM"
    assert baseline["num_validation"] == 64
    assert baseline["accuracy"] > 0.8  # the example data is easy for a bag of words


def test_model_reloads_in_a_new_process_with_label_names(finished_run):
    code = ("import json,sys; from transformers import pipeline; "
            "p = pipeline('text-classification', model=sys.argv[1]); "
            "print(json.dumps(p('I was charged twice for my subscription')))")
    out = subprocess.run([sys.executable, "-c", code, str(finished_run / "model")], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result[0]["label"] in {"account", "billing", "shipping", "technical"}


def test_class_weights_and_step_evaluation(tmp_path, tiny_model_dir, example_data):
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, batch_size=32,
                         class_weights=True, eval_steps=3, max_length=16)
    run_dir = launcher.create_run(config, tmp_path)
    assert train(run_dir) == "finished"
    events = read_events(run_dir)
    # Every 3 steps, and the last step (8) too: the chart ends at the model the run keeps.
    assert [e["step"] for e in events if e["type"] == "eval"] == [3, 6, 8]
    assert next(e for e in events if e["type"] == "started")["max_length"] == 16


def test_automatic_max_length_is_the_one_the_data_report_suggests(tmp_path, tiny_model_dir):
    # Short training texts, long validation texts: a length picked from the training texts alone (16) would cut
    # every validation text, and contradict the report, which measures all of them.
    words = "alpha beta gamma delta epsilon zeta eta theta".split()
    train_rows = [(f"{words[i % 8]} {words[(i + 3) % 8]} note {i}", "ab"[i % 2]) for i in range(40)]
    val_rows = [(" ".join(words * 4) + f" {i}", "ab"[i % 2]) for i in range(10)]
    (tmp_path / "t.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in train_rows))
    (tmp_path / "v.csv").write_text("text,label\n" + "".join(f"{t},{l}\n" for t, l in val_rows))
    config = TrainConfig(data_path=str(tmp_path / "t.csv"), val_data_path=str(tmp_path / "v.csv"),
                         model=tiny_model_dir, epochs=1)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    suggested = RunDir(run_dir).report().suggested_max_length
    assert suggested > 16
    assert train(run_dir) == "finished"
    assert next(e for e in read_events(run_dir) if e["type"] == "started")["max_length"] == suggested


@pytest.mark.slow
def test_default_model_trains_a_few_steps_and_reloads_through_pipeline(tmp_path, example_data):
    config = TrainConfig(data_path=str(example_data), epochs=0.5)
    run_dir = launcher.create_run(config, tmp_path)
    assert train(run_dir) == "finished"
    code = ("import sys; from transformers import pipeline; "
            "print(pipeline('text-classification', model=sys.argv[1])('My parcel never arrived')[0]['label'])")
    out = subprocess.run([sys.executable, "-c", code, str(run_dir / "model")], capture_output=True, text=True,
                         check=True, env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert out.stdout.strip().splitlines()[-1] in {"account", "billing", "shipping", "technical"}


def test_best_checkpoint_is_the_best_f1_then_the_lowest_loss():
    from core.tasks.metrics import eval_scores

    labels = [0, 1, 1]
    confident = eval_scores([[3.0, 0.0], [0.0, 3.0], [0.0, 3.0]], labels)
    hesitant = eval_scores([[0.2, 0.0], [0.0, 0.2], [0.0, 0.2]], labels)
    wrong_once = eval_scores([[3.0, 0.0], [3.0, 0.0], [0.0, 9.0]], labels)
    assert confident["f1_macro"] == hesitant["f1_macro"] == 1.0 and confident["accuracy"] == 1.0
    assert confident["selection"] > hesitant["selection"]  # equal F1: the lower loss wins
    assert hesitant["selection"] > wrong_once["selection"]  # a better F1 always wins, whatever the loss


@pytest.mark.slow
def test_easy_data_keeps_the_trained_model_not_the_first_perfect_epoch(tmp_path, example_data):
    """The shipped example reaches macro-F1 1.0 after every epoch: the kept model must be the last, best-trained one.
    (With a random head, so the first epoch's predictions are still hesitant.)"""
    run_dir = launcher.create_run(TrainConfig(data_path=str(example_data), warm_start_head=False), tmp_path)
    assert train(run_dir) == "finished"
    evals = [e for e in read_events(run_dir) if e["type"] == "eval"]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert [e["f1_macro"] for e in evals] == [1.0, 1.0, 1.0]
    assert metrics["best_step"] == evals[-1]["step"] and metrics["loss"] == min(e["loss"] for e in evals)
    table = pd.read_csv(run_dir / "validation_predictions.csv")
    assert table["confidence"].median() > 0.4  # after epoch 1 it was ~0.27: four near-equal probabilities


@pytest.mark.slow
def test_warm_started_head_is_confident_after_one_epoch_where_a_random_head_is_not(tmp_path, example_data):
    """One epoch of the default model on the shipped example is 8 steps: too few for a random 4-way head."""
    medians = {}
    for warm in (True, False):
        run_dir = launcher.create_run(TrainConfig(data_path=str(example_data), epochs=1, warm_start_head=warm), tmp_path)
        assert train(run_dir) == "finished"
        statuses = [e["message"] for e in read_events(run_dir) if e["type"] == "status"]
        assert ("Fitting the classification head" in statuses) == warm
        assert json.loads((run_dir / "metrics.json").read_text())["accuracy"] >= 0.95
        medians[warm] = pd.read_csv(run_dir / "validation_predictions.csv")["confidence"].median()
    assert medians[True] > 0.9 and medians[False] < 0.5, medians


def test_resume_without_a_checkpoint_starts_over_with_a_warm_head(tmp_path, tiny_model_dir, example_data):
    """Killed before the first checkpoint: Resume has nothing to load, so it is a fresh start, warm head included."""
    config = TrainConfig(data_path=str(example_data), model=tiny_model_dir, epochs=1, max_length=16)
    run_dir = launcher.create_run(config, tmp_path)
    assert train(run_dir, resume=True) == "finished"
    statuses = [e["message"] for e in read_events(run_dir) if e["type"] == "status"]
    assert "Fitting the classification head" in statuses


def test_core_never_imports_gradio():
    code = ("import pkgutil, importlib, sys, core\n"
            "for m in pkgutil.iter_modules(core.__path__):\n"
            "    importlib.import_module('core.' + m.name)\n"
            "import core.__main__\n"
            "assert 'gradio' not in sys.modules, 'gradio imported'\n"
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_class_weights_leave_balanced_data_alone_and_lift_rare_labels():
    from core.tasks.single_label import class_weight_values

    assert class_weight_values([50, 50, 50]) == [1.0, 1.0, 1.0]
    assert class_weight_values([300, 100]) == pytest.approx([0.5, 1.5])  # 1:3 inverse frequency, mean 1
    assert class_weight_values([10, 0, 30]) == pytest.approx([1.5, 0.0, 0.5])  # a label only in validation


def test_the_predictions_csv_is_safe_in_a_spreadsheet_and_evaluate_shows_the_texts_as_written(tmp_path,
                                                                                              tiny_model_dir,
                                                                                              example_data):
    from core.serving.evaluation import load_evaluation, misclassified

    rows = pd.read_csv(example_data)
    rows["label"] = rows["label"].replace({"billing": "@billing"})
    rows["text"] = [("=", "+", "-", "@", "")[i % 5] + text for i, text in enumerate(rows["text"])]
    rows.to_csv(tmp_path / "formulas.csv", index=False)
    config = TrainConfig(data_path=str(tmp_path / "formulas.csv"), model=tiny_model_dir, epochs=1, max_length=16)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    assert train(run_dir) == "finished"

    validation = pd.read_parquet(run_dir / "data" / "validation.parquet")
    table = pd.read_csv(run_dir / "validation_predictions.csv", keep_default_na=False)
    starts = ("=", "+", "-", "@")
    assert validation["text"].str.startswith(starts).sum() > 40
    assert not table["text"].str.startswith(starts).any() and not table["label"].str.startswith(starts).any()
    assert table["text"].tolist() == [("'" + t if t.startswith(starts) else t) for t in validation["text"]]
    assert "'@billing" in set(table["label"]) and "prob_@billing" in table.columns

    ev = load_evaluation(run_dir)
    assert ev.predictions["text"].tolist() == validation["text"].tolist()
    assert ev.predictions["label"].tolist() == validation["label"].tolist()
    assert set(ev.predictions["predicted"]) <= set(ev.labels) and "@billing" in ev.labels
    wrong = misclassified(ev)
    assert set(wrong["text"]) <= set(validation["text"]) and set(wrong["predicted label"]) <= set(ev.labels)
