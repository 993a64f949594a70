"""The Data step's charts as Vega-Lite specs: what they draw, and that they read at a phone's 390 px."""
from __future__ import annotations

from ui import data_charts


def layer(spec: dict, mark: str) -> dict:
    return next(part for part in spec.get("layer", [spec]) if part["mark"]["type"] == mark)


def test_class_counts_most_first_and_names_turn_when_many():
    spec = data_charts.class_counts_spec({"b": 2, "a": 5, "c": 5})
    assert spec["data"]["values"] == [{"label": "a", "rows": 5}, {"label": "c", "rows": 5}, {"label": "b", "rows": 2}]
    x = spec["encoding"]["x"]
    assert x["sort"] == ["a", "c", "b"] and x["axis"]["labelAngle"] == 0  # most first, ties in label order
    assert spec["encoding"]["y"]["axis"]["format"] == "d"  # counts of rows: whole numbers
    many = data_charts.class_counts_spec({f"class_{i}": 8 for i in range(50)})
    assert many["encoding"]["x"]["axis"]["labelAngle"] == -90
    assert data_charts.label_angle([f"topic {i}" for i in range(12)]) == -45


def test_histogram_marks_the_max_length_and_the_texts_it_cuts():
    spec = data_charts.token_histogram_spec([10, 12, 40, 50], 32, automatic=False)
    bars, rule, note = layer(spec, "bar"), layer(spec, "rule"), layer(spec, "text")
    rows = spec["data"]["values"]
    assert sum(r["texts"] for r in rows if r["part"] == "cut off") == 2 and all(
        r["start"] > 32 for r in rows if r["part"] == "cut off")
    assert bars["encoding"]["color"]["scale"] == {"domain": ["fits", "cut off"], "range": ["#6366f1", "#ef4444"]}
    assert "cut off (2)" in bars["encoding"]["color"]["legend"]["labelExpr"]
    assert rule["data"]["values"] == note["data"]["values"] == [{"at": 32.5, "note": "max length 32 (chosen)"}]
    assert bars["encoding"]["x"]["scale"]["domain"] == [10, 51]  # the axis ends where the texts do
    fits = data_charts.token_histogram_spec([10, 12, 14], 32)
    assert layer(fits, "bar")["encoding"]["color"]["legend"] is None  # nothing cut: no legend
    assert layer(fits, "text")["data"]["values"][0]["note"] == "max length 32 (automatic)"
    assert layer(fits, "bar")["encoding"]["x"]["scale"]["domain"] == [10, 33]  # reaches the line


def test_empty_charts_say_why_without_made_up_axes():
    for spec, note in ((data_charts.class_counts_spec({}), data_charts.COUNTS_EMPTY),
                       (data_charts.token_histogram_spec([], None, True, "Fix the data first"), "Fix the data first")):
        assert spec["mark"]["type"] == "text" and spec["data"]["values"] == [{"note": note}]
        assert "x" not in spec["encoding"] and "y" not in spec["encoding"]


def test_titles_are_whole_and_the_chart_takes_the_columns_width():
    for spec in (data_charts.class_counts_spec({"a": 1, "b": 2}), data_charts.token_histogram_spec([3, 4], 8),
                 data_charts.class_counts_spec({})):
        title = spec["title"]
        assert title["limit"] == 0 and title["fontSize"] >= 12  # never truncated with "…", never shrunk
        # ~0.6 em a character: the title fits the ~300 px a 390 px phone leaves the chart.
        assert len(title["text"]) * 0.6 * title["fontSize"] < 300, title
        assert "width" not in spec and spec["usermeta"]["embedOptions"]["renderer"] == "svg"
