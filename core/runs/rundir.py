"""A run directory: `RunDir` is the only code that knows its layout, reads and writes its files, and decides which
process writes (shared by the web server, the CLI and the training child)."""
from __future__ import annotations

import json
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from core.artefacts import DataReport
from core.config import TrainConfig

if TYPE_CHECKING:
    import pandas as pd


class RunState(StrEnum):
    """A run's state. A str, so status.json and every comparison with the plain word are unchanged."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # never written: a dead process read back (core/runs/launcher.py)


# The endings a training process records: each is also the type of the run's last event (core/runs/events.py).
ENDINGS = frozenset({RunState.FINISHED, RunState.CANCELLED, RunState.FAILED})
ACTIVE_STATES = frozenset({RunState.QUEUED, RunState.RUNNING})
# Nothing more happens without the user: an ending, or a process that died.
OVER_STATES = ENDINGS | {RunState.INTERRUPTED}
RESUMABLE_STATES = frozenset({RunState.CANCELLED, RunState.INTERRUPTED, RunState.FAILED})


def as_state(value: Any) -> RunState | Any:
    """A state read from a file or an event as a RunState; anything else unchanged (a newer version's word)."""
    try:
        return RunState(value)
    except ValueError:
        return value


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


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # missing, unreadable or half-written: the caller's default
        return default


def make_private_dir(path: Path) -> None:
    """Create a folder (and its parents) readable by this user only; an existing one is an error."""
    Path(path).parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)  # a new runs folder too
    Path(path).mkdir(mode=DIR_MODE)
    os.chmod(path, DIR_MODE)  # mkdir's mode is masked by the umask; never looser than 0700


class RunDir:
    """One run's folder. A reader (`writes=False`: every rank but the first of a multi-process job) sees the same
    files, and its writes do nothing, so code shared by all ranks needs no test of its own for who writes."""

    RUN_INFO = "run.json"
    CONFIG = "config.json"
    LABELS = "labels.json"
    STATUS = "status.json"
    EVENTS = "events.jsonl"
    STOP = "STOP"
    TRAIN_DATA = "data/train.parquet"
    VALIDATION_DATA = "data/validation.parquet"
    TEST_DATA = "data/test.parquet"
    REPORT = "data_report.json"
    BASELINE = "baseline.json"
    CHECKPOINTS = "checkpoints/"
    MODEL = "model/"
    METRICS = "metrics.json"
    TEST_METRICS = "test_metrics.json"
    PREDICTIONS = "validation_predictions.csv"
    LOG = "train.log"
    TENSORBOARD = "tensorboard/"
    HUB = "hub.json"
    EXPORTS = "exports/"
    # Everything a run may hold, in the order the README's table lists it (a test compares the two).
    LAYOUT = (CONFIG, RUN_INFO, LABELS, TRAIN_DATA, VALIDATION_DATA, TEST_DATA, TEST_METRICS, REPORT, BASELINE,
              EVENTS, STATUS, STOP, CHECKPOINTS, MODEL, METRICS, PREDICTIONS, LOG, TENSORBOARD, HUB, EXPORTS)

    def __init__(self, path: Path | str, writes: bool = True) -> None:
        self.path = Path(path)
        self.writes = writes

    @classmethod
    def of(cls, run: Path | str | RunDir) -> RunDir:
        """A RunDir as given (keeping whether it writes), or a writing one for a path."""
        return run if isinstance(run, RunDir) else cls(run)

    @classmethod
    def for_process(cls, path: Path | str) -> RunDir:
        """The run as this process of a training job sees it: under torchrun/accelerate (RANK set) only rank 0
        writes; a lone process always does."""
        return cls(path, writes=int(os.environ.get("RANK", "0") or 0) == 0)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r}, writes={self.writes})"

    def __fspath__(self) -> str:
        return str(self.path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def name(self) -> str:
        """The folder's name, which is the run id."""
        return self.path.name

    def file(self, name: str) -> Path:
        """The path of one of LAYOUT's entries (the model folder, the checkpoints folder ...)."""
        return self.path / name.rstrip("/")

    # ----- paths ---------------------------------------------------------------------------------------------
    info_file = property(lambda self: self.file(self.RUN_INFO))
    config_file = property(lambda self: self.file(self.CONFIG))
    labels_file = property(lambda self: self.file(self.LABELS))
    status_file = property(lambda self: self.file(self.STATUS))
    events_file = property(lambda self: self.file(self.EVENTS))
    stop_file = property(lambda self: self.file(self.STOP))
    data_dir = property(lambda self: self.file(self.TRAIN_DATA).parent)
    train_data = property(lambda self: self.file(self.TRAIN_DATA))
    validation_data = property(lambda self: self.file(self.VALIDATION_DATA))
    test_data = property(lambda self: self.file(self.TEST_DATA))
    report_file = property(lambda self: self.file(self.REPORT))
    baseline_file = property(lambda self: self.file(self.BASELINE))
    checkpoints_dir = property(lambda self: self.file(self.CHECKPOINTS))
    model_dir = property(lambda self: self.file(self.MODEL))
    metrics_file = property(lambda self: self.file(self.METRICS))
    test_metrics_file = property(lambda self: self.file(self.TEST_METRICS))
    predictions_file = property(lambda self: self.file(self.PREDICTIONS))
    log_file = property(lambda self: self.file(self.LOG))
    tensorboard_dir = property(lambda self: self.file(self.TENSORBOARD))
    hub_file = property(lambda self: self.file(self.HUB))
    exports_dir = property(lambda self: self.file(self.EXPORTS))
    # The model is written beside its final place and renamed into it (core/engine/final_files.py).
    model_tmp_dir = property(lambda self: self.path / ".model.tmp")
    model_old_dir = property(lambda self: self.path / ".model.old")

    # ----- what the run is -----------------------------------------------------------------------------------
    def is_run(self) -> bool:
        """A folder is a run (listed, openable) once run.json exists: it is written last."""
        return self.info_file.is_file()

    def info(self) -> dict[str, Any]:
        """run.json: run_id, name, owner, created ({} when missing)."""
        info = read_json(self.info_file, {})
        return info if isinstance(info, dict) else {}

    def display_name(self) -> str:
        return str(self.info().get("name") or self.name)

    def owner(self) -> str:
        """The signed owner id from run.json; empty for a CLI run."""
        return str(self.info().get("owner") or "")

    def config(self) -> TrainConfig | None:
        stored = self.config_dict()
        return TrainConfig.from_dict(stored) if stored else None

    def config_dict(self) -> dict[str, Any]:
        """config.json as stored ({} when missing): lists and comparisons read it without validating it."""
        stored = read_json(self.config_file, {})
        return stored if isinstance(stored, dict) else {}

    def stored_labels(self) -> Any:
        """labels.json as stored (None when missing): a plain list (single-label, every run so far) or another task
        kind's {"task", "labels", ...}; core.tasks.read_labels turns it into (kind, labels)."""
        return read_json(self.labels_file)

    def labels(self) -> list[str] | None:
        """Label names in id order; None when labels.json is missing."""
        labels = self.stored_labels()
        if isinstance(labels, dict):
            labels = labels.get("labels")
        return [str(x) for x in labels] if isinstance(labels, list) else None

    def report(self) -> DataReport | None:
        report = read_json(self.report_file)
        return DataReport.from_json(report) if isinstance(report, dict) else None

    def baseline(self) -> dict[str, Any] | None:
        baseline = read_json(self.baseline_file)
        return baseline if isinstance(baseline, dict) else None

    def metrics(self) -> dict[str, Any] | None:
        metrics = read_json(self.metrics_file)
        return metrics if isinstance(metrics, dict) else None

    def test_metrics(self) -> dict[str, Any] | None:
        metrics = read_json(self.test_metrics_file)
        return metrics if isinstance(metrics, dict) else None

    def hub(self) -> dict[str, Any]:
        """hub.json: repo_id, url and private of the last successful push ({} before one)."""
        hub = read_json(self.hub_file, {})
        return hub if isinstance(hub, dict) else {}

    def predictions(self) -> pd.DataFrame | None:
        """validation_predictions.csv with its texts and labels as strings; None before the run finished."""
        import pandas as pd  # only readers of a finished run pay for pandas

        if not self.predictions_file.exists():
            return None
        # keep_default_na=False: a text or label such as "NA" or "None" stays a string.
        table = pd.read_csv(self.predictions_file, keep_default_na=False,
                            dtype={"text": str, "label": str, "predicted": str})
        table["confidence"] = pd.to_numeric(table["confidence"], errors="coerce")
        return table

    def has_model(self) -> bool:
        return (self.model_dir / "config.json").exists()

    def model_config(self) -> dict[str, Any]:
        """The trained model's config.json ({} without a model)."""
        stored = read_json(self.model_dir / "config.json", {})
        return stored if isinstance(stored, dict) else {}

    def has_checkpoint(self) -> bool:
        return any(self.checkpoints_dir.glob("checkpoint-*"))

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    # ----- writes (a reader's do nothing) --------------------------------------------------------------------
    def write_json(self, name: str, value: Any) -> None:
        """One of LAYOUT's JSON files, atomically and 0600."""
        if self.writes:
            write_json(self.file(name), value)

    def create(self) -> None:
        """The run folder and its data folder, 0700; an existing folder is an error."""
        if self.writes:
            make_private_dir(self.path)
            make_private_dir(self.data_dir)

    def write_report(self, report: DataReport) -> None:
        self.write_json(self.REPORT, report.to_json())

    def write_config(self, config: TrainConfig) -> None:
        self.write_json(self.CONFIG, config.to_dict())

    def write_info(self, info: dict[str, Any]) -> None:
        self.write_json(self.RUN_INFO, info)

    def rename(self, name: str) -> None:
        self.write_info({**self.info(), "name": name})

    def write_parquet(self, name: str, frame: pd.DataFrame) -> None:
        if self.writes:
            frame.to_parquet(self.file(name), index=False)
            os.chmod(self.file(name), FILE_MODE)

    def write_status(self, state: RunState, pid: int | None = None, **extra: Any) -> None:
        """The run's state; with a pid also that process's start time, which tells it apart from a later process
        that gets the same pid."""
        if not self.writes:
            return
        started = None
        if pid is not None:
            import psutil  # the training child's start-up: psutil is needed only once it writes its pid

            try:
                started = psutil.Process(pid).create_time()
            except psutil.Error:
                pass
        self.write_json(self.STATUS, {"state": RunState(state), "pid": pid, "pid_started": started,
                                      "updated": time.time(), **extra})

    def read_status(self) -> dict[str, Any]:
        """status.json as written, its state a RunState; queued when there is none yet."""
        current = read_json(self.status_file, default=None)
        if not isinstance(current, dict):
            current = {"state": RunState.QUEUED, "pid": None, "updated": 0.0}
        return {**current, "state": as_state(current.get("state"))}

    def request_stop(self) -> None:
        """Asked by whoever presses Stop (never the training job itself), so any process may ask."""
        write_text(self.stop_file, str(time.time()))

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    def clear_stop(self) -> None:
        if self.writes:
            self.stop_file.unlink(missing_ok=True)

    def append_event(self, event_type: str, **fields: Any) -> dict[str, Any]:
        """Append one event; a single write of one line so a reader never sees half an object."""
        event = {"type": event_type, "time": time.time(), **fields}
        if self.writes:
            with open(self.events_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")
        return event

    def events(self) -> list[dict[str, Any]]:
        """All complete events; a trailing partial line (a writer mid-append) is ignored."""
        if not self.events_file.exists():
            return []
        events = []
        for line in self.events_file.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return events

    def open_log(self) -> IO[str]:
        """train.log for appending, created 0600; a reader's output goes nowhere."""
        if not self.writes:
            return open(os.devnull, "a", encoding="utf-8")
        fd = os.open(self.log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        return os.fdopen(fd, "a", encoding="utf-8")
