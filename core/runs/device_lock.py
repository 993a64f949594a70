"""One training job at a time per device, across processes and server restarts: a file lock per device.

`filelock` picks the OS lock (flock on Linux and macOS, msvcrt on Windows), so the queue works where `fcntl` does
not. The OS drops the lock when the process dies, so a crashed run never blocks the queue.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator

import filelock as filelock_module  # noqa: F401  (tests check the lock is filelock's)
from filelock import FileLock, Timeout

POLL_SECONDS = 0.5


def _lock(runs_root: Path, device: str) -> FileLock:
    # preserve_lock_file: the file stays, so a waiting process never locks a file that was just deleted.
    return FileLock(_lock_path(runs_root, device), thread_local=False, preserve_lock_file=True)


@contextlib.contextmanager
def device_slot(runs_root: Path, device: str, should_give_up: Callable[[], bool]) -> Iterator[bool]:
    """Yields True once this process owns the device, or False if should_give_up() turned true while waiting."""
    lock = _lock(runs_root, device)
    while True:
        try:
            lock.acquire(timeout=0)
            break
        except Timeout:
            if should_give_up():
                yield False
                return
            time.sleep(POLL_SECONDS)
    try:
        yield True
    finally:
        lock.release()


def device_busy(runs_root: Path, device: str) -> bool:
    """Whether a training job holds the device now (a quick non-blocking look)."""
    path = _lock_path(runs_root, device)
    if not path.exists():
        return False
    lock = _lock(runs_root, device)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def _lock_path(runs_root: Path, device: str) -> Path:
    return Path(runs_root) / f".device-{device}.lock"
