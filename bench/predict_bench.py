"""Prediction and start-up: single-sentence latency in-process and through the app's API, batch throughput,
`python app.py` start-up until the page answers, and Start-to-first-loss-point of a training run.

Uses a run trained by the training benchmark (ours), so no extra training is needed for the latency figures.
"""
from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHORT_SENTENCE = "a gripping , beautifully acted film ."


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _latencies(call: Any, n: int, warmup: int = 5) -> dict[str, float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": percentile(times, 0.5), "p95_ms": percentile(times, 0.95), "mean_ms": statistics.fmean(times), "n": n}


def in_process(run_dir: Path, batch_texts: list[str]) -> dict[str, Any]:
    """The app's own path: core.serving.predict.get_predictor (cached model) -> predict([text])."""
    from core.serving.predict import get_predictor

    t = time.perf_counter()
    predictor = get_predictor(run_dir)
    load_s = time.perf_counter() - t
    single = _latencies(lambda: predictor.predict([SHORT_SENTENCE]), n=200)
    predictor.predict(batch_texts[:64])  # warm-up of the batch shapes
    t = time.perf_counter()
    predictor.predict(batch_texts)
    batch_s = time.perf_counter() - t
    return {"load_seconds": load_s, "single": single, "batch_sentences": len(batch_texts),
            "batch_sentences_per_second": len(batch_texts) / batch_s}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, timeout: float) -> float | None:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            return None
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.05)
    return None


def app_startup_and_api(run_dir: Path | None, work: Path, api_calls: int = 100) -> dict[str, Any]:
    """Start `python app.py` as a user would; time until GET / answers 200; then call /predict with gradio_client."""
    if not (ROOT / "app.py").exists():
        return {"error": "app.py not present"}
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT))
    if run_dir is not None:
        env["TEXTCLF_RUNS_DIR"] = str(run_dir.parent)
    log = open(work / "app.log", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    out: dict[str, Any] = {}
    try:
        ready = _wait_http(f"http://127.0.0.1:{port}/", proc, timeout=120)
        out["startup_seconds"] = ready
        if ready is None:
            out["error"] = f"app did not answer (exit code {proc.poll()}); see {work / 'app.log'}"
            return out
        if run_dir is None:
            out["api_error"] = "no trained run to predict with"
            return out
        try:
            import psutil
            from gradio_client import Client

            # A user predicts after the page has loaded: let the app's start-up work (its warm-up thread, the prepared
            # training child's imports) finish first, so it is not timed as prediction latency.
            for child in psutil.Process(proc.pid).children(recursive=True):
                _wait_until_idle(child.pid)
            _wait_until_idle(proc.pid)
            client = Client(f"http://127.0.0.1:{port}/", verbose=False)
            run_id = run_dir.name
            out["api_single"] = _latencies(lambda: client.predict(SHORT_SENTENCE, run_id, api_name="/predict"), n=api_calls)
            out["api_http"] = _latencies(_http_caller(port, [SHORT_SENTENCE, run_id, ""]), n=api_calls)
        except Exception as exc:  # an app without /predict, or a changed signature: report, do not crash
            out["api_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        return out
    finally:
        stop_app(proc)
        log.close()
        out["process_seconds"] = time.perf_counter() - t0


def _http_caller(port: int, data: list[Any]) -> Any:
    """One call of /predict over Gradio's plain HTTP API, as curl or a browser's fetch makes it: POST the inputs,
    then read the result's event stream, on one kept-alive connection. gradio_client adds its own polling
    (it checks for new messages every 50 ms), so both are measured."""
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"data": data})

    def call() -> Any:
        conn.request("POST", "/gradio_api/call/predict", body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        event_id = json.loads(response.read())["event_id"]
        conn.request("GET", f"/gradio_api/call/predict/{event_id}")
        stream = conn.getresponse().read().decode()
        event, _, data = stream.partition("\ndata: ")
        if event.strip() != "event: complete":
            raise RuntimeError(f"/predict did not complete: {stream[:200]}")
        return json.loads(data)[0]

    return call


def _wait_until_idle(pid: int, timeout: float = 120.0) -> None:
    """Until the process stops using CPU (a prepared child has done its imports and waits for a run)."""
    import psutil

    before, still = -1.0, 0
    deadline = time.perf_counter() + timeout
    try:
        proc = psutil.Process(pid)
        while still < 3 and time.perf_counter() < deadline:
            time.sleep(0.2)
            used = sum(proc.cpu_times()[:2])
            still = still + 1 if 0 <= used - before < 0.01 else 0  # under 5 % of a core for 0.6 s
            before = used
    except psutil.NoSuchProcess:
        pass


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def first_loss_point(train_csv: Path, val_csv: Path, work: Path, prepared: bool = True) -> dict[str, Any]:
    """What Start does in the app (core.runs.launcher.launch: create_run, then the training child), timed until the first
    "log" event (the first point of the live loss chart) lands in events.jsonl. Default model and settings.
    `prepared`: as in the app, a training child was started ahead and has done its imports (core/runs/warm_child.py);
    without it, the child starts cold (the CLI, or a run started while another one's process is still alive)."""
    from core.config import TrainConfig
    from core.runs.events import read_events
    from core.runs import launcher, warm_child

    if prepared:
        warm_child.prepare()
        _wait_until_idle(warm_child.waiting_child().pid)
    t0 = time.perf_counter()
    config = TrainConfig(data_path=str(train_csv), val_data_path=str(val_csv), text_column="text", label_column="label")
    run_dir = launcher.launch(config, root=work / "first-loss-runs", owner="bench")
    launched = time.perf_counter() - t0
    first = started = None
    while time.perf_counter() - t0 < 300:
        events = read_events(run_dir)
        if started is None and any(e["type"] == "started" for e in events):
            started = time.perf_counter() - t0
        if any(e["type"] == "log" for e in events):
            first = time.perf_counter() - t0
            break
        if any(e["type"] in ("failed", "cancelled") for e in events):
            break
        time.sleep(0.05)
    launcher.cancel(run_dir)
    launcher.wait(run_dir, timeout=120)
    warm_child.discard()
    return {"create_run_seconds": launched, "training_started_seconds": started, "first_loss_seconds": first}


def run_predict_bench(run_dir: Path | None, work: Path, train_csv: Path | None = None, val_csv: Path | None = None) -> dict[str, Any]:
    import pandas as pd

    from bench.datasets import parse_polarity, fetch_polarity

    texts = parse_polarity(fetch_polarity())["text"].tolist()[:1000]
    res: dict[str, Any] = {}
    if run_dir is not None:
        try:
            res["in_process"] = in_process(run_dir, texts)
        except Exception as exc:
            res["in_process"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    res["app"] = app_startup_and_api(run_dir, work)
    if train_csv is not None:
        try:
            res["first_loss"] = first_loss_point(train_csv, val_csv, work)
            res["first_loss_cold"] = first_loss_point(train_csv, val_csv, work, prepared=False)
        except Exception as exc:
            res["first_loss"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    res["table"] = predict_table(res)
    del pd
    return res


def predict_table(res: dict[str, Any]) -> str:
    def ms(d: dict[str, Any] | None, key: str) -> str:
        return "-" if not d or key not in d else f"{d[key]:.1f} ms"

    ip, app, fl = res.get("in_process", {}), res.get("app", {}), res.get("first_loss", {})
    cold = res.get("first_loss_cold", {})
    rows = [
        ("single sentence, in-process p50 / p95", f"{ms(ip.get('single'), 'p50_ms')} / {ms(ip.get('single'), 'p95_ms')}", "p50 ≤ 15 ms"),
        ("single sentence, through the API (gradio_client) p50 / p95",
         f"{ms(app.get('api_single'), 'p50_ms')} / {ms(app.get('api_single'), 'p95_ms')}" if "api_single" in app
         else f"not measured: {app.get('api_error') or app.get('error', '')}", "p50 ≤ 80 ms"),
        ("the same over plain HTTP (POST /gradio_api/call/predict, read the result stream) p50 / p95",
         f"{ms(app.get('api_http'), 'p50_ms')} / {ms(app.get('api_http'), 'p95_ms')}" if "api_http" in app else "-", ""),
        (f"batch prediction ({ip.get('batch_sentences', '-')} sentences)",
         f"{ip['batch_sentences_per_second']:.0f} sentences/s" if "batch_sentences_per_second" in ip else f"not measured {ip.get('error', '')}",
         "≥ 300 sentences/s"),
        ("model load (get_predictor, first call)", f"{ip['load_seconds']:.2f} s" if "load_seconds" in ip else "-", ""),
        ("`python app.py` start-up until the page answers",
         f"{app['startup_seconds']:.1f} s" if app.get("startup_seconds") else f"not measured: {app.get('error', '')}", "≤ 8 s"),
        ("Start → first loss point (create_run + the prepared training child)",
         f"{fl['first_loss_seconds']:.1f} s (create_run {fl['create_run_seconds']:.1f} s)" if fl.get("first_loss_seconds")
         else f"not measured {fl.get('error', '')}", "≤ 15 s"),
        ("Start → first loss point, training child started cold",
         f"{cold['first_loss_seconds']:.1f} s" if cold.get("first_loss_seconds") else "-", ""),
    ]
    lines = ["| measurement | result | target |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
