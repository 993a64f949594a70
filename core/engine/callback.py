"""The TrainerCallback: it only appends events and obeys a stop request."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from core.runs.rundir import RunDir
from core.tasks import DEFAULT, TaskKind

PROGRESS_EVERY_SECONDS = 0.5


class EventCallback(TrainerCallback):
    def __init__(self, run: Path | RunDir, batch_size: int, facts: dict[str, Any], stop_flag: list[bool],
                 kind: TaskKind = DEFAULT) -> None:
        self.run = RunDir.of(run)  # every rank asks whether to stop; only the writer's events reach the file
        self.batch_size = batch_size
        self.facts = facts  # written into the "started" event
        self.stop_flag = stop_flag  # set by the SIGTERM handler
        self.kind = kind  # whose metrics each evaluation records
        self.cancelled = False
        self._train_seconds = 0.0
        self._steps_timed = 0
        self._step_started = 0.0
        self._wall_start = 0.0
        self._first_step = 0
        self._last_progress = 0.0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._wall_start = time.perf_counter()
        self._first_step = state.global_step
        self.run.append_event("started", total_steps=state.max_steps, resumed_from_step=state.global_step, **self.facts)

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._step_started = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        now = time.perf_counter()
        self._train_seconds += now - self._step_started
        self._steps_timed += 1
        stopping = self.stop_flag[0] or self.run.stop_requested()
        if stopping:
            # Save a checkpoint at this very step so Resume loses nothing, and skip the evaluation that may be due:
            # on 20,000 validation texts it made Stop take most of a minute.
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = True
            control.should_evaluate = False
        if stopping or now - self._last_progress >= PROGRESS_EVERY_SECONDS or state.global_step == state.max_steps:
            self._last_progress = now
            self._progress(state, now)

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # Leaving the loop on a stop still ends the epoch, which asks for a full evaluation and a second save; the
        # stop's checkpoint is already written (after this callback's on_step_end).
        if self.cancelled:
            control.should_evaluate = False
            control.should_save = False

    def _progress(self, state: Any, now: float) -> None:
        done = state.global_step - self._first_step
        wall = now - self._wall_start
        eta = (state.max_steps - state.global_step) * wall / done if done else None
        sps = self._steps_timed * self.batch_size / self._train_seconds if self._train_seconds else None
        self.run.append_event(
            "progress", step=state.global_step, total_steps=state.max_steps,
            epoch=round(state.epoch or 0.0, 4), samples_per_second=None if sps is None else round(sps, 2),
            eta_seconds=None if eta is None else round(eta, 1), elapsed_seconds=round(wall, 1),
        )

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.run.append_event(
                "log", step=state.global_step, epoch=round(state.epoch or 0.0, 4),
                loss=logs["loss"], learning_rate=logs.get("learning_rate"), grad_norm=logs.get("grad_norm"),
            )

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None, **kwargs: Any) -> None:
        if metrics:
            self.run.append_event(
                "eval", step=state.global_step, epoch=round(state.epoch or 0.0, 4),
                loss=metrics.get("eval_loss"), **{m.key: metrics.get(f"eval_{m.key}") for m in self.kind.metrics},
            )
