"""Where the app runs and what one visitor may use there: a shared server (a Space) enforces explicit limits.

Kept apart from core/runs/access.py (who may open which run) because the data layer asks too: a Hub dataset's size
limit and whether a dataset id may name a folder.
"""
import os
from dataclasses import dataclass


def shared_server() -> bool:
    """Whether strangers share this server: on a Space (SPACE_ID), or when TEXTCLF_PRIVATE_RUNS=1 asks for it."""
    return bool(os.environ.get("SPACE_ID")) or os.environ.get("TEXTCLF_PRIVATE_RUNS", "").strip() not in ("", "0")


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
