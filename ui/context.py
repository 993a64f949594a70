"""What the tabs share, typed and wired explicitly: where runs live, the run on screen, who this browser session is,
the step tabs, and what the Data step hands the Train step.

Contract with every tab module: `render(ctx: AppContext) -> dict[str, gr.Component]`, called by ui/layout.py inside
`with gr.Tab(...)` (the Train step also takes the Data step's `DataPieces`). A tab wires its own events and re-draws
when `ctx.run_state` changes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from core.serving.evaluation import NO_RUN_MESSAGE, NOT_FINISHED_MESSAGE
from core.runs.rundir import ACTIVE_STATES, RunDir, RunState


@dataclass(frozen=True)
class RunOnScreen:
    """The value of `ctx.run_state`: the run shown in Train / Evaluate / Predict / Publish and its state. It changes
    whenever either does, which is what the other steps re-draw on. Kept on the server (gr.State), never in the
    browser."""

    run_dir: str | None = None
    state: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


def finished_run(shown: RunOnScreen | None) -> tuple[str | None, str | None]:
    """(run_dir, None) for a run with a trained model, else (None, the message to show instead)."""
    shown = shown or RunOnScreen()
    if not shown.run_dir:
        return None, NO_RUN_MESSAGE
    if (shown.state and shown.state != RunState.FINISHED) or not RunDir(shown.run_dir).has_model():
        return None, NOT_FINISHED_MESSAGE
    return shown.run_dir, None


def _require_all(pieces: object) -> None:
    """A piece left out is a wiring mistake: say which at build time instead of leaving an event silently unwired."""
    missing = [f.name for f in dataclasses.fields(pieces) if getattr(pieces, f.name) is None]  # type: ignore[arg-type]
    if missing:
        raise ValueError(f"{type(pieces).__name__} is missing {', '.join(missing)}")


@dataclass(frozen=True)
class AppContext:
    runs_root: Path
    run_dir: gr.State  # str | None: the run on screen (an owned run folder)
    run_state: gr.State  # RunOnScreen
    caller: gr.State  # core.runs.access.Caller: who this browser session is (set on page load; it owns the runs it sees)
    tabs: gr.Tabs  # return gr.Tabs(selected="train") etc. to switch step; ids: data, train, evaluate, predict, publish, runs

    def __post_init__(self) -> None:
        _require_all(self)


@dataclass(frozen=True)
class DataPieces:
    """What the Data step hands the Train step (Start's inputs, and whether the data is ready)."""

    path: gr.State  # str: the file or hf://dataset being checked
    status: gr.State  # DataCheck.status(): ok, reason, summary, suggested_max_length, lengths
    text_column: gr.Dropdown
    label_column: gr.Dropdown
    extra: gr.State  # data_options(): a validation table, a dataset's config and split

    def __post_init__(self) -> None:
        _require_all(self)
