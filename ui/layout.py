"""The whole page: header, the six steps as tabs, session restore on load, and the named API endpoints."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from core import limits
from core.data import hub_datasets
from core.runs import access
from core.runs.access import Caller
from core.runs.rundir import ACTIVE_STATES, RunDir
from core.runs.launcher import list_runs
from ui import data_tab, data_wiring, evaluate_tab, predict_tab, publish_tab, runs_tab, session, train_api, train_tab
from ui.context import AppContext, RunOnScreen
from ui.data_check import data_options
from ui.wiring import keyed, pick

TITLE = "Text Classifier Studio"
# The steps after Train: they only read the run on screen (ctx.run_state).
LATER_STEPS = (("3 · Evaluate", "evaluate", evaluate_tab), ("4 · Predict", "predict", predict_tab),
               ("5 · Publish", "publish", publish_tab))


def _newest_active(caller: Caller, root: Path, after: float = 0.0) -> Any | None:
    """This caller's newest queued or training run created after `after` (list_runs is newest first)."""
    for run in list_runs(root, owner=caller.owners):
        if run.state in ACTIVE_STATES and (run.created or 0) > after:
            return run
    return None


def on_load(stored: Any, profile: gr.OAuthProfile | None = None) -> tuple[Caller, dict, str | None, Any]:
    """Page (re)load: keep or issue this browser's signed owner key and re-attach to the run it showed last, unless
    a newer run of this caller is training: a reload right after Start (before the browser stored the new run)
    must show the new run, not the one before it."""
    root = session.runs_root()
    sess = session.resolve_session(stored, root)
    caller = session.browser_caller(sess["key"], root, getattr(profile, "username", None))
    run_dir = session.owned_run(sess["last_run"], caller, root)
    shown = _summary(run_dir)
    if shown is None or shown.state not in ACTIVE_STATES:
        newer = _newest_active(caller, root, after=shown.created if shown else 0.0)
        if newer is not None:
            run_dir = str(newer.run_dir)
    sess["last_run"] = run_dir or ""
    return caller, sess, run_dir, (gr.Tabs(selected="train") if run_dir else gr.skip())


WATCH_TICKS = 10  # after a load, look for a just-started run for 10 ticks of 2 s


@dataclass(frozen=True)
class _Shown:
    state: str
    created: float


def _summary(run_dir: str | None) -> _Shown | None:
    """The state and creation time of the run on screen (an owned run folder), or None."""
    if not run_dir:
        return None
    from core.runs.launcher import status

    info = RunDir(run_dir).info()
    return _Shown(state=status(Path(run_dir))["state"], created=float(info.get("created") or 0.0))


def on_watch(caller: Caller | None, run_dir: str | None, ticks: int) -> tuple[Any, Any, int]:
    """For a few seconds after a load: a Start pressed just before the reload may still be writing its run
    folder. When a newer run of this caller appears and the shown one is not training, show the new one."""
    ticks = int(ticks or 0) + 1
    timer = gr.Timer(active=ticks < WATCH_TICKS)
    if caller is None:
        return gr.skip(), timer, ticks
    root = session.runs_root()
    shown = _summary(session.owned_run(run_dir, caller, root))
    if shown is not None and shown.state in ACTIVE_STATES:
        return gr.skip(), gr.Timer(active=False), ticks
    newer = _newest_active(caller, root, after=shown.created if shown else 0.0)
    if newer is None:
        return gr.skip(), timer, ticks
    return str(newer.run_dir), gr.Timer(active=False), ticks


def remember_run(caller: Caller | None, run_dir: str | None) -> Any:
    if caller is None or not caller.key:
        return gr.skip()
    return {"key": caller.key, "last_run": run_dir or ""}


# The tables beside the data file that a reload or an opened run brings back (uploaded files only, like the data file).
SIDE_TABLES = {"val_data_path": "val_file", "test_data_path": "test_file"}
# A Hub dataset's config and split, brought back with it.
DATASET_CHOICES = ("data_config", "data_split")


def remember_settings(data_path: str, text_column: str | None, label_column: str | None, extra: Any,
                      *values: Any) -> dict[str, Any]:
    """Everything the user chose on Data and Train, kept in the browser so a reload does not lose it: the data file
    or Hub dataset, its columns, the validation and test tables or the dataset's config and split (`extra`, the Data
    step's options) and every setting."""
    options = data_options(extra)
    return {"data_path": data_path or "", "text_column": text_column or "", "label_column": label_column or "",
            **{name: options[name] for name in (*SIDE_TABLES, *DATASET_CHOICES)},
            **dict(zip(session.SETTING_NAMES, values))}


def restore_settings(stored: Any) -> dict[str, Any]:
    """The stored data file ("file"), the columns wanted for it ("wanted_columns"), its validation and test tables
    (the upload boxes and "data_extra") and each stored setting (by its name); what is not stored stays as it is.
    A Hub dataset instead goes back in its box ("hub"), its config and split in "data_extra".

    The columns go to the Data step's "wanted" state, which its file handler uses instead of guessing (the file's
    change event would otherwise overwrite restored dropdowns with guesses)."""
    stored = stored if isinstance(stored, dict) else {}
    chosen = usable_settings(session.clean_settings(stored))
    restored = {n: chosen[n] for n in session.SETTING_NAMES if n in chosen}
    dataset = session.restorable_dataset(stored.get("data_path"))
    if dataset:
        return {**restored, **_dataset_restored(dataset, stored, chosen)}
    path = session.restorable_file(stored.get("data_path"), extra_roots=(data_tab.EXAMPLE_DATA.parent,))
    if not path:
        return restored
    wanted = data_tab.wanted_columns(path, chosen.get("text_column"), chosen.get("label_column"))
    # The validation and test tables go into the Data step's options in the same update as the file, so the check
    # that the file starts reads them; their upload boxes only show them (their handlers listen to uploads alone).
    tables = {name: session.restorable_file(stored.get(name)) or "" for name in SIDE_TABLES}
    options = data_options({**tables, "task": restored.get("task"), "label_separator": restored.get("label_separator")})
    shown = {box: tables[name] or None for name, box in SIDE_TABLES.items()}
    return {"file": path, "hub": "", "wanted_columns": wanted, "data_extra": options, **shown, **restored}


def _dataset_restored(dataset: str, stored: dict[str, Any], chosen: dict[str, Any]) -> dict[str, Any]:
    """A Hub dataset in its box, with its config, split and columns for the check that runs after the restore
    (data_tab.on_hub_restored: `wanted_columns` names the dataset)."""
    options = data_options({**{name: str(stored.get(name) or "")[:200] for name in DATASET_CHOICES},
                            "task": chosen.get("task"), "label_separator": chosen.get("label_separator")})
    wanted = {**data_tab.wanted_columns(dataset, chosen.get("text_column"), chosen.get("label_column")),
              "dataset": dataset}
    return {"hub": hub_datasets.dataset_name(dataset), "wanted_columns": wanted, "data_extra": options}


def usable_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings worth restoring: a model folder that is not there (a failed Start with './no-such-folder') is not
    brought back, and on a shared server no folder path is (the default is shown instead)."""
    model = settings.get("model")
    if isinstance(model, str) and access.looks_like_path(model.strip()):
        if limits.shared_server() or not Path(model.strip()).expanduser().is_dir():
            settings = {k: v for k, v in settings.items() if k != "model"}
    return settings


def settings_of_run(run_dir: str | None, caller: Caller | None) -> dict[str, Any]:
    """Opening a run from Runs: the left panel shows that run's data file (while it is still on the server) and
    settings, like restore_settings; nothing changes for a run this caller may not open."""
    root = session.runs_root()
    owned = session.owned_run(run_dir, caller, root) if caller is not None else None
    if not owned:
        return {}
    config = RunDir(owned).config_dict()
    stored = {name: config.get(name) for name in session.SETTING_NAMES}
    stored.update(data_path=config.get("data_path"), text_column=config.get("text_column"),
                  label_column=config.get("label_column"),
                  **{name: config.get(name) for name in (*SIDE_TABLES, *DATASET_CHOICES)})
    return restore_settings(stored)


def settings_of_choice(run_id: str | None, caller: Caller | None) -> dict[str, Any]:
    """Re-run with changes: settings_of_run for the run chosen on the Runs step (an id, checked like any other)."""
    return settings_of_run(session.run_of_id(run_id, caller, session.runs_root()), caller)


MISSING_VALUES_MESSAGE = ("The request is missing some of this endpoint's parameters: send a value for every parameter "
                          "the API page lists, in order.")


def _readable_path_errors() -> None:
    """Gradio refuses a request naming a file that was never uploaded (a server path, a folder), or one with too few
    values, before any handler runs, and with show_error off it answers `{"error": null}`. Say why instead, in one
    sentence that does not tell whether a path exists. (tests/test_space_security.py calls the API over plain HTTP.)"""
    import gradio.queueing as queueing
    from gradio.exceptions import InvalidPathError

    original = queueing.error_payload
    if getattr(original, "readable_paths", False):
        return

    def payload(error: BaseException | None, show_error: bool) -> dict[str, Any]:
        if isinstance(error, InvalidPathError):
            error = gr.Error(session.NOT_UPLOADED_MESSAGE, print_exception=False)
        elif isinstance(error, ValueError) and "didn't receive enough input values" in str(error):
            error = gr.Error(MISSING_VALUES_MESSAGE, print_exception=False)
        return original(error, show_error)

    payload.readable_paths = True  # type: ignore[attr-defined]
    queueing.error_payload = payload


def build(runs_root: Path | None = None) -> gr.Blocks:
    root = Path(runs_root) if runs_root else session.runs_root()
    access.server_secret(root)  # made (or read) at start-up, not by the first visitor
    _readable_path_errors()
    # delete_cache: Gradio's copies of served files (downloads, uploads) older than a day go, checked hourly.
    with gr.Blocks(title=TITLE, fill_width=False, delete_cache=(3600, 86400)) as demo:
        browser = session.make_browser_state(root)
        saved_settings = session.make_settings_state(root)
        run_dir, run_state, caller = gr.State(None), gr.State(RunOnScreen()), gr.State(None)
        gr.Markdown(f"# {TITLE}\nFine-tune a text classifier without code: **upload** a table of texts and labels → "
                    "**check** it → **train** with live curves → **evaluate** → **try** it → **publish** to the Hub.",
                    elem_classes=["tc-header"])
        with gr.Tabs(selected="data", elem_id="tc-steps") as tabs:
            ctx = AppContext(runs_root=root, run_dir=run_dir, run_state=run_state, caller=caller, tabs=tabs)
            with gr.Tab("1 · Data", id="data", elem_id="tc-tab-data"):
                data = data_tab.render(ctx)
            with gr.Tab("2 · Train", id="train", elem_id="tc-tab-train"):
                train = train_tab.render(ctx, data_tab.pieces(data))
            for label, tab_id, module in LATER_STEPS:
                with gr.Tab(label, id=tab_id, elem_id=f"tc-tab-{tab_id}"):
                    module.render(ctx)
            with gr.Tab("Runs", id="runs", elem_id="tc-tab-runs") as runs_tab_item:
                runs = runs_tab.render(ctx)
        wired = data_wiring.wire(data, train["model"], train["max_length"], train["val_share"], train["seed"])
        listed = pick(runs, *runs_tab.LIST_OUTPUTS)
        runs_tab_item.select(keyed(runs_tab.on_refresh, listed), [ctx.caller, runs["picks"]], list(listed.values()),
                             api_visibility="private", concurrency_limit=None)

        demo.load(on_load, [browser], [ctx.caller, browser, ctx.run_dir, tabs], api_visibility="private",
                  concurrency_limit=None)
        setting_inputs = [train[n] for n in session.SETTING_NAMES]
        restored = {"file": data["file"], "hub": data["hub"], "wanted_columns": data["wanted_columns"],
                    "data_extra": data["data_extra"], **{box: data[box] for box in SIDE_TABLES.values()},
                    **{n: train[n] for n in session.SETTING_NAMES}}
        wired.restore_dataset(demo.load(keyed(restore_settings, restored), [saved_settings], list(restored.values()),
                                        api_visibility="private", concurrency_limit=None))
        remembered = [data["data_path"], data["text_column"], data["label_column"], data["data_extra"]] + setting_inputs
        # Remembered as shown: on every edit of a setting, not only when Start is pressed; a validation or test table
        # once its handler has put it in data_extra (not on data_extra's own change, which a reload's restore fires
        # while the restored file's check is still filling in its path and columns).
        triggers = [train["start"].click, data["data_path"].change, data["text_column"].input,
                    data["label_column"].input] + [c.input for c in setting_inputs] + [
                        e.then for e in wired.options_chosen]
        for trigger in triggers:
            trigger(remember_settings, remembered, [saved_settings], api_visibility="private",
                    concurrency_limit=None, show_progress="hidden")
        watch, ticks = gr.Timer(2.0, active=True), gr.State(0)
        for opened in runs["opened"]:
            opened.then(lambda: gr.Timer(active=False), None, [watch], api_visibility="private")  # the user chose
            shown = opened.then(keyed(settings_of_run, restored), [ctx.run_dir, ctx.caller], list(restored.values()),
                                api_visibility="private", concurrency_limit=None)
            shown.then(remember_settings, remembered, [saved_settings], api_visibility="private",
                       concurrency_limit=None, show_progress="hidden")
            wired.restore_dataset(shown)
        # Re-run with changes: the Train step filled in from the chosen run (its data file and settings).
        chosen = runs["rerun"].click(keyed(settings_of_choice, restored), [runs["choice"], ctx.caller],
                                     list(restored.values()), api_visibility="private", concurrency_limit=None)
        chosen.then(lambda: gr.Tabs(selected="train"), None, [tabs], api_visibility="private")
        wired.restore_dataset(chosen)
        watch.tick(on_watch, [ctx.caller, ctx.run_dir, ticks], [ctx.run_dir, watch, ticks], api_visibility="private",
                   concurrency_limit=None, show_progress="hidden")
        ctx.run_dir.change(remember_run, [ctx.caller, ctx.run_dir], [browser], api_visibility="private",
                           concurrency_limit=None)

        gr.api(train_api.api_train, api_name="train", concurrency_limit=2)
        gr.api(train_api.api_status, api_name="status", concurrency_limit=None)
        gr.api(train_api.api_stop, api_name="stop", concurrency_limit=None)
        gr.api(train_api.api_resume, api_name="resume", concurrency_limit=None)
        gr.api(runs_tab.api_runs, api_name="runs", concurrency_limit=None)
    demo.train = train  # the Train step's components by name: tests find its settings and live view here
    return demo
