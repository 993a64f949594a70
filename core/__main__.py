"""Command line: `python -m core train --data reviews.csv --epochs 3` and friends. Same core as the web app.

Each command imports what it needs inside its function: `--help` and `runs` answer without loading pandas or torch.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from core.artefacts import DataReport
from core.config import TrainConfig
from core.errors import UserError
from core.runs.rundir import ACTIVE_STATES, OVER_STATES, RESUMABLE_STATES, RunDir, RunState

if TYPE_CHECKING:
    from core.tasks import TaskKind

CLI_FLAGS = {  # TrainConfig field -> flag (the rest use --field-name)
    "data_path": "--data", "val_data_path": "--val-data", "test_data_path": "--test-data",
    "text_column": "--text", "label_column": "--label",
    "learning_rate": "--lr", "run_name": "--name",
}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with the field's own help text."""
    for f in dataclasses.fields(TrainConfig):
        flag = CLI_FLAGS.get(f.name, "--" + f.name.replace("_", "-"))
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse formats help with %
        if f.type in (bool, "bool"):
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            shown = f" (default: {f.default})" if f.default not in ("", None) else ""
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=help_text + shown)


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig) if getattr(args, f.name) is not None}
    return TrainConfig(**values)


def _bar(fraction: float, width: int = 30) -> str:
    filled = int(round(fraction * width))
    return "[" + "#" * filled + "." * (width - filled) + "]"


@dataclasses.dataclass
class _Printed:
    """What follow() has printed already, so following the same run again (after Ctrl-C) does not repeat it."""

    epochs: int = 0
    header: bool = False
    stage: str = ""
    line: str = ""
    settings: bool = False


def follow(run_dir: Path, out=sys.stdout, printed: _Printed | None = None) -> str:
    """Print a live progress line and each epoch's validation numbers until the run ends; returns the final state."""
    from core.runs import launcher
    from core.runs.events import epoch_table_header, format_epoch_row

    p = printed or _Printed()
    while True:
        view = launcher.view(run_dir)
        if view.settings and not p.settings:
            p.settings = True
            out.write(f"\rSettings: {view.settings}{' ' * 20}\n")
        if view.state == RunState.QUEUED:
            position = launcher.queue_position(run_dir)
            line = f"Waiting in the queue: position {position}"
            if position and position > 1 and line != p.line:
                p.line = line
                out.write(f"\r{line}   " + ("" if out.isatty() else "\n"))
        complete = [r for r in view.epochs if r.scores.get(view.kind.main_metric) is not None]
        for row in complete[p.epochs:]:
            if not p.header:
                out.write(f"\n{epoch_table_header(view.kind)}\n")
                p.header = True
            out.write(f"\r{format_epoch_row(row, view.kind)}{' ' * 40}\n")
        p.epochs = len(complete)
        # Evaluations, then the stage, then progress: a poll that sees the last evaluation and "Saving the model"
        # prints them in the order they happened.
        # "Training" waits for the run's settings (written as training begins), so they print first.
        settings_due = view.stage == "Training" and not view.settings
        if view.stage and view.stage != p.stage and view.state in ACTIVE_STATES and not settings_due:
            p.stage = view.stage
            out.write(f"\r{view.stage}...{' ' * 60}\n")
        if view.total_steps:
            eta = f"ETA {view.eta_seconds:.0f}s" if view.eta_seconds is not None else ""
            speed = f"{view.samples_per_second:.1f} samples/s" if view.samples_per_second else ""
            line = f"{_bar(view.fraction_done)} step {view.step}/{view.total_steps} epoch {view.epoch:.2f} {speed} {eta}"
            if line != p.line:  # piped output gets one line per change, not one per poll
                p.line = line
                out.write(f"\r{line}   " + ("" if out.isatty() else "\n"))
        out.flush()
        if view.state in OVER_STATES:
            out.write(f"\n{view.state.upper()}: {view.message}\n")
            return view.state
        time.sleep(0.5)


def _follow_with_ctrl_c(run_dir: Path) -> int:
    from core.runs import launcher

    printed = _Printed()
    try:
        state = follow(run_dir, printed=printed)
    except KeyboardInterrupt:
        print("\nStopping after the current step (a checkpoint is saved)...", flush=True)
        launcher.cancel(run_dir)
        try:
            state = follow(run_dir, printed=printed)
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting; the run still stops by itself
            print(f"\nThe run is still stopping in the background. Continue it later with: "
                  f"python -m core resume {run_dir}")
            return 3
    print(f"Run directory: {run_dir}")
    if state == RunState.FINISHED:
        from core import tasks

        kind, _ = tasks.read_labels(RunDir(run_dir).stored_labels())
        options = kind.pipeline_options.replace('"', "'")
        print(f"Try it: python -c \"from transformers import pipeline; "
              f"print(pipeline('text-classification', model='{RunDir(run_dir).model_dir}'{options})('your text here', truncation=True))\"")
        if kind.pipeline_note():
            print(kind.pipeline_note())
    elif state in RESUMABLE_STATES:
        print(f"Continue it with: python -m core resume {run_dir}")
    return {RunState.FINISHED: 0, RunState.CANCELLED: 3}.get(state, 1)


def _run_dir(given: Path, runs_dir: Path | None) -> Path:
    """A run folder as given, or a run id (as `runs` prints it) inside the runs folder."""
    from core.runs import launcher

    inside = (runs_dir or launcher.runs_root()) / given
    return inside if not RunDir(given).is_run() and RunDir(inside).is_run() else given


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Fine-tune a text classifier.")
    parser.add_argument("--runs-dir", type=Path, default=None, help="where runs are kept (default: ./runs)")
    sub = parser.add_subparsers(dest="command", required=True)
    train_parser = sub.add_parser("train", help="train a classifier on a table of texts and labels")
    _add_config_flags(train_parser)
    check_parser = sub.add_parser("check", help="check the data (report and baseline) without training")
    _add_config_flags(check_parser)
    resume_parser = sub.add_parser("resume", help="continue a stopped or interrupted run")
    resume_parser.add_argument("run_dir", type=Path)
    resume_parser.add_argument("--processes", type=int, default=None,
                               help="continue with this many data-parallel processes (default: as the run started)")
    sub.add_parser("runs", help="list runs")
    args = parser.parse_args(argv)

    from core.runs import launcher

    try:
        if args.runs_dir is not None and args.runs_dir.exists() and not args.runs_dir.is_dir():
            raise UserError(f"The runs folder '{args.runs_dir}' cannot be used: Not a directory.")
        if args.command in ("train", "check") and args.data_path is None:
            raise UserError("Give the data with --data, e.g. --data reviews.csv or --data hf://ag_news")
        if args.command == "check":
            return _check(_config_from_args(args))
        if args.command == "train":
            config = _config_from_args(args)
            print("Checking the data...", flush=True)
            from core.runs import warm_child

            warm_child.prepare_one()  # the training child imports torch and transformers meanwhile
            try:
                run_dir = launcher.create_run(config, args.runs_dir)
            except KeyboardInterrupt:
                warm_child.discard()
                print("\nCancelled: no run was created.", file=sys.stderr)
                return 130
            except UserError:
                warm_child.discard()
                raise
            _print_data_summary(run_dir, guessed=not (config.text_column and config.label_column))
            _print_estimate(config, run_dir)
            launcher.start(run_dir)
            return _follow_with_ctrl_c(run_dir)
        if args.command == "resume":
            run_dir = _run_dir(args.run_dir, args.runs_dir)
            launcher.resume(run_dir, args.processes)
            return _follow_with_ctrl_c(run_dir)
        summaries = launcher.list_runs(args.runs_dir)
        for summary in summaries:
            score = f"{summary.best_f1_label} {summary.best_f1:.3f}" if summary.best_f1 is not None else ""
            print(f"{summary.run_id:<48} {summary.state:<12} {score}")
        if not summaries:
            print(f"No runs yet in {args.runs_dir or launcher.runs_root()}.")
        return 0
    except UserError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2


def _check(config: TrainConfig) -> int:
    """`python -m core check`: the report and the baseline, exactly as `train` would print them, and no run."""
    from core.data.check import check

    problems = config.validate()
    if problems:
        raise UserError(" ".join(problems))
    start = time.perf_counter()
    print("Checking the data...", flush=True)
    checked = check(config, with_baseline=False)
    _print_report(checked.report, guessed=not (config.text_column and config.label_column))
    print("  Fitting the baseline...", flush=True)
    from core.data.prepared_cache import baseline

    _print_baseline(baseline(checked.data), checked.data.kind)
    print(f"Checked in {time.perf_counter() - start:.1f} s. Train with: python -m core train " + " ".join(sys.argv[2:]))
    return 0


def _print_data_summary(run_dir: Path, guessed: bool) -> None:
    from core import tasks

    run = RunDir(run_dir)
    report = run.report()
    if report is not None:
        _print_report(report, guessed)
    kind, _ = tasks.read_labels(run.stored_labels())
    _print_baseline(run.baseline() or {}, kind)


def _print_estimate(config: TrainConfig, run_dir: Path) -> None:
    """The Train step's "About N minutes on this machine" line, from the same lengths, settings and earlier runs."""
    from core import tasks
    from core.runs import estimate, launcher
    from core.data.check import check
    from core.data.prepared_cache import text_lengths

    checked = check(config, with_baseline=False)  # create_run's own check, from the in-process cache
    data = checked.data
    report = RunDir(run_dir).report()
    taught = report.taught_labels if report else data.kind.taught_labels(data.train["label"])
    found = estimate.for_data(text_lengths(data, checked.tokenizer), data.validation_share, config.epochs,
                              config.max_length or (report.suggested_max_length if report else None), config.model,
                              [r.run_dir for r in launcher.list_runs(run_dir.parent)],
                              texts=len(data.train) + len(data.validation),
                              num_labels=taught,
                              batch_size=config.batch_size, pair_training=config.pair_training
                              and config.warm_start_head and data.kind is tasks.SINGLE_LABEL)
    if found is not None:
        print(f"  {found.sentence()}")


def _print_report(report: DataReport, guessed: bool) -> None:
    from core.data.report import report_sentences

    hint = " (guessed; choose others with --text and --label)" if guessed else ""
    print(f"  Texts from column '{report.text_column}', labels from column '{report.label_column}'{hint}.")
    for sentence in report_sentences(report):
        print(f"  {sentence}")


def _print_baseline(baseline: dict, kind: TaskKind) -> None:
    if baseline:
        sample = f", {baseline['sample_note']}" if baseline.get("sample_note") else ""
        scores = ", ".join(f"{m.label} {baseline[m.key]:.3f}" for m in kind.metrics)
        print(f"  Baseline ({baseline['method']}{sample}): {scores}")


if __name__ == "__main__":
    sys.exit(main())
