"""A test table for uploaded files: read like the training table, refused with one sentence when it cannot be scored,
scored once after training with the final model and reported apart from validation, as a Hub dataset's test split is."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from core.data.columns import DataError
from core.data.loading import load_training_data
from tests.hub_repo import make_hub_repo

ROOT = Path(__file__).resolve().parent.parent
TEST_ROWS = {"text": ["I was charged twice for one order", "the parcel never arrived", "  ",
                      "the app crashes when I log in", "how do I change my password"],
             "label": ["billing", "shipping", "billing", "technical", "account"]}


def _table(path: Path, columns: dict[str, list[str]]) -> Path:
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


@pytest.fixture()
def test_csv(tmp_path) -> Path:
    return _table(tmp_path / "test.csv", TEST_ROWS)


def test_a_test_table_is_read_and_cleaned_like_the_training_table(example_data, test_csv):
    data = load_training_data(example_data, test_data_path=test_csv)
    assert data.test_source == "file" and data.validation_source == "split"
    assert data.test.to_dict("list") == {"text": ["I was charged twice for one order", "the parcel never arrived",
                                                  "the app crashes when I log in", "how do I change my password"],
                                         "label": ["billing", "shipping", "technical", "account"]}  # empty text gone
    # The test rows are neither trained on nor validated on, nor counted among the rows read and kept.
    assert (len(data.train) + len(data.validation), data.rows_read, data.rows_kept) == (320, 320, 320)
    assert load_training_data(example_data).test_source == ""


def test_the_columns_chosen_for_training_are_the_test_tables_too(tmp_path):
    train = _table(tmp_path / "t.csv", {"body": [f"text {i}" for i in range(8)], "stars": ["1", "5"] * 4})
    test = _table(tmp_path / "s.csv", {"stars": ["5", "1"], "body": ["great", "awful"], "id": ["a", "b"]})
    data = load_training_data(train, "body", "stars", test_data_path=test)
    assert data.test.to_dict("list") == {"text": ["great", "awful"], "label": ["5", "1"]}


def test_a_test_table_replaces_a_datasets_own_test_split(tmp_path):
    repo = make_hub_repo(tmp_path / "repo")
    test = _table(tmp_path / "mine.csv", {"text": ["what a film", "dull"], "label": ["pos", "neg"]})
    own = load_training_data(f"hf://{repo}", data_config="sentiment")
    mine = load_training_data(f"hf://{repo}", data_config="sentiment", test_data_path=test)
    assert (len(own.test), own.test_source) == (2, "dataset")
    assert (mine.test["text"].tolist(), mine.test_source) == (["what a film", "dull"], "file")


@pytest.mark.parametrize("rows, message", [
    ({"text": ["a"], "y": ["billing"]}, "Column 'label' is not in the test file. Columns: text, y."),
    ({"text": ["", "b"], "label": ["billing", None]},
     "The test file has no usable rows: each has an empty 'text' or a missing 'label'."),
    ({"text": ["a", "b"], "label": ["billing", "refunds"]},
     "Label 'refunds' appears only in the test file, so the model can never predict it. Remove its rows from the test "
     "file or add training examples of it."),
    ({"text": list("abcdefgh"), "label": ["billing", "x1", "x2", "x3", "x4", "x5", "x6", "x7"]},
     "Labels 'x1', 'x2', 'x3', 'x4', 'x5' and 2 more appear only in the test file, so the model can never predict "
     "them. Remove their rows from the test file or add training examples of them."),
])
def test_a_test_table_that_cannot_be_scored_is_refused_with_one_sentence(rows, message, tmp_path, example_data):
    with pytest.raises(DataError) as err:
        load_training_data(example_data, "text", "label", test_data_path=_table(tmp_path / "bad.csv", rows))
    assert err.value.message == message


def test_a_multi_label_test_table_names_its_unseen_label(tmp_path):
    train = _table(tmp_path / "t.csv", {"text": [f"t{i}" for i in range(8)],
                                        "tags": ["a;b", "b", "a", "b;c", "c", "a;c", "b", "c"]})
    test = _table(tmp_path / "s.csv", {"text": ["x", "y"], "tags": ["a;c", "b;d"]})
    with pytest.raises(DataError) as err:
        load_training_data(train, "text", "tags", test_data_path=test, task="multi")
    assert err.value.message == ("Label 'd' appears only in the test file, so the model can never predict it. Remove "
                                 "its rows from the test file or add training examples of it.")
    fine = _table(tmp_path / "ok.csv", {"text": ["x", "y"], "tags": ["a;c", "b"]})
    assert load_training_data(train, "text", "tags", test_data_path=fine, task="multi").test["label"].tolist() == [
        '["a", "c"]', '["b"]']


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "core", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=600)


SENTENCE = "  4 rows in the test file, scored once after training and reported apart from validation."


def test_cli_check_says_how_many_test_rows_are_scored(example_data, test_csv, tmp_path):
    result = _cli("--runs-dir", str(tmp_path / "runs"), "check", "--data", str(example_data), "--test-data",
                  str(test_csv))
    assert result.returncode == 0, result.stderr
    assert SENTENCE in result.stdout.splitlines()


@pytest.mark.parametrize("command", ["check", "train"])
@pytest.mark.parametrize("rows, message", [
    ({"text": ["a"], "y": ["billing"]}, "Error: Column 'label' is not in the test file. Columns: text, y."),
    ({"text": ["a", "b"], "label": ["billing", "refunds"]},
     "Error: Label 'refunds' appears only in the test file, so the model can never predict it. Remove its rows from "
     "the test file or add training examples of it."),
])
def test_cli_refuses_a_bad_test_table_with_the_sentence_and_exit_2(command, rows, message, example_data, tmp_path):
    bad = _table(tmp_path / "bad.csv", rows)
    result = _cli("--runs-dir", str(tmp_path / "runs"), command, "--data", str(example_data), "--test-data", str(bad))
    assert (result.returncode, result.stderr.strip()) == (2, message)
    assert "Traceback" not in result.stdout + result.stderr
    assert not any((tmp_path / "runs").glob("*/run.json"))  # no run was made


@pytest.mark.slow
def test_cli_train_scores_the_test_table_once_and_reports_it_apart(example_data, test_csv, tiny_model_dir, tmp_path):
    from core.serving.evaluation import headline_table, load_evaluation
    from core.runs.rundir import RunDir
    from ui.train_api import run_status

    result = _cli("--runs-dir", str(tmp_path), "train", "--data", str(example_data), "--test-data", str(test_csv),
                  "--model", tiny_model_dir, "--epochs", "1", "--no-warm-start-head")
    assert result.returncode == 0, result.stderr
    assert SENTENCE in result.stdout.splitlines()
    (run_dir,) = [p for p in tmp_path.iterdir() if (p / "run.json").exists()]
    run = RunDir(run_dir)
    assert run.config_dict()["test_data_path"] == str(test_csv)
    assert pd.read_parquet(run.test_data)["text"].tolist() == TEST_ROWS["text"][:2] + TEST_ROWS["text"][3:]
    test, validation = run.test_metrics(), run.metrics()
    assert (test["rows"], test["unknown_label_rows"]) == (4, 0) and 0 <= test["accuracy"] <= 1
    assert "rows" not in validation  # validation's scores stay validation's
    words = f"accuracy {100 * test['accuracy']:.1f} %, macro-F1 {100 * test['f1_macro']:.1f} %"
    assert "FINISHED: Validation accuracy " in result.stdout and f" Test file: {words}." in result.stdout
    stages = [e.get("message") for e in run.events() if e.get("type") == "status"]
    assert stages[-2:] == ["Saving the model", "Scoring the test file"]  # with the final model, once
    table = headline_table(load_evaluation(run_dir))
    assert table["model"].tolist()[-1] == "Fine-tuned transformer on the test file (4 texts)"
    assert table["accuracy"].tolist()[-1] == round(test["accuracy"], 4)
    assert run_status(run_dir)["test"] == {"accuracy": test["accuracy"], "f1_macro": test["f1_macro"], "rows": 4}
