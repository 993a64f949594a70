"""Numeric targets (core/tasks/regression.py) end to end on the small ratings table of tests/ratings_data.py:
detection, the data report, refusals, targets and metrics, a whole CLI run of the tiny model, prediction, the
card, and pipeline() in a new process."""
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

from core import data_report, tasks
from core.config import TrainConfig
from core.data import DataError
from core.loading import load_training_data
from core.rundir import RunDir
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
    assert ("The labels are whole numbers (1 … 5), learnt as 5 classes; or train as regression: --task regression / "
            "the Task control.") in _report(data)
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
