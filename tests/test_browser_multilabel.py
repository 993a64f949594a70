"""In the browser, a multi-label table end to end: upload `sports;politics`-style labels, see "multi-label" and the
separator found, switch the Task and back, train the tiny model briefly, read the micro-F1 in Evaluate and move its
threshold, then predict a sentence and see its labels."""
from __future__ import annotations

import time

import pytest

from tests.fixtures_app import start_from_train_step
from tests.topics_data import write_topics_csv

pytestmark = pytest.mark.slow
TRAIN_MS = 300_000  # the tiny model, one epoch of 120 texts, on shared CPU cores


def open_step(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def choose(page, dropdown: str, shown: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=shown, exact=True).click()


def test_a_multi_label_table_from_upload_to_labels_predicted(browser_page, tiny_model_dir, tmp_path, artifacts_dir):
    from playwright.sync_api import expect

    page = browser_page
    table = write_topics_csv(tmp_path / "topics.csv", separator="|")
    page.set_input_files("#tc-data-file input[type=file]", str(table))
    report = page.locator("#tc-data-report")
    expect(report).to_contain_text("multi-label: 8 labels, 1.5 per text on average.", timeout=90_000)
    expect(report).to_contain_text("Given together most often: ")
    expect(page.locator("#tc-data-status")).to_contain_text("Ready to train")
    separator = page.locator("#tc-label-separator")
    expect(separator).to_be_visible()
    expect(separator).to_contain_text("Detected: '|'.")
    # One bar per label in the counts chart (not one per combination of labels).
    page.wait_for_function("() => document.querySelectorAll('#tc-class-chart svg .mark-rect.role-mark path')"
                           ".length === 8", timeout=30_000)
    page.locator("#tc-baseline").filter(has_text="micro-F1").wait_for(timeout=60_000)

    # The Task control redoes the check: as single labels each combination is a class of its own.
    choose(page, "#tc-task", "single label")
    expect(report).not_to_contain_text("multi-label:", timeout=60_000)
    expect(separator).to_be_hidden()
    choose(page, "#tc-task", "multi-label")
    expect(report).to_contain_text("multi-label: 8 labels", timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "browser-multilabel-data.png"), full_page=True)

    start_from_train_step(page, tiny_model_dir, epochs=1)
    open_step(page, "3 · Evaluate")
    headline = page.locator("#tc-eval-headline")
    expect(headline).to_contain_text("Fine-tuned transformer", timeout=TRAIN_MS)
    expect(headline).to_contain_text("micro-F1")
    expect(headline).to_contain_text("TF-IDF + one-vs-rest logistic regression")
    expect(page.locator("#tc-eval-per-class")).to_contain_text("weather")
    note = page.locator("#tc-eval-threshold-note")
    expect(note).to_contain_text("At this threshold: micro-F1 ")
    expect(note).to_contain_text("The model keeps 0.5.")
    number = page.locator("#tc-eval-threshold input[type=number]")
    number.fill("0.3")
    number.press("Enter")
    time.sleep(1)  # the slider's input event, then the rescored tables
    page.locator("#tc-eval-save-threshold").click()
    expect(note).to_contain_text("The model keeps 0.3.", timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "browser-multilabel-evaluate.png"), full_page=True)

    open_step(page, "4 · Predict")
    expect(page.locator("#tc-predict-note")).to_contain_text("is ready", timeout=60_000)
    box = page.locator("#tc-predict-text textarea")
    box.fill("Heavy rain flooded streets in the city. The parliament passed the budget after a long debate.")
    box.press("Enter")
    summary = page.locator("#tc-trace-summary")
    expect(summary).to_contain_text("Labels:", timeout=30_000)
    expect(summary).to_contain_text("the labels at 30 % or more are predicted.")
    expect(page.locator("#tc-trace-scores")).to_contain_text("sigmoid score")
    expect(page.locator("#tc-predict-label")).to_contain_text("Labels: ")
    page.screenshot(path=str(artifacts_dir / "browser-multilabel-predict.png"), full_page=True)
