"""File names and small atomic reads/writes inside a run directory (shared by the parent and the training child)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

CONFIG = "config.json"
RUN_INFO = "run.json"
LABELS = "labels.json"
STATUS = "status.json"
STOP = "STOP"
REPORT = "data_report.json"
BASELINE = "baseline.json"
METRICS = "metrics.json"
PREDICTIONS = "validation_predictions.csv"
LOG = "train.log"
MODEL = "model"
CHECKPOINTS = "checkpoints"
TRAIN_DATA = "data/train.parquet"
VALIDATION_DATA = "data/validation.parquet"
TEST_DATA = "data/test.parquet"
TEST_METRICS = "test_metrics.json"

TERMINAL_STATES = ("finished", "failed", "cancelled")


# A run holds the user's data: its folders are 0700 and its files 0600, whatever the process umask.
DIR_MODE = 0o700
FILE_MODE = 0o600


def write_text(path: Path, text: str) -> None:
    """Write then rename, so a reader never sees half a file; readable by this user only."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(path: Path, value: Any) -> None:
    write_text(path, json.dumps(value, indent=2))


def make_private_dir(path: Path) -> None:
    """Create a run folder (and its parents) readable by this user only; an existing one is an error."""
    Path(path).parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)  # a new runs folder too
    Path(path).mkdir(mode=DIR_MODE)
    os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask; never looser than 0700


def open_log(run_dir: Path) -> Any:
    """train.log for appending, created 0600."""
    fd = os.open(Path(run_dir) / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    return os.fdopen(fd, "a", encoding="utf-8")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or half-written: the caller's default
        return default


def write_status(run_dir: Path, state: str, pid: int | None = None, **extra: Any) -> None:
    """The run's state; with a pid also that process's start time, which tells it apart from a later process that
    gets the same pid."""
    started = None
    if pid is not None:
        import psutil

        try:
            started = psutil.Process(pid).create_time()
        except psutil.Error:
            pass
    write_json(Path(run_dir) / STATUS, {"state": state, "pid": pid, "pid_started": started, "updated": time.time(),
                                         **extra})


def read_status(run_dir: Path) -> dict[str, Any]:
    return read_json(Path(run_dir) / STATUS, default={"state": "queued", "pid": None, "updated": 0.0})


def request_stop(run_dir: Path) -> None:
    write_text(Path(run_dir) / STOP, str(time.time()))


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP).exists()


def clear_stop(run_dir: Path) -> None:
    (Path(run_dir) / STOP).unlink(missing_ok=True)
