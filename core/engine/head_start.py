"""Before the fine-tuning of a new run (rank 0 only: core/engine/job.py says why): small data's pair phase on a
sentence encoder (core/engine/pair_training.py), then the new output layer fitted by a linear probe (the kind's
warm_start_head), each shown in the live view as its own stage."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from core import tasks
from core.config import TrainConfig
from core.engine.model_setup import StartingModel
from core.engine.pair_training import pair_phase, phase_plan
from core.runs.rundir import RunDir
from core.small_data import PAIR_LEARNING_RATE, SmallDataPlan

if TYPE_CHECKING:
    from core.encoded import EncodedDataset


def planned_pairs(config: TrainConfig, start: StartingModel, train_set: EncodedDataset, labels: list[str],
                  kind: tasks.TaskKind) -> SmallDataPlan:
    """The pair phase for this run, decided once by the job and alike by every process and by a resumed run (the
    schedule after it depends on it), though only rank 0 of a new run runs it (start_head)."""
    # SetFit's pair phase on the sentence encoders it was made for (their mean-pooled features); a plain model's [CLS]
    # pooler gained nothing from it (BENCHMARKS.md, Small data).
    if not (config.warm_start_head and config.pair_training and start.mean_pooled):
        return SmallDataPlan(False)
    return phase_plan(start.model, start.new_parameters, train_set, labels, kind.name == tasks.SingleLabel.name)


def start_head(run: RunDir, config: TrainConfig, start: StartingModel, train_set: EncodedDataset, labels: list[str],
               kind: tasks.TaskKind, precision: str, pairs: SmallDataPlan, check_stop: Callable[[], None]) -> None:
    """The pair phase `pairs` (planned_pairs') plans, then the head's warm start. `check_stop` raises to end the run
    when a stop was asked for; it is called between and during the stages."""
    model, pad_token_id = start.model, start.tokenizer.pad_token_id or 0
    pair_phase(model, start.new_parameters, train_set, labels, pairs, pad_token_id, precision, config.seed,
               PAIR_LEARNING_RATE, lambda message: run.append_event("status", message=message), check_stop)
    run.append_event("status", message="Fitting the classification head")
    check_stop()
    started = kind.warm_start_head(model, start.new_parameters, train_set, labels, pad_token_id, precision,
                                   config.class_weights, config.seed, _probe_progress(run, check_stop))
    if started is not True:
        print("Warm start skipped: " + (started or "this model has no new linear output layer; its head trains "
                                                  "from where it is."))


def _probe_progress(run: RunDir, check_stop: Callable[[], None]) -> Any:
    """Status events while the probe reads the texts (it can take many seconds on long ones), at most one a second;
    a stop asked for meanwhile ends the run after the current batch."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        check_stop()
        now = time.monotonic()
        if done < total and now - last[0] >= 1.0:
            last[0] = now
            run.append_event("status", message=f"Fitting the classification head ({done:,} of {total:,} texts)")

    return report
