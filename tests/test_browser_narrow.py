"""The page on a 390 px phone in headless Chromium: the Data step's charts and the Train step's charts keep whole
titles and real-size text at the column's width (the Data charts were images that shrank their text to ~6 px)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
PHONE = {"width": 390, "height": 844}

CHART_FACTS = """(id) => {
  const box = document.querySelector(`#${id}`).getBoundingClientRect();
  const svg = document.querySelector(`#${id} svg.marks`);
  const r = svg.getBoundingClientRect();
  const title = svg.querySelector('.role-title-text text') || svg.querySelector('.role-title-text');
  const t = title.getBoundingClientRect();
  const sizes = [...svg.querySelectorAll('.role-axis-label text, .role-title-text text')]
    .map(e => parseFloat(getComputedStyle(e).fontSize));
  return {box: box.width, width: r.width, title: title.textContent, left: t.left - r.left, right: t.right - r.left,
          smallest_font: Math.min(...sizes)};
}"""


def chart_facts(page, chart_id: str) -> dict:
    page.wait_for_selector(f"#{chart_id} svg.marks .role-title-text", timeout=30_000)
    return page.evaluate(CHART_FACTS, chart_id)


def assert_readable(facts: dict, title: str) -> None:
    assert facts["title"] == title, facts  # whole, not cut with "…"
    assert 0 <= facts["left"] and facts["right"] <= facts["width"], facts  # inside the chart
    assert facts["width"] >= 0.85 * facts["box"] and facts["width"] >= 280, facts  # the column's width
    assert facts["smallest_font"] >= 10, facts  # real-size text, not a shrunken image


def test_charts_read_on_a_phone(chromium, app_url, artifacts_dir):
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2)
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_url, wait_until="domcontentloaded")
        page.wait_for_selector(".gradio-container", timeout=60_000)
        page.click("#tc-use-example")
        page.wait_for_selector("#tc-data-ready", timeout=90_000)
        page.wait_for_function("() => document.querySelectorAll('#tc-class-chart svg .mark-rect.role-mark path')"
                               ".length === 4", timeout=30_000)
        assert_readable(chart_facts(page, "tc-class-chart"), "Examples per label")
        assert_readable(chart_facts(page, "tc-length-chart"), "Text length in tokens")
        page.locator("#tc-class-chart").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "phone-data.png"), full_page=True)
        page.click("#tc-data-next")
        for chart, title in (("tc-loss-chart", "Loss by step"), ("tc-metric-chart", "Validation scores by epoch"),
                             ("tc-lr-chart", "Learning rate"), ("tc-grad-chart", "Gradient norm")):
            assert_readable(chart_facts(page, chart), title)
        page.screenshot(path=str(artifacts_dir / "phone-train.png"), full_page=True)
    finally:
        context.close()
