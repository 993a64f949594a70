"""The events a run appends to events.jsonl, and the pure fold that turns them into what the UI and CLI show.

Event shapes (one JSON object per line), as core/engine/callback.py and core/engine/job.py write them:
  {"type": "started",  "time", "total_steps", "resumed_from_step", "num_train", "num_validation", "max_length",
                       "device", "precision", "learning_rate", "batch_size", "model", "labels",
                       "task", "world_size", "epochs", "pairs"}   again on each resume; task: the task kind's name
                       (absent: single-label); world_size: the job's processes (absent: 1); batch_size: the whole
                       step's; epochs: those trained (small data: its own); pairs: the pair phase's (0: none)
  {"type": "log",      "time", "step", "epoch", "loss", "learning_rate", "grad_norm"}
  {"type": "progress", "time", "step", "total_steps", "epoch", "samples_per_second", "eta_seconds", "elapsed_seconds"}
  {"type": "eval",     "time", "step", "epoch", "loss", "accuracy", "f1_macro"}   after loss: the task kind's
                                                                 metrics by key (single-label's shown)
  {"type": "status",   "time", "message"}                       free-text stage ("Loading the model", "Tokenising", ...)
  {"type": "finished" | "cancelled" | "failed", "time", "message"}   exactly one, last
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from core import tasks
from core.runs.rundir import ENDINGS, RunDir, RunState


def append_event(run_dir: Path | RunDir, event_type: str, **fields: Any) -> dict[str, Any]:
    """RunDir.append_event for callers that hold a path (the training job holds a RunDir: only its writer appends)."""
    return RunDir.of(run_dir).append_event(event_type, **fields)


def read_events(run_dir: Path | RunDir) -> list[dict[str, Any]]:
    return RunDir.of(run_dir).events()


@dataclass
class EvalPoint:
    """One evaluation on the validation set, as its "eval" event recorded it."""

    step: int
    epoch: float | None = None
    loss: float | None = None
    scores: dict[str, float | None] = field(default_factory=dict)  # by metric key (the run's TaskKind.metrics)

    # The single-label scores by name, for the views still written for single-label runs (best_f1, Evaluate ...).
    @property
    def accuracy(self) -> float | None:
        return self.scores.get("accuracy")

    @property
    def f1_macro(self) -> float | None:
        return self.scores.get("f1_macro")


@dataclass
class EpochRow:
    epoch: int
    train_loss: float | None = None
    val_loss: float | None = None
    scores: dict[str, float | None] = field(default_factory=dict)  # by metric key (the run's TaskKind.metrics)


@dataclass
class RunView:
    """Everything a screen needs to draw a run, derived from its events alone."""

    state: RunState = RunState.QUEUED  # runs.view() corrects it from status.json (interrupted)
    message: str = ""
    stage: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    samples_per_second: float | None = None
    eta_seconds: float | None = None
    elapsed_seconds: float = 0.0
    train_loss: list[tuple[int, float]] = field(default_factory=list)  # (step, loss)
    learning_rate: list[tuple[int, float]] = field(default_factory=list)  # (step, learning rate), from the same logs
    grad_norm: list[tuple[int, float]] = field(default_factory=list)  # (step, gradient norm before clipping)
    evals: list[EvalPoint] = field(default_factory=list)
    epochs: list[EpochRow] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # the "started" event's facts

    @property
    def kind(self) -> tasks.TaskKind:
        """The run's task kind, as its training process reported it (a run from before kinds: single-label)."""
        return tasks.named(self.info.get("task"))

    @property
    def fraction_done(self) -> float:
        return min(1.0, self.step / self.total_steps) if self.total_steps else 0.0

    @property
    def planned_epochs(self) -> int | None:
        """How many epochs the run is set to train: total steps over the steps per epoch seen so far."""
        if not (self.total_steps and self.step and self.epoch):
            return None
        return max(1, round(self.total_steps * self.epoch / self.step))

    @property
    def best_f1(self) -> float | None:
        """The best of the kind's headline F1 (single-label: macro-F1; multi-label: micro-F1, what picks its model)."""
        key = self.kind.f1_metric
        scores = [e.scores.get(key) for e in self.evals if e.scores.get(key) is not None]
        return max(scores) if scores else None  # type: ignore[type-var]

    @property
    def best_f1_label(self) -> str:
        return self.kind.metric_label(self.kind.f1_metric)

    @property
    def best_f1_percent(self) -> bool:
        return self.kind.metric_is_percent(self.kind.f1_metric)

    def best_score(self, key: str) -> float | None:
        scores = [e.scores[key] for e in self.evals if e.scores.get(key) is not None]
        return max(scores) if scores else None  # type: ignore[type-var]

    @property
    def best_accuracy(self) -> float | None:
        scores = [e.accuracy for e in self.evals if e.accuracy is not None]
        return max(scores) if scores else None

    @property
    def settings(self) -> str:
        """What the automatic settings resolved to: 'cpu (2 cores) · bf16 · batch 32 · learning rate 0.0001 · ...',
        with the epochs the run trains (small data chooses its own) and the pairs when the pair phase ran."""
        info = self.info
        parts = [str(info[key]) for key in ("device", "precision") if info.get(key)]
        for key, label in (("batch_size", "batch"), ("learning_rate", "learning rate"), ("max_length", "max length"),
                           ("num_train", "training texts"), ("epochs", "epochs"), ("pairs", "pairs of texts")):
            value = info.get(key)
            if value is None or (key == "pairs" and not value):  # 0 pairs: the phase did not run
                continue
            parts.append(f"{label} {value:g}" if isinstance(value, float) else f"{label} {value:,}")
        return " · ".join(parts)


def _epoch_index(epoch: float) -> int:
    """Epoch 1 covers (0, 1]; Trainer reports the epoch as a fraction of passes done."""
    return max(1, int(-(-round(epoch, 4) // 1)))


def fold(events: Iterable[dict[str, Any]]) -> RunView:
    """Pure: the same events always give the same view; a resumed run simply continues the curves."""
    view = RunView()
    train_by_epoch: dict[int, list[float]] = {}
    active_since: float | None = None  # elapsed time counts training segments, not the time a run sat stopped
    before_segment = 0.0
    last_kind = ""  # the last event that was not progress or status
    for e in events:
        kind = e.get("type")
        t = e.get("time")
        if kind == "started":
            if view.started_at is None:
                view.started_at = t
            active_since = t
            view.state, view.message, view.ended_at = RunState.RUNNING, "", None
            view.total_steps = int(e.get("total_steps") or view.total_steps)
            view.info = {k: v for k, v in e.items() if k not in ("type", "time")}
        elif kind == "status":
            view.stage = e.get("message", "")
        elif kind == "log" and e.get("loss") is not None:
            step = int(e["step"])
            # A resume replays steps after the last checkpoint: keep one point per step, the newest.
            view.train_loss = [p for p in view.train_loss if p[0] < step]
            view.train_loss.append((step, float(e["loss"])))
            for series, key in ((view.learning_rate, "learning_rate"), (view.grad_norm, "grad_norm")):
                series[:] = [p for p in series if p[0] < step]
                if isinstance(e.get(key), (int, float)) and e[key] == e[key]:  # not None, not NaN
                    series.append((step, float(e[key])))
            train_by_epoch.setdefault(_epoch_index(e.get("epoch", 0.0)), []).append(float(e["loss"]))
            view.step = max(view.step, step)
            view.epoch = max(view.epoch, float(e.get("epoch", 0.0)))  # progress events are rarer than losses
        elif kind == "progress":
            view.step = int(e.get("step", view.step))
            view.total_steps = int(e.get("total_steps") or view.total_steps)
            view.epoch = float(e.get("epoch", view.epoch))
            view.samples_per_second = e.get("samples_per_second")
            view.eta_seconds = e.get("eta_seconds")
        elif kind == "eval":
            step = int(e.get("step", 0))
            view.evals = [x for x in view.evals if x.step < step]
            view.evals.append(EvalPoint(step=step, epoch=e.get("epoch"), loss=e.get("loss"),
                                        scores={m.key: e.get(m.key) for m in view.kind.metrics}))
        elif kind in ENDINGS:
            if kind == RunState.CANCELLED and view.evals and _stop_evaluation(view.evals[-1], last_kind):
                view.evals.pop()
            view.state = RunState(kind)
            view.message = e.get("message", "")
            view.ended_at = t
            if active_since is not None and t is not None:
                before_segment += t - active_since
                view.elapsed_seconds = before_segment
            active_since = None
        if t is not None and active_since is not None:
            view.elapsed_seconds = before_segment + (t - active_since)
        if kind not in ("progress", "status"):
            last_kind = kind
    view.epochs = _epoch_rows(train_by_epoch, view.evals)
    return view


def _stop_evaluation(evaluation: EvalPoint, last_kind: str) -> bool:
    """An evaluation mid-epoch right before the run was stopped: the stop asked for it, not the schedule. It is
    left out of the curves and the epoch table alike, so the two always show the same evaluations."""
    epoch = float(evaluation.epoch or 0.0)
    return last_kind == "eval" and abs(epoch - round(epoch)) > 1e-3


def _epoch_rows(train_by_epoch: dict[int, list[float]], evals: list[EvalPoint]) -> list[EpochRow]:
    rows: dict[int, EpochRow] = {}
    for ep, losses in train_by_epoch.items():
        rows[ep] = EpochRow(epoch=ep, train_loss=sum(losses) / len(losses))
    for ev in evals:
        ep = _epoch_index(ev.epoch or 0.0)
        row = rows.setdefault(ep, EpochRow(epoch=ep))
        # With evaluation every N steps, the epoch row shows the last evaluation inside that epoch.
        row.val_loss, row.scores = ev.loss, dict(ev.scores)
    return [rows[k] for k in sorted(rows)]


def epoch_table_header(kind: tasks.TaskKind) -> str:
    """The CLI's epoch table header: "epoch | train loss | val loss | accuracy | macro-F1" for single-label."""
    return " | ".join(["epoch", "train loss", "val loss", *(m.label for m in kind.metrics)])


def format_epoch_row(row: EpochRow, kind: tasks.TaskKind) -> str:
    """One line of the CLI's epoch table, aligned under epoch_table_header."""
    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.4f}"

    scores = [f"{num(row.scores.get(m.key)):>{max(8, len(m.label))}}" for m in kind.metrics]
    return " | ".join([f"{row.epoch:>5}", f"{num(row.train_loss):>10}", f"{num(row.val_loss):>8}", *scores])
