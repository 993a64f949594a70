"""`python -m bench.api_load`: many concurrent clients on the app's /predict API, before and after batching.

Starts `python app.py` (loopback only) once per serving path, and for each measures N clients that each call
/predict one text at a time for a fixed time, first on an idle server, then while a training run of the default
model trains in a child process. "before" is the former path (TEXTCLF_PREDICT_BATCH=0: one forward pass per call,
4 calls at a time), "after" the batched one (core/serving/batcher.py). Reports predictions/s, p50 / p95 latency and
errors side by side.

Clients speak Gradio's plain HTTP API (POST /gradio_api/call/predict, then read the result's event stream) on one
kept-alive connection each, with a session of their own as gradio_client keeps one (a call without a session makes
the server build a new session's state, ~12 ms of its CPU per call, which would measure Gradio, not prediction).
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.predict_bench import ROOT, _free_port, _wait_http, _wait_until_idle, percentile, stop_app  # noqa: E402

EXAMPLE_DATA = ROOT / "examples" / "support_tickets.csv"
REQUEST_TIMEOUT_S = 60.0
MAX_REQUESTS_PER_CLIENT = 2000  # a bound on the load whatever the duration


def train_quick_run(root: Path, data: Path = EXAMPLE_DATA, epochs: float = 1.0) -> Path:
    """A finished run of the default model to predict with (~15 s on 2 cores)."""
    from core.runs import launcher
    from core.config import TrainConfig

    run_dir = launcher.launch(TrainConfig(data_path=str(data), epochs=epochs), root=root, owner="bench")
    state = launcher.wait(run_dir, timeout=900)
    if state != "finished":
        raise RuntimeError(f"the run to predict with ended {state}; see {run_dir / 'train.log'}")
    return run_dir


def start_app(runs_root: Path, log_path: Path, batched: bool) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_SERVER_NAME="127.0.0.1",
               GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT),
               TEXTCLF_RUNS_DIR=str(runs_root), TEXTCLF_PREDICT_BATCH="1" if batched else "0")
    env.pop("SPACE_ID", None)
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    if _wait_http(f"http://127.0.0.1:{port}/", proc, timeout=120) is None:
        stop_app(proc)
        raise RuntimeError(f"app did not answer; see {log_path}")
    import psutil

    for child in psutil.Process(proc.pid).children(recursive=True):  # the prepared training child's imports
        _wait_until_idle(child.pid)
    _wait_until_idle(proc.pid)
    return proc, port


class _Client:
    """One API user: its own connection and session; calls /predict with one text at a time."""

    def __init__(self, port: int, run_id: str, key: str = "") -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)
        self.run_id = run_id
        self.key = key  # the run's owner key: needed on a shared server, ignored on your own machine
        self.session = uuid.uuid4().hex[:11]

    def call(self, text: str) -> dict[str, float]:
        body = json.dumps({"data": [text, self.run_id, self.key], "session_hash": self.session})
        self.conn.request("POST", "/gradio_api/call/predict", body=body, headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"POST answered {response.status}: {payload[:200]!r}")
        event_id = json.loads(payload)["event_id"]
        self.conn.request("GET", f"/gradio_api/call/predict/{event_id}")
        stream = self.conn.getresponse().read().decode()
        for block in stream.split("\n\n"):
            event, _, data = block.strip().partition("\ndata: ")
            if event == "event: complete":
                return json.loads(data)[0]
            if event == "event: error":
                raise RuntimeError(f"/predict failed: {data[:200]}")
        raise RuntimeError(f"/predict did not complete: {stream[:200]}")


def load(port: int, run_id: str, texts: list[str], clients: int, seconds: float) -> dict[str, Any]:
    """`clients` threads call /predict back to back for `seconds`; each client sends one warm-up call first."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = [0.0]
    # The barrier's action runs before any client is released, so none of them sees the deadline unset.
    ready = threading.Barrier(clients + 1, action=lambda: deadline.__setitem__(0, time.perf_counter() + seconds))

    def user(k: int) -> None:
        client = _Client(port, run_id)
        try:
            client.call(texts[k % len(texts)])
        except Exception as exc:  # counted, never fatal: the figures say how many failed
            with lock:
                errors.append(f"warm-up: {type(exc).__name__}: {str(exc)[:120]}")
        ready.wait()
        for i in range(MAX_REQUESTS_PER_CLIENT):
            if time.perf_counter() >= deadline[0]:
                break
            t = time.perf_counter()
            try:
                client.call(texts[(k * 7919 + i) % len(texts)])
                with lock:
                    latencies.append(time.perf_counter() - t)
            except Exception as exc:
                with lock:
                    errors.append(f"{type(exc).__name__}: {str(exc)[:120]}")
                client = _Client(port, run_id)  # a broken connection is not reused
        client.conn.close()

    threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    ready.wait(timeout=300)
    start = deadline[0] - seconds
    for t in threads:
        t.join(timeout=seconds + REQUEST_TIMEOUT_S + 30)
    wall = time.perf_counter() - start
    lat = sorted(latencies)
    return {"clients": clients, "seconds": wall, "predictions": len(lat), "errors": len(errors),
            "error_samples": sorted(set(errors))[:5], "predictions_per_second": len(lat) / wall,
            "p50_ms": percentile(lat, 0.5) * 1000 if lat else None,
            "p95_ms": percentile(lat, 0.95) * 1000 if lat else None,
            "max_ms": lat[-1] * 1000 if lat else None}


def start_training(runs_root: Path, data: Path = EXAMPLE_DATA) -> Path:
    """A long run of the default model in its own process (as Start does), returned once it is taking steps."""
    from core.runs import launcher
    from core.config import TrainConfig
    from core.runs.events import read_events

    run_dir = launcher.launch(TrainConfig(data_path=str(data), epochs=100.0), root=runs_root, owner="bench-training")
    deadline = time.perf_counter() + 300
    while time.perf_counter() < deadline:
        types = {e["type"] for e in read_events(run_dir)}
        if "log" in types or "progress" in types:
            return run_dir
        if types & {"failed", "cancelled", "finished"}:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the training run did not start taking steps; see {run_dir / 'train.log'}")


def stop_training(run_dir: Path) -> str:
    from core.runs import launcher

    state = launcher.status(run_dir)["state"]
    launcher.cancel(run_dir)
    launcher.wait(run_dir, timeout=120)
    return state


def run_api_load(work: Path, run_dir: Path | None = None, clients: int = 50, seconds: float = 20.0,
                 paths: tuple[str, ...] = ("before", "after"), training: bool = True) -> dict[str, Any]:
    import pandas as pd

    work.mkdir(parents=True, exist_ok=True)
    runs_root = (run_dir.parent if run_dir else work / "runs").resolve()
    if run_dir is None:
        print("- training a run of the default model to predict with ...", flush=True)
        run_dir = train_quick_run(runs_root)
    texts = [t for t in pd.read_csv(EXAMPLE_DATA)["text"].astype(str) if t.strip()]
    res: dict[str, Any] = {"clients": clients, "seconds": seconds, "run_id": run_dir.name, "cpu_count": os.cpu_count(),
                           "rows": []}
    for path in paths:
        proc, port = start_app(runs_root, work / f"app-{path}.log", batched=path == "after")
        try:
            conditions = ("idle", "training") if training else ("idle",)
            for condition in conditions:
                train_run = start_training(runs_root) if condition == "training" else None
                try:
                    print(f"- {path}, {condition}: {clients} clients for {seconds:g} s ...", flush=True)
                    before = os.getloadavg()[0]  # the box may be shared: say how busy it was
                    row = {"path": path, "condition": condition, "load_average_before": before,
                           **load(port, run_dir.name, texts, clients, seconds)}
                finally:
                    if train_run is not None:
                        row["training_state_after"] = stop_training(train_run)
                res["rows"].append(row)
                print(f"  {row['predictions_per_second']:.1f} predictions/s, p50 {row['p50_ms'] or 0:.0f} ms, "
                      f"p95 {row['p95_ms'] or 0:.0f} ms, {row['errors']} errors", flush=True)
        finally:
            stop_app(proc)
    res["table"] = load_table(res)
    return res


def load_table(res: dict[str, Any]) -> str:
    names = {"before": "before (one forward pass per call, 4 at a time)",
             "after": "after (concurrent calls batched, core/serving/batcher.py)"}
    lines = [f"| {res['clients']} clients, {res['seconds']:g} s each | predictions/s | p50 | p95 | max | errors | "
             "load average before |", "|---|---|---|---|---|---|---|"]
    for r in res["rows"]:
        cond = "idle server" if r["condition"] == "idle" else "while a run trains"
        ms = (lambda v: "-" if v is None else f"{v:.0f} ms")
        lines.append(f"| {names[r['path']]}, {cond} | {r['predictions_per_second']:.1f} | {ms(r['p50_ms'])} | "
                     f"{ms(r['p95_ms'])} | {ms(r['max_ms'])} | {r['errors']} of {r['predictions'] + r['errors']} | "
                     f"{r.get('load_average_before', float('nan')):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.api_load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="concurrent API clients (default 50, at most 200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="load per measurement (default 20, at most 120)")
    parser.add_argument("--paths", default="before,after", help="serving paths to compare: before,after")
    parser.add_argument("--run-dir", type=Path, help="a finished run to predict with (default: train one, ~15 s)")
    parser.add_argument("--no-training", action="store_true", help="skip the measurement while a run trains")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results")
    args = parser.parse_args(argv)
    clients, seconds = max(1, min(args.clients, 200)), max(1.0, min(args.seconds, 120.0))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    paths = tuple(p.strip() for p in args.paths.split(",") if p.strip() in ("before", "after"))
    res = run_api_load(args.out / f"work-api-load-{stamp}", args.run_dir, clients, seconds, paths,
                       not args.no_training)
    res["command"] = "python -m bench.api_load " + " ".join(sys.argv[1:] if argv is None else argv)
    out = args.out / f"api-load-{stamp}.json"
    out.write_text(json.dumps(res, indent=2, default=str))
    print("\n" + res["table"] + f"\n\nresults: {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
