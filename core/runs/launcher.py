"""Create, start, stop, resume and list runs. Everything about a run is read back from its directory."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import limits
from core.runs import access, gpus, warm_child
from core.config import TrainConfig, tracker_problem
from core.errors import UserError, is_disk_full
from core.runs.events import RunView, fold
from core.runs.rundir import ACTIVE_STATES, ENDINGS, OVER_STATES, RESUMABLE_STATES, RunDir, RunState
from core.data.check import check

# A queued run whose child never wrote its pid within this time is treated as dead.
SPAWN_GRACE_SECONDS = 120
DISK_FULL_MESSAGE = "The disk is full: free some space and start again."
_children: dict[str, subprocess.Popen] = {}  # reaped on status() so dead children are not zombies
_exit_codes: dict[str, int] = {}  # how this process's children ended, to explain an interrupted run


def interrupted_message(killed: bool, has_checkpoint: bool) -> str:
    """Why a run's process is gone and what Resume will do. The kernel's out-of-memory killer ends a process with
    SIGKILL, the usual way a too-large batch ends a CPU run; short runs write no checkpoint (core/engine/checkpoints.py)."""
    resume = ("Resume continues from the last checkpoint" if has_checkpoint
              else "Resume starts the run again from the beginning (it ended before its first checkpoint)")
    if killed:
        return (f"The training process was killed, most likely because the machine ran out of memory. {resume}; if "
                "it happens again, start a new run with a smaller batch size or max length.")
    return f"The training process ended unexpectedly. {resume}."


PERSISTENT_STORAGE = Path("/data")  # where a Hugging Face Space mounts its persistent storage


def persistent_storage() -> Path | None:
    """/data on a Space that has persistent storage (it exists and is writable); None elsewhere."""
    root = PERSISTENT_STORAGE
    if os.environ.get("SPACE_ID") and root.is_dir() and os.access(root, os.W_OK):
        return root
    return None


def runs_root() -> Path:
    """TEXTCLF_RUNS_DIR, else /data/runs on a Space with persistent storage (runs survive restarts), else ./runs."""
    if os.environ.get("TEXTCLF_RUNS_DIR"):
        return Path(os.environ["TEXTCLF_RUNS_DIR"]).resolve()
    storage = persistent_storage()
    return (storage / "runs") if storage else Path("runs").resolve()


def use_persistent_hub_cache() -> Path | None:
    """On a Space with persistent storage, keep the Hub cache there too (downloaded models survive restarts),
    unless HF_HOME is set. Call before huggingface_hub is imported."""
    storage = persistent_storage()
    if storage is None or os.environ.get("HF_HOME"):
        return None
    os.environ["HF_HOME"] = str(storage / ".huggingface")
    return Path(os.environ["HF_HOME"])


@dataclass
class RunSummary:
    run_id: str
    run_dir: Path
    name: str
    state: RunState
    created: float
    model: str
    best_f1: float | None
    best_accuracy: float | None
    best_f1_label: str = "macro-F1"  # which F1 best_f1 is: the run's kind's (multi-label: micro-F1; regression: none,
    # its Spearman)
    best_f1_percent: bool = True  # a share written as a percentage; False: a number (Spearman)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "run"


def create_run(config: TrainConfig, root: Path | None = None, owner: str = "") -> Path:
    """Check the settings and the data, then write a ready-to-train run directory (state: queued).

    All problems surface here as UserError, before any process starts, so the user can fix them at once.
    """

    problems = config.validate()
    if problems:
        raise UserError(" ".join(problems))

    if problem := tracker_problem(config.report_to):  # before any work, not when the training process starts
        raise UserError(problem)
    if config.processes > 1:
        gpus.check_processes(config.processes, gpus.machine_gpus())
    checked = check(config)
    data, report, fitted = checked.data, checked.report, checked.baseline
    name = config.run_name or Path(config.data_path.rstrip("/")).stem or "dataset"
    config = config.replace(text_column=data.text_column, label_column=data.label_column, run_name=name)

    root = Path(root) if root else runs_root()
    # 8 random bytes: on a shared Space the id is what the API takes, so it must not be guessable.
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{_slug(name)}-{secrets.token_hex(8)}"
    run = RunDir(root / run_id)
    try:
        run.create()
    except OSError as exc:
        if is_disk_full(exc):
            raise UserError(DISK_FULL_MESSAGE) from None
        raise UserError(f"The runs folder '{root}' cannot be used: {exc.strerror or exc}.") from None
    try:  # all or nothing: an interrupted write (Ctrl-C, a full disk) leaves no half-made run behind
        run.write_config(config)
        run.write_json(RunDir.LABELS, data.kind.labels_json(data.labels))
        frames = [(data.train, RunDir.TRAIN_DATA), (data.validation, RunDir.VALIDATION_DATA)]
        if len(data.test):  # a test table or a dataset's own test split: scored once, after training (core/engine/job.py)
            frames.append((data.test, RunDir.TEST_DATA))
        for frame, file_name in frames:  # not `name`: that is the run's name, written to run.json below
            run.write_parquet(file_name, frame)
        run.write_report(report)
        run.write_json(RunDir.BASELINE, fitted)
        run.write_status(RunState.QUEUED, pid=None)
        # Last: a folder is a run (listed, openable) once run.json exists.
        run.write_info({"run_id": run_id, "name": display_name(config), "owner": owner, "created": time.time()})
    except BaseException as exc:
        shutil.rmtree(run.path, ignore_errors=True)
        if is_disk_full(exc):
            raise UserError(DISK_FULL_MESSAGE) from None
        raise
    return run.path


def display_name(config: TrainConfig, now: float | None = None) -> str:
    """The name lists and banners show: the one the user gave, else the data file's name with the start time, so
    five runs on the same file are told apart ('support_tickets · Nov 30 14:31:07')."""
    if config.run_name and config.run_name != Path(config.data_path).stem:
        return config.run_name
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(now if now is not None else time.time()))
    return f"{config.run_name or Path(config.data_path).stem} · {stamp}"


def start(run_dir: Path, resume: bool = False) -> None:
    """Start the training child; it queues for the device by itself."""
    run_dir = Path(run_dir).resolve()
    run = RunDir(run_dir)
    command, extra_env = gpus.launch_plan(run_dir.parent, getattr(run.config(), "processes", 1))
    run.clear_stop()
    _exit_codes.pop(str(run_dir), None)  # how a previous child ended says nothing about this one
    run.write_status(RunState.QUEUED, pid=None)
    child = warm_child.start_training_child(run_dir, resume, command, extra_env)
    _children[str(run_dir)] = child
    # Reaped the moment it ends, whether or not anyone asks for its status (a closed tab never does): otherwise each
    # finished run stays a <defunct> process of the web server.
    threading.Thread(target=child.wait, name=f"reap-{child.pid}", daemon=True).start()


def launch(config: TrainConfig, root: Path | None = None, owner: str = "") -> Path:
    run_dir = create_run(config, root, owner)
    start(run_dir)
    return run_dir


def cancel(run_dir: Path) -> None:
    """Ask the run to stop at its next step; it saves a checkpoint first so Resume can continue."""
    run_dir = Path(run_dir)
    if status(run_dir)["state"] in OVER_STATES:
        return
    RunDir(run_dir).request_stop()


def resume(run_dir: Path, processes: int | None = None) -> None:
    """Continue a run; `processes` changes how many data-parallel processes continue it (the batch size is the whole
    step's, so the schedule continues unchanged)."""
    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    if not run.is_run():
        raise UserError(f"There is no run at '{run_dir}'.")
    state = status(run_dir)["state"]
    if state not in RESUMABLE_STATES:
        raise UserError(f"Only a stopped, interrupted or failed run can be resumed; this one is {state}.")
    config = run.config()
    if processes is not None and config is not None and processes != config.processes:
        changed = config.replace(processes=processes)
        if problems := changed.validate():
            raise UserError(" ".join(problems))
        run.write_config(changed)
    start(run_dir, resume=True)


def _alive(pid: int | None, run_dir: Path, pid_started: float | None = None) -> bool:
    import psutil

    child = _children.get(str(run_dir))
    if child is not None and child.pid == pid:
        # Our own child: alive until the kernel hands back its exit code. (A dying process's cmdline is already
        # empty, so the check below would call it dead before its exit code can be read.)
        if child.poll() is None:
            return True
        _exit_codes[str(run_dir)] = child.returncode
        _children.pop(str(run_dir), None)
        return False
    if child is not None and child.poll() is not None:
        _children.pop(str(run_dir), None)
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        # The pid must still be our training child: a reused pid belongs to someone else. Its start time says so; a
        # status file written before that was recorded falls back to the command line (a prepared child's has no run).
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        if pid_started is not None:
            return abs(proc.create_time() - pid_started) < 0.5
        return str(run_dir) in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def status(run_dir: Path) -> dict[str, Any]:
    """status.json, with a dead process reported as interrupted instead of running forever."""
    run_dir = Path(run_dir).resolve()
    current = RunDir(run_dir).read_status()
    if current["state"] in ACTIVE_STATES:
        pid, child = current.get("pid"), _children.get(str(run_dir))
        if pid is None and (child is not None or str(run_dir) in _exit_codes):  # our child, not up yet: dead once
            dead = child is None or not _alive(child.pid, run_dir)  # it has exited (a crash at import, say)
        elif pid is None:  # another process's child not up yet: never started at all after the grace period
            dead = time.time() - current.get("updated", 0) > SPAWN_GRACE_SECONDS
        else:
            dead = not _alive(pid, run_dir, current.get("pid_started"))
        if dead:
            # A child that could not write its final status (a full disk, a permission error) may still have
            # appended its ending: that is how the run ended. An ending older than the status is a previous one.
            ending = RunDir(run_dir).events()[-1:]
            ended = ending and ending[0].get("type") in ENDINGS and ending[0].get("time", 0) >= current.get(
                "updated", 0)
            current = {**current, "state": RunState(ending[0]["type"]) if ended else RunState.INTERRUPTED}
    return current


def view(run_dir: Path) -> RunView:
    """The folded events, with the state taken from status (queued and interrupted are not events)."""
    run = RunDir(run_dir)
    run_view = fold(run.events())
    state = status(run_dir)["state"]  # the source of truth for the state; events carry the history
    if state != run_view.state:
        if run_view.state in ENDINGS:
            run_view.message = ""  # resumed: the previous ending no longer applies
        run_view.state = state
        if state == RunState.INTERRUPTED:
            killed = _exit_codes.get(str(Path(run_dir).resolve())) == -signal.SIGKILL
            run_view.message = interrupted_message(killed, run.has_checkpoint())
    return run_view


def queue_position(run_dir: Path) -> int | None:
    """1 means next in line. None when the run is not waiting."""
    run_dir = Path(run_dir).resolve()
    if status(run_dir)["state"] != RunState.QUEUED:
        return None
    mine = RunDir(run_dir).read_status().get("updated", 0)
    ahead = 0
    for other in _run_dirs(run_dir.parent):
        if other == run_dir:
            continue
        st = status(other)
        if st["state"] == RunState.RUNNING or (st["state"] == RunState.QUEUED and st.get("pid") and st.get("updated", 0) < mine):
            ahead += 1
    return ahead + 1


def _run_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    # A name starting with "." is a run being deleted (core/runs/compare.py), or no run at all.
    return [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and RunDir(p).is_run()]


def active_runs(root: Path | None = None) -> list[str]:
    """The owners of the runs queued or training now, one entry per run."""
    owners = []
    for run_dir in _run_dirs(Path(root) if root else runs_root()):
        if status(run_dir)["state"] in ACTIVE_STATES:
            owners.append(RunDir(run_dir).owner())
    return owners


def check_can_start(caller: access.Caller, root: Path, run_name: str = "") -> None:
    """The shared server's limits on runs per visitor and in total, for a run about to start (or resume)."""
    if limits.shared_server():
        access.check_limits(caller, active_runs(root), run_name)


def list_runs(root: Path | None = None, owner: str | Collection[str] | None = None) -> list[RunSummary]:
    """Newest first; only the runs of the given owner (or owners) when set."""
    owners = {owner} if isinstance(owner, str) else (set(owner) if owner is not None else None)
    summaries = []
    for run_dir in _run_dirs(Path(root) if root else runs_root()):
        run = RunDir(run_dir)
        info = run.info()
        if owners is not None and info.get("owner") not in owners:
            continue
        config = run.config_dict()
        run_view = view(run_dir)
        summaries.append(RunSummary(
            run_id=info.get("run_id", run_dir.name), run_dir=run_dir, name=info.get("name", run_dir.name),
            state=run_view.state, created=info.get("created", 0.0), model=config.get("model", ""),
            best_f1=run_view.best_f1, best_accuracy=run_view.best_accuracy, best_f1_label=run_view.best_f1_label,
            best_f1_percent=run_view.best_f1_percent,
        ))
    return sorted(summaries, key=lambda s: s.created, reverse=True)


def log_tail(run_dir: Path, lines: int = 40) -> str:
    return RunDir(run_dir).log_tail(lines)


def wait(run_dir: Path, timeout: float = 3600, poll: float = 0.5) -> str:
    """Block until the run reaches a final state (or interrupted); returns it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = status(run_dir)["state"]
        if state in OVER_STATES:
            return state
        time.sleep(poll)
    raise TimeoutError(f"run {run_dir} still {status(run_dir)['state']} after {timeout} s")
