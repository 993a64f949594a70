"""Comparing runs side by side, and renaming or deleting one. Pure reads of run directories (through core.runs.rundir
and the folded events), plus the two writes. Callers check ownership first (core.runs.access.may_open / find_run)."""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from core.runs.rundir import ACTIVE_STATES, RunDir, RunState
from core.errors import UserError
from core.runs.events import RunView

MIN_RUNS, MAX_RUNS = 2, 5
NAME_LENGTH = 100
# Settings worth comparing, in the order a person reads them (the data file's upload path is not a setting).
SETTINGS = ("model", "epochs", "learning_rate", "batch_size", "max_length", "val_share", "early_stopping_patience",
            "class_weights", "warm_start_head", "seed", "eval_steps", "warmup_ratio", "weight_decay", "text_column",
            "label_column")


@dataclass
class RunFacts:
    run_dir: Path
    name: str
    state: str
    config: dict[str, Any]
    view: RunView


def facts(run_dir: Path) -> RunFacts:
    from core.runs.launcher import view

    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    folded = view(run_dir)
    return RunFacts(run_dir=run_dir, name=run.display_name(), state=folded.state, config=run.config_dict(),
                    view=folded)


def check_count(run_dirs: Sequence[Any]) -> None:
    if not (MIN_RUNS <= len(run_dirs) <= MAX_RUNS):
        raise UserError(f"Choose {MIN_RUNS} to {MAX_RUNS} runs to compare ({len(run_dirs)} chosen).")


def unique_labels(runs: Sequence[RunFacts]) -> list[str]:
    """Names, with ' (2)', ' (3)' added where two runs share one, so legends never merge two runs."""
    seen: dict[str, int] = {}
    out = []
    for r in runs:
        seen[r.name] = seen.get(r.name, 0) + 1
        out.append(r.name if seen[r.name] == 1 else f"{r.name} ({seen[r.name]})")
    return out


def _show(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_diff(runs: Sequence[RunFacts]) -> list[dict[str, str]]:
    """One row per setting whose value differs between the runs: {'setting': name, <run label>: value, ...}."""
    labels = unique_labels(runs)
    rows = []
    for key in SETTINGS:
        values = [r.config.get(key) for r in runs]
        if len({repr(v) for v in values}) <= 1:
            continue
        shown = [("automatic" if v == 0 and key in ("learning_rate", "batch_size", "max_length") else _show(v))
                 for v in values]
        rows.append({"setting": key.replace("_", " "), **dict(zip(labels, shown))})
    return rows


def summary_rows(runs: Sequence[RunFacts]) -> list[dict[str, Any]]:
    """Final scores, duration and speed per run (raw numbers; the UI formats them)."""
    rows = []
    for label, r in zip(unique_labels(runs), runs):
        last = r.view.evals[-1] if r.view.evals else None
        rows.append({"run": label, "state": r.state, "best accuracy": r.view.best_accuracy,
                     "best macro-F1": r.view.best_f1, "final val loss": last and last.loss,
                     "duration": r.view.elapsed_seconds or None, "samples/s": r.view.samples_per_second,
                     "id": r.run_dir.name})
    return rows


def rename(run_dir: Path, name: str) -> str:
    """A new display name for a run (run.json, written to a temp file then renamed); the id stays."""
    name = " ".join((name or "").split())
    if not name:
        raise UserError("Type a name for the run.")
    if len(name) > NAME_LENGTH:
        raise UserError(f"The run name is too long: use at most {NAME_LENGTH} characters.")
    RunDir(run_dir).rename(name)
    return name


def delete(run_dir: Path) -> str:
    """Delete a run that is not queued or training; returns its name. A training run is refused, not stopped."""
    from core.runs.launcher import status

    run_dir = Path(run_dir)
    name = RunDir(run_dir).display_name()
    state = status(run_dir)["state"]
    if state in ACTIVE_STATES:
        raise UserError(f"'{name}' is still {'queued' if state == RunState.QUEUED else 'training'}: stop it first, then "
                        "delete it.")
    # Renamed first, so the run vanishes from lists at once and a half-finished delete leaves no half a run.
    doomed = run_dir.with_name(f".deleting-{run_dir.name}")
    run_dir.rename(doomed)
    shutil.rmtree(doomed, ignore_errors=True)
    return name
