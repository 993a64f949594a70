"""Push a trained run to the Hugging Face Hub: token resolution, repo checks first, then one folder upload.

The token only ever lives in function arguments: it is never written to a file, a log line, or an error message.
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from core.errors import UserError
from core.publish.modelcard import IGNORE_PATTERNS, export_name, prepare_export
from core.runs.rundir import RunDir

NO_TOKEN_MESSAGE = "No Hugging Face token: paste a token with write access, or set HF_TOKEN."
# Only where the page shows a "Sign in with Hugging Face" button (a Space with OAuth); ui/publish_tab.py decides.
NO_TOKEN_SIGN_IN_MESSAGE = (
    "No Hugging Face token: sign in with Hugging Face, paste a token with write access, or set HF_TOKEN."
)
OFFLINE_MESSAGE = "The Hugging Face Hub cannot be reached: the app runs offline (HF_HUB_OFFLINE is set)."
NETWORK_MESSAGE = "Could not reach the Hugging Face Hub: check the internet connection and try again."
BAD_TOKEN_MESSAGE = "The Hugging Face token was rejected: check that it is correct and has not expired."
_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,94}$")


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    url: str
    private: bool
    folder: Path


def _api() -> Any:
    from huggingface_hub import HfApi

    return HfApi()


def resolve_token(explicit: str | None = None, oauth_token: str | None = None) -> str | None:
    """The token to use: one typed in the app > the 'Sign in with Hugging Face' token > the HF_TOKEN variable."""
    for candidate in (explicit, oauth_token, os.environ.get("HF_TOKEN")):
        if candidate and candidate.strip():
            return candidate.strip()
    return None


def _status(error: BaseException) -> int | None:
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def hub_message(error: BaseException, repo_id: str = "") -> str:
    """One sentence the user can act on, for any error huggingface_hub or the network raises."""
    from huggingface_hub.errors import HFValidationError, OfflineModeIsEnabled, RepositoryNotFoundError

    repo = f"'{repo_id}'" if repo_id else "the repository"
    status = _status(error)
    if isinstance(error, OfflineModeIsEnabled):
        return OFFLINE_MESSAGE
    if isinstance(error, HFValidationError):
        return f"{repo} is not a valid repository name: use letters, digits, '-', '_' or '.', like 'user/my-model'."
    if status == 401:
        return BAD_TOKEN_MESSAGE
    if status == 403:
        return f"This token cannot write to {repo}: use a token with write access to that account or organisation."
    if status == 409:
        return f"The name {repo} is already taken by another repository type or user: choose another name."
    if isinstance(error, RepositoryNotFoundError) or status == 404:
        return f"{repo} was not found or this token has no access to it: check the name and the token's permissions."
    if status == 429:
        return "The Hugging Face Hub is rate-limiting requests: wait a minute and try again."
    if status is not None and status >= 500:
        return "The Hugging Face Hub had a server error: try again in a few minutes."
    if _is_network_error(error):
        return NETWORK_MESSAGE
    # Unknown: say what kind of failure without echoing the error text (it could contain request headers).
    return f"Pushing to the Hugging Face Hub failed ({error.__class__.__name__}): the model is still saved locally."


def _is_network_error(error: BaseException) -> bool:
    try:
        import httpx2 as httpx  # huggingface_hub 2.x's HTTP client
    except ImportError:  # pragma: no cover - older huggingface_hub
        import httpx  # type: ignore[no-redef]
    return isinstance(error, (ConnectionError, TimeoutError, httpx.TransportError))


@contextlib.contextmanager
def _hub_errors(repo_id: str = "") -> Iterator[None]:
    """Turn every Hub/network failure into a UserError; `from None` keeps the original (and its headers) out of logs."""
    try:
        yield
    except UserError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure becomes a message; the local model is untouched
        raise UserError(hub_message(e, repo_id)) from None


def whoami(token: str, api: Any = None) -> str:
    """The Hub user name the token belongs to."""
    api = api or _api()
    with _hub_errors():
        info = api.whoami(token=token)
    name = info.get("name") if isinstance(info, dict) else None
    if not name:
        raise UserError(BAD_TOKEN_MESSAGE)
    return str(name)


def default_repo_id(username: str, run_dir: Path | str) -> str:
    """<user>/<run-name> with the run name made Hub-safe."""
    return f"{username}/{export_name(run_dir)[:96]}"


def normalise_repo_id(repo_id: str | None, username: str, run_dir: Path | str) -> str:
    """Fill in the default and the user's namespace; reject names the Hub would refuse, before any upload."""
    repo_id = (repo_id or "").strip().strip("/")
    if not repo_id:
        return default_repo_id(username, run_dir)
    check_repo_name(repo_id)
    return repo_id if "/" in repo_id else f"{username}/{repo_id}"


def check_repo_name(repo_id: str) -> None:
    """Refuse a name the Hub would refuse, as typed ('name' or 'user/name'); needs no network or token."""
    parts = repo_id.split("/")
    if len(parts) > 2 or not all(_REPO_NAME.match(p) for p in parts) or ".." in repo_id or repo_id.endswith(".git"):
        raise UserError(
            f"'{repo_id}' is not a valid repository name: use letters, digits, '-', '_' or '.', like 'user/my-model'."
        )


def push_to_hub(
    run_dir: Path | str,
    repo_id: str | None = None,
    private: bool = True,
    token: str | None = None,
    oauth_token: str | None = None,
    api: Any = None,
) -> PushResult:
    """Check the token, create the repo (or reuse it), check write access, then upload exactly the export folder.

    Order matters: nothing is uploaded until the repo is known to be writable. A push writes only the model card
    (README.md) into the local model folder, before uploading it, and never removes or changes the model itself, so a
    failed push never loses it.
    """
    if (repo_id or "").strip().strip("/"):
        check_repo_name(repo_id.strip().strip("/"))  # first: a typo is fixable without a token or a network
    token = resolve_token(token, oauth_token)
    if not token:
        raise UserError(NO_TOKEN_MESSAGE)
    api = api or _api()
    run_dir = Path(run_dir)
    username = whoami(token, api)
    repo_id = normalise_repo_id(repo_id, username, run_dir)
    folder = prepare_export(run_dir, repo_id)
    with _hub_errors(repo_id):
        api.create_repo(repo_id, token=token, private=private, repo_type="model", exist_ok=True)
        api.auth_check(repo_id, repo_type="model", token=token, write=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(folder),
            repo_type="model",
            token=token,
            commit_message="Upload text classifier trained with the no-code app",
            ignore_patterns=list(IGNORE_PATTERNS),
        )
    result = PushResult(repo_id=repo_id, url=f"https://huggingface.co/{repo_id}", private=private, folder=folder)
    # Remembered so later zips carry the same card; only public facts, never the token.
    RunDir(run_dir).write_json(RunDir.HUB, {"repo_id": repo_id, "url": result.url, "private": private})
    return result
