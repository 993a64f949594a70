"""`python -m bench.processes`: the same run on 1 and on N data-parallel processes (torchrun; gloo on a CPU), same
data, seed and whole-step batch: validation accuracy and macro-F1 should agree within noise (the issue asks <= 2
points), and the wall time says what the processes cost or gain on this machine.

Each run is created and started through core.runs.launcher exactly as `python -m core train --processes N` does. Results go
to bench_results/processes-<time>.{json,md}.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from bench.datasets import DATASETS, prepare

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench_results"


def _seconds_between(events: list[dict], first: str, last: str) -> float | None:
    times = {e["type"]: e["time"] for e in events if e["type"] in (first, last)}
    return round(times[last] - times[first], 1) if first in times and last in times else None


def one_run(data: object, processes: int, epochs: float, seed: int, model: str, root: Path) -> dict:
    from core.runs import launcher
    from core.config import TrainConfig
    from core.runs.rundir import RunDir

    config = TrainConfig(data_path=str(data.train_csv), val_data_path=str(data.val_csv), model=model,
                         epochs=epochs, seed=seed, processes=processes)
    started = time.time()
    run_dir = launcher.launch(config, root)
    state = launcher.wait(run_dir, timeout=6 * 3600)
    run = RunDir(run_dir)
    events = run.events()
    facts = next((e for e in events if e["type"] == "started"), {})
    probe = [e["time"] for e in events if e["type"] == "status" and str(e.get("message", "")).startswith(
        ("Fitting the classification head", "Training"))]
    metrics = run.metrics() or {}
    return {
        "processes": processes, "state": state, "batch_size": facts.get("batch_size"),
        "total_steps": facts.get("total_steps"), "accuracy": metrics.get("accuracy"),
        "f1_macro": metrics.get("f1_macro"), "wall_seconds": round(time.time() - started, 1),
        "training_seconds": _seconds_between(events, "started", "finished"),
        "probe_seconds": round(probe[-1] - probe[0], 1) if len(probe) >= 2 else None, "run_dir": str(run_dir),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.processes", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=DATASETS, default="polarity")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--val-rows", type=int, default=800)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--processes", default="1,2", help="comma-separated process counts to compare")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", default="", help="base model (default: the app's default)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from core.config import DEFAULT_MODEL

    data = prepare(args.dataset, args.train_rows or None, args.val_rows or None, args.seed)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = args.out / f"processes-runs-{stamp}"
    report = {"command": "python -m bench.processes " + " ".join(sys.argv[1:] if argv is None else argv),
              "dataset": data.name, "train_rows": data.num_train, "val_rows": data.num_val, "epochs": args.epochs,
              "cpu_count": os.cpu_count(), "load_average_start": list(os.getloadavg()), "runs": []}
    for count in [int(p) for p in args.processes.split(",") if p.strip()]:
        result = one_run(data, count, args.epochs, args.seed, args.model or DEFAULT_MODEL, root)
        report["runs"].append(result)
        print(json.dumps(result), flush=True)
    report["load_average_end"] = list(os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"processes-{stamp}.json").write_text(json.dumps(report, indent=2))
    lines = ["| processes | batch (whole step) | steps | accuracy | macro-F1 | training s | probe s |",
             "|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(f"| {r['processes']} | {r['batch_size']} | {r['total_steps']} | {r['accuracy']:.4f} | "
                     f"{r['f1_macro']:.4f} | {r['training_seconds']} | {r['probe_seconds']} |")
    (args.out / f"processes-{stamp}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
