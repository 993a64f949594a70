"""The training job as one of N data-parallel processes (torchrun, `accelerate launch`, `--processes N`).

Every rank runs the same job on the same run directory; only rank 0 writes (core/runs/rundir.py `RunDir.for_process`).
The Trainer does the data parallelism itself (DistributedDataParallel, evaluation gathered across ranks). What is
ours: joining the process group before anything waits on the other ranks, the device queue held by rank 0 for the
whole job, decisions every rank must take together (Stop), and one rank tokenising for all of them.
With one process (no WORLD_SIZE) every function here is a no-op, so the plain job pays nothing.
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterator

# Whether rank 0 is still waiting for the devices, has them, or gave up waiting (a Stop while queued).
_WAITING, _GOT, _GAVE_UP = 0, 1, 2


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0") or 0)


def local_world_size() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())) or 1)


def is_distributed() -> bool:
    return world_size() > 1


def join(cuda: bool) -> None:
    """Join the process group now, before the queue, instead of when TrainingArguments first asks for its device
    (accelerate keeps a group that already exists). CPU tensors travel over gloo even on GPUs, so the per-step Stop
    vote never waits for the GPU's queued work."""
    import torch
    import torch.distributed as dist

    if not is_distributed() or dist.is_initialized():
        return
    if cuda:
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend="cpu:gloo,cuda:nccl" if cuda else "gloo")


def leave() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _from_rank_zero(value: int) -> int:
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([value], dtype=torch.int64)
    dist.broadcast(tensor, src=0)
    return int(tensor.item())


def any_rank(flag: bool) -> bool:
    """True on every rank when it is true on any: a Stop seen by one rank between two steps stops them all at the
    same step (a rank that stopped alone would leave the others waiting in the next gradient exchange)."""
    if not is_distributed():
        return flag
    import torch
    import torch.distributed as dist

    tensor = torch.tensor([int(flag)], dtype=torch.int64)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


@contextlib.contextmanager
def job_slot(take: Callable[[Callable[[], object]], contextlib.AbstractContextManager[bool]]) -> Iterator[bool]:
    """The device queue for the whole job: rank 0 waits in `take(while_waiting)` (core/runs/device_lock.py `device_slot`) and
    holds the devices until the job ends; the other ranks learn the outcome. Rank 0 calls `while_waiting` at every
    poll of the queue and so tells them it still waits: no collective waits longer than one poll, whatever the
    process group's timeout and however long the queue."""
    if not is_distributed():
        with take(lambda: None) as got:
            yield got
        return
    if rank() != 0:
        while (outcome := _from_rank_zero(_WAITING)) == _WAITING:
            pass
        yield outcome == _GOT
        return
    with take(lambda: _from_rank_zero(_WAITING)) as got:
        _from_rank_zero(_GOT if got else _GAVE_UP)
        yield got


@contextlib.contextmanager
def main_rank_first() -> Iterator[None]:
    """Rank 0 does the work first (and keeps its result, e.g. the token store) while the others wait, then they do
    it (reading what rank 0 kept). A rank that raises inside leaves the others waiting until the launcher ends them,
    which it does when any rank exits with an error."""
    if not is_distributed():
        yield
        return
    import torch.distributed as dist

    if rank() != 0:
        dist.barrier()
    yield
    if rank() == 0:
        dist.barrier()


def peer_lost(exc: BaseException) -> bool:
    """Whether an error means another rank died (killed, out of memory): the run is then interrupted, as if this
    process had died too, not failed with gloo's or NCCL's words."""
    import torch.distributed as dist

    if not is_distributed():
        return False
    if isinstance(exc, getattr(dist, "DistError", ())):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(word in text for word in ("gloo", "nccl", "connection closed", "connection reset", "broken pipe"))

