"""/predict under concurrent clients, through a real server: every client gets its own text's probabilities, the
same as predicting in-process, and the benchmark's load loop counts them without errors."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bench.api_load import _Client, load, load_table
from core.serving import predict
from tests.fixtures_app import start_app, stop_app
from tests.test_predict_batch import TEXTS
from tests.test_predict import make_run_dir


@pytest.fixture(scope="module")
def served_run(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: str):
    root = tmp_path_factory.mktemp("load-runs")
    run = make_run_dir(root, tiny_model_dir, predictions=False)
    # fp32: each client must get exactly its own text's figures (bf16 batches move them by thousandths, see
    # tests/test_predict_batch.py), so a mix-up between callers could not hide in bf16 noise.
    proc, url = start_app(root, root / "app.log", extra_env={"TEXTCLF_PRECISION": "fp32"})
    try:
        yield run, int(url.rstrip("/").rsplit(":", 1)[1])
    finally:
        stop_app(proc)


def test_concurrent_api_clients_each_get_their_own_texts_result(served_run: tuple[Path, int]) -> None:
    run, port = served_run
    texts = [t for t in TEXTS if t.strip()]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TEXTCLF_PRECISION", "fp32")
        want = {t: predict.get_predictor(run).predict([t])[0] for t in texts}
    got: list[tuple[str, dict[str, float]]] = []
    errors: list[BaseException] = []

    def user(k: int) -> None:
        client = _Client(port, run.name)
        try:
            for i in range(4):
                text = texts[(k + i) % len(texts)]
                got.append((text, client.call(text)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=user, args=(k,), daemon=True) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(got) == 64
    for text, probs in got:
        assert probs == pytest.approx(want[text], abs=1e-5)


def test_the_load_loop_reports_throughput_latency_and_errors(served_run: tuple[Path, int]) -> None:
    run, port = served_run
    row = load(port, run.name, ["refund my payment", "the app crashes"], clients=6, seconds=1.0)
    assert row["errors"] == 0 and row["predictions"] > 0
    assert row["p50_ms"] <= row["p95_ms"] <= row["max_ms"]
    bad = load(port, "no-such-run", ["refund"], clients=2, seconds=0.3)
    assert bad["predictions"] == 0 and bad["errors"] > 0
    table = load_table({"clients": 6, "seconds": 1.0, "rows": [{"path": "after", "condition": "idle", **row}]})
    assert "after (concurrent calls batched" in table and "0 of" in table
