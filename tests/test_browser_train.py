"""The real page in headless Chromium: example data -> short run -> live charts -> finished -> reload re-attaches;
then a table whose columns the user picks by hand, and its validation table, come back after a reload; so does a
dataset with its config."""
from __future__ import annotations

import re
import time

import pytest

from core.tasks import SINGLE_LABEL
from tests.fixtures_app import start_from_train_step
from ui import live_charts

pytestmark = pytest.mark.slow


def banner_state(page) -> str | None:
    return page.get_attribute("#tc-banner .tc-banner", "data-state")


def chart_points(page, chart_id: str, series: tuple) -> dict[str, int]:
    """Markers drawn on a chart, per series (Vega's SVG: one path per marker; legend symbols are not role-mark)."""
    by_stroke = page.evaluate(
        """(id) => { const out = {};
             document.querySelectorAll(`#${id} svg .mark-symbol.role-mark path`).forEach(p => {
               const s = (p.getAttribute('stroke') || '').toLowerCase(); out[s] = (out[s] || 0) + 1; });
             return out; }""", chart_id)
    return {s.name: by_stroke.get(s.color.lower(), 0) for s in series}


def chart_lines(page, chart_id: str) -> list[str]:
    """The stroke colours of the line marks a chart draws."""
    return page.evaluate("(id) => [...document.querySelectorAll(`#${id} svg .mark-line.role-mark path`)]"
                         ".filter(p => (p.getAttribute('d') || '').length > 0).map(p => p.getAttribute('stroke'))",
                         chart_id)


def axis_labels(page, chart_id: str) -> list[str]:
    return page.evaluate("(id) => [...document.querySelectorAll(`#${id} svg .role-axis-label text`)]"
                         ".map(t => t.textContent)", chart_id)


LOSS = (live_charts.TRAIN_LOSS, live_charts.VAL_LOSS)
SCORES = tuple(live_charts.score_series(SINGLE_LABEL))


def loss_points(page) -> int:
    return sum(chart_points(page, "tc-loss-chart", LOSS).values())


def assert_one_epoch_charts(page) -> None:
    """A one-epoch run evaluates once: each validation series is a single marker, and it must be drawn; the
    training loss is a line with markers; the epoch axis has whole epochs only."""
    loss = chart_points(page, "tc-loss-chart", LOSS)
    assert loss["training loss"] >= 2 and loss["validation loss"] == 1, loss
    assert live_charts.TRAIN_LOSS.color in chart_lines(page, "tc-loss-chart")
    assert chart_points(page, "tc-metric-chart", SCORES) == {"accuracy": 1, "macro-F1": 1}
    labels = axis_labels(page, "tc-metric-chart")
    # Whole epochs, then scores written like the epoch table's ('85 %' or '85.5 %', not d3's '85%').
    assert labels[:2] == ["0", "1"] and all(re.fullmatch(r"\d+(\.\d)? %", x) for x in labels[2:]), labels
    for chart in ("tc-lr-chart", "tc-grad-chart"):
        assert sum(chart_points(page, chart, (live_charts.LEARNING_RATE, live_charts.GRAD_NORM)).values()) >= 2, chart


def pick(page, dropdown: str, value: str) -> None:
    page.click(f"{dropdown} input")
    page.fill(f"{dropdown} input", value)
    page.keyboard.press("Enter")


def test_example_data_to_finished_run(browser_page, tiny_model_dir, artifacts_dir, tmp_path):
    page = browser_page
    # 1. Data: the example fills the preview, the columns and the report; Train is unblocked.
    page.click("#tc-use-example")
    page.wait_for_selector("#tc-data-ready", timeout=90_000)
    assert "4 labels" in page.inner_text("#tc-data-status")
    assert page.input_value("#tc-text-col input") == "text"
    assert page.input_value("#tc-label-col input") == "label"
    # The baseline is fitted after the report is shown, then replaces its "Fitting…" note.
    page.locator("#tc-baseline").filter(has_text="macro-F1 on the same validation rows").wait_for(timeout=60_000)
    # Both are drawn in the page: one bar per label, and the histogram's bars beside the max-length line.
    page.wait_for_function("() => document.querySelectorAll('#tc-class-chart svg .mark-rect.role-mark path')"
                           ".length === 4", timeout=10_000)
    page.locator("#tc-length-chart svg .mark-rule.role-mark").wait_for(state="attached", timeout=10_000)
    page.screenshot(path=str(artifacts_dir / "browser-data.png"), full_page=True)

    # 2. Train: a local model folder typed in the model box, one epoch.
    start_from_train_step(page, tiny_model_dir, epochs=1)

    # 3. Live: the banner says running (or queued) within seconds, then the loss chart gains points.
    page.wait_for_function(
        "() => ['queued','running','finished'].includes("
        "document.querySelector('#tc-banner .tc-banner')?.dataset.state)", timeout=60_000)
    deadline = time.time() + 240
    points = 0
    while time.time() < deadline:
        points = loss_points(page)
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
    assert_one_epoch_charts(page)
    assert "Finished" in page.inner_text("#tc-banner")
    assert page.get_attribute("#tc-progress .tc-progress", "data-state") == "finished"
    # The automatic settings, as this run resolved them (no GPU in tests: the CPU batch of 32).
    settings = page.inner_text("#tc-progress .tc-settings")
    assert settings.startswith("cpu (") and " · batch 32 · learning rate " in settings, settings
    table = page.inner_text("#tc-epoch-table")
    assert "macro-F1" in table and "\n1" in table
    assert re.search(r"\b\d\.\d{4}\b", table) and re.search(r"\d\.\d %", table), table  # losses · percentages

    # 5. Reload: the same browser session re-attaches to its run and redraws it from the run directory.
    page.reload()
    page.wait_for_selector("#tc-banner .tc-banner[data-state='finished']", timeout=60_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#tc-metric-chart svg .mark-symbol.role-mark path').length >= 2",
        timeout=30_000)
    assert_one_epoch_charts(page)
    # The data file and the settings came back too, so Start is ready again.
    page.wait_for_selector("#tc-start:not([disabled])", timeout=60_000)
    assert page.input_value("#tc-epochs input[type=number]") == "1"
    page.screenshot(path=str(artifacts_dir / "browser-reload.png"), full_page=True)
    # 6. The Runs list shows this session's run with its state.
    page.click("#tc-tab-runs-button")
    page.wait_for_function("() => (document.querySelector('#tc-runs-table')?.innerText || '').includes('Finished')",
                           timeout=30_000)

    # 7. Start again and reload at once, before the page can store the new run: the new run is shown, not the
    # finished one (runs on one file are told apart by their start time).
    first = page.inner_text("#tc-banner .tc-banner b")
    page.click("#tc-tab-train-button")
    page.wait_for_selector("#tc-start:not([disabled])", timeout=60_000)
    page.click("#tc-start")
    time.sleep(0.3)
    page.reload()
    page.wait_for_function(
        "(first) => { const b = document.querySelector('#tc-banner .tc-banner');"
        " return b && b.querySelector('b') && b.querySelector('b').innerText !== first"
        " && ['queued','running','finished'].includes(b.dataset.state); }", arg=first, timeout=90_000)
    # Start is disabled while that run trains (read in one go: the tiny run may finish any moment).
    state, start_disabled = page.evaluate("() => [document.querySelector('#tc-banner .tc-banner').dataset.state,"
                                          " document.querySelector('#tc-start').disabled]")
    assert state == "finished" or start_disabled, state
    page.wait_for_function("() => ['finished','cancelled'].includes("
                           "document.querySelector('#tc-banner .tc-banner')?.dataset.state)", timeout=240_000)

    # 8. Compare the two runs in Runs: overlaid curves, final scores, what differs.
    page.click("#tc-tab-runs-button")
    page.wait_for_function("() => (document.querySelector('#tc-runs-table')?.innerText || '').includes('Stopped')"
                           " || (document.querySelector('#tc-runs-table')?.innerText || '').split('Finished').length > 2",
                           timeout=30_000)
    for picked in (1, 2):
        page.click("#tc-compare-pick input")
        # Keys pressed before the list has opened choose nothing (seen on a busy machine): wait for its options.
        page.wait_for_selector("#tc-compare-pick [role='option']", timeout=30_000)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("Enter")
        page.wait_for_function("(n) => document.querySelectorAll('#tc-compare-pick .token').length === n",
                               arg=picked, timeout=10_000)
    page.keyboard.press("Escape")
    page.click("#tc-compare")
    page.wait_for_selector("#tc-compare-results", state="visible", timeout=30_000)
    page.wait_for_function("() => document.querySelectorAll('#tc-compare-loss svg .mark-line.role-mark path').length"
                           " >= 2", timeout=30_000)
    assert "Comparing 2 runs." in page.inner_text("#tc-compare-note")
    assert page.inner_text("#tc-compare-summary").count("support_tickets") >= 2
    page.screenshot(path=str(artifacts_dir / "browser-compare.png"), full_page=True)

    # 9. Columns picked by hand (not the guessed ones) come back after a reload too.
    table = tmp_path / "tickets.csv"
    table.write_text("title,body,label,topic\n" + "".join(
        f"Title {i} {w},A much longer body text number {i} about {w} and other things,{w[0]},{t}\n"
        for i in range(12) for w, t in (("apples", "fruit"), ("bananas", "fruit"), ("carrots", "veg"))),
        encoding="utf-8")
    context = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})  # a fresh session
    try:
        choose_columns_and_reload(context.new_page(), page.url, table)
    finally:
        context.close()


def choose_columns_and_reload(page, url: str, table) -> None:
    page.set_default_timeout(30_000)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(".gradio-container", timeout=60_000)
    page.wait_for_selector("#tc-data-status", timeout=60_000)
    page.set_input_files("#tc-data-file input[type=file]", str(table))
    page.wait_for_function("() => document.querySelector('#tc-data-status')?.innerText.includes('tickets.csv')",
                           timeout=90_000)
    assert (page.input_value("#tc-text-col input"), page.input_value("#tc-label-col input")) == ("body", "label")
    for dropdown, value in (("#tc-text-col", "title"), ("#tc-label-col", "topic")):
        pick(page, dropdown, value)
        page.wait_for_function(f"() => document.querySelector('#tc-data-status').innerText.includes(\"'{value}'\")",
                               timeout=60_000)
    # A validation table of its own, with the same columns: the report says the split comes from it.
    val_table = table.with_name("tickets-val.csv")
    val_table.write_text("title,body,label,topic\n" + "".join(
        f"Held-out {i} {w},Another body {i} about {w},{w[0]},{t}\n"
        for i in range(2) for w, t in (("apples", "fruit"), ("carrots", "veg"))), encoding="utf-8")
    page.set_input_files("#tc-val-file input[type=file]", str(val_table))
    from_file = "36 rows for training and 4 for validation (from the validation file)."
    page.wait_for_function("(s) => document.querySelector('#tc-data-report')?.innerText.includes(s)", arg=from_file,
                           timeout=60_000)
    time.sleep(1.5)  # the choice is stored in the browser by its own event, beside the data check
    page.reload()
    page.wait_for_function(
        "() => document.querySelector('#tc-data-status')?.innerText.includes(\"'title' → 'topic'\")", timeout=90_000)
    assert (page.input_value("#tc-text-col input"), page.input_value("#tc-label-col input")) == ("title", "topic")
    # The validation table came back with the file: shown in its box and read by the check.
    page.wait_for_function("(s) => document.querySelector('#tc-data-report')?.innerText.includes(s)", arg=from_file,
                           timeout=60_000)
    assert "tickets-val.csv" in page.inner_text("#tc-val-file").replace("\n", "")  # the name wraps at the dot


def test_a_dataset_and_its_config_come_back_after_a_reload(browser_page, tmp_path):
    """A folder laid out like a Hub dataset repo (your own machine reads one as a dataset), typed in the dataset box
    with a config chosen: a reload puts both back and checks the dataset again."""
    from tests.hub_repo import make_hub_repo

    repo = make_hub_repo(tmp_path / "hub-dataset")
    page = browser_page
    page.wait_for_selector("#tc-data-status", timeout=60_000)
    box = page.locator("#tc-hub-dataset textarea, #tc-hub-dataset input").first
    box.fill(str(repo))
    box.press("Enter")
    page.wait_for_function("() => document.querySelector('#tc-data-status')?.innerText.includes('Ready to train')",
                           timeout=90_000)
    pick(page, "#tc-hub-config", "topics")
    topics = "2 labels: politics 10, sport 10."
    page.wait_for_function("(s) => document.querySelector('#tc-data-report')?.innerText.includes(s)", arg=topics,
                           timeout=60_000)
    time.sleep(1.5)  # the choice is stored in the browser by its own event, beside the data check
    page.reload()
    page.wait_for_function("(s) => document.querySelector('#tc-data-report')?.innerText.includes(s)", arg=topics,
                           timeout=90_000)
    assert "Ready to train" in page.inner_text("#tc-data-status")
    assert page.locator("#tc-hub-dataset textarea, #tc-hub-dataset input").first.input_value() == str(repo)
    assert page.input_value("#tc-hub-config input") == "topics"
