"""Drawing the run on screen in the Train step: banner, progress, the four live charts, the epoch table and the log.

`draw` reads the run directory (core.runs.launcher.view) and returns {component: value}; the poller calls it once a second
while the run is queued or running and skips everything when nothing drawn changed.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from core import tasks
from core.runs.rundir import ACTIVE_STATES, RESUMABLE_STATES, RunDir, RunState
from ui import charts, live_charts
from ui.context import RunOnScreen

LOG_LINES = 80


@dataclass
class LiveView:
    """The components the live view draws into (made by ui/train_tab.render)."""

    banner: Any
    progress: Any
    loss_plot: Any
    score_plot: Any
    lr_plot: Any
    grad_plot: Any
    epoch_table: Any
    log: Any
    log_box: Any
    start: Any
    stop: Any
    resume: Any
    timer: Any
    run_state: Any
    signature: Any

    def outputs(self) -> list[Any]:
        return list(vars(self).values())


def run_name(run_dir: str) -> str:
    return RunDir(run_dir).display_name()


def read_view(run_dir: str | None) -> tuple[Any, int | None]:
    if not run_dir or not Path(run_dir).is_dir():
        return None, None
    from core.runs.launcher import queue_position, view

    v = view(Path(run_dir))  # its state comes from status.json, so a just-resumed run already reads as active
    return v, (queue_position(Path(run_dir)) if v.state == RunState.QUEUED else None)


# ----- the log box ----------------------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DICT_LINE = re.compile(r"^\{'[a-z_]+': .*\}$")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _fmt(value: Any, kind: str) -> str:
    x = _number(value)
    if x is None:
        return str(value)
    if kind == "pct":
        return charts.fmt_pct(x)
    if kind == "loss":
        return charts.fmt_loss(x)
    if kind == "lr":
        return f"{x:.1e}"
    if kind == "epoch":
        return f"{x:.2f}".rstrip("0").rstrip(".")
    if kind == "s":
        return f"{x:.1f} s"
    return f"{x:.2f}"


def readable_log_line(line: str) -> str:
    """A Trainer log dict -> one readable line; any other line without colour codes and progress-bar redraws."""
    line = _ANSI.sub("", line).split("\r")[-1].rstrip()
    if not _DICT_LINE.match(line.strip()):
        return line
    try:
        d = ast.literal_eval(line.strip())
    except (ValueError, SyntaxError):
        return line
    if not isinstance(d, dict):
        return line
    epoch = f"epoch {_fmt(d['epoch'], 'epoch')}" if "epoch" in d else ""
    if "train_runtime" in d:
        parts = [f"training done in {_fmt(d['train_runtime'], 's')}"]
        if "train_samples_per_second" in d:
            parts.append(f"{_fmt(d['train_samples_per_second'], '')} samples/s")
        if "train_loss" in d:
            parts.append(f"average training loss {_fmt(d['train_loss'], 'loss')}")
        return " · ".join(parts)
    if "eval_loss" in d:
        parts = [epoch, f"validation loss {_fmt(d['eval_loss'], 'loss')}"]
        # The log line does not say the run's kind: every kind's metric names are looked for.
        for metric in dict.fromkeys(m for kind in tasks.KINDS.values() for m in kind.metrics):
            if f"eval_{metric.key}" in d:
                parts.append(f"{metric.label} {_fmt(d[f'eval_{metric.key}'], 'pct')}")
        if "eval_runtime" in d:
            parts.append(f"took {_fmt(d['eval_runtime'], 's')}")
        return " · ".join(p for p in parts if p)
    if "loss" in d:
        parts = [epoch, f"training loss {_fmt(d['loss'], 'loss')}"]
        if "learning_rate" in d:
            parts.append(f"learning rate {_fmt(d['learning_rate'], 'lr')}")
        if "grad_norm" in d:
            parts.append(f"gradient norm {_fmt(d['grad_norm'], '')}")
        return " · ".join(p for p in parts if p)
    return line


def readable_log(text: str) -> str:
    return "\n".join(readable_log_line(line) for line in text.split("\n"))  # not splitlines: \r is a redraw


def log_text(run_dir: str | None) -> str:
    if not run_dir:
        return ""
    from core.runs.launcher import log_tail

    return readable_log(log_tail(Path(run_dir), lines=LOG_LINES))


# ----- drawing ---------------------------------------------------------------------------------------------------

def charts_for(v: Any) -> dict[str, Any]:
    v = v if v is not None else charts.RunView()
    return {"loss": live_charts.loss_spec(v), "scores": live_charts.scores_spec(v),
            "lr": live_charts.learning_rate_spec(v), "grad": live_charts.grad_norm_spec(v)}


def draw(lv: LiveView, run_dir: str | None, previous_signature: str = "", force: bool = True,
         data_ok: bool = False) -> dict[Any, Any]:
    """{component: value} for everything the live view shows; every one skipped when the signature is unchanged.
    Start is refused while the shown run trains (a second click would queue the same data twice), and ready again
    when it ends if the data is."""
    v, position = read_view(run_dir)
    signature = charts.view_signature(v) + f"|{position}|{data_ok}"
    if not force and signature == previous_signature:
        # Every output skipped, by name: Gradio reads an empty dict as one value, not as "nothing changes".
        return {component: gr.skip() for component in lv.outputs()}
    active = v is not None and v.state in ACTIVE_STATES
    specs = charts_for(v)
    out = {
        lv.loss_plot: live_charts.plot_value(specs["loss"]),
        lv.score_plot: live_charts.plot_value(specs["scores"]),
        lv.lr_plot: live_charts.plot_value(specs["lr"]),
        lv.grad_plot: live_charts.plot_value(specs["grad"]),
        lv.epoch_table: charts.epoch_frame(v if v is not None else charts.RunView()),
        lv.start: gr.Button(interactive=data_ok and not active),
        lv.stop: gr.Button(interactive=active),
        lv.timer: gr.Timer(active=active),
        lv.signature: signature,
    }
    if v is None:
        return {**out, lv.banner: charts.banner_html(None), lv.progress: "", lv.log: "",
                lv.log_box: gr.Accordion(open=False), lv.resume: gr.Button(interactive=False),
                lv.run_state: RunOnScreen()}
    return {
        **out,
        lv.banner: charts.banner_html(v, position, run_name(run_dir)),
        lv.progress: charts.progress_html(v),
        lv.log: log_text(run_dir),
        lv.log_box: gr.Accordion(open=v.state == RunState.FAILED),
        lv.resume: gr.Button(interactive=v.state in RESUMABLE_STATES),
        lv.run_state: RunOnScreen(run_dir, v.state),
    }


# Opening the log box shows its end (the newest lines), not its top.
SCROLL_LOG_TO_END = """() => { setTimeout(() => { const t = document.querySelector('#tc-log textarea');
  if (t) { t.scrollTop = t.scrollHeight; } }, 50); }"""
