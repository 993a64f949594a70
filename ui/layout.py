"""The whole page: header, the six steps as tabs, session restore on load, and the named API endpoints."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import gradio as gr

from core import access
from core.access import Caller
from core.runs import list_runs
from ui import data_tab, runs_tab, session, train_api, train_tab
from ui.context import AppContext, join_run_state

TITLE = "Text Classifier Studio"
OPTIONAL_TABS = (("Evaluate", "evaluate", "ui.evaluate_tab"), ("Predict", "predict", "ui.predict_tab"),
                 ("Publish", "publish", "ui.publish_tab"))


def _optional(module: str) -> Any | None:
    try:
        if importlib.util.find_spec(module) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(module)


def on_load(stored: Any, profile: gr.OAuthProfile | None = None) -> tuple[Caller, dict, str | None, Any]:
    """Page (re)load: keep or issue this browser's signed owner key and re-attach to the run it showed last."""
    root = session.runs_root()
    sess = session.resolve_session(stored, root)
    caller = session.browser_caller(sess["key"], root, getattr(profile, "username", None))
    run_dir = session.owned_run(sess["last_run"], caller, root)
    if run_dir is None:
        # The newest of this session's own runs that is still going, so a reopened tab finds its training.
        for run in list_runs(root, owner=caller.owners):
            if run.state in ("queued", "running"):
                run_dir = str(run.run_dir)
                break
    sess["last_run"] = run_dir or ""
    return caller, sess, run_dir, (gr.Tabs(selected="train") if run_dir else gr.skip())


def remember_run(caller: Caller | None, run_dir: str | None) -> Any:
    if caller is None or not caller.key:
        return gr.skip()
    return {"key": caller.key, "last_run": run_dir or ""}


def remember_settings(data_path: str, text_column: str | None, label_column: str | None,
                      *values: Any) -> dict[str, Any]:
    """Everything the user chose on Data and Train, kept in the browser so a reload does not lose it."""
    return {"data_path": data_path or "", "text_column": text_column or "", "label_column": label_column or "",
            **dict(zip(session.SETTING_NAMES, values))}


def restore_settings(stored: Any) -> tuple:
    """-> (data file, columns wanted for it, *settings): the stored ones, or unchanged (skip) where none is stored.

    The columns go to the Data step's "wanted" state, which its file handler uses instead of guessing (the file's
    change event would otherwise overwrite restored dropdowns with guesses)."""
    stored = stored if isinstance(stored, dict) else {}
    settings = session.clean_settings(stored)
    path = session.restorable_file(stored.get("data_path"), extra_roots=(data_tab.EXAMPLE_DATA.parent,))
    if not path:
        return (gr.skip(), gr.skip()) + tuple(settings.get(n, gr.skip()) for n in session.SETTING_NAMES)
    wanted = data_tab.wanted_columns(path, settings.get("text_column"), settings.get("label_column"))
    return (path, wanted) + tuple(settings.get(n, gr.skip()) for n in session.SETTING_NAMES)


def _readable_path_errors() -> None:
    """Gradio refuses a request naming a file that was never uploaded (a server path, a folder) before any handler
    runs, and with show_error off it answers `{"error": null}`. Say why instead, in one sentence that does not tell
    whether the path exists. (tests/test_space_security.py calls the API over plain HTTP to prove it.)"""
    import gradio.queueing as queueing
    from gradio.exceptions import InvalidPathError

    original = queueing.error_payload
    if getattr(original, "readable_paths", False):
        return

    def payload(error: BaseException | None, show_error: bool) -> dict[str, Any]:
        if isinstance(error, InvalidPathError):
            error = gr.Error(session.NOT_UPLOADED_MESSAGE, print_exception=False)
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
        ctx = AppContext(runs_root=root, run_dir=gr.State(None), run_state=gr.State(join_run_state(None, "")),
                         caller=gr.State(None))
        gr.Markdown(f"# {TITLE}\nFine-tune a text classifier without code: **upload** a table of texts and labels → "
                    "**check** it → **train** with live curves → **evaluate** → **try** it → **publish** to the Hub.",
                    elem_classes=["tc-header"])
        with gr.Tabs(selected="data", elem_id="tc-steps") as tabs:
            ctx.tabs = tabs
            with gr.Tab("1 · Data", id="data", elem_id="tc-tab-data"):
                data = data_tab.render(ctx)
            with gr.Tab("2 · Train", id="train", elem_id="tc-tab-train"):
                train = train_tab.render(ctx)
            for number, (label, tab_id, module_name) in enumerate(OPTIONAL_TABS, start=3):
                module = _optional(module_name)
                if module is None:
                    continue
                with gr.Tab(f"{number} · {label}", id=tab_id, elem_id=f"tc-tab-{tab_id}"):
                    module.render(ctx)
            with gr.Tab("Runs", id="runs", elem_id="tc-tab-runs") as runs_tab_item:
                runs = runs_tab.render(ctx)
        data_tab.wire(data, train["model"], train["max_length"], train["val_share"], train["seed"])
        runs_tab_item.select(runs_tab.on_refresh, [ctx.caller], [runs["table"], runs["choice"], runs["note"]],
                             api_visibility="private", concurrency_limit=None)

        demo.load(on_load, [browser], [ctx.caller, browser, ctx.run_dir, tabs], api_visibility="private",
                  concurrency_limit=None)
        setting_inputs = [train[n] for n in session.SETTING_NAMES]
        demo.load(restore_settings, [saved_settings], [data["file"], data["wanted_columns"]] + setting_inputs,
                  api_visibility="private", concurrency_limit=None)
        remembered = [data["data_path"], data["text_column"], data["label_column"]] + setting_inputs
        for trigger in (train["start"].click, data["data_path"].change, data["text_column"].input,
                        data["label_column"].input):
            trigger(remember_settings, remembered, [saved_settings], api_visibility="private",
                    concurrency_limit=None, show_progress="hidden")
        ctx.run_dir.change(remember_run, [ctx.caller, ctx.run_dir], [browser], api_visibility="private",
                           concurrency_limit=None)

        gr.api(train_api.api_train, api_name="train", concurrency_limit=2)
        gr.api(train_api.api_status, api_name="status", concurrency_limit=None)
        gr.api(train_api.api_stop, api_name="stop", concurrency_limit=None)
        gr.api(train_api.api_resume, api_name="resume", concurrency_limit=None)
        gr.api(runs_tab.api_runs, api_name="runs", concurrency_limit=None)
    demo.ctx = ctx  # for tests
    return demo
