"""The Runs step's comparison of 2-5 runs (overlaid curves, what differs in their settings, final scores, duration,
speed) and the actions on one run: re-run with changes, rename, delete (with a confirmation; never while it trains).

The choices carry run ids, never server paths. Every handler that takes runs resolves each id through this caller's
ownership check (core.runs.access.find_run); a run it may not open answers like a run that does not exist.
"""
from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from core.runs import access, compare
from core.runs.access import Caller
from core.errors import UserError
from ui import charts, live_charts, session
from ui.notes import note

SUMMARY_COLUMNS = ["run", "state", "best accuracy", "best macro-F1", "final val loss", "duration", "samples/s", "id"]


def _owned(run_ids: Any, caller: Caller | None) -> list[str]:
    """The folders of the chosen runs this caller may open, in the order chosen; a UserError names any other one as
    missing."""
    root = session.runs_root()
    chosen = [run_ids] if isinstance(run_ids, str) else list(run_ids or [])
    if caller is None and chosen:  # the page has not said who it is yet: it owns nothing
        raise access.no_run(str(chosen[0]))
    return [str(access.find_run(run_id, caller, root)) for run_id in chosen]


def _message(text: str, kind: str = "note") -> str:
    return note(text, kind, "tc-compare-message")


def summary_frame(runs: list[compare.RunFacts]) -> pd.DataFrame:
    rows = [{**r, "state": charts.STATE_TEXT.get(r["state"], r["state"]),
             "best accuracy": charts.fmt_pct(r["best accuracy"]), "best macro-F1": charts.fmt_pct(r["best macro-F1"]),
             "final val loss": charts.fmt_loss(r["final val loss"]), "duration": charts.fmt_duration(r["duration"]),
             "samples/s": "–" if r["samples/s"] is None else f"{r['samples/s']:.1f}"}
            for r in compare.summary_rows(runs)]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def diff_frame(runs: list[compare.RunFacts]) -> pd.DataFrame:
    rows = compare.settings_diff(runs)
    columns = ["setting"] + compare.unique_labels(runs)
    if not rows:
        return pd.DataFrame([["(none: every setting is the same)"] + [""] * (len(columns) - 1)], columns=columns)
    return pd.DataFrame(rows, columns=columns)


COMPARE_OUTPUTS = ("message", "results", "loss", "scores", "summary", "diff")


def on_compare(picks: Any, caller: Caller | None) -> dict[str, Any]:
    """The chosen runs side by side, by component name (COMPARE_OUTPUTS); only a message when they cannot be."""
    try:
        run_dirs = _owned(picks, caller)
        compare.check_count(run_dirs)
    except UserError as exc:
        return {"message": _message(exc.message, "blocked"), "results": gr.Column(visible=False)}
    runs = [compare.facts(d) for d in run_dirs]
    labels = compare.unique_labels(runs)
    views = [r.view for r in runs]
    return {"message": _message(f"Comparing {len(runs)} runs."), "results": gr.Column(visible=True),
            "loss": live_charts.plot_value(live_charts.compare_loss_spec(views, labels)),
            "scores": live_charts.plot_value(live_charts.compare_scores_spec(views, labels)),
            "summary": summary_frame(runs), "diff": diff_frame(runs)}


def on_rename(choice: str | None, name: str, caller: Caller | None) -> str:
    try:
        (run_dir,) = _owned(choice, caller) if choice else (None,)
        if run_dir is None:
            raise UserError("Choose one of your runs first.")
        new = compare.rename(run_dir, name)
    except UserError as exc:
        return _message(exc.message, "blocked")
    return _message(f"Renamed to '{new}'.")


def on_delete_ask(choice: str | None, caller: Caller | None) -> tuple:
    """-> (confirmation row visible, its question, message). Nothing is deleted yet."""
    try:
        (run_dir,) = _owned(choice, caller) if choice else (None,)
        if run_dir is None:
            raise UserError("Choose one of your runs first.")
    except UserError as exc:
        return gr.Row(visible=False), gr.skip(), _message(exc.message, "blocked")
    name = compare.facts(run_dir).name
    question = f"Delete **{name}** with its model, data copy and curves? This cannot be undone."
    return gr.Row(visible=True), question, ""


def on_delete(choice: str | None, caller: Caller | None, shown: str | None) -> tuple:
    """-> (confirmation row hidden, message, the run shown in Train: cleared when it was the deleted one)."""
    try:
        (run_dir,) = _owned(choice, caller) if choice else (None,)
        if run_dir is None:
            raise UserError("Choose one of your runs first.")
        name = compare.delete(run_dir)
    except UserError as exc:
        return gr.Row(visible=False), _message(exc.message, "blocked"), gr.skip()
    return gr.Row(visible=False), _message(f"Deleted '{name}'."), (None if shown == run_dir else gr.skip())


def render() -> dict[str, Any]:
    """Components of the comparison and the run actions; ui/runs_tab.py wires them."""
    with gr.Row():
        rerun = gr.Button("Re-run with changes", scale=1, elem_id="tc-rerun")
        new_name = gr.Textbox(label="New name", scale=3, max_length=compare.NAME_LENGTH, elem_id="tc-new-name")
        rename = gr.Button("Rename", scale=1, elem_id="tc-rename")
        delete = gr.Button("Delete…", variant="stop", scale=1, elem_id="tc-delete")
    with gr.Row(visible=False, elem_id="tc-delete-confirm") as confirm_row:
        question = gr.Markdown(elem_id="tc-delete-question")
        confirm = gr.Button("Yes, delete it", variant="stop", scale=0, elem_id="tc-delete-yes")
        cancel = gr.Button("Cancel", scale=0, elem_id="tc-delete-no")
    gr.Markdown("#### Compare runs\nPick 2 to 5 runs: their curves on one chart, what differs in their settings, "
                "final scores, duration and speed.")
    with gr.Row():
        picks = gr.Dropdown(label="Runs to compare", choices=[], multiselect=True, max_choices=compare.MAX_RUNS,
                            scale=4, elem_id="tc-compare-pick")
        go = gr.Button("Compare", variant="primary", scale=1, elem_id="tc-compare")
    message = gr.HTML(elem_id="tc-compare-note")
    with gr.Column(visible=False, elem_id="tc-compare-results") as results:
        loss = gr.Plot(show_label=False, elem_id="tc-compare-loss")
        scores = gr.Plot(show_label=False, elem_id="tc-compare-scores")
        summary = gr.Dataframe(label="Final scores, duration and speed", interactive=False, wrap=True,
                               elem_id="tc-compare-summary")
        diff = gr.Dataframe(label="Settings that differ", interactive=False, wrap=True, elem_id="tc-compare-diff")
    return dict(rerun=rerun, new_name=new_name, rename=rename, delete=delete, confirm_row=confirm_row,
                question=question, confirm=confirm, cancel=cancel, picks=picks, go=go, message=message,
                results=results, loss=loss, scores=scores, summary=summary, diff=diff)
