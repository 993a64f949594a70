"""The benchmark's parsing and its stock recipes (1-2 steps on the tiny model): fast, offline, no timing asserts."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench import datasets
from bench.predict_bench import percentile, predict_table


def test_parse_polarity_reads_bom_headerless_quoted_csv(tmp_path: Path) -> None:
    path = tmp_path / "pl.csv"
    path.write_bytes('"1","a "" quoted "" fine film . \n"\n"-1","dull , dull , dull"\n'.encode("utf-8-sig"))
    df = datasets.parse_polarity(path)
    assert df.columns.tolist() == ["text", "label"]
    assert df["label"].tolist() == ["positive", "negative"]
    assert df["text"].tolist() == ['a " quoted " fine film .', "dull , dull , dull"]


def test_parse_orange_skips_type_lines_and_keeps_quotes(tmp_path: Path) -> None:
    path = tmp_path / "r8.tab"
    path.write_text('Category\tText\nd\tstring\nclass\t\nearn\t"net profit" rose 5 pct\nacq\tco said it\'s buying\n')
    df = datasets.parse_orange(path)
    assert df["label"].tolist() == ["earn", "acq"]
    assert df["text"].tolist() == ['"net profit" rose 5 pct', "co said it's buying"]


def test_stratified_take_keeps_every_class_and_is_seeded() -> None:
    df = pd.DataFrame({"text": [f"t{i}" for i in range(100)], "label": ["a"] * 90 + ["b"] * 10})
    take = datasets._stratified_take(df, 20, seed=1)
    assert len(take) == 20 and take["label"].value_counts().to_dict() == {"a": 18, "b": 2}
    assert take.equals(datasets._stratified_take(df, 20, seed=1))


def test_prepare_writes_the_same_split_for_every_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [f'"{1 if i % 2 else -1}","sentence number {i} ."' for i in range(50)]
    (tmp_path / "polarity").mkdir()
    (tmp_path / "polarity" / "pang_lee2.csv").write_bytes(("\n".join(rows) + "\n").encode("utf-8-sig"))
    data = datasets.prepare("polarity", train_rows=20, val_rows=6, seed=3, cache=tmp_path)
    train, val = pd.read_csv(data.train_csv), pd.read_csv(data.val_csv)
    assert (data.num_train, data.num_val, data.num_labels) == (20, 6, 2)
    assert not set(train["text"]) & set(val["text"])
    assert sorted(train["label"].unique()) == ["negative", "positive"]


def test_percentile_and_table_render_missing_parts() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    table = predict_table({"app": {"error": "app.py not present"}})
    assert "not measured" in table and "≤ 8 s" in table


@pytest.fixture
def tiny_data(tmp_path: Path) -> tuple[Path, Path]:
    texts = ["good fine great film", "bad awful dull film", "a lovely movie", "a boring mess"] * 4
    labels = ["positive", "negative", "positive", "negative"] * 4
    train, val = tmp_path / "train.csv", tmp_path / "val.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(train, index=False)
    pd.DataFrame({"text": texts[:4], "label": labels[:4]}).to_csv(val, index=False)
    return train, val


@pytest.fixture
def tiny_model_128(tiny_model_dir: str, tmp_path: Path) -> str:
    """The tiny model has 128 positions; the seed recipe pads to the tokenizer's model_max_length, so match it."""
    from transformers import AutoTokenizer

    out = tmp_path / "tiny128"
    shutil.copytree(tiny_model_dir, out)
    tok = AutoTokenizer.from_pretrained(out)
    tok.model_max_length = 128
    tok.save_pretrained(out)
    return str(out)


@pytest.mark.parametrize("recipe", ["seed", "autotrain"])
def test_stock_recipe_trains_and_reports(recipe: str, tiny_data: tuple[Path, Path], tiny_model_128: str, tmp_path: Path) -> None:
    from bench.recipes import RECIPES

    result = RECIPES[recipe](tiny_data[0], tiny_data[1], tiny_model_128, 1.0, 42, tmp_path / "out")
    assert len(result["epoch_seconds"]) == 1 and result["train_seconds"] > 0
    assert result["num_train"] == 16 and 0 <= result["accuracy"] <= 1 and result["f1_macro"] is not None
    assert result["max_length"] == (128 if recipe == "seed" else 128)
    assert "real_tokens_per_epoch" not in result  # counted by the parent, outside the recipe's timed process


def test_autotrain_dataset_pads_each_item_to_128(tiny_model_128: str) -> None:
    from transformers import AutoTokenizer

    from bench.recipes import AutoTrainTextDataset

    ds = AutoTrainTextDataset(["short text", "another"], [0, 1], AutoTokenizer.from_pretrained(tiny_model_128), 128)
    item = ds[0]
    assert item["input_ids"].shape == (128,) and int(item["attention_mask"].sum()) < 10 and int(item["labels"]) == 0


def test_run_recipe_in_subprocess_measures_peak_rss(tiny_data: tuple[Path, Path], tiny_model_128: str, tmp_path: Path) -> None:
    from bench.measure import add_flops, run_recipe

    spec = {"train_csv": str(tiny_data[0]), "val_csv": str(tiny_data[1]), "model": tiny_model_128, "epochs": 1.0,
            "seed": 42, "work_dir": str(tmp_path / "work")}
    result = run_recipe("autotrain", spec)
    assert "error" not in result, result
    assert result["peak_rss_bytes"] > 100 * 2**20 and result["samples_per_second"] > 0
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_128)
    texts = __import__("pandas").read_csv(tiny_data[0])["text"].tolist()
    assert result["real_tokens_per_epoch"] == sum(len(tokenizer(t)["input_ids"]) for t in texts) < 16 * 128
    add_flops(result, params=1000, peak=1e12)
    assert result["mfu"] == pytest.approx(result["model_flops_per_second"] / 1e12)


def test_non_embedding_params_excludes_embeddings(tiny_model_dir: str) -> None:
    from bench.measure import gpu_peak_flops, non_embedding_params

    n = non_embedding_params(tiny_model_dir)
    assert 0 < n < 100_000  # the tiny BERT's layers; its 30522 x 32 word embeddings alone are ~1M
    assert gpu_peak_flops("NVIDIA H100 80GB HBM3") == 989e12 and gpu_peak_flops("mystery") is None


def test_ours_runs_the_core_engine_in_a_child(tiny_data: tuple[Path, Path], tiny_model_dir: str, tmp_path: Path) -> None:
    """ours = create_run + the training child's entry point, timed by an observer callback."""
    from bench.measure import run_recipe

    spec = {"train_csv": str(tiny_data[0]), "val_csv": str(tiny_data[1]), "model": tiny_model_dir, "epochs": 1.0,
            "seed": 42, "work_dir": str(tmp_path / "work")}
    result = run_recipe("ours", spec)
    assert "error" not in result, result
    assert len(result["epoch_seconds"]) == 1 and result["num_train"] == 16
    assert 0 <= result["accuracy"] <= 1 and Path(result["run_dir"], "model", "config.json").exists()
    phases = result["phases"]  # the profile of the whole process that BENCHMARKS.md quotes
    assert list(phases)[:3] == ["interpreter and imports", "create_run", "job start (imports, device queue)"]
    assert all(seconds >= 0 for seconds in phases.values()) and phases["warm-start probe"] > 0
    assert sum(phases.values()) == pytest.approx(result["process_seconds"], abs=0.5)  # nothing left uncounted
    from bench.__main__ import phase_table

    assert phase_table([result]).splitlines()[-1].startswith("| whole process |")


def test_cli_command_asks_the_cli_for_the_settings_ours_trains_with(tiny_data: tuple[Path, Path], tiny_model_dir: str,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole-run row times `python -m core train`: it must train exactly what the in-process row trains."""
    from bench.measure import _ours_config, cli_command
    from core.__main__ import main as cli_main
    from core.errors import UserError

    spec = {"train_csv": str(tiny_data[0]), "val_csv": str(tiny_data[1]), "model": tiny_model_dir, "epochs": 2.0,
            "seed": 7, "work_dir": str(tmp_path), "ours_batch_size": 4,
            "overrides": {"warm_start_head": False, "learning_rate": 1e-4}}
    command = cli_command(spec, tmp_path / "runs")
    assert command[1:3] == ["-m", "core"] and "--no-warm-start-head" in command and "--lr" in command
    seen = []

    def record(config, root):  # noqa: ANN001 - stands in for create_run: keeps the config, creates nothing
        seen.append(config)
        raise UserError("recorded")

    monkeypatch.setattr("core.runs.launcher.create_run", record)
    assert cli_main(command[3:]) == 2  # the stand-in's refusal, as the CLI reports any UserError
    assert seen == [_ours_config(spec)]


def test_an_override_wins_over_the_setting_the_spec_carries(tiny_data: tuple[Path, Path], tiny_model_dir: str) -> None:
    """`python -m bench.small_data --set epochs=30` trains 30 epochs (it once failed on two values for epochs)."""
    from bench.measure import _ours_config

    spec = {"train_csv": str(tiny_data[0]), "val_csv": str(tiny_data[1]), "model": tiny_model_dir, "epochs": 3.0,
            "seed": 7, "overrides": {"epochs": 30.0, "seed": 1}}
    config = _ours_config(spec)
    assert (config.epochs, config.seed, config.model) == (30.0, 1, tiny_model_dir)


def test_whole_runs_as_the_cli_and_the_app_run_them(tiny_data: tuple[Path, Path], tiny_model_dir: str,
                                                    tmp_path: Path) -> None:
    """Both time a real run to its end and read its scores; the app's clock starts at handing over the run."""
    from bench.__main__ import training_table
    from bench.measure import run_cli_whole, run_recipe

    spec = {"train_csv": str(tiny_data[0]), "val_csv": str(tiny_data[1]), "model": tiny_model_dir, "epochs": 1.0,
            "seed": 42, "work_dir": str(tmp_path / "work")}
    cli = run_cli_whole(spec, timeout=300)
    assert "error" not in cli, cli
    assert cli["process_seconds"] > 0 and 0 <= cli["accuracy"] <= 1
    app = run_recipe("app", spec, timeout=300)
    assert "error" not in app, app
    assert 0 < app["start_to_finished_seconds"] < app["process_seconds"] and 0 <= app["accuracy"] <= 1
    ours = {"recipe": "ours", "num_train": 16, "epochs": 1.0, "epoch_seconds_mean": 1.0, "samples_per_second": 16.0,
            "process_seconds": 10.0, "accuracy": 0.5, "f1_macro": 0.5}
    stock = dict(ours, recipe="autotrain", epoch_seconds_mean=4.0, process_seconds=40.0)
    table = training_table([ours, stock], gpu=False, cli={**cli, "process_seconds": 8.0},
                           app={**app, "start_to_finished_seconds": 5.0})
    assert "4.0x (whole run 4.0x; as the CLI runs it 5.0x; Start to finished in the app 8.0x)" in table
    assert "| ours, Start to finished in the app (training process prepared, data checked) | - | - |" in table


def test_single_file_orange_corpus_gets_a_disjoint_split_with_its_own_columns(tmp_path: Path) -> None:
    lines = ["Author\tTime\tContent", "discrete\ttime\tstring", "class\t\tmeta"]
    lines += [f"{'A' if i % 3 else 'B'}\t2016\ttweet number {i}" for i in range(30)] + ["A\t2016\ttweet number 1"]
    (tmp_path / "tweets").mkdir()
    (tmp_path / "tweets" / "election-tweets-2016.tab").write_text("\n".join(lines) + "\n")
    data = datasets.prepare("tweets", train_rows=None, val_rows=None, seed=3, cache=tmp_path)
    train, val = pd.read_csv(data.train_csv), pd.read_csv(data.val_csv)
    assert (data.num_train, data.num_val, data.num_labels) == (24, 6, 2)  # the repeated tweet counted once
    assert not set(train["text"]) & set(val["text"])
    assert set(val["label"]) == {"A", "B"}
    with pytest.raises(ValueError, match="unknown dataset 'imdb'"):
        datasets.prepare("imdb", None, None, cache=tmp_path)


def test_quality_check_trains_each_case_with_overrides(tiny_data: tuple[Path, Path], tiny_model_dir: str,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import quality

    monkeypatch.setitem(quality.CASES, "tiny", ("tiny", None, None))
    monkeypatch.setattr(quality, "prepare", lambda *a, **k: datasets.BenchData("tiny", *tiny_data, 16, 4, 2))
    result = quality.run_case("tiny", 7, {"warm_start_head": False, "batch_size": 4}, tiny_model_dir, 1.0, tmp_path)
    assert "error" not in result, result
    assert (result["batch_size"], result["steps"], result["num_labels"]) == (4, 4, 2)
    assert 0.5 <= result["median_confidence"] <= 1 and 0 <= result["baseline_accuracy"] <= 1
    config = json.loads(Path(result["run_dir"], "config.json").read_text())
    assert config["warm_start_head"] is False and config["seed"] == 7
    text = quality.table([result | {"case": "tiny"}])
    assert text.splitlines()[2].startswith("| tiny | 16 / 4 | 2 | 4 | 4 |")
    with pytest.raises(Exception, match="unknown setting 'epochz'"):
        quality.parse_setting("epochz=3")
    assert quality.parse_setting("warm_start_head=false") == ("warm_start_head", False)


@pytest.mark.parametrize("kernel, dropout, inference", [("sdpa", 0.1, False), ("sdpa", 0.0, False), ("eager", 0.1, True)])
def test_attention_cell_times_a_real_step_of_the_default_model(kernel: str, dropout: float, inference: bool) -> None:
    from bench.attention import one_cell

    cell = one_cell(kernel, width=16, dropout=dropout, batch=2, steps=1, inference=inference)
    assert cell["seconds"] > 0 and cell["peak_rss_gib"] > 0.1  # the model and its step were really there


def test_data_scale_generates_its_csv_and_measures_every_phase(tmp_path: Path, monkeypatch) -> None:
    """The data-scale bench on 2,000 generated rows: every phase timed in a child, peak RSS, a results file."""
    from bench import data_scale

    monkeypatch.setattr(data_scale, "DATA_DIR", tmp_path / "data")
    monkeypatch.setattr(data_scale, "RESULTS", tmp_path / "results")
    assert data_scale.main(["--rows", "2000", "--encode"]) == 0
    frame = pd.read_csv(tmp_path / "data" / "synthetic-2000.csv")
    assert len(frame) == 2000 and frame["label"].nunique() == 10
    info = json.loads(next((tmp_path / "results").glob("data-scale-*.json")).read_text())
    result = info["results"]["2000"]
    # encode_reused: the same data tokenised again, read back from the token store (core/engine/token_store.py)
    assert set(result["phases"]) == {"read_detect_split", "report", "baseline", "check", "encode", "encode_reused"}
    assert result["peak_rss_bytes"] >= result["check_peak_rss_bytes"] > 0
    assert result["baseline"]["accuracy"] > 0.3  # the label words are learnable


def test_two_invocations_in_the_same_second_keep_their_own_results(tmp_path, monkeypatch):
    from bench.measure import claim_stamp

    monkeypatch.setattr("time.strftime", lambda fmt: "20261201-223845")
    first, second, third = (claim_stamp("small", tmp_path) for _ in range(3))
    assert [stamp for stamp, _ in (first, second, third)] == ["20261201-223845", "20261201-223845-2",
                                                             "20261201-223845-3"]
    assert all(work.is_dir() and work.name == f"small-work-{stamp}" for stamp, work in (first, second, third))
