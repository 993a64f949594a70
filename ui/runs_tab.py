"""Runs: past and current runs (every run in the folder on your machine, this session's own on a Space), with state
and best score; open one to see it again."""
from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from core.runs import access
from core.runs.access import Caller
from core.runs.launcher import list_runs
from ui import charts, compare_view, session
from ui.context import AppContext
from ui.wiring import keyed, pick


LIST_OUTPUTS = ("table", "choice", "note", "picks")


def runs_table(caller: Caller | None, picked: Any = None) -> dict[str, Any]:
    """The table, the one-run choice, a note and the runs to compare (the picks that still exist are kept)."""
    runs = session.visible_runs(caller, session.runs_root())
    choices = [(f"{r.name} · {charts.STATE_TEXT.get(r.state, r.state)}", r.run_id) for r in runs]
    where = "in this browser session" if session.runs_are_private() else f"in {session.runs_root()}"
    note = (f"No runs yet {where}. Start one on the Train step." if not runs
            else f"{len(runs)} run{'s' if len(runs) != 1 else ''} {where}, newest first.")
    known = {value for _, value in choices}
    kept = [p for p in (picked or []) if p in known] if isinstance(picked, list) else []
    return {"table": charts.run_rows(runs),
            "choice": gr.Dropdown(choices=choices, value=choices[0][1] if choices else None), "note": note,
            "picks": gr.Dropdown(choices=choices, value=kept, multiselect=True)}


def on_refresh(caller: Caller | None, picked: Any = None) -> dict[str, Any]:
    return runs_table(caller, picked)


def open_run(run_id: str | None, caller: Caller | None) -> tuple[Any, Any]:
    """-> (run_dir, selected tab). Only this session's runs can be opened."""
    run_dir = session.run_of_id(run_id, caller, session.runs_root())
    if not run_dir:
        gr.Warning("Choose one of your runs to open.")
        return gr.skip(), gr.skip()
    return run_dir, gr.Tabs(selected="train")


def on_select(table: pd.DataFrame, caller: Caller | None, evt: gr.SelectData) -> tuple[Any, Any]:
    try:
        run_id = str(table.iloc[evt.index[0]]["id"])
    except (IndexError, KeyError, TypeError):
        return gr.skip(), gr.skip()
    return open_run(run_id, caller)


def api_runs(key: str = "", request: gr.Request = None) -> list[dict[str, Any]]:
    """Your runs, newest first: id, name, state, model, best macro-F1 and accuracy.

    Args:
        key: the key /train returned; on your own machine without a key, every run in the runs folder
    """
    root = session.runs_root()
    caller = session.api_caller(key, root, request)
    if (key or "").strip() and not caller.key:
        return []  # a key this server did not sign owns nothing
    owners = caller.owners if caller.key else access.visible_owners(caller)
    if owners is not None and not owners:
        return []
    return [{"run_id": r.run_id, "name": r.name, "state": r.state, "model": r.model, "created": r.created,
             "best_f1": r.best_f1, "best_accuracy": r.best_accuracy} for r in list_runs(root, owner=owners)]


def storage_note() -> str:
    """Said on the page: where runs are kept, when that is a Space's persistent storage."""
    from core.runs.launcher import persistent_storage

    root = session.runs_root()
    storage = persistent_storage()
    if storage is not None and root.is_relative_to(storage):
        return f" Runs are kept in {root}, this Space's persistent storage: they survive restarts."
    return ""


def render(ctx: AppContext) -> dict[str, gr.Component]:
    which = ("Every run started in this browser." if session.runs_are_private()
             else "Every run in the runs folder: from this page, another browser or the command line.")
    gr.Markdown(f"### Runs\n{which} Runs keep going when you close the tab; "
                f"open one to see its curves, evaluate it or try it out.{storage_note()}")
    note = gr.Markdown(elem_id="tc-runs-note")
    # Wrapped, so the id (a date, the name and 16 hex digits: what the API takes) is never cut off.
    table = gr.Dataframe(charts.run_rows([]), interactive=False, elem_id="tc-runs-table", max_height=420, wrap=True)
    with gr.Row():
        choice = gr.Dropdown(label="Run", choices=[], scale=4, elem_id="tc-run-choice")
        open_btn = gr.Button("Open", variant="primary", scale=1, elem_id="tc-open-run")
        refresh = gr.Button("Refresh", scale=1, elem_id="tc-refresh-runs")
    tools = compare_view.render()
    listed = dict(table=table, choice=choice, note=note, picks=tools["picks"])
    listing, outputs, refreshed = [ctx.caller, tools["picks"]], list(listed.values()), keyed(on_refresh, listed)
    refresh.click(refreshed, listing, outputs, api_visibility="private", concurrency_limit=None)
    ctx.caller.change(refreshed, listing, outputs, api_visibility="private", concurrency_limit=None)
    ctx.run_state.change(refreshed, listing, outputs, api_visibility="private", concurrency_limit=None,
                         show_progress="hidden")
    compared = pick(tools, *compare_view.COMPARE_OUTPUTS)
    tools["go"].click(keyed(compare_view.on_compare, compared), [tools["picks"], ctx.caller], list(compared.values()),
                      api_visibility="private", concurrency_limit=None)
    tools["rename"].click(compare_view.on_rename, [choice, tools["new_name"], ctx.caller], [tools["message"]],
                          api_visibility="private").then(refreshed, listing, outputs, api_visibility="private")
    tools["delete"].click(compare_view.on_delete_ask, [choice, ctx.caller],
                          [tools["confirm_row"], tools["question"], tools["message"]], api_visibility="private")
    tools["cancel"].click(lambda: gr.Row(visible=False), None, [tools["confirm_row"]], api_visibility="private")
    tools["confirm"].click(compare_view.on_delete, [choice, ctx.caller, ctx.run_dir],
                           [tools["confirm_row"], tools["message"], ctx.run_dir], api_visibility="private").then(
        refreshed, listing, outputs, api_visibility="private")
    targets = [ctx.run_dir, ctx.tabs]
    opened = [open_btn.click(open_run, [choice, ctx.caller], targets, api_visibility="private"),
              table.select(on_select, [table, ctx.caller], targets, api_visibility="private")]
    return dict(table=table, choice=choice, open=open_btn, refresh=refresh, note=note, opened=opened, **tools)
