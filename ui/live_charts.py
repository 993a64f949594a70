"""The Train step's live charts as Vega-Lite specs: pure functions of a run's view (core.runs.events.RunView).

Why not gr.LinePlot / gr.ScatterPlot: Gradio's native plots draw either lines (a one-point series shows nothing)
or points (no line), one style per series (accuracy equal to macro-F1 hides one), and pick their own "nice" axes
(ticks at epoch 0.1 … 1.45, a step axis to 180 for 160 steps). gr.Plot renders any Vega-Lite spec in the browser
with the same renderer, so these specs say exactly what is drawn: lines with markers, a dash and a marker shape per
series, integer epoch ticks, axes that end where the data does. `plot_value` wraps a spec for gr.Plot.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from core.runs.events import RunView
from core.runs.rundir import ACTIVE_STATES
from core.tasks import DEFAULT, TaskKind


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    dash: tuple[int, ...] = ()  # () = solid
    shape: str = "circle"
    filled: bool = True
    size: int = 36


TRAIN_LOSS = Series("training loss", "#6366f1")
VAL_LOSS = Series("validation loss", "#f97316", dash=(6, 3), shape="square", size=44)
# The styles the task kind's metrics take in order (single-label: accuracy, macro-F1). Equal scores draw on top of
# each other: a filled dot inside a larger hollow diamond and a dashed line over a solid one keep both visible.
SCORE_STYLES = (Series("", "#10b981"), Series("", "#a855f7", dash=(6, 3), shape="diamond", filled=False, size=110),
                Series("", "#f59e0b", dash=(2, 2), shape="triangle-up", filled=False, size=70))
LEARNING_RATE = Series("learning rate", "#0ea5e9")
GRAD_NORM = Series("gradient norm", "#ef4444")

CHART_HEIGHT = {"loss": 220, "scores": 190, "small": 140}


def _padded(values: list[float], share: float = 0.08, floor: float | None = None,
            ceiling: float | None = None) -> list[float]:
    """[low, high] around the data with a small margin; a flat series gets a margin of its own size."""
    low, high = min(values), max(values)
    pad = share * (high - low) if high > low else max(abs(high) * share, 1e-3)
    low, high = low - pad, high + pad
    if floor is not None:
        low = max(floor, low)
    if ceiling is not None:
        high = min(ceiling, high)
    return [low, high]


def percent_axis(values: list[float]) -> dict[str, Any]:
    """Scores (0-1) labelled like every other score on the page, '85 %' (charts.fmt_pct): d3's '.0%' writes '85%'.
    One decimal when the scores lie within 5 points of each other, so neighbouring ticks differ."""
    decimals = 0 if max(values) - min(values) >= 0.05 else 1
    return {"labelExpr": f"format(datum.value * 100, '.{decimals}f') + ' %'"}


PERCENT_TOOLTIP = "format(datum.value * 100, '.1f') + ' %'"


def _layer(series: Series, x: dict[str, Any], y: dict[str, Any], domain: list[str], colors: list[str]) -> dict:
    # Marker colours are set here: Gradio's chart theme would give every marker its accent-coloured outline.
    point = {"shape": series.shape, "filled": series.filled, "size": series.size, "strokeWidth": 2,
             "stroke": series.color, **({"fill": series.color} if series.filled else {"fill": "transparent"})}
    mark: dict[str, Any] = {"type": "line", "strokeWidth": 2, "clip": False, "point": point}
    if series.dash:
        mark["strokeDash"] = list(series.dash)
    transform: list[dict[str, Any]] = [{"filter": {"field": "series", "equal": series.name}}]
    shown = {"field": "value", "type": "quantitative", "title": y.get("title") or "value",
             "format": y.get("axis", {}).get("format", "")}
    if "labelExpr" in y.get("axis", {}):  # a percent axis: the tooltip says '84.5 %' too
        transform.append({"calculate": PERCENT_TOOLTIP, "as": "shown"})
        shown = {"field": "shown", "type": "nominal", "title": y.get("title") or "value"}
    return {
        "transform": transform,
        "mark": mark,
        "encoding": {"x": x, "y": y,
                     "color": {"field": "series", "type": "nominal", "title": None,
                               "scale": {"domain": domain, "range": colors},
                               "legend": {"orient": "top", "symbolType": "stroke"}},
                     "tooltip": [{"field": x["field"], "type": "quantitative"}, shown]},
    }


def chart_spec(rows: list[dict[str, Any]], series: list[Series], x: dict[str, Any], y: dict[str, Any],
               title: str, height: int) -> dict[str, Any]:
    """One Vega-Lite spec: a layer per series (each with its own dash and marker), a shared colour legend. With
    no points yet the value axis has no numbers (they would be made up)."""
    if not rows:
        y = {**y, "axis": {**y.get("axis", {}), "labels": False, "ticks": False}}
    present = [s for s in series if any(r["series"] == s.name for r in rows)] or series
    domain, colors = [s.name for s in present], [s.color for s in present]
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "title": title, "height": height,  # no width: Gradio sets it to the column's
        "data": {"values": rows},
        # SVG, not vega-embed's default canvas: crisp when scaled, and its marks and tick labels are in the page.
        "usermeta": {"embedOptions": {"renderer": "svg"}},
        "encoding": {},  # Gradio's theming of a scatter chart reads the top-level encoding
        "layer": [_layer(s, x, y, domain, colors) for s in present],
    }


def int_ticks(last: int, most: int = 8) -> list[int]:
    """Whole-number ticks from 0 to at most `last`, 1-2-5 spaced, no more than `most` + 1 of them."""
    last = max(1, int(last))
    for every in sorted(base * scale for base in (1, 2, 5) for scale in (1, 10, 100, 1000, 10_000, 100_000)):
        if last / every <= most:
            return list(range(0, last + 1, every))
    return [0, last]


def _step_axis(view: RunView, steps: list[int]) -> dict[str, Any]:
    """Steps from 0 to the run's planned last step while it trains (the line fills it), else to its last point."""
    last = max(steps) if steps else 1
    if view.state in ACTIVE_STATES:
        last = max(last, view.total_steps or 0)
    last = max(1, last)
    return {"field": "step", "type": "quantitative", "title": "step",
            "scale": {"domain": [0, last], "nice": False}, "axis": {"values": int_ticks(last), "format": "d"}}


def loss_spec(view: RunView) -> dict[str, Any]:
    rows = [{"step": s, "value": v, "series": TRAIN_LOSS.name} for s, v in view.train_loss]
    rows += [{"step": int(e.step), "value": float(e.loss), "series": VAL_LOSS.name}
             for e in view.evals if e.loss is not None]
    values = [r["value"] for r in rows] or [0.0, 1.0]
    y = {"field": "value", "type": "quantitative", "title": "loss",
         "scale": {"domain": _padded(values, floor=0.0), "nice": False, "zero": False}, "axis": {"format": ".2f"}}
    return chart_spec(rows, [TRAIN_LOSS, VAL_LOSS], _step_axis(view, [r["step"] for r in rows]), y,
                      "Loss by step", CHART_HEIGHT["loss"])


def epoch_ticks(view: RunView, epochs: list[float]) -> list[int]:
    """Whole epochs from 0 to the planned number while training, else to the last evaluated one."""
    last = math.ceil(max(epochs) - 1e-6) if epochs else 1
    if view.state in ACTIVE_STATES and view.planned_epochs:
        last = max(last, view.planned_epochs)
    return list(range(0, max(1, last) + 1))


def score_series(kind: TaskKind) -> list[Series]:
    """One series per metric of the kind, named as the kind names it."""
    return [Series(m.label, style.color, style.dash, style.shape, style.filled, style.size)
            for m, style in zip(kind.metrics, SCORE_STYLES)]


def scores_spec(view: RunView) -> dict[str, Any]:
    """The kind's validation scores by epoch (accuracy and macro-F1 for single-label), on an axis fitted to the
    scores (0.82 and 0.85 look apart)."""
    rows = []
    series = score_series(view.kind)
    for e in view.evals:
        epoch = round(float(e.epoch or 0.0), 3)
        for metric, line in zip(view.kind.metrics, series):
            if e.scores.get(metric.key) is not None:
                rows.append({"epoch": epoch, "value": float(e.scores[metric.key]), "series": line.name})
    ticks = epoch_ticks(view, [r["epoch"] for r in rows])
    x = {"field": "epoch", "type": "quantitative", "title": "epoch",
         "scale": {"domain": [0, ticks[-1]], "nice": False}, "axis": {"values": ticks, "format": "d"}}
    values = [r["value"] for r in rows] or [0.0, 1.0]
    y = {"field": "value", "type": "quantitative", "title": "validation score",
         "scale": {"domain": _padded(values, share=0.15, floor=0.0, ceiling=1.0), "nice": False, "zero": False},
         "axis": percent_axis(values)}
    return chart_spec(rows, series, x, y, "Validation scores by epoch", CHART_HEIGHT["scores"])


def _by_step_spec(view: RunView, points: list[tuple[int, float]], series: Series, axis_format: str,
                  title: str) -> dict[str, Any]:
    rows = [{"step": s, "value": v, "series": series.name} for s, v in points]
    values = [r["value"] for r in rows] or [0.0, 1.0]
    y = {"field": "value", "type": "quantitative", "title": series.name,
         "scale": {"domain": _padded(values, floor=0.0), "nice": False, "zero": False},
         "axis": {"format": axis_format, "tickCount": 4}}
    spec = chart_spec(rows, [series], _step_axis(view, [r["step"] for r in rows]), y, title, CHART_HEIGHT["small"])
    spec["layer"][0]["encoding"]["color"]["legend"] = None  # one series: the title says what it is
    return spec


def learning_rate_spec(view: RunView) -> dict[str, Any]:
    return _by_step_spec(view, view.learning_rate, LEARNING_RATE, ".1e", "Learning rate")


def grad_norm_spec(view: RunView) -> dict[str, Any]:
    return _by_step_spec(view, view.grad_norm, GRAD_NORM, ".2f", "Gradient norm")


def points(spec: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """(x, y) per series as the spec draws them: what tests and the browser check compare."""
    x_field = spec["layer"][0]["encoding"]["x"]["field"]
    out: dict[str, list[tuple[float, float]]] = {}
    for row in spec["data"]["values"]:
        out.setdefault(row["series"], []).append((row[x_field], row["value"]))
    return out


def plot_value(spec: dict[str, Any]) -> Any:
    """gr.Plot's value for a spec: drawn by the page's Vega renderer, themed like Gradio's own charts (the
    "scatter" kind only sets fonts and a default stroke, never the series colours), as wide as its column."""
    from gradio.components.plot import AltairPlotData

    return AltairPlotData(chart="scatter", plot=json.dumps(spec))


# ----- comparing runs (the Runs step) ------------------------------------------------------------------------------

RUN_COLORS = ("#6366f1", "#f97316", "#10b981", "#ef4444", "#0ea5e9")
RUN_SHAPES = ("circle", "square", "triangle-up", "diamond", "cross")


def compare_loss_spec(views: list[RunView], labels: list[str]) -> dict[str, Any]:
    """Training loss (solid) and validation loss (dashed) of 2-5 runs on one step axis, a colour per run."""
    rows, series = [], []
    for i, (v, label) in enumerate(zip(views, labels)):
        color, shape = RUN_COLORS[i % len(RUN_COLORS)], RUN_SHAPES[i % len(RUN_SHAPES)]
        train, val = f"{label} · training", f"{label} · validation"
        series += [Series(train, color, shape=shape, size=20), Series(val, color, dash=(6, 3), shape=shape, size=44,
                                                                     filled=False)]
        rows += [{"step": s, "value": x, "series": train} for s, x in v.train_loss]
        rows += [{"step": int(e.step), "value": float(e.loss), "series": val} for e in v.evals
                 if e.loss is not None]
    values = [r["value"] for r in rows] or [0.0, 1.0]
    last = max([r["step"] for r in rows] or [1])
    x = {"field": "step", "type": "quantitative", "title": "step", "scale": {"domain": [0, last], "nice": False},
         "axis": {"values": int_ticks(last), "format": "d"}}
    y = {"field": "value", "type": "quantitative", "title": "loss",
         "scale": {"domain": _padded(values, floor=0.0), "nice": False, "zero": False}, "axis": {"format": ".2f"}}
    return _wide_legend(chart_spec(rows, series, x, y, "Loss by step", CHART_HEIGHT["loss"] + 40))


def compare_scores_spec(views: list[RunView], labels: list[str]) -> dict[str, Any]:
    """The main metric by epoch (validation macro-F1 for single-label) of 2-5 runs, a colour and a marker per run."""
    rows, series = [], []
    main = views[0].kind if views else DEFAULT
    name = main.metric_label(main.main_metric)
    for i, (v, label) in enumerate(zip(views, labels)):
        series.append(Series(label, RUN_COLORS[i % len(RUN_COLORS)], shape=RUN_SHAPES[i % len(RUN_SHAPES)],
                             dash=() if i % 2 == 0 else (6, 3), size=40 + 15 * i, filled=i == 0))
        key = v.kind.main_metric
        rows += [{"epoch": round(float(e.epoch or 0.0), 3), "value": float(e.scores[key]), "series": label}
                 for e in v.evals if e.scores.get(key) is not None]
    last = math.ceil(max([r["epoch"] for r in rows] or [1]) - 1e-6)
    ticks = list(range(0, max(1, last) + 1))
    x = {"field": "epoch", "type": "quantitative", "title": "epoch", "scale": {"domain": [0, ticks[-1]], "nice": False},
         "axis": {"values": ticks, "format": "d"}}
    values = [r["value"] for r in rows] or [0.0, 1.0]
    y = {"field": "value", "type": "quantitative", "title": f"validation {name}",
         "scale": {"domain": _padded(values, share=0.15, floor=0.0, ceiling=1.0), "nice": False, "zero": False},
         "axis": percent_axis(values)}
    return _wide_legend(chart_spec(rows, series, x, y, f"Validation {name} by epoch", CHART_HEIGHT["scores"] + 30))


def _wide_legend(spec: dict[str, Any]) -> dict[str, Any]:
    """Run names are long: the legend goes below the chart, one name a line, names not cut."""
    for layer in spec["layer"]:
        layer["encoding"]["color"]["legend"] = {"orient": "bottom", "columns": 1, "labelLimit": 400,
                                                "symbolType": "stroke"}
    return spec
