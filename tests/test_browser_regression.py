"""In the browser, a numeric target end to end: upload reviews with a 1.0-5.0 rating, see "numeric target
(regression)" with the values' histogram and the ridge baseline, train the tiny model briefly, read Spearman in the
live epoch table and in Evaluate (the largest errors first), then predict a sentence and see a number."""
from __future__ import annotations

import pytest

from tests.fixtures_app import start_from_train_step
from tests.ratings_data import write_ratings_csv

pytestmark = pytest.mark.slow
TRAIN_MS = 300_000  # the tiny model, two epochs of 160 texts, on shared CPU cores


def test_a_numeric_target_from_upload_to_a_predicted_number(browser_page, tiny_model_dir, tmp_path, artifacts_dir):
    from playwright.sync_api import expect

    page = browser_page
    page.set_input_files("#tc-data-file input[type=file]", str(write_ratings_csv(tmp_path / "reviews.csv")))
    report = page.locator("#tc-data-report")
    expect(report).to_contain_text("numeric target (regression): range 1 … 5, mean 3.057 (41 different values).",
                                   timeout=90_000)
    expect(page.locator("#tc-data-status")).to_contain_text("Ready to train")
    expect(page.locator("#tc-class-chart")).to_contain_text("Values of rating", timeout=30_000)
    expect(page.locator("#tc-baseline")).to_contain_text("TF-IDF + ridge regression", timeout=60_000)
    expect(page.locator("#tc-baseline")).to_contain_text("Spearman")
    page.screenshot(path=str(artifacts_dir / "browser-regression-data.png"), full_page=True)

    start_from_train_step(page, tiny_model_dir, epochs=2)
    table = page.locator("#tc-epoch-table")
    expect(table).to_contain_text("Spearman", timeout=TRAIN_MS)
    expect(table).to_contain_text("RMSE")
    expect(page.locator("#tc-banner")).to_contain_text("Finished", timeout=TRAIN_MS)

    page.get_by_role("tab", name="3 · Evaluate").click()
    headline = page.locator("#tc-eval-headline")
    expect(headline).to_contain_text("Spearman", timeout=60_000)
    expect(headline).to_contain_text("TF-IDF + ridge regression")
    expect(page.locator("#tc-eval-mistakes-count")).to_contain_text(
        "All 40 validation texts, the largest errors first.")
    expect(page.locator("#tc-eval-threshold")).to_be_hidden()  # a number has no decision threshold
    page.screenshot(path=str(artifacts_dir / "browser-regression-evaluate.png"), full_page=True)

    page.get_by_role("tab", name="4 · Predict").click()
    expect(page.locator("#tc-predict-note")).to_contain_text("is ready", timeout=60_000)
    box = page.locator("#tc-predict-text textarea")
    box.fill("The kettle: absolutely love it, and the best thing I bought this year.")
    box.press("Enter")
    expect(page.locator("#tc-trace-summary")).to_contain_text("Predicted rating:", timeout=30_000)
    expect(page.locator("#tc-trace-scores")).to_contain_text("The output and the predicted number")
    predicted = page.locator("#tc-predict-label")
    expect(predicted).to_contain_text("Prediction")
    preview = page.locator("#tc-batch-preview")  # a predicted file gets the number, no per-label columns
    expect(preview).to_contain_text("predicted")
    expect(preview).not_to_contain_text("prob_<label>")
    page.screenshot(path=str(artifacts_dir / "browser-regression-predict.png"), full_page=True)
