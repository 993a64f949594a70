"""One training job at a time per device, across processes and server restarts: an OS file lock per device."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no queue, jobs run side by side
    fcntl = None  # type: ignore[assignment]

POLL_SECONDS = 0.5


@contextlib.contextmanager
def device_slot(runs_root: Path, device: str, should_give_up: Callable[[], bool]) -> Iterator[bool]:
    """Yields True once this process owns the device, or False if should_give_up() turned true while waiting.

    The OS drops the lock when the process dies, so a crashed run never blocks the queue.
    """
    if fcntl is None:
        yield True
        return
    with open(_lock_path(runs_root, device), "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if should_give_up():
                    yield False
                    return
                time.sleep(POLL_SECONDS)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def device_busy(runs_root: Path, device: str) -> bool:
    """Whether a training job holds the device now (a quick non-blocking look; False where there is no queue)."""
    path = _lock_path(runs_root, device)
    if fcntl is None or not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _lock_path(runs_root: Path, device: str) -> Path:
    return Path(runs_root) / f".device-{device}.lock"
