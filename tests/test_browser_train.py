"""The real page in headless Chromium: example data -> short run -> live loss chart -> finished -> reload re-attaches."""
from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.slow


def banner_state(page) -> str | None:
    return page.get_attribute("#tc-banner .tc-banner", "data-state")


def loss_line_points(page) -> int:
    """Points drawn on the loss chart's lines (Vega draws one SVG path per series; count its segments)."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#tc-loss-chart svg .mark-line path'))
                 .map(p => ((p.getAttribute('d') || '').match(/[ML]/g) || []).length)
                 .reduce((a, b) => a + b, 0)"""
    )


def test_example_data_to_finished_run(browser_page, tiny_model_dir, artifacts_dir):
    page = browser_page
    # 1. Data: the example fills the preview, the columns and the report; Train is unblocked.
    page.click("#tc-use-example")
    page.wait_for_selector("#tc-data-ready", timeout=90_000)
    assert "4 labels" in page.inner_text("#tc-data-status")
    assert page.input_value("#tc-text-col input") == "text"
    assert page.input_value("#tc-label-col input") == "label"
    assert "classic baseline" in page.inner_text("#tc-baseline")
    page.screenshot(path=str(artifacts_dir / "browser-data.png"), full_page=True)

    # 2. Train: a local model folder typed in the model box, one epoch.
    page.click("#tc-data-next")
    model_box = page.locator("#tc-model input")
    model_box.fill(tiny_model_dir)
    model_box.press("Enter")
    epochs = page.locator("#tc-epochs input[type=number]")
    epochs.fill("1")
    epochs.press("Enter")
    page.wait_for_selector("#tc-start:not([disabled])")
    page.click("#tc-start")

    # 3. Live: the banner says running (or queued) within seconds, then the loss chart gains points.
    page.wait_for_function(
        "() => ['queued','running','finished'].includes("
        "document.querySelector('#tc-banner .tc-banner')?.dataset.state)", timeout=60_000)
    deadline = time.time() + 240
    points = 0
    while time.time() < deadline:
        points = loss_line_points(page)
        if points >= 2 or banner_state(page) in ("finished", "failed", "cancelled"):
            break
        time.sleep(0.5)
    # 4. Finished banner, full progress, a filled epoch table.
    page.wait_for_function(
        "() => ['finished','failed','cancelled'].includes("
        "document.querySelector('#tc-banner .tc-banner')?.dataset.state)", timeout=240_000)
    time.sleep(1.5)  # let the last chart refresh land before the screenshot
    page.screenshot(path=str(artifacts_dir / "browser-train.png"), full_page=True)
    assert banner_state(page) == "finished", page.inner_text("#tc-banner")
    assert loss_line_points(page) >= 2
    assert "Finished" in page.inner_text("#tc-banner")
    assert page.get_attribute("#tc-progress .tc-progress", "data-state") == "finished"
    table = page.inner_text("#tc-epoch-table")
    assert "macro-F1" in table and "\n1" in table

    # 5. Reload: the same browser session re-attaches to its run and redraws it from the run directory.
    page.reload()
    page.wait_for_selector("#tc-banner .tc-banner[data-state='finished']", timeout=60_000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#tc-loss-chart svg .mark-line path')).length > 0",
        timeout=30_000)
    # The data file and the settings came back too, so Start is ready again.
    page.wait_for_selector("#tc-start:not([disabled])", timeout=60_000)
    assert page.input_value("#tc-epochs input[type=number]") == "1"
    page.screenshot(path=str(artifacts_dir / "browser-reload.png"), full_page=True)
    # 6. The Runs list shows this session's run with its state.
    page.click("#tc-tab-runs-button")
    page.wait_for_function("() => (document.querySelector('#tc-runs-table')?.innerText || '').includes('Finished')",
                           timeout=30_000)
