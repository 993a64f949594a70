"""Run directories written by earlier versions still open. tests/old_runs/ holds the JSON and CSV files of a real
1-epoch run (the default model on 32 support tickets) exactly as commit 3d09c70 wrote them; its data and model
folders are left out (binary, and nothing here reads them)."""
import shutil
from pathlib import Path

import pytest

from core.runs import launcher
from core.serving.evaluation import load_evaluation
from core.runs.events import fold
from core.publish.modelcard import render_card
from core.runs.rundir import RunDir, RunState

OLD_RUNS = Path(__file__).parent / "old_runs"
RUN_ID = "20261130-165106-tickets-819c8e7b77b57470"
LABELS = ["account", "billing", "shipping", "technical"]


@pytest.fixture
def old_run(tmp_path):
    """A copy, so nothing a test does can change the committed files."""
    shutil.copytree(OLD_RUNS, tmp_path / "runs")
    return RunDir(tmp_path / "runs" / RUN_ID)


def test_rundir_reads_every_file_of_a_run_from_commit_3d09c70(old_run):
    assert old_run.is_run() and old_run.owner() == "" and old_run.display_name() == "tickets · Nov 30 16:51:06"
    assert old_run.info()["run_id"] == RUN_ID
    status = old_run.read_status()
    assert status["state"] is RunState.FINISHED and status["pid"] == 18290
    config = old_run.config()
    assert (config.model, config.epochs, config.max_length, config.data_path) == (
        "sentence-transformers/all-MiniLM-L6-v2", 1.0, 32, "tickets.csv")
    assert old_run.labels() == LABELS
    report = old_run.report()
    assert (report.rows_read, report.num_train, report.num_validation) == (32, 24, 8)
    assert report.class_counts["validation"] == dict.fromkeys(LABELS, 2)
    assert old_run.metrics()["accuracy"] == 0.75 and old_run.metrics()["f1_macro"] == pytest.approx(0.7417, abs=1e-4)
    assert old_run.baseline()["accuracy"] == 0.5
    predictions = old_run.predictions()
    assert len(predictions) == 8 and list(predictions.columns[:4]) == ["text", "label", "predicted", "confidence"]
    assert [e["type"] for e in old_run.events()] == ["status", "status", "status", "status", "started", "progress",
                                                     "log", "eval", "status", "finished"]


def test_a_run_from_commit_3d09c70_lists_folds_evaluates_and_gets_a_card(old_run):
    view = fold(old_run.events())
    assert view.state is RunState.FINISHED and view.message == "Validation accuracy 75.0 %, macro-F1 74.2 %."
    assert [(r.epoch, r.scores["accuracy"]) for r in view.epochs] == [(1, 0.75)]
    (listed,) = launcher.list_runs(old_run.path.parent)
    assert (listed.run_id, listed.state, listed.model) == (RUN_ID, "finished", "sentence-transformers/all-MiniLM-L6-v2")
    evaluation = load_evaluation(old_run.path)
    assert evaluation.labels == LABELS and evaluation.confusion[0] == [2, 0, 0, 0]
    assert evaluation.baseline["f1_macro"] == pytest.approx(0.4917, abs=1e-4)
    assert "| baseline: TF-IDF + linear SVM | 0.5000 | 0.4917 |" in render_card(old_run.path)


def test_data_report_json_is_written_back_byte_for_byte(old_run):
    """DataReport keeps the file's format: the old file read and written again is the same bytes."""
    import json

    from core.artefacts import DataReport

    stored = old_run.report_file.read_text(encoding="utf-8")
    assert json.dumps(DataReport.from_json(json.loads(stored)).to_json(), indent=2) == stored
