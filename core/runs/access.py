"""Who may see a run, and what a shared server refuses.

On your own machine (no SPACE_ID, no TEXTCLF_PRIVATE_RUNS) every run in the runs folder is yours. On a shared server
(a Space, where strangers use one app) a run belongs to the identity that created it, and that identity comes from the
server, never from a parameter:
- a browser holds an owner key the server issued: a random owner id signed with a secret that never leaves the server
  (`runs/.server_secret`, or TEXTCLF_SERVER_SECRET), so a client cannot forge one and no endpoint reveals one;
- an API client gets such a key from its first /train and passes it back (`key=`) to reach its runs again;
- a visitor signed in with Hugging Face also owns the runs of `hf:<username>`.
A stranger's run answers exactly like a run that does not exist, so run ids cannot be probed.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.runs import rundir
from core.runs.rundir import RunDir
from core.config import DEFAULT_MODEL
from core.errors import UserError

SECRET_FILE = ".server_secret"
_KEY_RE = re.compile(r"^(?P<owner>[a-z]{1,2}-[0-9a-f]{32})\.(?P<sig>[0-9a-f]{32})$")
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")
_secrets: dict[str, bytes] = {}  # per runs folder, read once


def shared_server() -> bool:
    """Whether strangers share this server: on a Space (SPACE_ID), or when TEXTCLF_PRIVATE_RUNS=1 asks for it."""
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("TEXTCLF_PRIVATE_RUNS", "").strip() not in ("", "0")


# ----- owner keys -----------------------------------------------------------------------------------------------

def server_secret(root: Path) -> bytes:
    """The signing secret: TEXTCLF_SERVER_SECRET, else a file in the runs folder (0600) so keys survive a restart.
    It is only ever read by the server: nothing sends it to a page or an API client."""
    env = os.environ.get("TEXTCLF_SERVER_SECRET", "")
    if env:
        return env.encode()
    cache_key = str(Path(root).resolve())
    if cache_key in _secrets:
        return _secrets[cache_key]
    path = Path(root) / SECRET_FILE
    try:
        value = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        if not value:
            path.parent.mkdir(parents=True, exist_ok=True, mode=rundir.DIR_MODE)  # a new runs folder: 0700
            rundir.write_text(path, secrets.token_hex(32))
            value = path.read_text(encoding="utf-8").strip()
    except OSError:  # a read-only disk: keys then last as long as this server process
        value = secrets.token_hex(32)
    _secrets[cache_key] = value.encode()
    return _secrets[cache_key]


def _sign(owner: str, root: Path) -> str:
    return hmac.new(server_secret(root), owner.encode(), hashlib.sha256).hexdigest()[:32]


def new_key(root: Path, kind: str) -> str:
    """A fresh owner and the key that proves it: '<kind>-<32 hex>.<signature>' (kind 'b' browser, 'k' API)."""
    owner = f"{kind}-{secrets.token_hex(16)}"
    return f"{owner}.{_sign(owner, root)}"


def owner_of_key(key: Any, root: Path) -> str | None:
    """The owner a key proves, or None for anything the server did not sign."""
    match = _KEY_RE.match(key.strip()) if isinstance(key, str) else None
    if not match:
        return None
    owner = match["owner"]
    return owner if hmac.compare_digest(match["sig"], _sign(owner, root)) else None


@dataclass(frozen=True)
class Caller:
    """Who is asking: every owner identity the request proved. New runs belong to the first."""

    owners: tuple[str, ...] = ()
    key: str = ""  # the owner key this caller proved itself with (a browser keeps it); never logged or written

    @property
    def owner(self) -> str:
        return self.owners[0] if self.owners else ""

    def owns(self, run_owner: Any) -> bool:
        return not shared_server() or (bool(run_owner) and run_owner in self.owners)


def hub_user_owner(username: str | None) -> str | None:
    return f"hf:{username}" if username else None


# ----- runs a caller may reach ----------------------------------------------------------------------------------

def no_run(run_id: str) -> UserError:
    return UserError(f"There is no run '{run_id}'.")


def run_owner(run_dir: Path) -> str:
    return RunDir(run_dir).owner()


def find_run(run_id: Any, caller: Caller, root: Path) -> Path:
    """A run id from the outside (API, page) -> its folder, only if the caller owns it. A stranger's run and a
    missing one get the same sentence, so ids cannot be probed."""
    text = str(run_id or "").strip()
    name = text.rstrip("/").rsplit("/", 1)[-1]  # only the last name counts: never a path
    if not _RUN_ID_RE.match(name) or name in (".", ".."):
        raise UserError("That run id is not valid.")
    path = Path(root) / name
    if not RunDir(path).is_run() or not caller.owns(run_owner(path)):
        raise no_run(name)
    return path


def may_open(run_dir: Any, caller: Caller, root: Path) -> str | None:
    """run_dir (as given) if it is a run of this runs folder that the caller owns, else None."""
    if not run_dir or not isinstance(run_dir, str):
        return None
    path = Path(run_dir)
    try:
        inside = path.resolve().parent == Path(root).resolve() and RunDir(path).is_run()
    except OSError:
        return None
    return run_dir if inside and caller.owns(run_owner(path)) else None


def visible_owners(caller: Caller) -> tuple[str, ...] | None:
    """The owners whose runs this caller lists: None means every run (your own machine)."""
    return caller.owners if shared_server() else None


# ----- limits on a shared server --------------------------------------------------------------------------------

def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default


@dataclass(frozen=True)
class Limits:
    """What one visitor and the whole server may use at once. Enforced on a shared server; each is an env var."""

    upload_mb: int = 200  # TEXTCLF_MAX_UPLOAD_MB
    runs_per_owner: int = 2  # TEXTCLF_MAX_RUNS_PER_OWNER: queued or training at once
    runs_in_total: int = 8  # TEXTCLF_MAX_ACTIVE_RUNS: queued or training at once, everyone together
    name_length: int = 100  # run names
    # TEXTCLF_MAX_DATASET_MB: a Hub dataset's data files, as stored (Parquet is ~3-5x smaller than the same CSV): 500 MB
    # of Parquet is some millions of short texts, about what the 200 MB upload allows as CSV.
    dataset_mb: int = 500

    @classmethod
    def from_env(cls) -> "Limits":
        d = cls()
        return cls(upload_mb=_env_int("TEXTCLF_MAX_UPLOAD_MB", d.upload_mb),
                   runs_per_owner=_env_int("TEXTCLF_MAX_RUNS_PER_OWNER", d.runs_per_owner),
                   runs_in_total=_env_int("TEXTCLF_MAX_ACTIVE_RUNS", d.runs_in_total),
                   dataset_mb=_env_int("TEXTCLF_MAX_DATASET_MB", d.dataset_mb))


def upload_limit() -> str | None:
    """Gradio's max_file_size: on a shared server (or when TEXTCLF_MAX_UPLOAD_MB is set), else none."""
    if shared_server() or os.environ.get("TEXTCLF_MAX_UPLOAD_MB"):
        return f"{Limits.from_env().upload_mb}mb"
    return None


def check_limits(caller: Caller, active: list[str], run_name: str = "", limits: Limits | None = None) -> None:
    """Refuse a new run past the limits, with one sentence; `active` holds the owner of each run queued or training
    (core.runs.launcher.check_can_start counts them). Only on a shared server."""
    if not shared_server():
        return
    limits = limits or Limits.from_env()
    if len(run_name or "") > limits.name_length:
        raise UserError(f"The run name is too long: use at most {limits.name_length} characters.")
    mine = sum(1 for owner in active if caller.owns(owner))
    if mine >= limits.runs_per_owner:
        raise UserError(f"You already have {mine} run{'s' if mine != 1 else ''} queued or training: wait for one to "
                        "finish or stop it, then start the next.")
    if len(active) >= limits.runs_in_total:
        raise UserError(f"The server is busy: {len(active)} runs are queued or training. Try again when one has "
                        "finished.")


SHARED_MODEL_MESSAGE = ("On this shared server the base model must be the default, a Hugging Face Hub id or the model "
                        "of one of your own runs.")


def looks_like_path(name: str) -> bool:
    """A model choice that names a folder rather than a Hub id ('org/model' or 'model')."""
    return name.startswith((".", "/", "~", "\\")) or "\\" in name or ".." in name or name.count("/") > 1


def check_model(name: str, caller: Caller, root: Path) -> None:
    """On a shared server a base model is the default, a Hub id, or the saved model of a run the caller owns.
    Any other folder gets one sentence that does not say whether it exists."""
    name = (name or "").strip()
    if not shared_server() or not name or name == DEFAULT_MODEL:
        return
    if not looks_like_path(name):
        if Path(name).exists():  # a folder next to the app with a Hub-like name: never read from disk
            raise UserError(SHARED_MODEL_MESSAGE)
        return
    try:
        path = Path(name).expanduser().resolve()
        root_path = Path(root).resolve()
    except (OSError, RuntimeError):
        raise UserError(SHARED_MODEL_MESSAGE) from None
    if path.parent.parent != root_path or path != RunDir(path.parent).model_dir or not caller.owns(run_owner(path.parent)):
        raise UserError(SHARED_MODEL_MESSAGE)
