"""Starting the training child, and one started ahead of time that has imported torch and transformers by Start.

Importing the training stack is most of the wait between Start and the first loss point (~4.5 s of 7.2 s on the 2-core
CPU, more on a cold disk). The app starts one `python -m core.train --warm` at start-up; `start_training_child` hands
it the next run's directory on its stdin, and a new one is prepared once that run's process has ended (not while it
trains, so the imports never compete with training for the CPU). Without a prepared child, runs start cold.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from core.runs.rundir import RunDir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_lock = threading.Lock()
_waiting: subprocess.Popen | None = None  # the prepared child, not yet given a run
_wanted = False  # whether a handed-over child is replaced when it ends (after the first prepare())


def _popen(args: list[str], **streams: Any) -> subprocess.Popen:
    """A training child. A new session: Ctrl-C in a terminal or a closed browser tab does not reach it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen([sys.executable, "-m", "core.train", *args], cwd=PROJECT_ROOT, env=env,
                            start_new_session=True, **streams)


def start_training_child(run_dir: Path, resume: bool) -> subprocess.Popen:
    """The process that trains this run: the prepared child when one waits, else a new one started cold."""
    child = _hand_over(run_dir, resume)
    if child is not None:
        return child
    with RunDir(run_dir).open_log() as log:
        return _popen([str(run_dir)] + (["--resume"] if resume else []), stdout=log, stderr=subprocess.STDOUT,
                      stdin=subprocess.DEVNULL)


def prepare() -> None:
    """Start a waiting child unless one is ready; from now on each handed-over child is replaced when it ends."""
    global _wanted
    with _lock:
        _wanted = True
        _spawn_locked()


def prepare_one() -> None:
    """Start one waiting child for a run about to be created (the CLI: it imports while the data is checked);
    it is not replaced when it ends."""
    with _lock:
        _spawn_locked()


def _spawn_locked() -> None:
    global _waiting
    if _waiting is not None and _waiting.poll() is None:
        return
    # Its output is discarded until it is handed a run (then: the run's train.log).
    _waiting = _popen(["--warm"], text=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL)


def _hand_over(run_dir: Path, resume: bool) -> subprocess.Popen | None:
    """Give the waiting child this run; None when there is none (or it died), so the caller starts one cold."""
    global _waiting
    with _lock:
        child, _waiting = _waiting, None
    if child is None or child.poll() is not None or child.stdin is None:
        return None
    try:
        child.stdin.write(json.dumps({"run_dir": str(run_dir), "resume": resume}) + "\n")
        child.stdin.close()
    except OSError:  # it died between the check and the write
        return None
    threading.Thread(target=_replace_when_done, args=(child,), name="warm-child", daemon=True).start()
    return child


def _replace_when_done(child: subprocess.Popen) -> None:
    child.wait()
    with _lock:
        if _wanted:  # not after discard()
            _spawn_locked()


def waiting_child() -> subprocess.Popen | None:
    return _waiting


def discard() -> None:
    """Stop preparing children and end the waiting one (its imports are all it has done)."""
    global _waiting, _wanted
    with _lock:
        child, _waiting, _wanted = _waiting, None, False
    if child is not None and child.poll() is None:
        child.kill()
        child.wait()


def wait_for_job() -> tuple[Path, bool] | None:
    """Child side: block until the server sends a run (None when the server went away), then send this process's
    output to the run's train.log."""
    line = sys.stdin.readline()
    if not line.strip():
        return None
    job = json.loads(line)
    run_dir = Path(job["run_dir"])
    log = RunDir.for_process(run_dir).open_log()  # noqa: SIM115 - it is this process's stdout from now on
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    return run_dir, bool(job.get("resume"))
