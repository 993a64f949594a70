"""Pure conversions: a run's view (core.events.RunView) and a data report -> tables and text the UI draws.

No Gradio here, so tests call these directly.
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

import pandas as pd

from core.plotting import axis_labels
from core.events import RunView
from core.rundir import RunState

EPOCH_COLUMNS = ["epoch", "train loss", "val loss", "accuracy", "macro-F1"]

STATE_TEXT = {
    RunState.QUEUED: "Queued",
    RunState.RUNNING: "Training",
    RunState.FINISHED: "Finished",
    RunState.CANCELLED: "Stopped",
    RunState.FAILED: "Failed",
    RunState.INTERRUPTED: "Interrupted",
}


def _frame(rows: list[tuple], columns: list[str], dtypes: list[str]) -> pd.DataFrame:
    """A DataFrame whose column types never depend on being empty (plots pick their axis type from the dtypes)."""
    df = pd.DataFrame(rows, columns=columns)
    return df.astype(dict(zip(columns, dtypes)))


def fmt_loss(x: float | None) -> str:
    """Losses: always 4 decimals ('0.6931'), '–' when missing."""
    return "–" if x is None or not math.isfinite(float(x)) else f"{float(x):.4f}"


def fmt_pct(x: float | None) -> str:
    """Scores between 0 and 1 as percentages with one decimal ('84.5 %'), '–' when missing."""
    return "–" if x is None or not math.isfinite(float(x)) else f"{100 * float(x):.1f} %"


def epoch_frame(view: RunView) -> pd.DataFrame:
    """The epoch table: one format per column (whole epochs, losses to 4 decimals, scores as percentages)."""
    rows = [(str(r.epoch), fmt_loss(r.train_loss), fmt_loss(r.val_loss), fmt_pct(r.accuracy), fmt_pct(r.f1_macro))
            for r in view.epochs]
    return _frame(rows, EPOCH_COLUMNS, ["str"] * len(EPOCH_COLUMNS))


def fmt_duration(seconds: float | None) -> str:
    """62 -> '1:02', 3725 -> '1:02:05', None -> '–'."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def progress_text(view: RunView) -> str:
    """'Step 12 / 40 · 0:35 elapsed · ETA 1:10 · 52.3 samples/s' (or the stage while nothing is counted yet)."""
    if not view.total_steps:
        return view.stage or ("Waiting for a free slot" if view.state == RunState.QUEUED else "Preparing")
    parts = [f"Step {view.step} / {view.total_steps}", f"{fmt_duration(view.elapsed_seconds)} elapsed"]
    if view.state == RunState.RUNNING:
        parts.append(f"ETA {fmt_duration(view.eta_seconds)}")
    if view.samples_per_second:
        parts.append(f"{view.samples_per_second:.1f} samples/s")
    return " · ".join(parts)


def progress_html(view: RunView | None) -> str:
    if view is None:
        return ""
    pct = 100.0 * (1.0 if view.state == RunState.FINISHED else view.fraction_done)
    stage = f'<span class="tc-stage">{html.escape(view.stage)}</span>' if view.stage and view.state == RunState.RUNNING else ""
    settings = view.settings
    settings_line = f'<div class="tc-settings">{html.escape(settings)}</div>' if settings else ""
    return (
        f'<div class="tc-progress" data-state="{view.state}" data-step="{view.step}" data-total="{view.total_steps}">'
        f'<div class="tc-bar"><div class="tc-fill" style="width:{pct:.1f}%"></div></div>'
        f'<div class="tc-progress-text">{html.escape(progress_text(view))} {stage}</div>{settings_line}</div>'
    )


def banner_html(view: RunView | None, queue_position: int | None = None, run_name: str = "") -> str:
    """One clear sentence about the run: running / queued (with position) / finished / stopped / failed."""
    if view is None:
        return (
            '<div class="tc-banner" data-state="none">No run yet: check your data, pick a model and press '
            "<b>Start training</b>.</div>"
        )
    state = view.state
    name = f" <b>{html.escape(run_name)}</b>" if run_name else ""
    best = f" Best macro-F1 {fmt_pct(view.best_f1)}." if view.best_f1 is not None else ""
    if state == RunState.QUEUED:
        if queue_position and queue_position > 1:
            text = (f"Queued{name}: another training job is using the machine. You are number {queue_position} "
                    "in the queue; it starts by itself.")
        else:
            text = f"Starting{name}: the training process is getting ready…"
    elif state == RunState.RUNNING:
        text = f"Training{name}… {html.escape(progress_text(view))}. You can close this tab; training continues."
    elif state == RunState.FINISHED:
        # The run's own ending names the saved model's scores; the best evaluation only when it has none.
        ending = f" {html.escape(view.message)}" if view.message else best
        text = f"Finished{name}.{ending} Open <b>Evaluate</b> to see how it does."
    elif state == RunState.CANCELLED:
        text = f"Stopped{name}.{best} Press <b>Resume</b> to continue from the last checkpoint."
    elif state == RunState.INTERRUPTED:
        text = f"Interrupted{name}: the training process ended unexpectedly (server restart?). Press <b>Resume</b> to continue."
    elif state == RunState.FAILED:
        reason = first_sentence(view.message) or "the training process stopped with an error."
        text = f"Failed{name}: {html.escape(reason)} The log below has the details."
    else:
        text = html.escape(state)
    return f'<div class="tc-banner" data-state="{state}">{text}</div>'


def first_sentence(message: str | None) -> str:
    if not message:
        return ""
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= 300 else line[:297] + "…"


def view_signature(view: RunView | None) -> str:
    """Changes only when something drawn changes: lets the poller skip re-drawing unchanged charts."""
    if view is None:
        return ""
    return f"{view.state}|{len(view.train_loss)}|{len(view.evals)}|{view.step}|{view.total_steps}|{view.stage}"


# ----- data report ---------------------------------------------------------------------------------------------

def _report_figure(title: str) -> tuple[Any, Any]:
    """The data step's two charts share one size and look, so they sit side by side evenly."""
    from core.plotting import figure

    fig = figure(figsize=(6.4, 2.9), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title, fontsize=11, fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig, ax


def _placeholder(fig: Any, ax: Any, note: str) -> Any:
    ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes, color="#64748b")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def class_counts_figure(counts: dict[str, int] | None,
                        empty_note: str = "Label counts appear here once the data is checked") -> Any:
    """Examples per label as a matplotlib bar chart, most frequent first. Matplotlib rather than gr.BarPlot: the
    names must turn upright when there are many, and Gradio's bar chart neither takes a new label angle in an
    update nor makes room for slanted names."""
    fig, ax = _report_figure("Examples per label")
    items = sorted((counts or {}).items(), key=lambda kv: -kv[1])  # stable: equal counts keep the label order
    if not items:
        return _placeholder(fig, ax, empty_note)
    names = axis_labels([str(k) for k, _ in items])
    ax.bar(range(len(items)), [int(v) for _, v in items], color="#6366f1")
    angle = label_angle(names)
    font = 9 if len(names) <= 20 else max(5, 9 - (len(names) - 20) // 10)
    ax.set_xticks(range(len(names)), labels=names, rotation=-angle, ha="right" if angle == -45 else "center",
                  rotation_mode="anchor" if angle == -45 else "default", fontsize=font)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("rows")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return fig


def label_angle(labels: Sequence[str]) -> int:
    """Angle of the bar chart's label names: level while they fit side by side, slanted for a dozen or two,
    upright for more (50 level names print on top of each other)."""
    if sum(len(str(x)) + 2 for x in labels) <= 70:
        return 0
    return -45 if len(labels) <= 20 else -90


def token_histogram_figure(lengths: Sequence[int], max_length: int | None, automatic: bool = True,
                           empty_note: str = "Token lengths appear here once the data is checked") -> Any:
    """A matplotlib histogram of token lengths with the max length drawn as a line; texts past it are red."""
    fig, ax = _report_figure("Text length in tokens")
    values = [int(x) for x in lengths if x is not None]
    ax.set_xlabel("tokens per text")
    ax.set_ylabel("texts")
    if not values:
        return _placeholder(fig, ax, empty_note)
    # Bins span the line too: with every text past a short max length, bins over the texts alone would be
    # slivers a token wide beside the line.
    low, top = min(min(values), int(max_length or min(values))), max(max(values), int(max_length or 0))
    bins = min(40, max(5, top - low + 1))
    edges = [low + i * (top + 1 - low) / bins for i in range(bins + 1)]
    fits = [v for v in values if not max_length or v <= max_length]
    cut = [v for v in values if max_length and v > max_length]
    ax.hist([fits, cut], bins=edges, stacked=True, color=["#6366f1", "#ef4444"],
            label=["fits", f"cut off ({len(cut)})"])
    if max_length:
        how = "automatic" if automatic else "chosen"
        ax.axvline(max_length + 0.5, color="#0f172a", linestyle="--", linewidth=1.4)
        # The note sits on the side of the line with room: left of a line near the right edge, else right of it
        # (a line at the left edge, when every text is longer, would push it over the axis).
        near_left = (max_length - low) < 0.4 * (top + 1 - low)
        ax.annotate(f"max length {max_length} ({how})", xy=(max_length + 0.5, 1), xycoords=("data", "axes fraction"),
                    xytext=(4 if near_left else -4, -4), textcoords="offset points", ha="left" if near_left else "right",
                    va="top", fontsize=9, color="#0f172a")
        if cut:
            ax.legend(frameon=False, fontsize=8, loc="upper right" if near_left else "upper left")
        ax.set_ylim(top=ax.get_ylim()[1] * 1.3)  # headroom: the note and the legend sit above the bars
    ax.yaxis.get_major_locator().set_params(integer=True)  # counts of texts
    return fig


def warnings_html(warnings: Sequence[str]) -> str:
    if not warnings:
        return '<div class="tc-ok">No problems found in the data.</div>'
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f'<div class="tc-warn"><b>Check before training</b><ul>{items}</ul></div>'


def sentences_markdown(sentences: Sequence[str]) -> str:
    return "\n".join(f"- {s}" for s in sentences)


def short_model(model: str) -> str:
    """'sentence-transformers/all-MiniLM-L6-v2' -> 'all-MiniLM-L6-v2', a folder -> its name: leaves room for the id."""
    return model.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1] or model


def run_rows(summaries: Sequence[Any]) -> pd.DataFrame:
    """core.runs.RunSummary list -> the Runs table. No 'created' column: the id starts with the start time (and an
    unnamed run's name carries it), and without it the id, which the API takes, is not cut off."""
    rows = []
    for s in summaries:
        rows.append((
            getattr(s, "name", "") or getattr(s, "run_id", ""), STATE_TEXT.get(s.state, s.state),
            fmt_pct(getattr(s, "best_f1", None)), fmt_pct(getattr(s, "best_accuracy", None)),
            short_model(str(getattr(s, "model", ""))), getattr(s, "run_id", ""),
        ))
    return pd.DataFrame(rows, columns=["run", "state", "best macro-F1", "best accuracy", "model", "id"])
