"""The per-device queue is a filelock lock: one holder at a time, across processes, released when the holder dies."""
from __future__ import annotations

import subprocess
import sys
import time

from core.runs import device_lock


def test_one_holder_per_device_and_a_waiter_can_give_up(tmp_path):
    import filelock

    assert device_lock.filelock_module is filelock  # the lock comes from filelock, which works where fcntl does not
    with device_lock.device_slot(tmp_path, "cpu", should_give_up=lambda: False) as got:
        assert got and device_lock.device_busy(tmp_path, "cpu")
        with device_lock.device_slot(tmp_path, "cpu", should_give_up=lambda: True) as second:
            assert second is False  # the device is taken: a stopped waiter gives up
        assert not device_lock.device_busy(tmp_path, "cuda")  # another device is its own queue
    assert not device_lock.device_busy(tmp_path, "cpu")


def test_a_lock_held_by_another_process_is_freed_when_it_dies(tmp_path):
    code = ("import sys, time; sys.path.insert(0, '.'); from core import queue\n"
            f"with device_lock.device_slot({str(tmp_path)!r}, 'cpu', lambda: False):\n"
            "    print('held', flush=True); time.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        assert device_lock.device_busy(tmp_path, "cpu")
    finally:
        child.kill()
        child.wait()
    deadline = time.time() + 5
    while device_lock.device_busy(tmp_path, "cpu") and time.time() < deadline:
        time.sleep(0.1)
    assert not device_lock.device_busy(tmp_path, "cpu")
