"""Who is this browser session, and which run did it look at last (survives reloads and server restarts).

The owner id lives in the browser's localStorage (gr.BrowserState, encrypted with a secret kept in the runs folder
so a restarted server can still read it). Each session lists only the runs it created.
"""
from __future__ import annotations

import os
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

import gradio as gr

STORAGE_KEY = "textclf-session-v1"
_OWNER_RE = re.compile(r"^[A-Za-z0-9_.:-]{6,80}$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")


def runs_root() -> Path:
    try:
        from core.runs import runs_root as core_runs_root

        return Path(core_runs_root())
    except ImportError:  # before core/runs.py exists
        return Path(os.environ.get("TEXTCLF_RUNS_DIR", "runs"))


def browser_secret(root: Path) -> str:
    """A stable secret for the encrypted localStorage: env TEXTCLF_BROWSER_SECRET, else a file in the runs folder."""
    env = os.environ.get("TEXTCLF_BROWSER_SECRET")
    if env:
        return env
    path = Path(root) / ".browser_secret"
    try:
        if path.exists():
            value = path.read_text(encoding="utf-8").strip()
            if value:
                return value
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(24)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(value, encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return path.read_text(encoding="utf-8").strip()
    except OSError:  # read-only disk: sessions then last as long as this server process
        return secrets.token_urlsafe(24)


def make_browser_state(root: Path) -> gr.BrowserState:
    return gr.BrowserState({"owner": "", "last_run": ""}, storage_key=STORAGE_KEY, secret=browser_secret(root))


def new_owner() -> str:
    return "s-" + uuid.uuid4().hex


def valid_owner(value: Any) -> bool:
    return isinstance(value, str) and bool(_OWNER_RE.match(value))


def resolve_session(stored: Any) -> dict[str, str]:
    """The stored {"owner", "last_run"} made valid: a new owner id when the browser has none."""
    stored = stored if isinstance(stored, dict) else {}
    owner = stored.get("owner")
    last_run = stored.get("last_run") or ""
    if not valid_owner(owner):
        owner, last_run = new_owner(), ""
    return {"owner": owner, "last_run": last_run if isinstance(last_run, str) else ""}


def run_dir_for(run_id: str, root: Path) -> Path:
    """A run id from the outside (API, browser) -> its folder; refuses anything that is not a plain name."""
    from core.errors import UserError

    run_id = (run_id or "").strip().rstrip("/").split("/")[-1] if run_id and "/" in run_id else (run_id or "").strip()
    if not _RUN_ID_RE.match(run_id) or run_id in (".", ".."):
        raise UserError("That run id is not valid.")
    path = Path(root) / run_id
    if not path.is_dir():
        raise UserError(f"There is no run '{run_id}'.")
    return path


def owned_run(run_dir: str | None, owner: str, root: Path) -> str | None:
    """run_dir if it exists and belongs to this owner (runs with no recorded owner are not shared)."""
    if not run_dir or not owner:
        return None
    path = Path(run_dir)
    if not path.is_dir():
        return None
    try:
        from core.runs import list_runs

        mine = {str(Path(s.run_dir).resolve()) for s in list_runs(root, owner=owner)}
    except Exception:  # noqa: BLE001 - a broken runs folder must not break page load
        return None
    return str(path) if str(path.resolve()) in mine else None
