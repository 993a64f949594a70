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
from core.config import DEFAULT_MODEL, TrainConfig
from core.errors import UserError
from ui import charts, session
from ui.data_check import data_options
from ui.context import AppContext, join_run_state

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
                   val_data_path: str | None = None, data_config: str | None = "", data_split: str | None = "",
                   ) -> TrainConfig:
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
    )


def start_training(config: TrainConfig, caller: Caller | None, root: Path) -> str:
    """Validate, check what a shared server allows, prepare and start (queued when the device is busy); UserError
    carries the reason."""
    from core.runs import launch

    problems = config.validate()
    if problems:
        raise UserError(" ".join(problems))
    caller = caller or Caller()
    access.check_model(config.model, caller, root)
    access.check_can_start(caller, root, config.run_name)
    return str(launch(config, root=root, owner=caller.owner))


# ----- drawing a run -------------------------------------------------------------------------------------------

def _run_name(run_dir: str) -> str:
    from core import rundir

    return rundir.read_json(Path(run_dir) / rundir.RUN_INFO, {}).get("name", "") or Path(run_dir).name


def _view(run_dir: str | None) -> tuple[Any, int | None]:
    if not run_dir or not Path(run_dir).is_dir():
        return None, None
    from core.runs import queue_position, view

    v = view(Path(run_dir))  # its state comes from status.json, so a just-resumed run already reads as active
    return v, (queue_position(Path(run_dir)) if v.state == "queued" else None)


def _log(run_dir: str | None) -> str:
    if not run_dir:
        return ""
    from core.runs import log_tail

    return log_tail(Path(run_dir), lines=60)


def draw(run_dir: str | None, previous_signature: str = "", force: bool = True) -> tuple:
    """(banner, progress, loss plot, metric plot, epoch table, log, log accordion, stop, resume, timer, run_state, signature)."""
    v, position = _view(run_dir)
    signature = charts.view_signature(v) + f"|{position}"
    if not force and signature == previous_signature:
        return tuple(gr.skip() for _ in range(12))
    active = v is not None and v.state in charts.ACTIVE_STATES
    if v is None:
        empty = charts.RunView()
        return (charts.banner_html(None), "", charts.loss_frame(empty), charts.metrics_frame(empty),
                charts.epoch_frame(empty), "", gr.Accordion(open=False), gr.Button(interactive=False),
                gr.Button(interactive=False), gr.Timer(active=False), join_run_state(None, ""), signature)
    return (
        charts.banner_html(v, position, _run_name(run_dir)),
        charts.progress_html(v),
        charts.loss_frame(v),
        charts.metrics_frame(v),
        charts.epoch_frame(v),
        _log(run_dir),
        gr.Accordion(open=v.state == "failed"),
        gr.Button(interactive=active),
        gr.Button(interactive=v.state in ("cancelled", "interrupted", "failed")),
        gr.Timer(active=active),
        join_run_state(run_dir, v.state),
        signature,
    )


def on_tick(run_dir: str | None, signature: str) -> tuple:
    return draw(run_dir, signature, force=False)


def on_show(run_dir: str | None) -> tuple:
    return draw(run_dir, force=True)


def on_start(data_status: dict, data_path: str, text_col: str, label_col: str, model: str, epochs: float,
             lr: float, batch: float, max_len: float, val_share: float, patience: float, class_weights: bool,
             warm_start_head: bool, seed: float, caller: Caller | None, run_dir: str | None,
             extra: dict | None = None) -> tuple[Any, Any]:
    """-> (run_dir, start-status html). The shown run switches to the new one; settings stay as they are."""
    status = data_status or {}
    if not status.get("ok"):
        reason = status.get("reason") or "Choose your data on the Data step first."
        gr.Warning(reason)
        return gr.skip(), start_note_html(status)
    shown, _ = _view(run_dir)
    if shown is not None and shown.state in charts.ACTIVE_STATES:  # a second click would queue the same run twice
        message = (f"'{_run_name(run_dir)}' is still {shown.state}. Stop it first, or start the next run when it "
                   "has finished.")
        gr.Warning(message)
        return gr.skip(), f'<div class="tc-blocked">{_esc(message)}</div>'
    try:
        options = data_options(extra)
        config = config_from_ui(data_path, text_col, label_col, model, epochs, lr, batch, max_len, val_share,
                                patience, class_weights, seed, warm_start_head=warm_start_head,
                                val_data_path=options["val_data_path"] or None, data_config=options["data_config"],
                                data_split=options["data_split"])
        new_dir = start_training(config, caller, session.runs_root())
    except UserError as exc:
        gr.Warning(exc.message)
        return gr.skip(), f'<div class="tc-blocked">Could not start: {_esc(exc.message)}</div>'
    return new_dir, start_note_html(status)


def on_stop(run_dir: str | None) -> None:
    if not run_dir:
        return
    from core.runs import cancel

    try:
        cancel(Path(run_dir))
        gr.Info("Stopping at the next step; a checkpoint is kept so you can resume.")
    except UserError as exc:
        gr.Warning(exc.message)


def on_resume(run_dir: str | None) -> tuple:
    if not run_dir:
        return draw(None)
    from core.runs import resume

    try:
        resume(Path(run_dir))
    except UserError as exc:
        gr.Warning(exc.message)
    return draw(run_dir)


def _esc(text: str) -> str:
    import html

    return html.escape(text or "")


def start_note_html(status: dict | None) -> str:
    status = status or {}
    if status.get("ok"):
        return f'<div class="tc-note">Training data: {_esc(status.get("summary", ""))}</div>'
    reason = status.get("reason") or "Choose your data on the Data step first."
    return f'<div class="tc-blocked" id="tc-train-blocked">Start is disabled: {_esc(reason)}</div>'


def on_data_status(status: dict | None) -> tuple:
    return gr.Button(interactive=bool((status or {}).get("ok"))), start_note_html(status)


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
            start_note = gr.HTML(start_note_html(None), elem_id="tc-start-note")
            with gr.Row():
                start = gr.Button("Start training", variant="primary", interactive=False, elem_id="tc-start")
                stop = gr.Button("Stop", variant="stop", interactive=False, elem_id="tc-stop")
                resume = gr.Button("Resume", interactive=False, elem_id="tc-resume")
        with gr.Column(scale=3, min_width=360):
            banner = gr.HTML(charts.banner_html(None), elem_id="tc-banner")
            progress = gr.HTML("", elem_id="tc-progress")
            # Points, not lines: a one-epoch run has one validation point per series (see ui/charts.py).
            loss_plot = gr.ScatterPlot(charts.loss_frame(charts.RunView()), x="step", y="loss", color="series",
                                       title="Loss by step", height=260, elem_id="tc-loss-chart",
                                       **charts.plot_colors(charts.LOSS_COLORS))
            metric_plot = gr.ScatterPlot(charts.metrics_frame(charts.RunView()), x="epoch", y="score",
                                         color="metric", title="Validation accuracy and macro-F1 by epoch",
                                         height=220, x_axis_format=".2~f", elem_id="tc-metric-chart",
                                         **charts.plot_colors(charts.METRIC_COLORS))
            epoch_table = gr.Dataframe(charts.epoch_frame(charts.RunView()), label="Epochs", interactive=False,
                                       elem_id="tc-epoch-table")
            with gr.Accordion("Log", open=False) as log_box:
                log = gr.Textbox(show_label=False, lines=10, max_lines=20, autoscroll=True, elem_id="tc-log")
    timer = gr.Timer(POLL_SECONDS, active=False)
    signature = gr.State("")

    live = [banner, progress, loss_plot, metric_plot, epoch_table, log, log_box, stop, resume, timer, ctx.run_state, signature]
    timer.tick(on_tick, [ctx.run_dir, signature], live, api_visibility="private", concurrency_limit=None,
               show_progress="hidden", trigger_mode="always_last")
    ctx.run_dir.change(on_show, [ctx.run_dir], live, api_visibility="private", concurrency_limit=None,
                       show_progress="hidden")
    data_status = ctx.shared.get("data_status")
    inputs = [data_status, ctx.shared.get("data_path"), ctx.shared.get("text_column"), ctx.shared.get("label_column"),
              model, epochs, lr, batch, max_len, val_share, patience, class_weights, warm_start_head, seed, ctx.caller,
              ctx.run_dir, ctx.shared.get("data_extra")]
    if all(i is not None for i in inputs):
        start.click(on_start, inputs, [ctx.run_dir, start_note], api_visibility="private", concurrency_limit=2,
                    show_progress="minimal", show_progress_on=[banner])
        data_status.change(on_data_status, [data_status], [start, start_note], api_visibility="private",
                           show_progress="hidden")
    stop.click(on_stop, [ctx.run_dir], None, api_visibility="private", concurrency_limit=None)
    resume.click(on_resume, [ctx.run_dir], live, api_visibility="private", concurrency_limit=None,
                 show_progress="hidden")
    return dict(model=model, epochs=epochs, learning_rate=lr, batch_size=batch, max_length=max_len, val_share=val_share,
                early_stopping_patience=patience, class_weights=class_weights, warm_start_head=warm_start_head,
                seed=seed, start=start, stop=stop,
                resume=resume, banner=banner, progress=progress, loss_plot=loss_plot, metric_plot=metric_plot,
                epoch_table=epoch_table, log=log, timer=timer)
