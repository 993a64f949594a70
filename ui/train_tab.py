"""Step 2, Train: model and settings, Start / Stop / Resume, and the live view of the run on screen.

The live view polls the run directory (core.runs.launcher.view) once a second while the run is queued or running, and
re-draws only what changed. The same handlers back the API endpoints /train, /status, /stop and /resume.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from core.runs import access
from core.runs.access import Caller
from core.config import DEFAULT_MODEL, TrainConfig
from core.errors import UserError
from core.runs.rundir import ACTIVE_STATES, RESUMABLE_STATES
from core.runs import gpus
from ui import charts, live_charts, live_view, session, settings
from ui.context import AppContext, DataPieces, RunOnScreen
from ui.data_check import data_options, label_choice
from ui.notes import note

POLL_SECONDS = 1.0
_DEFAULTS = TrainConfig()


def start_training(config: TrainConfig, caller: Caller | None, root: Path) -> str:
    """Validate, check what a shared server allows, prepare and start (queued when the device is busy); UserError
    carries the reason."""
    from core.runs.launcher import check_can_start, launch

    problems = config.validate()
    if problems:
        raise UserError(" ".join(problems))
    caller = caller or Caller()
    access.check_model(config.model, caller, root)
    check_can_start(caller, root, config.run_name)
    return str(launch(config, root=root, owner=caller.owner))


# ----- drawing a run (ui/live_view.py) ---------------------------------------------------------------------------

def _run_name(run_dir: str) -> str:
    return live_view.run_name(run_dir)


def _view(run_dir: str | None) -> tuple[Any, int | None]:
    return live_view.read_view(run_dir)


def on_start(data_status: dict, data_path: str, text_col: str, label_col: str, caller: Caller | None,
             run_dir: str | None, extra: dict | None, *values: Any) -> tuple[Any, Any]:
    """-> (run_dir, start-status html); `values` are the settings in settings.NAMES order. The shown run switches to
    the new one; settings stay as they are."""
    status = data_status or {}
    if not status.get("ok"):
        reason = status.get("reason") or "Choose your data on the Data step first."
        gr.Warning(reason)
        return gr.skip(), start_note_html(status)
    shown, _ = _view(run_dir)
    if shown is not None and shown.state in ACTIVE_STATES:  # a second click would queue the same run twice
        message = (f"'{_run_name(run_dir)}' is still {shown.state}. Stop it first, or start the next run when it "
                   "has finished.")
        gr.Warning(message)
        return gr.skip(), note(message, "blocked")
    try:
        options = data_options(extra)
        config = settings.config_from_ui(data_path, text_col, label_choice(label_col, options),
                                         val_data_path=options["val_data_path"] or None,
                                         test_data_path=options["test_data_path"] or None,
                                         data_config=options["data_config"], data_split=options["data_split"],
                                         **dict(zip(settings.NAMES, values, strict=True)))
        new_dir = start_training(config, caller, session.runs_root())
    except UserError as exc:
        gr.Warning(exc.message)
        return gr.skip(), note(f"Could not start: {exc.message}", "blocked")
    return new_dir, start_note_html(status)


def resume_within_limits(run_dir: Path, caller: Caller, root: Path) -> None:
    """Resume starts a training process too: the same per-visitor and server limits as Start apply."""
    from core.runs.launcher import check_can_start, resume, status

    if status(run_dir)["state"] in RESUMABLE_STATES:
        check_can_start(caller, root)
    resume(run_dir)


def on_stop(run_dir: str | None) -> None:
    if not run_dir:
        return
    from core.runs.launcher import cancel

    try:
        cancel(Path(run_dir))
        gr.Info("Stopping at the next step; a checkpoint is kept so you can resume.")
    except UserError as exc:
        gr.Warning(exc.message)


def on_resume(run_dir: str | None, caller: Caller | None = None) -> None:
    if not run_dir:
        return
    try:
        resume_within_limits(Path(run_dir), caller or Caller(), session.runs_root())
    except UserError as exc:
        gr.Warning(exc.message)


def start_note_html(status: dict | None) -> str:
    status = status or {}
    if status.get("ok"):
        return note(f"Training data: {status.get('summary', '')}", "note")
    reason = status.get("reason") or "Choose your data on the Data step first."
    return note(f"Start is disabled: {reason}", "blocked", "tc-train-blocked")


def estimate_html(status: dict | None, model: str | None, epochs: Any, max_len: Any, val_share: Any,
                  caller: Caller | None, batch_size: Any = 0, warm_start_head: Any = True) -> str:
    """'About N minutes on this machine …' before Start, from the data's token lengths and this machine's speed."""
    from core.runs import estimate

    status = status or {}
    if not status.get("ok") or not status.get("lengths"):
        return ""
    try:
        max_length = int(float(max_len or 0)) or status.get("suggested_max_length")
        epochs_value = float(epochs or _DEFAULTS.epochs)
        share = status.get("fixed_val_share") or float(val_share or _DEFAULTS.val_share)
        batch = int(float(batch_size or 0))
    except (TypeError, ValueError):
        return ""
    runs = [r.run_dir for r in session.visible_runs(caller, session.runs_root())] if caller is not None else []
    found = estimate.for_data(status["lengths"], share, epochs_value, max_length,
                              (model or "").strip() or DEFAULT_MODEL, runs, texts=status.get("texts"),
                              num_labels=status.get("labels") or 0, batch_size=batch,
                              pair_training=bool(status.get("single_label") and warm_start_head))
    return note(found.sentence(), "estimate", "tc-estimate-text") if found else ""


def gpu_default(status: dict | None, val_share: Any) -> Any:
    """On a machine with several GPUs: all of them when the data keeps each busy enough (core/runs/gpus.py), else one."""
    status = status or {}
    if not status.get("ok") or not status.get("texts"):
        return gr.skip()
    try:
        share = status.get("fixed_val_share") or float(val_share or _DEFAULTS.val_share)
    except (TypeError, ValueError):
        share = _DEFAULTS.val_share
    return gpus.default_processes(int(status["texts"] * (1 - share)), gpus.machine_gpus())


def on_data_status(status: dict | None, shown: RunOnScreen | None = None) -> tuple:
    """Start is ready when the data is, unless the shown run is still queued or training."""
    ready = bool((status or {}).get("ok")) and not (shown or RunOnScreen()).active
    return gr.Button(interactive=ready), start_note_html(status)


# ----- layout --------------------------------------------------------------------------------------------------

def render(ctx: AppContext, data: DataPieces) -> dict[str, gr.Component]:
    gr.Markdown("### 2 · Train\nPick a base model and press **Start**. Curves appear within seconds; "
                "you can close the tab, training goes on.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            widgets = settings.render("main")
            # Start / Stop above Advanced: with Advanced open they would be far below the fold.
            start_note = gr.HTML(start_note_html(None), elem_id="tc-start-note")
            estimate = gr.HTML("", elem_id="tc-estimate")
            with gr.Row():
                start = gr.Button("Start training", variant="primary", interactive=False, elem_id="tc-start")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="tc-stop")
                resume = gr.Button("Resume", interactive=False, elem_id="tc-resume")
            with gr.Accordion("Advanced", open=False, elem_id="tc-advanced"):
                widgets.update(settings.render("advanced"))
        with gr.Column(scale=3, min_width=300):
            banner = gr.HTML(charts.banner_html(None), elem_id="tc-banner")
            progress = gr.HTML("", elem_id="tc-progress")
            empty = live_view.charts_for(None)
            # gr.Plot with Vega-Lite specs (ui/live_charts.py): lines with markers, a style per series, fitted axes.
            loss_plot = gr.Plot(live_charts.plot_value(empty["loss"]), show_label=False, elem_id="tc-loss-chart")
            score_plot = gr.Plot(live_charts.plot_value(empty["scores"]), show_label=False,
                                 elem_id="tc-metric-chart")
            with gr.Row(equal_height=True):
                lr_plot = gr.Plot(live_charts.plot_value(empty["lr"]), show_label=False, min_width=240,
                                  elem_id="tc-lr-chart")
                grad_plot = gr.Plot(live_charts.plot_value(empty["grad"]), show_label=False, min_width=240,
                                    elem_id="tc-grad-chart")
            epoch_table = gr.Dataframe(charts.epoch_frame(charts.RunView()), label="Epochs", interactive=False,
                                       elem_id="tc-epoch-table")
            with gr.Accordion("Log", open=False, elem_id="tc-log-box") as log_box:
                log = gr.Textbox(show_label=False, lines=10, max_lines=20, autoscroll=True, elem_id="tc-log")
    widgets.update(data.settings)  # shown on the Data step; Start, /train and the saved settings take them too
    timer = gr.Timer(POLL_SECONDS, active=False)
    signature = gr.State("")
    lv = live_view.LiveView(banner=banner, progress=progress, loss_plot=loss_plot, score_plot=score_plot,
                            lr_plot=lr_plot, grad_plot=grad_plot, epoch_table=epoch_table, log=log, log_box=log_box,
                            start=start, stop=stop, resume=resume, timer=timer, run_state=ctx.run_state,
                            signature=signature)

    def on_tick(run_dir: str | None, sig: str, status: dict | None) -> dict:
        return live_view.draw(lv, run_dir, sig, force=False, data_ok=bool((status or {}).get("ok")))

    def on_show(run_dir: str | None, status: dict | None) -> dict:
        return live_view.draw(lv, run_dir, force=True, data_ok=bool((status or {}).get("ok")))

    live = lv.outputs()
    timer.tick(on_tick, [ctx.run_dir, signature, data.status], live, api_visibility="private",
               concurrency_limit=None, show_progress="hidden", trigger_mode="always_last")
    ctx.run_dir.change(on_show, [ctx.run_dir, data.status], live, api_visibility="private", concurrency_limit=None,
                       show_progress="hidden")
    log_box.expand(None, None, None, js=live_view.SCROLL_LOG_TO_END)
    inputs = [data.status, data.path, data.text_column, data.label_column, ctx.caller, ctx.run_dir,
              data.extra] + [widgets[n] for n in settings.NAMES]
    start.click(on_start, inputs, [ctx.run_dir, start_note], api_visibility="private", concurrency_limit=2,
                show_progress="minimal", show_progress_on=[banner])
    data.status.change(on_data_status, [data.status, ctx.run_state], [start, start_note], api_visibility="private",
                       show_progress="hidden")
    model, epochs, max_len, val_share, batch, warm = (widgets[n] for n in (
        "model", "epochs", "max_length", "val_share", "batch_size", "warm_start_head"))
    estimate_inputs = [data.status, model, epochs, max_len, val_share, ctx.caller, batch, warm]
    for trigger in (data.status.change, model.change, epochs.change, max_len.change, val_share.change, batch.change,
                    warm.change):
        trigger(estimate_html, estimate_inputs, [estimate], api_visibility="private", show_progress="hidden",
                trigger_mode="always_last")
    if gpus.machine_gpus() > 1:  # elsewhere the choice is hidden and stays at one process
        for trigger in (data.status.change, val_share.change):
            trigger(gpu_default, [data.status, val_share], [widgets["processes"]], api_visibility="private",
                    show_progress="hidden")
    stop.click(on_stop, [ctx.run_dir], None, api_visibility="private", concurrency_limit=None)
    resume.click(on_resume, [ctx.run_dir, ctx.caller], None, api_visibility="private", concurrency_limit=None,
                 show_progress="hidden").then(on_show, [ctx.run_dir, data.status], live, api_visibility="private",
                                              concurrency_limit=None, show_progress="hidden")
    return dict(**widgets, start=start, stop=stop, resume=resume, banner=banner, progress=progress,
                loss_plot=loss_plot, metric_plot=score_plot, lr_plot=lr_plot, grad_plot=grad_plot,
                epoch_table=epoch_table, log=log, timer=timer, live_view=lv)

