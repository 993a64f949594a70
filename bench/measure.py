"""Run one recipe in its own child process and measure it: wall-clock, samples/s, accuracy, peak memory, MFU.

The parent starts `python -m bench.measure <recipe> <spec.json> <result.json>` and collects the child's peak RSS with
os.wait4 (the kernel's ru_maxrss for exactly that process), so recipes never share a heap or disturb each other.
On CUDA the child also reports torch.cuda.max_memory_allocated.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def claim_stamp(kind: str, results: Path | None = None) -> tuple[str, Path]:
    """A stamp for one invocation's results (`<kind>-<stamp>.json`) and its claimed work folder
    (`<kind>-work-<stamp>`): two invocations started in the same second get different stamps ("-2" and on), where
    the second's results file once replaced the first's."""
    results = results or ROOT / "bench_results"
    results.mkdir(parents=True, exist_ok=True)
    base = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        stamp = base if n == 1 else f"{base}-{n}"
        try:
            (results / f"{kind}-work-{stamp}").mkdir()
        except FileExistsError:
            continue
        return stamp, results / f"{kind}-work-{stamp}"
    raise RuntimeError(f"no free stamp for {kind} at {base}")

# Dense bf16 tensor-core peaks (FLOP/s) by device-name fragment; the first match wins. --peak-tflops overrides.
GPU_PEAK_BF16 = [
    ("H200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("GH200", 989e12), ("B200", 2250e12),
    ("A100", 312e12), ("A10G", 70e12), ("A10", 125e12), ("L40S", 362e12), ("L40", 181e12), ("L4", 121e12),
    ("RTX 4090", 165e12), ("RTX 3090", 71e12), ("V100", 125e12), ("T4", 65e12),
]


def gpu_peak_flops(name: str) -> float | None:
    for fragment, peak in GPU_PEAK_BF16:
        if fragment.lower() in name.lower():
            return peak
    return None


def non_embedding_params(model_path: str) -> int:
    """Parameters that take part in the per-token matrix products (everything but the embedding tables)."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config = AutoConfig.from_pretrained(model_path, num_labels=2)
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    emb = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Embedding))
    return total - emb


# ---------------------------------------------------------------------------------------------------------- child side

def _run_ours(spec: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """The core engine exactly as the app runs it: create_run with core defaults, then train(run_dir) in-process.

    The only addition is an observer callback (timestamps at epoch begin/end, nothing else) attached to whatever
    Trainer the engine builds, so epoch wall-clock is measured the same way as for the stock recipes.
    """
    import time

    import pandas as pd
    import transformers

    from bench.recipes import EpochClock
    from core.runs.events import fold, read_events
    from core.runs.launcher import create_run
    from core.engine.job import main as train_main

    clock = EpochClock()
    original_init = transformers.Trainer.__init__

    def init_with_clock(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        original_init(self, *args, **kwargs)
        self.add_callback(clock)

    transformers.Trainer.__init__ = init_with_clock  # type: ignore[method-assign]
    t0 = time.perf_counter()
    run_dir = create_run(_ours_config(spec), root=out_dir / "runs", owner="bench")
    t_created, wall_train_start = time.perf_counter(), time.time()
    exit_code = train_main([str(run_dir)])  # what `python -m core.train <run_dir>` runs in the app's child process
    t_done = time.perf_counter()
    transformers.Trainer.__init__ = original_init  # type: ignore[method-assign]
    events = read_events(run_dir)
    view = fold(events)
    if exit_code != 0 or view.state != "finished":
        state = view.state
        raise RuntimeError(f"core training ended {state}: {view.message}")
    info = view.info
    metrics = json.loads((run_dir / "metrics.json").read_text())
    epoch_seconds = clock.epoch_seconds
    if not epoch_seconds:  # the engine no longer uses transformers.Trainer: fall back to its own events
        started = next(e["time"] for e in events if e["type"] == "started")
        last = [e["time"] for e in events if e["type"] in ("progress", "log")][-1]
        epoch_seconds = [(last - started) / max(1, len(view.evals))] * max(1, len(view.evals))
    train_df = pd.read_parquet(run_dir / "data" / "train.parquet")
    confidence = pd.read_csv(run_dir / "validation_predictions.csv")["confidence"]
    baseline = json.loads((run_dir / "baseline.json").read_text())
    return {
        "epoch_seconds": epoch_seconds,
        "train_seconds": sum(epoch_seconds),
        "total_seconds": t_done - t0,
        "create_run_seconds": t_created - t0,
        "phases": {"create_run": t_created - t0, **engine_phases(events, wall_train_start, sum(epoch_seconds))},
        "num_train": int(info.get("num_train") or len(train_df)),
        "epochs": spec["epochs"],
        "accuracy": metrics.get("accuracy"),
        "f1_macro": metrics.get("f1_macro"),
        "evals": [{"step": e.step, "epoch": e.epoch, "loss": e.loss, **e.scores} for e in view.evals],
        "precision": info.get("precision"),
        "max_length": info.get("max_length"),
        "batch_size": info.get("batch_size"),
        "learning_rate": info.get("learning_rate"),
        "engine_samples_per_second": view.samples_per_second,
        "steps": view.total_steps,
        "median_confidence": float(confidence.median()),
        "baseline_accuracy": baseline.get("accuracy"),
        "baseline_f1_macro": baseline.get("f1_macro"),
        "num_validation": info.get("num_validation"),
        "num_labels": len(json.loads((run_dir / "labels.json").read_text())),
        "run_dir": str(run_dir),
    }


def _ours_config(spec: dict[str, Any]) -> Any:
    """The run's settings: core defaults, the spec's data, model, epochs and seed, and its overrides over them."""
    from core.config import TrainConfig

    columns = {"text_column": "text", "label_column": "label"} if spec.get("val_csv") else {}  # else: guessed
    settings = {"data_path": spec["train_csv"], "val_data_path": spec.get("val_csv"), "model": spec["model"],
                "epochs": spec["epochs"], "seed": spec["seed"], **columns,
                **({"batch_size": spec["ours_batch_size"]} if spec.get("ours_batch_size") else {})}
    return TrainConfig(**{**settings, **spec.get("overrides", {})})  # an override (`--set epochs=30`) wins


def _run_app_start(spec: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """Start to finished in the app: the data step has created the run, and the training process the app keeps
    prepared has imported its stack; the clock runs from handing it the run until it exits."""
    import time

    from core.runs import warm_child
    from core.runs.launcher import create_run

    run_dir = create_run(_ours_config(spec), root=out_dir / "runs", owner="bench")
    warm_child.prepare_one()
    child = warm_child.waiting_child()
    if child is None or not _wait_until_idle(child.pid):
        raise RuntimeError("the prepared training process did not settle")
    t0 = time.perf_counter()
    process = warm_child.start_training_child(run_dir, resume=False)
    code = process.wait()
    elapsed = time.perf_counter() - t0
    if code != 0:
        raise RuntimeError(f"training exited with {code}; log in {run_dir}")
    scores = json.loads((run_dir / "metrics.json").read_text())
    return {"start_to_finished_seconds": elapsed, "accuracy": scores.get("accuracy"), "f1_macro": scores.get("f1_macro")}


def _wait_until_idle(pid: int, quiet_seconds: float = 1.0, limit: float = 180.0) -> bool:
    """True once the process has used no CPU for `quiet_seconds` (done importing, waiting on its stdin)."""
    import time

    def cpu_ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    deadline, last, quiet_since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        try:
            ticks = cpu_ticks()
        except OSError:
            return False
        if ticks != last:
            last, quiet_since = ticks, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_seconds:
            return True
        time.sleep(0.1)
    return False


def engine_phases(events: list[dict[str, Any]], wall_start: float, train_seconds: float) -> dict[str, float]:
    """Where the training job's time went, from its events' timestamps (wall_start: when the job was called).
    Training steps are the epoch clock's; evaluations, checkpoints and the per-step callbacks are the rest of the
    time between the first step and the final save."""
    status = {e["message"]: e["time"] for e in events if e["type"] == "status"}
    started = next(e["time"] for e in events if e["type"] == "started")
    ended = next(e["time"] for e in events if e["type"] in ("finished", "failed", "cancelled"))
    load, tokenise, training = status["Loading the model"], status["Tokenising"], status["Training"]
    probe = status.get("Fitting the classification head")
    saving = status.get("Saving the model", ended)
    return {
        "job start (imports, device queue)": load - wall_start,
        "model load": tokenise - load,
        "tokenising": (probe or training) - tokenise,
        "warm-start probe": training - probe if probe else 0.0,
        "trainer set-up": started - training,
        "training steps": train_seconds,
        "evaluations, checkpoints, callbacks": saving - started - train_seconds,
        "final metrics and model save": ended - saving,
    }


def child_main(recipe: str, spec_path: str, result_path: str) -> None:
    if os.environ.get("BENCH_STACKS"):  # a stalled recipe shows where it waits: all stacks every N seconds
        import faulthandler

        faulthandler.dump_traceback_later(float(os.environ["BENCH_STACKS"]), repeat=True)
    if recipe in ("ours", "app"):
        # As in the app's training child (`python -m core.train`), the engine's module code runs before torch loads
        # (it sets the OpenMP wait policy); the stock recipes get the plain environment.
        import core.engine.job  # noqa: F401
    import torch

    spec = json.loads(Path(spec_path).read_text())
    torch.manual_seed(spec["seed"])
    out_dir = Path(spec["work_dir"]) / recipe
    out_dir.mkdir(parents=True, exist_ok=True)
    if recipe == "ours":
        result = _run_ours(spec, out_dir)
    elif recipe == "app":
        result = _run_app_start(spec, out_dir)
    else:
        from bench.recipes import RECIPES

        result = RECIPES[recipe](Path(spec["train_csv"]), Path(spec["val_csv"]), spec["model"], spec["epochs"], spec["seed"], out_dir)
    if torch.cuda.is_available():
        result["gpu_max_allocated_bytes"] = int(torch.cuda.max_memory_allocated())
        result["device"] = torch.cuda.get_device_name(0)
    else:
        result["device"] = "cpu"
    result["torch_threads"] = torch.get_num_threads()
    Path(result_path).write_text(json.dumps(result, indent=2))


# --------------------------------------------------------------------------------------------------------- parent side

def _child_env() -> dict[str, str]:
    """Offline, this repo importable, and each recipe tokenising as its library does by default."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=path)
    env.pop("TOKENIZERS_PARALLELISM", None)
    return env


def run_recipe(recipe: str, spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Run one recipe in a fresh interpreter; adds peak_rss_bytes, process_seconds and derived speed figures."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{recipe}-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps(spec))
        env = _child_env()
        t0 = time.perf_counter()
        log_path = Path(spec["work_dir"]) / f"{recipe}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w") as log:  # progress bars and warnings go to the log, not into the table
            proc = subprocess.Popen([sys.executable, "-m", "bench.measure", recipe, str(spec_path), str(result_path)],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0 or not result_path.exists():
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] if log_path.exists() else []
            return {"recipe": recipe, "error": f"exit code {proc.returncode}: {' '.join(tail)[:200]}",
                    "process_seconds": elapsed, "log": str(log_path)}
        result = json.loads(result_path.read_text())
    result["recipe"] = recipe
    result["process_seconds"] = elapsed
    if recipe == "app":  # a timing of the app's path, not a training recipe: nothing per epoch to derive
        return result
    if "phases" in result:  # the rest of the child's life: interpreter start, imports, exit
        result["phases"] = {"interpreter and imports": elapsed - result["total_seconds"], **result["phases"]}
    result["real_tokens_per_epoch"] = real_token_count(spec["model"], _train_texts(spec, result),
                                                       int(result.get("max_length") or 512))
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024  # Linux reports KiB
    epochs_done = len(result["epoch_seconds"]) or 1
    result["epoch_seconds_mean"] = result["train_seconds"] / epochs_done
    result["samples_per_second"] = result["num_train"] * epochs_done / result["train_seconds"]
    result["real_tokens_per_second"] = result["real_tokens_per_epoch"] * epochs_done / result["train_seconds"]
    if len(result["epoch_seconds"]) > 1:
        # Steady state: the epochs after the first (no warm-up, no new shapes to compile or tune).
        steady = result["epoch_seconds"][1:]
        result["steady_samples_per_second"] = result["num_train"] * len(steady) / sum(steady)
    return result


def cli_command(spec: dict[str, Any], runs_dir: Path) -> list[str]:
    """`python -m core train` with the spec's data, epochs, seed and ours' settings: what a user of the CLI runs."""
    from core.__main__ import CLI_FLAGS

    command = [sys.executable, "-m", "core", "--runs-dir", str(runs_dir), "train", "--data", spec["train_csv"],
               "--model", spec["model"], "--epochs", f"{spec['epochs']:g}", "--seed", str(spec["seed"])]
    if spec.get("val_csv"):
        command += ["--val-data", spec["val_csv"], "--text", "text", "--label", "label"]
    if spec.get("ours_batch_size"):
        command += ["--batch-size", str(spec["ours_batch_size"])]
    for name, value in (spec.get("overrides") or {}).items():
        flag = CLI_FLAGS.get(name, "--" + name.replace("_", "-"))
        command += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    return command


def run_cli_whole(spec: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
    """Ours' whole run as a user of the CLI waits for it: from starting `python -m core train` to its exit.

    The in-process measurement (run_recipe) times the engine's epochs but does everything one after the other;
    the CLI, like the app, starts the training process first, so its imports overlap the data check."""
    work = Path(spec["work_dir"]) / "ours-cli"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(work / "cli.log", "w") as log:
        try:
            code = subprocess.run(cli_command(spec, work / "runs"), cwd=ROOT, env=_child_env(), stdout=log,
                                  stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = None
    elapsed = time.perf_counter() - t0
    metrics = sorted((work / "runs").glob("*/metrics.json"))
    if code != 0 or not metrics:
        return {"error": f"exit code {code}; log in {work / 'cli.log'}", "process_seconds": elapsed}
    scores = json.loads(metrics[-1].read_text())
    return {"process_seconds": elapsed, "accuracy": scores.get("accuracy"), "f1_macro": scores.get("f1_macro")}


def real_token_count(model: str, texts: list[str], max_length: int) -> int:
    """Unpadded tokens of one epoch at the recipe's truncation length. Counted by the parent after the recipe's process
    has ended, so no recipe's whole-process time includes the measurement."""
    from transformers import AutoTokenizer

    from core.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(model))
    return int(sum(len(ids) for ids in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]))


def _train_texts(spec: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """The rows the recipe trained on: ours' own prepared split when it made one, else the training CSV."""
    import pandas as pd

    if result.get("run_dir"):
        return pd.read_parquet(Path(result["run_dir"]) / "data" / "train.parquet")["text"].astype(str).tolist()
    return pd.read_csv(spec["train_csv"], dtype={"text": str}, keep_default_na=False)["text"].tolist()


def add_flops(result: dict[str, Any], params: int, peak: float | None) -> None:
    """Model FLOP/s = 6 x non-embedding params x real (unpadded) tokens/s; MFU = that / the device's bf16 peak."""
    if "real_tokens_per_second" not in result:
        return
    result["model_flops_per_second"] = 6 * params * result["real_tokens_per_second"]
    if peak:
        result["mfu"] = result["model_flops_per_second"] / peak


if __name__ == "__main__":
    child_main(*sys.argv[1:4])
