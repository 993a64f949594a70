"""Command line: `python -m core train --data reviews.csv --epochs 3` and friends. Same core as the web app."""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from core.config import TrainConfig
from core.errors import UserError

_CLI_FLAGS = {  # TrainConfig field -> flag (the rest use --field-name)
    "data_path": "--data", "val_data_path": "--val-data", "text_column": "--text", "label_column": "--label",
    "learning_rate": "--lr", "run_name": "--name",
}


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with the field's own help text."""
    for f in dataclasses.fields(TrainConfig):
        flag = _CLI_FLAGS.get(f.name, "--" + f.name.replace("_", "-"))
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


def follow(run_dir: Path, out=sys.stdout) -> str:
    """Print a live progress line and each epoch's validation numbers until the run ends; returns the final state."""
    from core import runs
    from core.events import EPOCH_TABLE_HEADER, format_epoch_row

    printed_epochs = 0
    header_done = False
    last_stage = ""
    last_line = ""
    settings_shown = False
    while True:
        view = runs.view(run_dir)
        if view.settings and not settings_shown:
            settings_shown = True
            out.write(f"\rSettings: {view.settings}{' ' * 20}\n")
        if view.state == "queued":
            position = runs.queue_position(run_dir)
            line = f"Waiting in the queue: position {position}"
            if position and position > 1 and line != last_line:
                last_line = line
                out.write(f"\r{line}   " + ("" if out.isatty() else "\n"))
        complete = [r for r in view.epochs if r.accuracy is not None]
        for row in complete[printed_epochs:]:
            if not header_done:
                out.write(f"\n{EPOCH_TABLE_HEADER}\n")
                header_done = True
            out.write(f"\r{format_epoch_row(row)}{' ' * 40}\n")
        printed_epochs = len(complete)
        # Evaluations, then the stage, then progress: a poll that sees the last evaluation and "Saving the model"
        # prints them in the order they happened.
        if view.stage and view.stage != last_stage and view.state in ("queued", "running"):
            last_stage = view.stage
            out.write(f"\r{view.stage}...{' ' * 60}\n")
        if view.total_steps:
            eta = f"ETA {view.eta_seconds:.0f}s" if view.eta_seconds is not None else ""
            speed = f"{view.samples_per_second:.1f} samples/s" if view.samples_per_second else ""
            line = f"{_bar(view.fraction_done)} step {view.step}/{view.total_steps} epoch {view.epoch:.2f} {speed} {eta}"
            if line != last_line:  # piped output gets one line per change, not one per poll
                last_line = line
                out.write(f"\r{line}   " + ("" if out.isatty() else "\n"))
        out.flush()
        if view.state in ("finished", "failed", "cancelled", "interrupted"):
            out.write(f"\n{view.state.upper()}: {view.message}\n")
            return view.state
        time.sleep(0.5)


def _follow_with_ctrl_c(run_dir: Path) -> int:
    from core import runs

    try:
        state = follow(run_dir)
    except KeyboardInterrupt:
        print("\nStopping after the current step (a checkpoint is saved)...", flush=True)
        runs.cancel(run_dir)
        state = follow(run_dir)
    print(f"Run directory: {run_dir}")
    if state == "finished":
        print(f"Try it: python -c \"from transformers import pipeline; "
              f"print(pipeline('text-classification', model='{run_dir / 'model'}')('your text here'))\"")
    return {"finished": 0, "cancelled": 3}.get(state, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core", description="Fine-tune a text classifier.")
    parser.add_argument("--runs-dir", type=Path, default=None, help="where runs are kept (default: ./runs)")
    sub = parser.add_subparsers(dest="command", required=True)
    train_parser = sub.add_parser("train", help="train a classifier on a table of texts and labels")
    _add_config_flags(train_parser)
    resume_parser = sub.add_parser("resume", help="continue a stopped or interrupted run")
    resume_parser.add_argument("run_dir", type=Path)
    sub.add_parser("runs", help="list runs")
    args = parser.parse_args(argv)

    from core import runs

    try:
        if args.command == "train":
            if args.data_path is None:
                raise UserError("Give the data file with --data, e.g. --data reviews.csv")
            config = _config_from_args(args)
            print("Checking the data...", flush=True)
            run_dir = runs.create_run(config, args.runs_dir)
            _print_data_summary(run_dir)
            runs.start(run_dir)
            return _follow_with_ctrl_c(run_dir)
        if args.command == "resume":
            runs.resume(args.run_dir)
            return _follow_with_ctrl_c(args.run_dir)
        for summary in runs.list_runs(args.runs_dir):
            score = f"macro-F1 {summary.best_f1:.3f}" if summary.best_f1 is not None else ""
            print(f"{summary.run_id:<48} {summary.state:<12} {score}")
        return 0
    except UserError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 2


def _print_data_summary(run_dir: Path) -> None:
    from core import rundir
    from core.data_report import report_sentences

    for sentence in report_sentences(rundir.read_json(run_dir / rundir.REPORT, {})):
        print(f"  {sentence}")
    baseline = rundir.read_json(run_dir / rundir.BASELINE, {})
    if baseline:
        print(f"  Baseline ({baseline['method']}): accuracy {baseline['accuracy']:.3f}, macro-F1 {baseline['f1_macro']:.3f}")


if __name__ == "__main__":
    sys.exit(main())
