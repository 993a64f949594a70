"""Step 2, Train: model and settings, Start / Stop / Resume, and the live view of the run on screen.

The live view polls the run directory (core.runs.view) once a second while the run is queued or running, and
re-draws only what changed. The same handlers back the API endpoints /train, /status, /stop and /resume.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gradio as gr

from core import access
from core.access import Caller
from core.config import DEFAULT_MODEL, REPORT_TO, TrainConfig
from core.errors import UserError
from core.rundir import ACTIVE_STATES, RESUMABLE_STATES
from ui import charts, live_charts, live_view, session
from ui.context import AppContext, split_run_state
from ui.data_check import data_options

POLL_SECONDS = 1.0
_HELP = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(TrainConfig)}
_DEFAULTS = TrainConfig()


def model_choices() -> list[tuple[str, str]]:
    try:
        from core.models import MODEL_CHOICES

        return list(MODEL_CHOICES)
    except ImportError:
        return [("all-MiniLM-L6-v2 · works offline (default)", DEFAULT_MODEL)]


def _num(value: Any, cast: type, default: Any) -> Any:
    if value is None or value == "":
        return default
    try:
        return cast(value)
    except (TypeError, ValueError):
        raise UserError(f"'{value}' is not a number.")


def config_from_ui(data_path: str | None, text_column: str | None, label_column: str | None, model: str | None,
                   epochs: Any, learning_rate: Any = 0, batch_size: Any = 0, max_length: Any = 0,
                   val_share: Any = 0.2, early_stopping_patience: Any = 0, class_weights: Any = _DEFAULTS.class_weights,
                   seed: Any = 42, run_name: str = "", warm_start_head: Any = _DEFAULTS.warm_start_head,
                   report_to: str | None = "none", val_data_path: str | None = None, data_config: str | None = "",
                   data_split: str | None = "") -> TrainConfig:
    """UI values (strings, floats from sliders, None from empty boxes) -> TrainConfig. Validation is separate."""
    d = _DEFAULTS
    return TrainConfig(
        data_path=str(data_path or ""),
        val_data_path=str(val_data_path) if val_data_path else None,
        data_config=(data_config or "").strip(),
        data_split=(data_split or "").strip(),
        text_column=(text_column or "").strip() or None,
        label_column=(label_column or "").strip() or None,
        model=(model or "").strip() or DEFAULT_MODEL,
        epochs=_num(epochs, float, d.epochs),
        learning_rate=_num(learning_rate, float, d.learning_rate),
        batch_size=int(_num(batch_size, float, d.batch_size)),
        max_length=int(_num(max_length, float, d.max_length)),
        val_share=_num(val_share, float, d.val_share),
        early_stopping_patience=int(_num(early_stopping_patience, float, d.early_stopping_patience)),
        class_weights=bool(class_weights),
        seed=int(_num(seed, float, d.seed)),
        run_name=(run_name or "").strip(),
        warm_start_head=bool(warm_start_head),
        report_to=(report_to or "none").strip().lower(),
    )


def start_training(config: TrainConfig, caller: Caller | None, root: Path) -> str:
    """Validate, check what a shared server allows, prepare and start (queued when the device is busy); UserError
    carries the reason."""
    from core.runs import check_can_start, launch

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


def on_start(data_status: dict, data_path: str, text_col: str, label_col: str, model: str, epochs: float,
             lr: float, batch: float, max_len: float, val_share: float, patience: float, class_weights: bool,
             warm_start_head: bool, seed: float, caller: Caller | None, run_dir: str | None,
             report_to: str = "none", extra: dict | None = None) -> tuple[Any, Any]:
    """-> (run_dir, start-status html). The shown run switches to the new one; settings stay as they are."""
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
        return gr.skip(), f'<div class="tc-blocked">{_esc(message)}</div>'
    try:
        options = data_options(extra)
        config = config_from_ui(data_path, text_col, label_col, model, epochs, lr, batch, max_len, val_share,
                                patience, class_weights, seed, warm_start_head=warm_start_head, report_to=report_to,
                                val_data_path=options["val_data_path"] or None, data_config=options["data_config"],
                                data_split=options["data_split"])
        new_dir = start_training(config, caller, session.runs_root())
    except UserError as exc:
        gr.Warning(exc.message)
        return gr.skip(), f'<div class="tc-blocked">Could not start: {_esc(exc.message)}</div>'
    return new_dir, start_note_html(status)


def resume_within_limits(run_dir: Path, caller: Caller, root: Path) -> None:
    """Resume starts a training process too: the same per-visitor and server limits as Start apply."""
    from core.runs import check_can_start, resume, status

    if status(run_dir)["state"] in RESUMABLE_STATES:
        check_can_start(caller, root)
    resume(run_dir)


def on_stop(run_dir: str | None) -> None:
    if not run_dir:
        return
    from core.runs import cancel

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


def _esc(text: str) -> str:
    import html

    return html.escape(text or "")


def start_note_html(status: dict | None) -> str:
    status = status or {}
    if status.get("ok"):
        return f'<div class="tc-note">Training data: {_esc(status.get("summary", ""))}</div>'
    reason = status.get("reason") or "Choose your data on the Data step first."
    return f'<div class="tc-blocked" id="tc-train-blocked">Start is disabled: {_esc(reason)}</div>'


def estimate_html(status: dict | None, model: str | None, epochs: Any, max_len: Any, val_share: Any,
                  caller: Caller | None) -> str:
    """'About N minutes on this machine …' before Start, from the data's token lengths and this machine's speed."""
    from core import estimate

    status = status or {}
    if not status.get("ok") or not status.get("lengths"):
        return ""
    try:
        max_length = int(float(max_len or 0)) or status.get("suggested_max_length")
        epochs_value = float(epochs or _DEFAULTS.epochs)
        share = float(val_share or _DEFAULTS.val_share)
    except (TypeError, ValueError):
        return ""
    runs = [r.run_dir for r in session.visible_runs(caller, session.runs_root())] if caller is not None else []
    found = estimate.for_data(status["lengths"], share, epochs_value, max_length,
                              (model or "").strip() or DEFAULT_MODEL, runs)
    return f'<div class="tc-estimate" id="tc-estimate-text">{_esc(found.sentence())}</div>' if found else ""


def on_data_status(status: dict | None, run_state: str | None = None) -> tuple:
    """Start is ready when the data is, unless the shown run is still queued or training."""
    _, state = split_run_state(run_state)
    ready = bool((status or {}).get("ok")) and state not in ACTIVE_STATES
    return gr.Button(interactive=ready), start_note_html(status)


# ----- layout --------------------------------------------------------------------------------------------------

def render(ctx: AppContext) -> dict[str, gr.Component]:
    gr.Markdown("### 2 · Train\nPick a base model and press **Start**. Curves appear within seconds; "
                "you can close the tab, training goes on.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=300):
            model = gr.Dropdown(model_choices(), value=DEFAULT_MODEL, label="Base model", allow_custom_value=True,
                                info="Hub models need internet. You can also type any Hub id or a local folder.",
                                elem_id="tc-model")
            epochs = gr.Slider(1, 20, value=_DEFAULTS.epochs, step=1, label="Epochs", info=_HELP["epochs"],
                               elem_id="tc-epochs")
            # Start / Stop above Advanced: with Advanced open they would be far below the fold.
            start_note = gr.HTML(start_note_html(None), elem_id="tc-start-note")
            estimate = gr.HTML("", elem_id="tc-estimate")
            with gr.Row():
                start = gr.Button("Start training", variant="primary", interactive=False, elem_id="tc-start")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="tc-stop")
                resume = gr.Button("Resume", interactive=False, elem_id="tc-resume")
            with gr.Accordion("Advanced", open=False, elem_id="tc-advanced"):
                lr = gr.Number(_DEFAULTS.learning_rate, label="Learning rate (0 = automatic)", info=_HELP["learning_rate"],
                               minimum=0, step=1e-5)
                batch = gr.Number(_DEFAULTS.batch_size, label="Batch size (0 = automatic)", info=_HELP["batch_size"],
                                  precision=0, minimum=0)
                max_len = gr.Number(_DEFAULTS.max_length, label="Max length in tokens (0 = automatic)",
                                    info=_HELP["max_length"], precision=0, minimum=0, elem_id="tc-max-length")
                val_share = gr.Slider(0.05, 0.5, value=_DEFAULTS.val_share, step=0.05, label="Validation share",
                                      info=_HELP["val_share"])
                patience = gr.Number(_DEFAULTS.early_stopping_patience, label="Early stopping patience (0 = off)",
                                     info=_HELP["early_stopping_patience"], precision=0, minimum=0)
                class_weights = gr.Checkbox(_DEFAULTS.class_weights, label="Class weights", info=_HELP["class_weights"])
                warm_start_head = gr.Checkbox(_DEFAULTS.warm_start_head, label="Warm-start the classification head",
                                              info=_HELP["warm_start_head"], elem_id="tc-warm-start")
                seed = gr.Number(_DEFAULTS.seed, label="Seed", info=_HELP["seed"], precision=0)
                report_to = gr.Dropdown(list(REPORT_TO), value="none", label="Report to", info=_HELP["report_to"],
                                        elem_id="tc-report-to")
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
    timer = gr.Timer(POLL_SECONDS, active=False)
    signature = gr.State("")
    lv = live_view.LiveView(banner=banner, progress=progress, loss_plot=loss_plot, score_plot=score_plot,
                            lr_plot=lr_plot, grad_plot=grad_plot, epoch_table=epoch_table, log=log, log_box=log_box,
                            start=start, stop=stop, resume=resume, timer=timer, run_state=ctx.run_state,
                            signature=signature)
    data_status = ctx.shared.get("data_status")
    status_input = [data_status] if data_status is not None else []

    def _ok(status: Any) -> bool:
        return bool((status or {}).get("ok")) if isinstance(status, dict) else False

    def on_tick(run_dir: str | None, sig: str, *status: Any) -> dict:
        return live_view.draw(lv, run_dir, sig, force=False, data_ok=_ok(status[0] if status else None))

    def on_show(run_dir: str | None, *status: Any) -> dict:
        return live_view.draw(lv, run_dir, force=True, data_ok=_ok(status[0] if status else None))

    live = lv.outputs()
    timer.tick(on_tick, [ctx.run_dir, signature] + status_input, live, api_visibility="private",
               concurrency_limit=None, show_progress="hidden", trigger_mode="always_last")
    ctx.run_dir.change(on_show, [ctx.run_dir] + status_input, live, api_visibility="private", concurrency_limit=None,
                       show_progress="hidden")
    log_box.expand(None, None, None, js=live_view.SCROLL_LOG_TO_END)
    inputs = [data_status, ctx.shared.get("data_path"), ctx.shared.get("text_column"), ctx.shared.get("label_column"),
              model, epochs, lr, batch, max_len, val_share, patience, class_weights, warm_start_head, seed, ctx.caller,
              ctx.run_dir, report_to, ctx.shared.get("data_extra")]
    if all(i is not None for i in inputs):
        start.click(on_start, inputs, [ctx.run_dir, start_note], api_visibility="private", concurrency_limit=2,
                    show_progress="minimal", show_progress_on=[banner])
        data_status.change(on_data_status, [data_status, ctx.run_state], [start, start_note],
                           api_visibility="private", show_progress="hidden")
        estimate_inputs = [data_status, model, epochs, max_len, val_share, ctx.caller]
        for trigger in (data_status.change, model.change, epochs.change, max_len.change, val_share.change):
            trigger(estimate_html, estimate_inputs, [estimate], api_visibility="private", show_progress="hidden",
                    trigger_mode="always_last")
    stop.click(on_stop, [ctx.run_dir], None, api_visibility="private", concurrency_limit=None)
    resume.click(on_resume, [ctx.run_dir, ctx.caller], None, api_visibility="private", concurrency_limit=None,
                 show_progress="hidden").then(on_show, [ctx.run_dir] + status_input, live, api_visibility="private",
                                              concurrency_limit=None, show_progress="hidden")
    return dict(model=model, epochs=epochs, learning_rate=lr, batch_size=batch, max_length=max_len, val_share=val_share,
                early_stopping_patience=patience, class_weights=class_weights, warm_start_head=warm_start_head,
                seed=seed, start=start, stop=stop, resume=resume, banner=banner, progress=progress,
                loss_plot=loss_plot, metric_plot=score_plot, lr_plot=lr_plot, grad_plot=grad_plot,
                epoch_table=epoch_table, log=log, timer=timer, live_view=lv, on_show=on_show)

