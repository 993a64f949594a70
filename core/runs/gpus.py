"""GPUs one at a time: which devices a run's processes use and queue for, and how its child is started.

Never `nn.DataParallel`: the Trainer wraps the model in it whenever one process sees several GPUs (the batch
silently multiplied, samples/s and the time left wrong). So a one-process run on a machine with several GPUs sees
exactly one (CUDA_VISIBLE_DEVICES in the child's environment), and N processes see N, one each (torchrun).
The functions here take the GPU count and the busy devices as arguments: tests fake a machine's GPUs with them.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Collection, Mapping
from pathlib import Path

from core.distributed import local_world_size
from core import hardware  # through the module: tests stand in a machine's GPU count
from core.errors import UserError
from core.runs.device_lock import device_busy


NVIDIA_DRIVER_GPUS = Path("/proc/driver/nvidia/gpus")  # one folder per GPU while NVIDIA's driver is loaded


def machine_gpus() -> int:
    """The GPUs this process may use, for the web server and the launcher: without NVIDIA's driver none, known
    without importing torch (which the server otherwise never loads: seconds and hundreds of MB)."""
    if sys.platform.startswith("linux") and not NVIDIA_DRIVER_GPUS.is_dir():
        return 0
    return hardware.gpu_count()


def visible_gpu_ids(cuda_visible_devices: str | None, count: int) -> list[str]:
    """The GPUs' ids as the machine names them (what CUDA_VISIBLE_DEVICES lists), for the `count` this process sees."""
    if cuda_visible_devices is not None and cuda_visible_devices.strip():
        return [d.strip() for d in cuda_visible_devices.split(",") if d.strip()][:count]
    return [str(i) for i in range(count)]


def queue_keys(cuda_visible_devices: str | None, count: int, local_processes: int) -> list[str]:
    """The device queue's keys for a job: "cpu" without GPUs, else "cuda:<id>" for each GPU its processes on this
    machine use (process i uses the i-th visible GPU)."""
    if count == 0:
        return ["cpu"]
    return [f"cuda:{i}" for i in visible_gpu_ids(cuda_visible_devices, count)[:max(1, local_processes)]]


def job_devices() -> list[str]:
    """What this training job queues for (core/runs/device_lock.py): "cpu", or each GPU its processes on this machine use, so
    two one-GPU runs train at once on a two-GPU machine."""

    return queue_keys(os.environ.get("CUDA_VISIBLE_DEVICES"), hardware.gpu_count(), local_world_size())


def choose_gpus(gpu_ids: list[str], busy: Collection[str], processes: int) -> list[str]:
    """The GPUs a run of `processes` processes takes: free ones first, so two one-GPU runs train side by side; when
    too few are free, busy ones in order (the run then waits in their queue)."""
    free = [g for g in gpu_ids if f"cuda:{g}" not in busy]
    return (free + [g for g in gpu_ids if g not in free])[:processes]


def check_processes(processes: int, gpus: int, cpus: int | None = None) -> None:
    """One process per GPU on a GPU machine; on CPUs at most one per core (each gets its share of the cores)."""
    if gpus and processes > gpus:
        raise UserError(f"This machine has {gpus} GPU{'s' if gpus > 1 else ''}: choose at most {gpus} "
                        f"process{'es' if gpus > 1 else ''}.")
    cpus = cpus or os.cpu_count() or 1
    if not gpus and processes > cpus:
        raise UserError(f"This machine has {cpus} CPU cores and no GPU: choose at most {cpus} processes.")


def child_command(processes: int) -> list[str]:
    """How the training job is started: itself for one process, under torchrun for several. `--standalone` has
    torchrun pick a free port for the group's rendezvous when it binds it (choosing one beforehand could race with
    another run starting at the same moment)."""
    if processes <= 1:
        return [sys.executable, "-m", "core.train"]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
            "--nproc_per_node", str(processes), "-m", "core.train"]


def child_environment(chosen: list[str], gpus: int, processes: int, environ: Mapping[str, str],
                      cpu_count: int | None = None) -> dict[str, str]:
    """What the child's environment adds: on a machine with 2+ GPUs, the ones it may see; on CPUs with several
    processes, each its share of the cores (torchrun would give each one thread)."""
    extra: dict[str, str] = {}
    if gpus >= 2:
        extra["CUDA_VISIBLE_DEVICES"] = ",".join(chosen)
    if gpus == 0 and processes > 1 and "OMP_NUM_THREADS" not in environ:
        extra["OMP_NUM_THREADS"] = str(max(1, (cpu_count or os.cpu_count() or 1) // processes))
    return extra


def launch_plan(runs_root: os.PathLike[str] | str, processes: int) -> tuple[list[str], dict[str, str]]:
    """The command and the environment additions for a run of `processes` processes started now on this machine."""

    gpus = machine_gpus()
    check_processes(processes, gpus)
    chosen: list[str] = []
    if gpus >= 2:
        ids = visible_gpu_ids(os.environ.get("CUDA_VISIBLE_DEVICES"), gpus)
        busy = {f"cuda:{g}" for g in ids if device_busy(runs_root, f"cuda:{g}")}
        chosen = choose_gpus(ids, busy, processes)
    return child_command(processes), child_environment(chosen, gpus, processes, os.environ)


def default_processes(train_rows: int, gpus: int) -> int:
    """The Train step's default on a machine with several GPUs: all of them when each still gets at least
    MIN_STEPS_PER_EPOCH steps an epoch under the batch rule (core/batching.py: never fewer than 32 texts a step),
    else one (fewer steps cost accuracy, and a small run gains little from more GPUs)."""
    from core.batching import CPU_BATCH_SIZE, MIN_STEPS_PER_EPOCH

    if gpus > 1 and train_rows >= MIN_STEPS_PER_EPOCH * CPU_BATCH_SIZE * gpus:
        return gpus
    return 1
