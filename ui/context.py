"""What the tabs share: where runs live, the run on screen, and who this browser session is.

Contract with every tab module: `render(ctx: AppContext) -> dict[str, gr.Component]`, called by ui/layout.py inside
`with gr.Tab(...)`. A tab wires its own events and re-draws when `ctx.run_state` changes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr


@dataclass
class AppContext:
    runs_root: Path
    run_dir: gr.State  # str | None: the run shown in Train / Evaluate / Predict / Publish
    run_state: gr.State  # str "<run_dir>|<state>": changes whenever the shown run or its state changes
    caller: gr.State  # core.access.Caller: who this browser session is (set on page load; it owns the runs it sees)
    # Optional extras filled in by ui/layout.py (tabs may ignore them).
    tabs: gr.Tabs | None = None  # return gr.Tabs(selected="train") etc. to switch step; ids: data, train, evaluate, predict, publish, runs
    shared: dict[str, Any] = field(default_factory=dict)  # components one tab exposes to another (e.g. "data_path")


def split_run_state(value: str | None) -> tuple[str | None, str]:
    """'<run_dir>|<state>' -> (run_dir or None, state or '')."""
    if not value:
        return None, ""
    run_dir, _, state = value.rpartition("|")
    return (run_dir or None), state


def join_run_state(run_dir: str | None, state: str) -> str:
    return f"{run_dir or ''}|{state or ''}"
