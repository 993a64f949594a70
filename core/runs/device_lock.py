"""One training job at a time per device, across processes and server restarts: a file lock per device.

`filelock` picks the OS lock (flock on Linux and macOS, msvcrt on Windows), so the queue works where `fcntl` does
not. The OS drops the lock when the process dies, so a crashed run never blocks the queue.
"""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import filelock as filelock_module  # noqa: F401  (tests check the lock is filelock's)
from filelock import FileLock, Timeout

POLL_SECONDS = 0.5


def _lock(runs_root: Path, device: str) -> FileLock:
    # preserve_lock_file: the file stays, so a waiting process never locks a file that was just deleted.
    return FileLock(_lock_path(runs_root, device), thread_local=False, preserve_lock_file=True)


@contextlib.contextmanager
def device_slot(runs_root: Path, device: str | Sequence[str], should_give_up: Callable[[], bool],
                while_waiting: Callable[[], object] = lambda: None) -> Iterator[bool]:
    """Yields True once this process owns the device (or every one of several: "cuda:0", "cuda:1" for a
    two-process run), or False if should_give_up() turned true while waiting. `while_waiting` runs at every poll
    (a multi-process job's rank 0 tells its other ranks it still waits: core/distributed.py)."""
    devices = [device] if isinstance(device, str) else sorted(set(device))
    locks = [_lock(runs_root, d) for d in devices]
    while not _take_all(locks):
        if should_give_up():
            yield False
            return
        while_waiting()
        time.sleep(POLL_SECONDS)
    try:
        yield True
    finally:
        for lock in locks:
            lock.release()


def _take_all(locks: list[FileLock]) -> bool:
    """All or none: a run never holds one GPU while it waits for a second, which would keep it from a one-GPU run."""
    taken = []
    for lock in locks:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            for held in taken:
                held.release()
            return False
        taken.append(lock)
    return True


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
