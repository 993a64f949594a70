"""The Data step's two charts (examples per label, or a numeric target's values; text length in tokens) as
Vega-Lite specs for gr.Plot.

They were matplotlib images: an image is drawn at one width and scaled to the column, so on a 390 px phone its
titles and numbers shrank to ~6 px. The page's Vega renderer lays a spec out at the column's real width with
real-size text, as the Train step's charts (ui/live_charts.py) already are; label names are drawn by the browser's
fonts, whatever the script. Pure functions of the counts and lengths: tests read the specs.
"""
from __future__ import annotations

from typing import Any, Sequence

from ui.live_charts import plot_value

BAR_COLOR = "#6366f1"
CUT_COLOR = "#ef4444"
LINE_COLOR = "#0f172a"
HEIGHT = 210
# Vega's default title is 13 px bold; these titles are short enough to fit a 300 px wide chart whole.
TITLE = {"fontSize": 13, "anchor": "middle", "limit": 0}
COUNTS_TITLE = "Examples per label"
LENGTHS_TITLE = "Text length in tokens"
COUNTS_EMPTY = "Label counts appear here once the data is checked"
LENGTHS_EMPTY = "Token lengths appear here once the data is checked"


def _spec(title: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": {"text": title, **TITLE}, "height": HEIGHT,  # no width: Gradio sets it to the column's
        "usermeta": {"embedOptions": {"renderer": "svg"}},
        "encoding": {},  # Gradio's theming of a scatter chart reads the top-level encoding
        **body,
    }


def _note(title: str, note: str) -> dict[str, Any]:
    """An empty chart: its title and one line saying why, no axes with made-up numbers."""
    return _spec(title, {"data": {"values": [{"note": note}]},
                         "mark": {"type": "text", "color": "#64748b", "fontSize": 12, "limit": 280},
                         "encoding": {"text": {"field": "note", "type": "nominal"}}})


def label_angle(labels: Sequence[str]) -> int:
    """Angle of the bar chart's label names: level while they fit side by side, slanted for a dozen or two,
    upright for more (50 level names print on top of each other)."""
    if sum(len(str(x)) + 2 for x in labels) <= 45:
        return 0
    return -45 if len(labels) <= 20 else -90


def class_counts_spec(counts: dict[str, int] | None, empty_note: str = COUNTS_EMPTY) -> dict[str, Any]:
    """Examples per label as bars, most frequent first (equal counts keep the label order)."""
    items = sorted((counts or {}).items(), key=lambda kv: -kv[1])
    if not items:
        return _note(COUNTS_TITLE, empty_note)
    names = [str(k) for k, _ in items]
    font = 11 if len(names) <= 20 else max(7, 11 - (len(names) - 20) // 10)
    x = {"field": "label", "type": "nominal", "sort": names, "title": None,
         "axis": {"labelAngle": label_angle(names), "labelLimit": 110, "labelFontSize": font}}
    y = {"field": "rows", "type": "quantitative", "title": "rows", "axis": {"format": "d", "tickMinStep": 1}}
    return _spec(COUNTS_TITLE, {
        "data": {"values": [{"label": name, "rows": int(n)} for name, (_, n) in zip(names, items)]},
        "mark": {"type": "bar", "color": BAR_COLOR},
        "encoding": {"x": x, "y": y, "tooltip": [{"field": "label", "type": "nominal"},
                                                 {"field": "rows", "type": "quantitative"}]},
    })


def target_histogram_spec(target: dict[str, Any], name: str) -> dict[str, Any]:
    """A numeric target's values (regression) as a histogram: the data report's bins."""
    edges, counts = target["histogram"]["edges"], target["histogram"]["counts"]
    rows = [{"start": a, "end": b, "rows": int(n)} for a, b, n in zip(edges, edges[1:], counts)]
    x = {"field": "start", "type": "quantitative", "title": name or "value", "bin": {"binned": True},
         "scale": {"domain": [edges[0], edges[-1]], "nice": False, "zero": False}, "axis": {"tickCount": 6}}
    y = {"field": "rows", "type": "quantitative", "title": "rows", "axis": {"format": "d", "tickMinStep": 1}}
    return _spec(f"Values of {name}" if name else "Values", {
        "data": {"values": rows}, "mark": {"type": "bar", "color": BAR_COLOR, "binSpacing": 1},
        "encoding": {"x": x, "x2": {"field": "end"}, "y": y,
                     "tooltip": [{"field": "start", "type": "quantitative", "title": "from"},
                                 {"field": "end", "type": "quantitative", "title": "to"},
                                 {"field": "rows", "type": "quantitative"}]},
    })


def histogram_rows(values: Sequence[int], max_length: int | None) -> tuple[list[dict[str, Any]], int, int]:
    """Bins of whole tokens -> rows {start, end, texts, part}, and the axis' [low, top]. Bins span the max-length
    line too: with every text past a short max length, bins over the texts alone would be slivers beside it."""
    low, top = min(min(values), int(max_length or min(values))), max(max(values), int(max_length or 0))
    bins = min(40, max(5, top - low + 1))
    width = (top + 1 - low) / bins
    counts: dict[tuple[int, str], int] = {}
    for v in values:
        part = "cut off" if max_length and v > max_length else "fits"
        b = min(bins - 1, int((v - low) / width))
        counts[(b, part)] = counts.get((b, part), 0) + 1
    rows = [{"start": low + b * width, "end": low + (b + 1) * width, "texts": n, "part": part}
            for (b, part), n in sorted(counts.items())]
    return rows, low, top + 1


def token_histogram_spec(lengths: Sequence[int], max_length: int | None, automatic: bool = True,
                         empty_note: str = LENGTHS_EMPTY) -> dict[str, Any]:
    """Token lengths as a histogram with the max length drawn as a dashed line; texts past it are red."""
    values = [int(x) for x in lengths if x is not None]
    if not values:
        return _note(LENGTHS_TITLE, empty_note)
    rows, low, end = histogram_rows(values, max_length)
    cut = sum(r["texts"] for r in rows if r["part"] == "cut off")
    parts = ["fits"] + (["cut off"] if cut else [])
    highest = max(sum(r["texts"] for r in rows if r["start"] == s) for s in {r["start"] for r in rows})
    x = {"field": "start", "type": "quantitative", "title": "tokens per text", "bin": {"binned": True},
         "scale": {"domain": [low, end], "nice": False, "zero": False}, "axis": {"format": "d", "tickCount": 6}}
    y = {"field": "texts", "type": "quantitative", "title": "texts", "stack": "zero",
         "scale": {"domain": [0, highest * 1.3], "nice": False},  # headroom: the note sits above the bars
         "axis": {"format": "d", "tickMinStep": 1, "tickCount": 5}}
    legend = {"orient": "top-left", "title": None,
              "labelExpr": f"datum.label == 'cut off' ? 'cut off ({cut})' : datum.label"} if cut else None
    layers: list[dict[str, Any]] = [{
        "mark": {"type": "bar", "binSpacing": 0},
        "encoding": {"x": x, "x2": {"field": "end"}, "y": y,
                     "color": {"field": "part", "type": "nominal", "title": None, "legend": legend,
                               "scale": {"domain": parts, "range": [BAR_COLOR, CUT_COLOR][:len(parts)]}},
                     "tooltip": [{"field": "part", "type": "nominal"}, {"field": "texts", "type": "quantitative"}]},
    }]
    if max_length:
        at = max_length + 0.5
        # The note sits on the side of the line with room: left of a line near the right edge, else right of it.
        near_left = (max_length - low) < 0.4 * (end - low)
        how = "automatic" if automatic else "chosen"
        line = {"data": {"values": [{"at": at, "note": f"max length {max_length} ({how})"}]}, "encoding": {
            "x": {"field": "at", "type": "quantitative"}}}
        layers += [
            {**line, "mark": {"type": "rule", "color": LINE_COLOR, "strokeDash": [5, 3], "strokeWidth": 1.4}},
            {**line, "mark": {"type": "text", "align": "left" if near_left else "right", "dx": 4 if near_left else -4,
                              "baseline": "top", "y": 18, "fontSize": 11, "color": LINE_COLOR,
                              "strokeWidth": 0},  # below the chart's menu button; no outline from Gradio's theme
             "encoding": {**line["encoding"], "text": {"field": "note", "type": "nominal"}}},
        ]
    return _spec(LENGTHS_TITLE, {"data": {"values": rows}, "layer": layers})


def class_counts_plot(counts: dict[str, int] | None, *empty_note: str) -> Any:
    return plot_value(class_counts_spec(counts, *empty_note))


def token_histogram_plot(lengths: Sequence[int], max_length: int | None, automatic: bool = True,
                         *empty_note: str) -> Any:
    return plot_value(token_histogram_spec(lengths, max_length, automatic, *empty_note))


def target_histogram_plot(target: dict[str, Any], name: str) -> Any:
    return plot_value(target_histogram_spec(target, name))
