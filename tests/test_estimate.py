"""The time estimate shown before Start: token lengths × this machine's measured speed."""
from __future__ import annotations

import json

import pytest

from core.runs import estimate
from core.small_data import schedule_for
from tests.fake_runs import fake_run

DEVICE = "cpu (2 cores)"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def test_long_news_articles_get_an_honest_estimate_and_a_faster_option():
    # ~1,800 news articles of ~450 tokens, 3 epochs, at 3,000 units/s.
    est = estimate.estimate([450] * 1800, 0.2, 3, None, rate=3000.0, measured=True)
    per_text = 450 * (1 + 450 / 384)
    expected = 15 + 3 * (1800 * per_text * 0.8 + 1800 * per_text * 0.2 / 3) / 3000
    assert est.seconds == pytest.approx(expected)
    assert est.sentence() == (
        "About 26 minutes on this machine: 1,440 training texts of ~450 tokens × 3 epochs (measured on this "
        "machine's earlier runs of this model). Faster: Max length 256 under Advanced takes about 11 minutes; it "
        "cuts 100 % of the texts to their first 256 tokens, which may cost some accuracy.")
    # Texts already short, or a max length at or under 256: no faster option.
    assert estimate.estimate([450] * 1800, 0.2, 3, 128, 3000.0, True).faster_seconds is None
    short = estimate.estimate([20] * 320, 0.2, 3, None, 3000.0, False)
    assert short.sentence() == (
        "Under a minute on this machine: 256 training texts of ~20 tokens × 3 epochs (a rough guess: no run "
        "of this model has been timed on this machine yet).")


def test_lengths_measured_on_a_sample_count_every_text():
    # Big data: the Data step keeps 5,000 of the 11,000 texts' lengths; the run still trains on all of them.
    sampled = estimate.estimate([300] * 5000, 0.2, 3, None, 3000.0, True, texts=11_000)
    whole = estimate.estimate([300] * 11_000, 0.2, 3, None, 3000.0, True)
    assert sampled.train_texts == whole.train_texts == 8800 and sampled.seconds == pytest.approx(whole.seconds)
    assert sampled.sentence() == whole.sentence()


def test_small_data_counts_its_few_evaluations_not_one_an_epoch():
    # 40 texts, 8 of them for validation, 4 labels: 10 epochs of 2 steps, evaluated every 2 epochs (5 times).
    lengths, rate = [20] * 40, 100.0
    small = estimate.for_data(lengths, 0.2, 3, None, MODEL, [], device="cpu", num_labels=4)
    train_units = 32 * 20 * (1 + 20 / estimate.ATTENTION_TOKENS)
    evaluation_units = 8 * 20 * (1 + 20 / estimate.ATTENTION_TOKENS) * estimate.EVAL_SHARE
    assert small.epochs == 10
    assert small.seconds == pytest.approx(
        estimate.estimate(lengths, 0.2, 10, None, estimate.guessed_rate(MODEL, "cpu"), False, evaluations=5).seconds)
    every_epoch = estimate.estimate(lengths, 0.2, 10, None, rate, True).seconds
    five = estimate.estimate(lengths, 0.2, 10, None, rate, True, evaluations=5).seconds
    assert every_epoch - five == pytest.approx(5 * evaluation_units / rate)
    assert five - estimate.FIXED_SECONDS == pytest.approx((10 * train_units + 5 * evaluation_units) / rate)


def test_small_data_with_a_large_validation_set_counts_fewer_evaluations():
    # 10 training texts of 2 labels and 90 held out: 10 one-step epochs, evaluated once (core/small_data.py).
    lengths = [20] * 100
    small = estimate.for_data(lengths, 0.9, 3, None, MODEL, [], device="cpu", num_labels=2)
    rate = estimate.guessed_rate(MODEL, "cpu")
    assert (small.epochs, small.train_texts) == (10, 10)
    assert small.seconds == pytest.approx(estimate.estimate(lengths, 0.9, 10, None, rate, False, evaluations=1).seconds)
    assert small.seconds < estimate.estimate(lengths, 0.9, 10, None, rate, False, evaluations=5).seconds


def test_small_data_on_a_sentence_encoder_counts_the_pair_phase_first(tiny_model_dir):
    lengths = [200] * 80  # 64 training texts of 2 labels: 32 per label, enough for the pair phase
    plain = estimate.for_data(lengths, 0.2, 3, None, MODEL, [], device="cpu", num_labels=2)
    paired = estimate.for_data(lengths, 0.2, 3, None, MODEL, [], device="cpu", num_labels=2, pair_training=True)
    pair_units = 2 * 2016 * estimate.text_cost(128)  # every distinct pair's worth (64 x 63 / 2), both cut at 128 tokens
    rate = estimate.guessed_rate(MODEL, "cpu")
    # After the pairs 10 epochs (40 steps of 16 texts), against 30 (120 steps) without them.
    after = estimate.estimate(lengths, 0.2, 10, None, rate, False, evaluations=5).seconds
    assert paired.seconds - after == pytest.approx(pair_units / rate)
    assert (plain.epochs, paired.epochs, plain.pairs, paired.pairs) == (30, 10, 0, 2016)
    assert "64 training texts of ~200 tokens × 10 epochs, after 2,016 pairs of texts (a rough guess" in paired.sentence()
    # No phase for a plain model (its [CLS] features, no mean pooling), under 32 texts per label, or beyond small data.
    for texts, labels, model in ((80, 2, tiny_model_dir), (80, 4, MODEL), (1000, 2, MODEL)):
        assert estimate.for_data([200] * texts, 0.2, 3, None, model, [], device="cpu", num_labels=labels,
                                 pair_training=True).pairs == 0


def test_the_speed_is_measured_from_an_earlier_run_of_the_same_model_here(tmp_path):
    events = [{"type": "started", "time": 1.0, "total_steps": 30, "model": MODEL, "device": DEVICE},
              {"type": "progress", "time": 2.0, "step": 10, "total_steps": 30, "epoch": 1.0,
               "samples_per_second": 150.0}]
    run = fake_run(tmp_path, "r1", "", events, "finished")
    (run / "data_report.json").write_text(json.dumps({"lengths": {"mean": 24.0}, "effective_max_length": 56}))
    rate = estimate.measured_rate([run], MODEL, DEVICE)
    assert rate == pytest.approx(150.0 * 24 * (1 + 24 / 384))
    assert estimate.measured_rate([run], "bert-base-uncased", DEVICE) is None  # another model: not this speed
    assert estimate.measured_rate([run], MODEL, "cuda:0 (H200)") is None  # another device
    found = estimate.for_data([24] * 1000, 0.2, 3, None, MODEL, [run], device=DEVICE)
    assert found.measured and "measured on this machine" in found.sentence()
    guess = estimate.for_data([24] * 1000, 0.2, 3, None, "bert-base-uncased", [run], device=DEVICE)
    assert not guess.measured and guess.seconds > found.seconds  # a 5x bigger model is slower
    assert estimate.for_data([], 0.2, 3, None, MODEL, [run], device=DEVICE) is None


def test_the_train_step_shows_the_estimate_for_the_checked_data(tmp_path, monkeypatch):
    from ui import train_tab

    monkeypatch.setenv("TEXTCLF_RUNS_DIR", str(tmp_path))
    status = {"ok": True, "summary": "x", "suggested_max_length": 32, "lengths": [20] * 320}
    html = train_tab.estimate_html(status, MODEL, 3, 0, 0.2, None)
    assert html.startswith('<div class="tc-estimate" id="tc-estimate-text">Under a minute on this machine')
    assert train_tab.estimate_html({"ok": False}, MODEL, 3, 0, 0.2, None) == ""
    big = train_tab.estimate_html({**status, "texts": 11_000}, MODEL, 3, 0, 0.2, None)  # lengths: a sample
    assert ": 8,800 training texts of ~20 tokens" in big
    # A validation table fixes the validation rows: the share setting does not apply to them.
    given = train_tab.estimate_html({**status, "texts": 4_000, "fixed_val_share": 0.25}, MODEL, 3, 0, 0.2, None)
    assert ": 3,000 training texts of ~20 tokens" in given
    # Small data trains for more epochs than the setting says (core/small_data.py): the estimate counts those.
    small = {**status, "lengths": [20] * 40, "texts": 40, "labels": 4}
    epochs = schedule_for(32, 4, 0, 3.0, auto_batch=1).epochs
    assert epochs > 3 and f"32 training texts of ~20 tokens × {epochs:g} epochs" in train_tab.estimate_html(
        small, MODEL, 3, 0, 0.2, None)
    assert "× 3 epochs" in train_tab.estimate_html(small, MODEL, 3, 0, 0.2, None, 16)  # a batch set: as set
    # One label per text on the default model: the pair phase comes first, unless the head is not warm-started.
    single = {**status, "lengths": [20] * 80, "texts": 80, "labels": 2, "single_label": True}
    assert "× 10 epochs, after 2,016 pairs of texts (" in train_tab.estimate_html(single, MODEL, 3, 0, 0.2, None)
    assert "pairs" not in train_tab.estimate_html(single, MODEL, 3, 0, 0.2, None, 0, False)
    assert "pairs" not in train_tab.estimate_html({**single, "single_label": False}, MODEL, 3, 0, 0.2, None)


def test_the_data_check_says_when_a_validation_table_fixes_the_share(tmp_path, example_data):
    import pandas as pd

    from ui.data_check import check_data

    rows = pd.read_csv(example_data)
    rows.iloc[:240].to_csv(tmp_path / "train.csv", index=False)
    rows.iloc[240:].to_csv(tmp_path / "val.csv", index=False)
    split = check_data(str(tmp_path / "train.csv"), None, None, MODEL)
    given = check_data(str(tmp_path / "train.csv"), None, None, MODEL, extra={"val_data_path": str(tmp_path / "val.csv")})
    assert split.ok and given.ok
    assert split.status()["fixed_val_share"] is None
    assert given.status()["fixed_val_share"] == pytest.approx(80 / 320)
