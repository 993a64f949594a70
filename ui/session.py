"""Who is this browser session, and which run did it look at last (survives reloads and server restarts).

The owner id lives in the browser's localStorage (gr.BrowserState, encrypted with a secret kept in the runs folder
so a restarted server can still read it). On a Space, where strangers share one app, each session lists only the
runs it created; on your own machine every run in the runs folder is yours (see runs_are_private).
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


def runs_are_private() -> bool:
    """Whether each browser sees only its own runs: on a Space (SPACE_ID is set), or when TEXTCLF_PRIVATE_RUNS=1
    asks for it on a shared server. On your own machine a run from the CLI, from yesterday's browser or from a
    cleared localStorage is still yours, so the Runs step lists every run in the folder."""
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("TEXTCLF_PRIVATE_RUNS", "").strip() not in ("", "0")


def visible_runs(owner: str | None, root: Path) -> list[Any]:
    """The runs this session may list and open, newest first."""
    if not owner:
        return []
    from core.runs import list_runs

    return list_runs(root, owner=owner if runs_are_private() else None)


def owned_run(run_dir: str | None, owner: str, root: Path) -> str | None:
    """run_dir if it exists and this session may open it (when runs are private, runs with no owner are not shared)."""
    if not run_dir or not owner:
        return None
    path = Path(run_dir)
    if not path.is_dir():
        return None
    if not runs_are_private():  # any run of this runs folder, without summarising every run to find it
        from core.rundir import RUN_INFO

        inside = path.resolve().parent == Path(root).resolve() and (path / RUN_INFO).is_file()
        return str(path) if inside else None
    try:
        mine = {str(Path(s.run_dir).resolve()) for s in visible_runs(owner, root)}
    except Exception:  # noqa: BLE001 - a broken runs folder must not break page load
        return None
    return str(path) if str(path.resolve()) in mine else None


# ----- the user's last data file and settings (restored after a reload) -----------------------------------------

SETTINGS_KEY = "textclf-settings-v1"
SETTING_NAMES = ("model", "epochs", "learning_rate", "batch_size", "max_length", "val_share",
                 "early_stopping_patience", "class_weights", "warm_start_head", "seed")
_SETTING_TYPES = {"model": str, "epochs": float, "learning_rate": float, "batch_size": int, "max_length": int,
                  "val_share": float, "early_stopping_patience": int, "class_weights": bool, "warm_start_head": bool,
                  "seed": int,
                  "text_column": str, "label_column": str}


def make_settings_state(root: Path) -> gr.BrowserState:
    return gr.BrowserState({}, storage_key=SETTINGS_KEY, secret=browser_secret(root))


def restorable_file(path: Any, extra_roots: tuple[Path, ...] = ()) -> str | None:
    """A stored data path is given back only if it is still an uploaded file (Gradio's upload folder) or an example:
    localStorage is the browser's, so it must never name an arbitrary file on the server."""
    if not isinstance(path, str) or not path:
        return None
    from gradio.utils import get_upload_folder

    p = Path(path).resolve()
    roots = (Path(get_upload_folder()).resolve(),) + tuple(Path(r).resolve() for r in extra_roots)
    return str(p) if p.is_file() and any(p.is_relative_to(r) for r in roots) else None


def clean_settings(stored: Any) -> dict[str, Any]:
    """Stored settings with the right types; unknown or broken entries are dropped."""
    out: dict[str, Any] = {}
    for name, value in (stored if isinstance(stored, dict) else {}).items():
        cast = _SETTING_TYPES.get(name)
        if cast is None or value is None:
            continue
        try:
            out[name] = cast(value) if cast is not str else str(value)[:500]
        except (TypeError, ValueError):
            continue
    return out
