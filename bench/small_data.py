"""Small data: K training texts per label, `python -m bench.small_data --datasets polarity,r8 --ks 8,16 --seeds 0,1,2`.

For each corpus a fixed held-out validation set (the same rows for every K and seed) and, per K and seed, K texts per
label drawn from the rest (all of a label's texts when it has fewer). Each cell trains:
- tfidf: TF-IDF + logistic regression (scikit-learn defaults), the floor a fine-tuned transformer must clear;
- ours: the app's default settings through the path a user's run takes (bench.measure's "ours": create_run, then the
  training job, in a child process);
- ours-cli: the same run as a user of the command line waits for it, `python -m core train` from start to exit
  (bench.measure.run_cli_whole): the training process is started first and imports torch and transformers while the
  command checks the data, as in the app, where it is started before Start is pressed;
- ours-before: the same with batch 32 set, which is the schedule the defaults had before the small-data one
  (core/small_data.py; a CPU's automatic batch size is 32, and a batch size set by hand turns the schedule off; the
  mean-pooling layer of small data still applies);
- setfit: SetFit with the library's defaults (1 epoch) on the same MiniLM weights, in a child process;
- probe: the same weights frozen (sentence-transformers' mean-pooled embeddings) and a logistic regression on them
  (scikit-learn defaults), in this process: SetFit's head without its contrastive training, near the head our
  fine-tuning starts from (core/tasks/probe.py), so it says what training the encoder adds.
Seconds are each recipe's whole process (start to exit). Ours runs at the lower priority the app's training process
gives itself (core/engine/job.py), SetFit at the normal one: on a busy machine that favours SetFit's seconds. Nothing from
the corpora is written into the repository.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench.datasets import CACHE, ORANGE_CORPORA, fetch_orange, fetch_polarity, parse_orange, parse_polarity
from bench.measure import ROOT, _child_env, claim_stamp, run_cli_whole, run_recipe

RECIPES = ("tfidf", "ours", "ours-cli", "ours-before", "setfit", "probe")
# The schedule before the small-data one: batch 32 (what the automatic batch size is on a CPU) turns it off.
BEFORE = {"batch_size": 32}
VALIDATION_ROWS = 1000
VALIDATION_SEED = 42  # the held-out rows never change with the sampling seed


def pools(name: str, validation_rows: int = VALIDATION_ROWS, cache: Path = CACHE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training pool, held-out validation of `validation_rows` rows, stratified), columns text and label."""
    if name == "polarity":
        full = parse_polarity(fetch_polarity(cache))
    else:
        label_column, text_column = ORANGE_CORPORA[name][1]
        frames = [parse_orange(p, label_column, text_column) for p in fetch_orange(name, cache)]
        full = pd.concat(frames, ignore_index=True)
    full = full[full["text"].str.len() > 0].drop_duplicates("text").reset_index(drop=True)
    share = validation_rows / len(full)
    val = pd.concat([g.sample(n=max(1, round(len(g) * share)), random_state=VALIDATION_SEED)
                     for _, g in full.groupby("label", sort=True)])
    train_pool = full.drop(index=val.index)
    return train_pool.reset_index(drop=True), val.sample(frac=1.0, random_state=VALIDATION_SEED).reset_index(drop=True)


def k_shot(pool: pd.DataFrame, k: int, seed: int) -> pd.DataFrame:
    """K rows per label (all of a smaller label's), in a seeded order."""
    parts = [g.sample(n=min(k, len(g)), random_state=seed) for _, g in pool.groupby("label", sort=True)]
    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def prepare_cell(name: str, k: int, seed: int, validation_rows: int = VALIDATION_ROWS,
                 cache: Path = CACHE) -> tuple[Path, Path]:
    folder = cache / "small" / f"{name}-k{k}-s{seed}-v{validation_rows}"
    train_csv, val_csv = folder / "train.csv", folder / "validation.csv"
    if not (train_csv.exists() and val_csv.exists()):
        pool, val = pools(name, validation_rows, cache)
        folder.mkdir(parents=True, exist_ok=True)
        k_shot(pool, k, seed).to_csv(train_csv, index=False)
        val.to_csv(val_csv, index=False)
    return train_csv, val_csv


def tfidf_accuracy(train_csv: Path, val_csv: Path) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    train, val = _tables(train_csv, val_csv)
    vectorizer = TfidfVectorizer()
    model = LogisticRegression(max_iter=1000).fit(vectorizer.fit_transform(train["text"]), train["label"])
    predicted = model.predict(vectorizer.transform(val["text"]))
    return {**_scores(val["label"], predicted), "process_seconds": time.perf_counter() - t0}


def probe_accuracy(train_csv: Path, val_csv: Path, model: str) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    t0 = time.perf_counter()
    train, val = _tables(train_csv, val_csv)
    encoder = SentenceTransformer(model, device="cpu")
    features = [encoder.encode(frame["text"].tolist(), batch_size=64) for frame in (train, val)]
    predicted = LogisticRegression(max_iter=2000).fit(features[0], train["label"]).predict(features[1])
    return {**_scores(val["label"], predicted), "process_seconds": time.perf_counter() - t0}


def _tables(train_csv: Path, val_csv: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return tuple(pd.read_csv(p, dtype=str, keep_default_na=False) for p in (train_csv, val_csv))


def _scores(truth: Any, predicted: Any) -> dict[str, float]:
    """Every recipe's held-out scores, computed the same way."""
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(truth, predicted)),
            "f1_macro": float(f1_score(truth, predicted, average="macro"))}


def _setfit_child(spec_path: str, result_path: str) -> None:
    """SetFit 1.x with its defaults: contrastive body training for 1 epoch on oversampled pairs, then a logistic
    regression head; the same all-MiniLM-L6-v2 weights the app trains."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    import core.engine.job  # noqa: F401  (as in ours' process: the OpenMP wait policy is set before torch loads)

    spec = json.loads(Path(spec_path).read_text())
    train, val = _tables(Path(spec["train_csv"]), Path(spec["val_csv"]))
    model = SetFitModel.from_pretrained(spec["model"])
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model=model, args=TrainingArguments(output_dir=out, num_epochs=1, seed=spec["seed"],
                                                              report_to="none"),
                          train_dataset=Dataset.from_pandas(train[["text", "label"]]))
        trainer.train()
    predicted = [str(p) for p in model.predict(val["text"].tolist())]
    Path(result_path).write_text(json.dumps(_scores(val["label"], predicted)))


def run_setfit(spec: dict[str, Any], timeout: float | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-setfit-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        t0 = time.perf_counter()
        try:
            code = subprocess.run([sys.executable, "-m", "bench.small_data", "--setfit-child", str(spec_path),
                                   str(result_path)], cwd=ROOT, env=_child_env(), timeout=timeout,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        except subprocess.TimeoutExpired:
            return {"error": f"over {timeout:.0f} s", "process_seconds": time.perf_counter() - t0}
        if code != 0 or not result_path.exists():
            return {"error": f"exit code {code}", "process_seconds": time.perf_counter() - t0}
        return {**json.loads(result_path.read_text()), "process_seconds": time.perf_counter() - t0}


def run_cell(name: str, k: int, seed: int, recipe: str, model: str, work: Path, overrides: dict[str, Any],
             timeout: float | None, validation_rows: int = VALIDATION_ROWS) -> dict[str, Any]:
    train_csv, val_csv = prepare_cell(name, k, seed, validation_rows)
    if recipe == "tfidf":
        result = tfidf_accuracy(train_csv, val_csv)
    elif recipe == "probe":
        result = probe_accuracy(train_csv, val_csv, model)
    else:
        if recipe == "ours-before":
            overrides = {**overrides, **BEFORE}
        spec = {"train_csv": str(train_csv), "val_csv": str(val_csv), "model": model, "epochs": 3.0, "seed": seed,
                "work_dir": str(work / f"{name}-k{k}-s{seed}-{recipe}"), "overrides": overrides}
        if recipe == "setfit":
            result = run_setfit(spec, timeout)
        elif recipe == "ours-cli":
            result = run_cli_whole(spec, timeout)
        else:
            result = run_recipe("ours", spec, timeout)
    keep = ("accuracy", "f1_macro", "process_seconds", "error", "steps", "batch_size")
    return {"dataset": name, "k": k, "seed": seed, "recipe": recipe, **{key: result[key] for key in keep if key in result}}


def _cell_text(runs: list[dict[str, Any]], seeds: int) -> str:
    done = [r for r in runs if "error" not in r]
    if not done:
        return "-"
    scores = [r["accuracy"] for r in done]
    spread = f" ± {statistics.stdev(scores):.3f}" if len(scores) > 1 else ""
    seconds = statistics.mean(r["process_seconds"] for r in done)
    short = f", {len(done)} of {seeds} seeds" if len(done) < seeds else ""
    return f"{statistics.mean(scores):.3f}{spread} ({seconds:.0f} s{short})"


def table(results: list[dict[str, Any]], recipes: list[str], seeds: int) -> str:
    """Mean accuracy ± standard deviation over seeds, and mean seconds per run, for each corpus and K."""
    head = ["corpus", "K per label", *recipes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    cells = dict.fromkeys((r["dataset"], r["k"]) for r in results)
    for name, k in cells:
        row = [name, str(k)]
        for recipe in recipes:
            row.append(_cell_text([r for r in results if (r["dataset"], r["k"], r["recipe"]) == (name, k, recipe)],
                                  seeds))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--setfit-child":
        _setfit_child(sys.argv[2], sys.argv[3])
        return 0
    from bench.quality import parse_setting

    parser = argparse.ArgumentParser(prog="python -m bench.small_data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="polarity,r8", help=f"comma-separated, of polarity,{','.join(ORANGE_CORPORA)}")
    parser.add_argument("--ks", default="8,16,32,64", help="texts per label")
    parser.add_argument("--seeds", default="0,1,2", help="sampling and training seeds")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--set", dest="overrides", action="append", type=parse_setting, default=[],
                        help="a TrainConfig field for ours, e.g. epochs=10")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one SetFit or ours run may take")
    parser.add_argument("--validation-rows", type=int, default=VALIDATION_ROWS, help="held-out texts per corpus")
    args = parser.parse_args(argv)
    from core.config import TrainConfig
    from core.models import resolve_model

    model = resolve_model(TrainConfig().model)
    recipes = args.recipes.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    stamp, work = claim_stamp("small")
    print(f"# Small data ({stamp}), {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"{args.validation_rows} validation texts", flush=True)
    results = []
    for name in args.datasets.split(","):
        for k in (int(x) for x in args.ks.split(",")):
            for seed in seeds:
                for recipe in recipes:
                    r = run_cell(name, k, seed, recipe, model, work, dict(args.overrides), args.timeout,
                                 args.validation_rows)
                    results.append(r)
                    print(f"- {name} K={k} seed {seed} {recipe}: "
                          + (r["error"] if "error" in r else f"accuracy {r['accuracy']:.4f}")
                          + f", {r['process_seconds']:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
    text = table(results, recipes, len(seeds))
    print("\n" + text, flush=True)
    out = ROOT / "bench_results" / f"small-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"overrides": dict(args.overrides), "results": results, "table": text}, indent=2))
    print(f"\nResults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
