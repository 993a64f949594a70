"""Who is asking (a browser session or an API client), and which run it looked at last.

Identity is established by the server (core/runs/access.py): a browser keeps an owner key the server signed in its
localStorage (gr.BrowserState); a visitor signed in with Hugging Face also owns the runs of `hf:<username>`; an API
client passes back the key its first /train returned. On your own machine every run in the runs folder is yours.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from core import limits
from core.runs import access
from core.runs.access import Caller
from core.errors import UserError
from core.runs.launcher import list_runs, runs_root as core_runs_root
from ui import settings

STORAGE_KEY = "textclf-session-v2"
# gr.BrowserState encrypts in the page with this value, which Gradio sends to every visitor: it protects nothing and
# is no secret. What makes a stored owner key trustworthy is the server's signature inside it (core/runs/access.py).
BROWSER_STORAGE_PASSPHRASE = "text-classifier-studio"


def runs_root() -> Path:
    return Path(core_runs_root())


def make_browser_state(root: Path) -> gr.BrowserState:
    return gr.BrowserState({"key": "", "last_run": ""}, storage_key=STORAGE_KEY, secret=BROWSER_STORAGE_PASSPHRASE)


def resolve_session(stored: Any, root: Path) -> dict[str, str]:
    """The stored {"key", "last_run"} made valid: a new signed key when the browser has none the server signed."""
    stored = stored if isinstance(stored, dict) else {}
    key = stored.get("key")
    last_run = stored.get("last_run") or ""
    if access.owner_of_key(key, root) is None:
        key, last_run = access.new_key(root, "b"), ""
    return {"key": key, "last_run": last_run if isinstance(last_run, str) else ""}


def browser_caller(key: str, root: Path, username: str | None = None) -> Caller:
    """A browser session: its signed key's owner, and the signed-in Hub user first (new runs are theirs) if any."""
    owners = tuple(o for o in (access.hub_user_owner(username), access.owner_of_key(key, root)) if o)
    return Caller(owners=owners, key=key)


UNKNOWN_KEY_MESSAGE = "That key was not issued by this server: leave it empty to get a new one."


def api_caller(key: str, root: Path, request: gr.Request | None = None, mint: bool = False) -> Caller:
    """An API client: the owner its key proves (a new key when `mint` and it has none), and a signed-in Hub user."""
    owner = access.owner_of_key(key, root)
    if owner is None and mint and (key or "").strip():
        raise UserError(UNKNOWN_KEY_MESSAGE)  # a mistyped key would otherwise start a second, separate identity
    if owner is None and mint:
        key = access.new_key(root, "k")
        owner = access.owner_of_key(key, root)
    username = getattr(request, "username", None) if request is not None else None
    owners = tuple(o for o in (owner, access.hub_user_owner(username if isinstance(username, str) else None)) if o)
    return Caller(owners=owners, key=key if owner else "")


def run_dir_for(run_id: str, caller: Caller, root: Path) -> Path:
    """A run id from the outside -> its folder, only for its owner (core.runs.access.find_run)."""
    return access.find_run(run_id, caller, root)


def runs_are_private() -> bool:
    """Whether each visitor sees only their own runs: on a Space (SPACE_ID is set), or when TEXTCLF_PRIVATE_RUNS=1
    asks for it on a shared server. On your own machine a run from the CLI, from yesterday's browser or from a
    cleared localStorage is still yours, so the Runs step lists every run in the folder."""
    return limits.shared_server()


def visible_runs(caller: Caller | None, root: Path) -> list[Any]:
    """The runs this caller may list and open, newest first."""
    if caller is None or (runs_are_private() and not caller.owners):
        return []
    return list_runs(root, owner=access.visible_owners(caller))


def run_of_id(run_id: Any, caller: Caller | None, root: Path) -> str | None:
    """The folder of a run id the page sent (the Runs step's choices carry ids, never server paths), only for a run
    this caller may open (core.runs.access.find_run); else None."""
    if caller is None:
        return None
    try:
        return str(access.find_run(run_id, caller, root))
    except UserError:
        return None


def owned_run(run_dir: str | None, caller: Caller | None, root: Path) -> str | None:
    """run_dir if it is a run of this runs folder that this caller may open."""
    if caller is None:
        return None
    return access.may_open(run_dir, caller, root)


# ----- the user's last data file and settings (restored after a reload) -----------------------------------------

SETTINGS_KEY = "textclf-settings-v2"
SETTING_NAMES = settings.NAMES
_SETTING_TYPES = {**{s.name: s.kind for s in settings.SETTINGS}, "text_column": str, "label_column": str}


def make_settings_state(root: Path) -> gr.BrowserState:
    return gr.BrowserState({}, storage_key=SETTINGS_KEY, secret=BROWSER_STORAGE_PASSPHRASE)


NOT_UPLOADED_MESSAGE = "The data file was not uploaded to this server: send the table itself (handle_file in gradio_client)."


def uploaded_file(data_file: Any) -> str:
    """The path of a table an API client uploaded. gr.api hands over whatever path the request names, so anything that
    is not a file in Gradio's upload folder (a server path, a folder) is refused, with one sentence that does not say
    whether that path exists."""
    raw = data_file.get("path") if isinstance(data_file, dict) else getattr(data_file, "path", data_file)
    if not raw or not isinstance(raw, str):
        raise UserError("Choose a data file to train on.")
    path = restorable_file(raw)
    if path is None:
        raise UserError(NOT_UPLOADED_MESSAGE)
    return path


def restorable_file(path: Any, extra_roots: tuple[Path, ...] = ()) -> str | None:
    """A stored data path is given back only if it is still an uploaded file (Gradio's upload folder) or an example:
    localStorage is the browser's, so it must never name an arbitrary file on the server."""
    if not isinstance(path, str) or not path:
        return None
    from gradio.utils import get_upload_folder

    p = Path(path).resolve()
    roots = (Path(get_upload_folder()).resolve(),) + tuple(Path(r).resolve() for r in extra_roots)
    return str(p) if p.is_file() and any(p.is_relative_to(r) for r in roots) else None


def restorable_dataset(path: Any) -> str | None:
    """A stored `hf://` dataset is given back only if it could be typed in the dataset box now: on a shared server a
    Hub id (never a folder), on your own machine an id or a folder that is there. Nothing is downloaded here."""
    from core.data import hub_datasets
    from core.errors import DataError

    if not isinstance(path, str) or not path.startswith(hub_datasets.PREFIX) or len(path) > 500:
        return None
    try:
        hub_datasets.resolve(path)
    except DataError:
        return None
    return path


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
