"""Runs: past and current runs (every run in the folder on your machine, this session's own on a Space), with state
and best score; open one to see it again."""
from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from ui import charts, session
from ui.context import AppContext


def runs_table(owner: str | None) -> tuple[pd.DataFrame, gr.Dropdown, str]:
    runs = session.visible_runs(owner, session.runs_root())
    choices = [(f"{r.name} · {charts.STATE_TEXT.get(r.state, r.state)} · {r.run_id}", str(r.run_dir)) for r in runs]
    where = "in this browser session" if session.runs_are_private() else f"in {session.runs_root()}"
    note = (f"No runs yet {where}. Start one on the Train step." if not runs
            else f"{len(runs)} run{'s' if len(runs) != 1 else ''} {where}, newest first.")
    return (charts.run_rows(runs), gr.Dropdown(choices=choices, value=choices[0][1] if choices else None), note)


def on_refresh(owner: str) -> tuple:
    return runs_table(owner)


def open_run(choice: str | None, owner: str) -> tuple[Any, Any]:
    """-> (run_dir, selected tab). Only this session's runs can be opened."""
    run_dir = session.owned_run(choice, owner, session.runs_root())
    if not run_dir:
        gr.Warning("Choose one of your runs to open.")
        return gr.skip(), gr.skip()
    return run_dir, gr.Tabs(selected="train")


def on_select(table: pd.DataFrame, owner: str, evt: gr.SelectData) -> tuple[Any, Any]:
    try:
        run_id = table.iloc[evt.index[0]]["id"]
    except (IndexError, KeyError, TypeError):
        return gr.skip(), gr.skip()
    return open_run(str(session.runs_root() / run_id), owner)


def api_runs(owner: str = "api") -> list[dict[str, Any]]:
    """The runs of one owner, newest first: id, name, state, model, best macro-F1 and accuracy.

    Args:
        owner: the owner given to /train
    """
    from core.runs import list_runs

    if not owner:
        return []
    return [{"run_id": r.run_id, "name": r.name, "state": r.state, "model": r.model, "created": r.created,
             "best_f1": r.best_f1, "best_accuracy": r.best_accuracy} for r in list_runs(session.runs_root(), owner=owner)]


def render(ctx: AppContext) -> dict[str, gr.Component]:
    which = ("Every run started in this browser." if session.runs_are_private()
             else "Every run in the runs folder: from this page, another browser or the command line.")
    gr.Markdown(f"### Runs\n{which} Runs keep going when you close the tab; "
                "open one to see its curves, evaluate it or try it out.")
    note = gr.Markdown(elem_id="tc-runs-note")
    table = gr.Dataframe(charts.run_rows([]), interactive=False, elem_id="tc-runs-table", max_height=420)
    with gr.Row():
        choice = gr.Dropdown(label="Run", choices=[], scale=4, elem_id="tc-run-choice")
        open_btn = gr.Button("Open", variant="primary", scale=1, elem_id="tc-open-run")
        refresh = gr.Button("Refresh", scale=1, elem_id="tc-refresh-runs")
    outputs = [table, choice, note]
    refresh.click(on_refresh, [ctx.owner], outputs, api_visibility="private", concurrency_limit=None)
    ctx.owner.change(on_refresh, [ctx.owner], outputs, api_visibility="private", concurrency_limit=None)
    ctx.run_state.change(on_refresh, [ctx.owner], outputs, api_visibility="private", concurrency_limit=None,
                         show_progress="hidden")
    targets = [ctx.run_dir] + ([ctx.tabs] if ctx.tabs is not None else [])

    def _fit(result: tuple) -> tuple:
        return result if ctx.tabs is not None else result[0]

    open_btn.click(lambda c, o: _fit(open_run(c, o)), [choice, ctx.owner], targets, api_visibility="private")
    def _select(t: pd.DataFrame, o: str, evt: gr.SelectData) -> Any:
        return _fit(on_select(t, o, evt))

    table.select(_select, [table, ctx.owner], targets, api_visibility="private")
    return dict(table=table, choice=choice, open=open_btn, refresh=refresh, note=note)
