"""Default settings across different data: `python -m bench.quality`.

Users judge the app by what its defaults give on *their* data, so the defaults are checked on corpora that differ in
every way that matters (size, text length, number of classes, imbalance), not tuned on one benchmark. Each case trains
the core engine exactly as the app runs it (bench.measure's "ours", one child process per run) and prints validation
accuracy and macro-F1 next to the TF-IDF + linear SVM baseline the app shows, plus the median confidence of the
validation predictions (a model that is right but unsure has been under-trained).

`--set batch_size=32` (repeatable) overrides a TrainConfig field in every run, to compare a candidate default with
the current one on the same rows and seeds.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from bench.datasets import CACHE, DATASETS, prepare
from bench.measure import ROOT, claim_stamp, run_recipe
from core.config import TrainConfig

EXAMPLE = ROOT / "examples" / "support_tickets.csv"

# name -> (dataset, train rows, validation rows): from 100-odd texts to a thousand, 2 to 53 classes, tweets to
# 900-word excerpts, balanced and 2,840:1 imbalanced. Sized so that the whole set runs in ~15 min on 2 CPU cores.
CASES: dict[str, tuple[str, int | None, int | None]] = {
    "example": ("example", None, None),        # the shipped example: 320 short tickets, 4 labels, split by the app
    "books": ("books", None, None),            # 112 / 28 long excerpts, 2 labels
    "polarity-200": ("polarity", 200, 400),    # few short sentences, a hard 2-class task
    "polarity-1500": ("polarity", 1500, 400),
    "tweets-600": ("tweets", 600, 600),        # short, noisy, 2 authors
    "r8-400": ("r8", 400, 600),                # news, 8 topics, 40:1 imbalance
    "r52-1000": ("r52", 1000, 800),            # news, 53 topics, many with 1-5 examples
    "20ng-600": ("20ng", 600, 600),            # long posts, 20 balanced groups
}


def parse_setting(text: str) -> tuple[str, Any]:
    key, _, raw = text.partition("=")
    fields = {f: type(getattr(TrainConfig(), f)) for f in TrainConfig().to_dict()}
    if key not in fields:
        raise argparse.ArgumentTypeError(f"unknown setting {key!r}")
    kind = fields[key]
    value = (raw.lower() in ("1", "true", "yes")) if kind is bool else kind(raw)
    return key, value


def run_case(name: str, seed: int, overrides: dict[str, Any], model: str, epochs: float, work: Path) -> dict[str, Any]:
    dataset, train_rows, val_rows = CASES[name]
    if dataset == "example":
        train_csv, val_csv = str(EXAMPLE), None
    else:
        data = prepare(dataset, train_rows, val_rows, seed=42)  # same rows for every seed: only training varies
        train_csv, val_csv = str(data.train_csv), str(data.val_csv)
    spec = {"train_csv": train_csv, "val_csv": val_csv, "model": model, "epochs": epochs, "seed": seed,
            "work_dir": str(work / f"{name}-s{seed}"), "overrides": overrides}
    result = run_recipe("ours", spec)
    result["case"], result["seed"] = name, seed
    return result


def _mean(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values) / len(values) ** 0.5:.3f}"


def table(results: list[dict[str, Any]]) -> str:
    head = ["case", "train / val rows", "labels", "batch", "steps", "accuracy", "macro-F1", "baseline acc / F1",
            "median confidence", "whole run (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in dict.fromkeys(r["case"] for r in results):
        runs = [r for r in results if r["case"] == name and "error" not in r]
        if not runs:
            error = next(r["error"] for r in results if r["case"] == name)
            lines.append(f"| {name} | failed: {error} |" + " |" * (len(head) - 2))
            continue
        first = runs[0]
        row = [name, f"{first['num_train']} / {first['num_validation']}"]
        row += [str(first["num_labels"]), str(first["batch_size"]), str(first["steps"]),
                _mean([r["accuracy"] for r in runs]), _mean([r["f1_macro"] for r in runs]),
                f"{first['baseline_accuracy']:.3f} / {first['baseline_f1_macro']:.3f}",
                _mean([r["median_confidence"] for r in runs]), f"{statistics.mean(r['process_seconds'] for r in runs):.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--seeds", default="42", help="comma-separated training seeds (the rows stay the same)")
    parser.add_argument("--epochs", type=float, default=TrainConfig().epochs)
    parser.add_argument("--set", dest="overrides", action="append", type=parse_setting, default=[],
                        help="a TrainConfig field for every run, e.g. batch_size=32")
    parser.add_argument("--model", help="base model (default: the app's default)")
    args = parser.parse_args(argv)
    from core.models import resolve_model

    model = resolve_model(args.model or TrainConfig().model)
    overrides = dict(args.overrides)
    stamp, work = claim_stamp("quality")
    print(f"# Default-settings quality check ({stamp}), overrides {overrides or 'none'}, data cache {CACHE}", flush=True)
    results = []
    for name in args.cases.split(","):
        if name not in CASES:
            parser.error(f"unknown case {name!r}; choose from {', '.join(CASES)} (datasets: {', '.join(DATASETS)})")
        for seed in (int(s) for s in args.seeds.split(",")):
            r = run_case(name, seed, overrides, model, args.epochs, work)
            results.append(r)
            if "error" in r:
                print(f"- {name} seed {seed}: FAILED {r['error']}", flush=True)
            else:
                print(f"- {name} seed {seed}: batch {r['batch_size']}, {r['steps']} steps, accuracy {r['accuracy']:.4f}, "
                      f"macro-F1 {r['f1_macro']:.4f} (baseline {r['baseline_f1_macro']:.4f}), median confidence "
                      f"{r['median_confidence']:.3f}, {r['process_seconds']:.0f} s", flush=True)
    text = table(results)
    print("\n" + text, flush=True)
    out = ROOT / "bench_results" / f"quality-{stamp}.json"
    out.write_text(json.dumps({"overrides": overrides, "results": results, "table": text}, indent=2, default=str))
    print(f"\nResults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
