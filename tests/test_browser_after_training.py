"""In the browser, after a short real run: evaluation, a prediction with its trace, a predicted file, the model zip.

Drives the real app server (tests/fixtures_app.py) with headless Chromium; the downloaded zip is then loaded by
transformers' pipeline() in a new process.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow
TRAIN_SECONDS = 600_000  # ms: one epoch of the default model on shared CPU cores
LABELS = {"account", "billing", "shipping", "technical"}  # the example data's labels


def open_step(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_after_training_user_evaluates_predicts_and_downloads(browser_page, app_url: str, app_runs_dir: Path,
                                                              tmp_path: Path, artifacts_dir: Path) -> None:
    from playwright.sync_api import expect

    page = browser_page
    # Data: the example tickets. Train: the offline default model, one epoch.
    page.locator("#tc-use-example").click()
    expect(page.locator("#tc-data-next")).to_be_enabled(timeout=120_000)
    open_step(page, "2 · Train")  # a tab's content exists in the page only once it is shown
    expect(page.locator("#tc-start")).to_be_enabled(timeout=30_000)
    epochs = page.locator("#tc-epochs input[type=number]")
    epochs.fill("1")
    epochs.press("Enter")
    page.locator("#tc-start").click()

    # Evaluate: appears by itself when the run finishes.
    open_step(page, "3 · Evaluate")
    headline = page.locator("#tc-eval-headline")
    expect(headline).to_contain_text("Fine-tuned transformer", timeout=TRAIN_SECONDS)
    expect(headline).to_contain_text("Baseline: TF-IDF + linear SVM")
    expect(page.locator("#tc-eval-note")).to_contain_text("validation texts")
    expect(page.locator("#tc-eval-note")).to_contain_text("TF-IDF + linear SVM baseline")  # the verdict, in texts
    expect(page.locator("#tc-eval-per-class")).to_contain_text("billing")
    expect(page.locator("#tc-eval-confusion img")).to_be_visible()  # the matplotlib figure itself, not an icon
    # The mistakes table agrees with the headline accuracy (it did not when predictions were paired out of order).
    note = page.locator("#tc-eval-note").inner_text()
    accuracy, n = re.search(r"Accuracy ([0-9.]+) %, macro-F1 [0-9.]+ % on (\d+) validation texts", note).groups()
    expected_wrong = round((1 - float(accuracy) / 100) * int(n))
    expect(page.locator("#tc-eval-mistakes-count")).to_contain_text(
        "No mistakes" if expected_wrong == 0 else f"{expected_wrong} of {expected_wrong} misclassified")
    page.screenshot(path=str(artifacts_dir / "after-training-evaluate.png"), full_page=True)

    # Predict: type, Enter, probabilities and the trace.
    open_step(page, "4 · Predict")
    expect(page.locator("#tc-predict-note")).to_contain_text("is ready", timeout=60_000)
    box = page.locator("#tc-predict-text textarea")
    box.fill("I was charged twice on my invoice this month")
    box.press("Enter")
    expect(page.locator("#tc-trace-tokens")).to_contain_text("[CLS]", timeout=30_000)
    expect(page.locator("#tc-trace-tokens")).to_contain_text("##vo")  # "invoice" -> in ##vo ##ice
    expect(page.locator("#tc-trace-scores")).to_contain_text("softmax probability")
    label_text = page.locator("#tc-predict-label").inner_text()
    assert any(lab in label_text for lab in LABELS), label_text
    expect(page.locator("#tc-predict-examples")).to_be_visible()  # examples from the user's validation data

    # Batch: upload a CSV, download the predictions.
    upload = tmp_path / "new_tickets.csv"
    pd.DataFrame({"id": [1, 2, 3], "message": ["My card was charged twice", "=HYPERLINK(\"http://x\",\"y\")",
                                                "The API times out"]}).to_csv(upload, index=False)
    page.locator("#tc-batch-file input[type=file]").set_input_files(str(upload))
    expect(page.locator("#tc-batch-note")).to_contain_text("3 rows", timeout=30_000)
    page.locator("#tc-batch-button").click()
    expect(page.locator("#tc-batch-note")).to_contain_text("Predicted 3 of 3 rows", timeout=60_000)
    with page.expect_download() as download:
        page.locator("#tc-batch-download a").first.click()
    predicted = tmp_path / "predicted.csv"
    download.value.save_as(predicted)
    table = pd.read_csv(predicted, keep_default_na=False)
    assert table.loc[1, "message"].startswith("'=")  # neutralised for spreadsheets
    assert set(table["predicted"]) <= set(c[len("prob_"):] for c in table.columns if c.startswith("prob_"))
    page.screenshot(path=str(artifacts_dir / "after-training-predict.png"), full_page=True)

    # Publish: download the zip; pipeline() loads it in a new process.
    open_step(page, "5 · Publish")
    page.locator("#tc-zip-button").click()
    with page.expect_download(timeout=120_000) as download:
        page.locator("#tc-zip-file a").first.click()
    zipped = tmp_path / "model.zip"
    download.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as zf:
        zf.extractall(tmp_path / "unzipped")
        top = zf.namelist()[0].split("/")[0]
    folder = tmp_path / "unzipped" / top
    card = (folder / "README.md").read_text()
    assert card.startswith("---\n") and "\nlibrary_name: transformers\n" in card.split("\n---\n", 1)[0]
    code = ("import json, sys\nfrom transformers import pipeline\n"
            "clf = pipeline('text-classification', model=sys.argv[1], device='cpu')\n"
            "print(json.dumps(clf('I was charged twice on my invoice')))\n")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    labels = json.loads((folder / "config.json").read_text())["id2label"].values()
    assert result[0]["label"] in labels

    # The same prediction through the named API endpoint /predict.
    from gradio_client import Client

    run_id = next(p.parent.parent.name for p in sorted(app_runs_dir.glob("*/model/config.json"), key=os.path.getmtime))
    client = Client(app_url, verbose=False, analytics_enabled=False, download_files=False)
    probs = client.predict("I was charged twice on my invoice", run_id, api_name="/predict")
    assert set(probs) == set(labels) and abs(sum(probs.values()) - 1) < 1e-4
    # And over plain HTTP, as curl calls it (what the benchmark times next to gradio_client).
    from bench.predict_bench import _http_caller

    port = int(app_url.rstrip("/").rsplit(":", 1)[1])
    over_http = _http_caller(port, ["I was charged twice on my invoice", run_id, ""])()  # text, run id, key
    assert over_http == pytest.approx(probs, abs=1e-6)
