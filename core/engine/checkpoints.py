"""When the training child writes resume checkpoints, and how it keeps the best weights without them.

A checkpoint holds the weights and the AdamW state: 12 bytes per parameter, 1.3 GB for bert-base. Writing one after
every evaluation, as the stock Trainer does for `load_best_model_at_end`, cost ~1.2 s per epoch on the 2-core CPU
and more on a GPU machine, where a whole R8 epoch takes 3 s. So:
- the best evaluation's weights are kept as a copy in (CPU) memory and put back at the end of training;
- checkpoints exist only for Resume: one is written when the user stops a run, and otherwise at an evaluation once
  enough training time has passed since the last one that its write costs at most ~2 % of that time (at least a
  minute). A crash loses at most that much training; a short run writes no checkpoint at all.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Callable

import torch
from transformers import TrainerCallback

BEST_WEIGHTS_FILE = "best_weights.safetensors"
MIN_CHECKPOINT_SECONDS = 60.0
CHECKPOINT_BYTES_PER_SECOND = 0.5e9  # a conservative disk (and GPU->CPU copy) speed for the estimate below
MAX_CHECKPOINT_SHARE = 0.02


def auto_checkpoint_seconds(num_parameters: int) -> float:
    """Training seconds between routine checkpoints: the estimated write time / 2 %, and at least a minute."""
    write_seconds = 12 * num_parameters / CHECKPOINT_BYTES_PER_SECOND  # fp32 weights + two AdamW moments
    return max(MIN_CHECKPOINT_SECONDS, write_seconds / MAX_CHECKPOINT_SHARE)


class BestWeights:
    """A CPU copy of the weights of the best evaluation so far, and the step it was taken at."""

    def __init__(self) -> None:
        self.step: int | None = None
        self.state: dict[str, torch.Tensor] | None = None

    def capture(self, model: torch.nn.Module, step: int) -> None:
        self.state = {name: t.detach().to("cpu", copy=True).contiguous() for name, t in model.state_dict().items()}
        self.step = step

    def restore(self, model: torch.nn.Module) -> None:
        if self.state is not None:
            model.load_state_dict(self.state)

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        if self.state is not None:
            save_file(self.state, str(Path(folder) / BEST_WEIGHTS_FILE), metadata={"step": str(self.step)})

    def load(self, folder: Path) -> bool:
        """Read the copy a checkpoint carries; False when it has none."""
        from safetensors import safe_open

        path = Path(folder) / BEST_WEIGHTS_FILE
        if not path.exists():
            return False
        with safe_open(str(path), framework="pt") as f:
            self.state = {name: f.get_tensor(name) for name in f.keys()}
            self.step = int(f.metadata()["step"])
        return True


def best_weights_for_resume(checkpoint: Path) -> tuple[BestWeights, bool]:
    """The best weights a checkpoint carries, and whether they are instead the checkpoint's own weights (then the
    copy is taken when the Trainer has loaded them). Empty for a checkpoint saved before any evaluation."""
    best = BestWeights()
    if best.load(checkpoint):
        return best, False
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    best_step = state.get("best_global_step")
    return best, best_step is not None and best_step == state.get("global_step")


class CheckpointPolicy(TrainerCallback):
    """Vetoes the Trainer's routine saves until they are due; a stop request always saves.

    Registered after the EventCallback, whose stop handling sets `should_save` in the same `on_step_end`.
    With `best` set it also puts the best weights into each checkpoint (when they are not the checkpoint's own),
    and on a resume from a checkpoint that is itself the best, takes the copy from the freshly loaded model.
    """

    def __init__(self, every_seconds: float, stopping: Callable[[], bool], best: BestWeights | None = None,
                 best_is_resumed_model: bool = False) -> None:
        self.every_seconds = every_seconds
        self.stopping = stopping
        self.best = best
        self.best_is_resumed_model = best_is_resumed_model
        self._last_save = time.monotonic()

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._last_save = time.monotonic()
        if self.best is not None and self.best_is_resumed_model and model is not None:
            self.best.capture(model, state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._decide(state, control)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._decide(state, control)

    def _decide(self, state: Any, control: Any) -> None:
        if not control.should_save or self.stopping():
            return
        # The end of training needs no resume state: the model itself is saved next.
        if state.global_step >= state.max_steps or time.monotonic() - self._last_save < self.every_seconds:
            control.should_save = False

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._last_save = time.monotonic()
        if self.best is not None and self.best.step is not None and self.best.step != state.global_step:
            self.best.save(Path(args.output_dir) / f"checkpoint-{state.global_step}")
