"""Step 5, Publish: download the trained model as a zip, or push it to the Hugging Face Hub.

The token comes from the event (typed box, or the OAuth token of "Sign in with Hugging Face" on Spaces) or from
HF_TOKEN; it is passed straight to core.publish.hub and never kept in a State, a file or a log.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import gradio as gr

from core.publish import hub, modelcard
from core.errors import UserError
from core.serving.evaluation import NO_RUN_MESSAGE
from ui.context import AppContext, RunOnScreen, finished_run
from ui.downloads import fresh_folder
from ui.notes import note
from ui.wiring import keyed, pick


def on_spaces() -> bool:
    """Sign-in needs a Space with OAuth (`hf_oauth` in the README sets OAUTH_CLIENT_ID) and gradio's OAuth extras;
    locally the token box and HF_TOKEN are used. SPACE_ID alone is not enough: outside a Space gradio mocks the
    sign-in with the machine's own Hub login and refuses to start without one."""
    if not (os.environ.get("SPACE_ID") and os.environ.get("SYSTEM") == "spaces" and os.environ.get("OAUTH_CLIENT_ID")):
        return False
    try:
        import authlib  # noqa: F401
        import itsdangerous  # noqa: F401
    except ImportError:
        return False
    return True


RUN_OUTPUTS = ("note", "zip_file", "repo", "result", "zip_button", "push")


def on_run(shown: RunOnScreen | None) -> dict[str, Any]:
    """The run on screen, by component name (RUN_OUTPUTS): what it is ready for; the last zip and push cleared."""
    run_dir, problem = finished_run(shown)
    ready = problem is None
    placeholder = (f"your-name/{modelcard.export_name(run_dir)} (leave empty for this default)" if ready
                   else "your-name/model-name")
    ready_note = note(problem) if problem else note(f"Ready to share the model of run {Path(run_dir).name}.", "ok")
    return {"note": ready_note,
            "zip_file": None, "repo": gr.Textbox(placeholder=placeholder), "result": "",
            "zip_button": gr.Button(interactive=ready), "push": gr.Button(interactive=ready)}


def on_zip(shown: RunOnScreen | None) -> str | None:
    """The model folder (weights, tokenizer, config with label names, model card) as a zip to download."""
    run_dir, problem = finished_run(shown)
    try:
        if problem:
            raise UserError(problem)
        return str(modelcard.make_zip(run_dir, fresh_folder("zips")))
    except UserError as exc:
        gr.Warning(exc.message)
        return None


def no_token_message() -> str:
    """Sign-in is mentioned only where the page has the button."""
    return hub.NO_TOKEN_SIGN_IN_MESSAGE if on_spaces() else hub.NO_TOKEN_MESSAGE


def on_push(shown: RunOnScreen | None, repo_id: str | None, private: bool, token: str | None,
            oauth_token: gr.OAuthToken | None = None) -> str:
    """Push to the Hub; returns a short result line. Errors are one sentence (gr.Warning and the result line)."""
    run_dir, problem = finished_run(shown)
    try:
        if problem:
            raise UserError(problem)
        result = hub.push_to_hub(run_dir, repo_id=repo_id, private=bool(private), token=token,
                                 oauth_token=oauth_token.token if oauth_token else None)
    except UserError as exc:
        message = no_token_message() if exc.message == hub.NO_TOKEN_MESSAGE else exc.message
        gr.Warning(message)
        return f"❌ {html.escape(message)}"
    visibility = "private" if result.private else "public"
    return f"✅ Pushed to [{result.repo_id}]({result.url}) ({visibility})."


def render(ctx: AppContext) -> dict[str, gr.Component]:
    gr.Markdown("### 5 · Publish\nTake the model with you as a zip, or share it on the Hugging Face Hub. Both hold "
                "the same folder: weights, tokenizer, config with your label names, and a model card.")
    message = gr.HTML(note(NO_RUN_MESSAGE), elem_id="tc-publish-note")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            gr.Markdown("#### Download\nLoad it anywhere with `pipeline(\"text-classification\", model=\"<unzipped "
                        "folder>\")`.")
            zip_button = gr.Button("Prepare model zip", interactive=False, elem_id="tc-zip-button")
            zip_file = gr.File(label="Model (.zip)", interactive=False, elem_id="tc-zip-file")
        with gr.Column(scale=1, min_width=300):
            gr.Markdown("#### Push to the Hugging Face Hub")
            if on_spaces():
                gr.LoginButton(elem_id="tc-login")
                token_help = "Or paste a token with write access (overrides the sign-in)."
            else:
                token_help = "A token with write access (huggingface.co/settings/tokens); HF_TOKEN is used when empty."
            token = gr.Textbox(label="Hugging Face token", type="password", info=token_help,
                               placeholder="hf_…", elem_id="tc-hub-token")
            repo = gr.Textbox(label="Repository", placeholder="your-name/model-name", elem_id="tc-hub-repo",
                              info="Created if it does not exist. A name without '/' goes under your account.")
            private = gr.Checkbox(True, label="Private repository", elem_id="tc-hub-private")
            push = gr.Button("Push to Hub", variant="primary", interactive=False, elem_id="tc-push-button")
            result = gr.Markdown(elem_id="tc-push-result")
    comps = dict(note=message, zip_button=zip_button, zip_file=zip_file, token=token, repo=repo, private=private,
                 push=push, result=result)
    drawn = pick(comps, *RUN_OUTPUTS)
    ctx.run_state.change(keyed(on_run, drawn), [ctx.run_state], list(drawn.values()), api_visibility="private",
                         show_progress="hidden", trigger_mode="always_last")
    zip_button.click(on_zip, [ctx.run_state], [zip_file], api_visibility="private", concurrency_limit=2)
    push.click(on_push, [ctx.run_state, repo, private, token], [result], api_visibility="private",
               concurrency_limit=2, show_progress="minimal")
    return comps
