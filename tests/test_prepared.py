"""Start reuses what the Data step computed for the same file version; an edited file is read again."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd

from core.data import table_cache

from core.runs import launcher
from core.config import TrainConfig
from ui import data_tab


def _count_calls(monkeypatch, module, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


def test_start_after_the_data_step_reuses_report_and_baseline(tmp_path: Path, example_data: Path,
                                                              tiny_model_dir: str, monkeypatch) -> None:
    import core.tasks.baseline
    import core.data.report
    import core.data.loading

    data_file = tmp_path / "tickets.csv"
    data_file.write_bytes(example_data.read_bytes())
    reads = _count_calls(monkeypatch, core.data.loading, "load_training_data")
    reports = _count_calls(monkeypatch, core.data.report, "build_report")
    baselines = _count_calls(monkeypatch, core.tasks.baseline, "train_baseline")
    tokenisations = _count_calls(monkeypatch, core.data.report, "text_lengths")

    check = data_tab.check_data(str(data_file), "text", "label", tiny_model_dir, with_baseline=True)
    assert check.ok, check.reason
    run_dir = launcher.create_run(TrainConfig(data_path=str(data_file), text_column="text", label_column="label",
                                          model=tiny_model_dir), tmp_path / "runs")
    assert (len(reads), len(reports), len(baselines)) == (1, 1, 1)
    assert len(tokenisations) == 1  # the report and the Data step's histogram share one measurement
    assert (run_dir / "baseline.json").exists() and (run_dir / "data_report.json").exists()

    # Another seed is another split: prepared again. An edited file is read again.
    launcher.create_run(TrainConfig(data_path=str(data_file), model=tiny_model_dir, text_column="text",
                                label_column="label", seed=7), tmp_path / "runs")
    assert (len(reads), len(reports), len(baselines)) == (2, 2, 2)
    df = pd.read_csv(data_file)
    df.iloc[: len(df) // 2].to_csv(data_file, index=False)
    later = time.time() + 5
    os.utime(data_file, (later, later))
    again = launcher.create_run(TrainConfig(data_path=str(data_file), model=tiny_model_dir, text_column="text",
                                        label_column="label"), tmp_path / "runs")
    assert len(reads) == 3
    assert len(pd.read_parquet(again / "data" / "train.parquet")) < len(pd.read_parquet(run_dir / "data" / "train.parquet"))


def test_cache_keeps_a_bounded_number_of_entries_and_does_not_cache_errors() -> None:
    for i in range(100):
        table_cache.cached(("test-entry", i), lambda i=i: i)
    assert len(table_cache._cache) <= table_cache._ENTRIES
    attempts = []

    def failing():
        attempts.append(1)
        raise ValueError("broken")

    for _ in range(2):
        try:
            table_cache.cached(("test-failing",), failing)
        except ValueError:
            pass
    assert len(attempts) == 2


def test_a_second_caller_waits_for_the_running_computation_instead_of_repeating_it() -> None:
    import threading

    started, release, calls, results = threading.Event(), threading.Event(), [], []

    def slow():
        calls.append(1)
        started.set()
        release.wait(10)
        return "fitted"

    first = threading.Thread(target=lambda: results.append(table_cache.cached(("test-slow",), slow)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(table_cache.cached(("test-slow",), slow)))
    second.start()
    time.sleep(0.2)
    assert second.is_alive()  # waiting, not computing
    release.set()
    first.join(10)
    second.join(10)
    assert results == ["fitted", "fitted"] and len(calls) == 1


def test_after_a_failed_computation_a_waiting_caller_tries_itself() -> None:
    import threading

    started, release, results = threading.Event(), threading.Event(), []

    def failing():
        started.set()
        release.wait(10)
        raise ValueError("broken")

    def run_failing():
        try:
            table_cache.cached(("test-retry",), failing)
        except ValueError:
            results.append("failed")

    first = threading.Thread(target=run_failing)
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(table_cache.cached(("test-retry",), lambda: "second")))
    second.start()
    time.sleep(0.2)
    release.set()
    first.join(10)
    second.join(10)
    assert results == ["failed", "second"]
