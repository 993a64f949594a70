"""Pure conversions: a run's view (core.runs.events.RunView) and a data report -> tables and text the UI draws.

No Gradio here, so tests call these directly.
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

import pandas as pd

from core.runs.events import RunView
from core.runs.rundir import RunState

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


def epoch_columns(view: RunView) -> list[str]:
    """epoch, train loss, val loss, then the task kind's metrics (single-label: accuracy, macro-F1)."""
    return ["epoch", "train loss", "val loss", *(m.label for m in view.kind.metrics)]


def epoch_frame(view: RunView) -> pd.DataFrame:
    """The epoch table: one format per column (whole epochs, losses to 4 decimals, scores as percentages)."""
    metrics = view.kind.metrics
    rows = [(str(r.epoch), fmt_loss(r.train_loss), fmt_loss(r.val_loss),
             *(fmt_pct(r.scores.get(m.key)) for m in metrics)) for r in view.epochs]
    columns = epoch_columns(view)
    return _frame(rows, columns, ["str"] * len(columns))


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
    """core.runs.launcher.RunSummary list -> the Runs table. No 'created' column: the id starts with the start time (and an
    unnamed run's name carries it), and without it the id, which the API takes, is not cut off."""
    rows = []
    for s in summaries:
        rows.append((
            getattr(s, "name", "") or getattr(s, "run_id", ""), STATE_TEXT.get(s.state, s.state),
            fmt_pct(getattr(s, "best_f1", None)), fmt_pct(getattr(s, "best_accuracy", None)),
            short_model(str(getattr(s, "model", ""))), getattr(s, "run_id", ""),
        ))
    return pd.DataFrame(rows, columns=["run", "state", "best macro-F1", "best accuracy", "model", "id"])
