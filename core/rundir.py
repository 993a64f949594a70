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

TERMINAL_STATES = ("finished", "failed", "cancelled")


def write_json(path: Path, value: Any) -> None:
    """Write then rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value, indent=2), encoding="utf-8")
    os.replace(tmp, path)


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
    (Path(run_dir) / STOP).write_text(str(time.time()), encoding="utf-8")


def stop_requested(run_dir: Path) -> bool:
    return (Path(run_dir) / STOP).exists()


def clear_stop(run_dir: Path) -> None:
    (Path(run_dir) / STOP).unlink(missing_ok=True)
