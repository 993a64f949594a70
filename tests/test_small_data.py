"""Small data: the schedule's and the pair phase's rules, the phase itself on the tiny model, a real small run end to
end, and what the data report, the finished message and Evaluate say about few texts."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.runs import launcher

from core import small_data
from core.config import TrainConfig
from core.data.report import build_report, report_sentences
from core.runs.events import fold, read_events
from core.data.loading import load_training_data
from core.engine.pair_training import pair_phase, phase_plan, sample_pairs
from core.small_data import Schedule, plan_for, schedule_for
from core.engine.job import train


@pytest.mark.parametrize("num_train, labels, batch, epochs, expected", [
    (16, 2, 0, 3.0, Schedule(16, 10.0, True, 1.0)),     # under 32 per label: 10 epochs at the automatic rate
    (63, 2, 0, 3.0, Schedule(16, 10.0, True, 1.0)),
    (60, 3, 0, 3.0, Schedule(16, 10.0, True, 1.0)),
    (80, 10, 0, 3.0, Schedule(16, 10.0, True, 1.0)),    # 8 texts for each of 10 labels: 50 steps
    (64, 2, 0, 3.0, Schedule(16, 30.0, True, 0.3)),     # from 32 per label, 4 steps per epoch: 120 gentler steps
    (96, 3, 0, 3.0, Schedule(16, 20.0, True, 0.3)),
    (128, 2, 0, 3.0, Schedule(16, 15.0, True, 0.3)),    # 64 per label: 8 steps per epoch
    (129, 2, 0, 3.0, Schedule(32, 3.0)),                # over 64 per label on average: exactly as before
    (199, 4, 0, 3.0, Schedule(16, 10.0, True, 0.3)),    # 199 texts, the largest small set: 13 steps per epoch
    (200, 4, 0, 3.0, Schedule(32, 3.0)),                # 200 texts: as before, however many labels
    (1024, 8, 0, 3.0, Schedule(32, 3.0)),
    (16, 2, 8, 3.0, Schedule(8, 3.0)),                  # a batch size set by hand: the user's schedule
    (16, 2, 0, 5.0, Schedule(16, 5.0, True, 1.0)),      # epochs set by hand are kept
    (64, 2, 0, 5.0, Schedule(16, 5.0, True, 0.3)),
    (16, 1, 0, 3.0, Schedule(32, 3.0)),                 # one label: nothing to learn
])
def test_the_schedule_trains_small_data_for_enough_steps(num_train, labels, batch, epochs, expected):
    assert schedule_for(num_train, labels, batch, epochs, auto_batch=32) == expected


@pytest.mark.parametrize("num_train, labels, batch, epochs, expected", [
    (64, 2, 0, 3.0, Schedule(16, 10.0, True, 0.3)),     # 4 steps per epoch: 40 steps after the pairs, not 120
    (128, 2, 0, 3.0, Schedule(16, 10.0, True, 0.3)),    # 8 steps per epoch: 80, not 120
    (199, 4, 0, 3.0, Schedule(16, 10.0, True, 0.3)),    # 13 steps per epoch: 130, as without the pairs
    (64, 2, 0, 6.0, Schedule(16, 6.0, True, 0.3)),      # epochs set by hand are kept
    (64, 2, 8, 3.0, Schedule(8, 3.0)),                  # a batch size set by hand: the user's schedule
    (256, 2, 0, 3.0, Schedule(32, 3.0)),                # not small: exactly as before
])
def test_after_the_pair_phase_small_data_trains_fewer_steps(num_train, labels, batch, epochs, expected):
    assert schedule_for(num_train, labels, batch, epochs, auto_batch=32, after_pairs=True) == expected


@pytest.mark.parametrize("counts, single, warm, active, pairs", [
    ([32, 32], True, True, True, 2016),         # 32 per label: as many as there are distinct pairs (64 x 63 / 2)
    ([40, 40], True, True, True, 3160),         # 80 x 79 / 2
    ([64, 64], True, True, True, 8128),         # 64 per label: 128 x 127 / 2, SetFit's 8,192 near enough
    ([60, 60, 60], True, True, True, 8192),     # 180 texts' 16,110 distinct pairs: at most 8,192 (512 steps)
    ([31, 31], True, True, False, 0),           # under 32 per label on average: no phase (it lost on the tweets)
    ([8, 8], True, True, False, 0),
    ([65, 64], True, True, False, 0),           # over 64 per label on average: exactly as before
    ([128, 128], True, True, False, 0),
    ([40] * 3, True, True, True, 7140),
    ([70, 2, 0], True, True, True, 2556),       # a label with no training text counts for nothing (72 x 71 / 2)
    ([40, 40], False, True, False, 0),          # several labels per text: no same/different pairs
    ([40, 0], True, True, False, 0),            # one label: nothing to tell apart
    ([40, 40], True, False, False, 0),          # no warm start: nothing would read what the phase tunes
])
def test_the_rule_decides_from_the_label_counts(counts, single, warm, active, pairs):
    plan = plan_for(counts, single, warm)
    assert (plan.active, plan.num_pairs) == (active, pairs)


def test_pairs_are_half_same_label_half_different_and_reproducible():
    labels = [0] * 8 + [1] * 8 + [2] * 2
    pairs = sample_pairs(labels, 400, seed=3)
    same, different = pairs[pairs[:, 2] == 1], pairs[pairs[:, 2] == 0]
    assert len(same) == len(different) == 200
    assert all(labels[i] == labels[j] and i != j for i, j, _ in same)
    assert all(labels[i] != labels[j] for i, j, _ in different)
    # Labels are drawn evenly: the label with 2 texts is in about a third of the same-label pairs.
    assert 40 < sum(labels[i] == 2 for i, _, _ in same) < 95
    assert np.array_equal(pairs, sample_pairs(labels, 400, seed=3))


@pytest.mark.parametrize("small, set_steps, steps_per_epoch, epochs, expected", [
    (True, 0, 1, 20.0, 4),      # 20 epochs of 1 step: every 4 epochs, 5 evaluations
    (True, 0, 8, 8.0, 16),      # every 2 epochs of 8 steps
    (True, 0, 8, 15.0, 24),     # K = 64 on two labels: 15 epochs, every 3 epochs of 8 steps
    (True, 0, 4, 5.0, 0),       # 5 epochs or fewer: every epoch
    (True, 3, 1, 20.0, 3),      # steps set by hand are kept
    (False, 0, 7, 3.0, 0),      # not small: every epoch, as before
])
def test_small_data_evaluates_about_five_times(small, set_steps, steps_per_epoch, epochs, expected):
    assert small_data.evaluation_steps(small, set_steps, steps_per_epoch, epochs) == expected


@pytest.mark.parametrize("epochs, num_train, num_validation, count, steps", [
    (40.0, 16, 4, 5, 8),        # 16 texts and a fifth held out: five evaluations, every 8 epochs
    (40.0, 16, 80, 5, 8),       # 80 validation texts: five passes are 12 % of 40 training passes over 16
    (40.0, 16, 120, 4, 10),     # 120: four stay under a quarter of the work
    (40.0, 16, 500, 1, 40),     # 500 held-out texts beside 16: once, at the last step
    (10.0, 64, 500, 1, 40),     # after the pair phase, 10 epochs of 64 texts (4 steps each)
    (3.0, 10, 10, 2, 2),        # as many validation as training texts: two passes of the three epochs'
])
def test_a_large_validation_set_is_evaluated_fewer_times(epochs, num_train, num_validation, count, steps):
    steps_per_epoch = -(-num_train // small_data.SMALL_BATCH)
    assert small_data.evaluation_count(epochs, num_train, num_validation) == count
    every = small_data.evaluation_steps(True, 0, steps_per_epoch, epochs, num_train, num_validation)
    assert every == steps
    total = math.ceil(steps_per_epoch * epochs)
    assert len({*range(every, total + 1, every), total} if every else range(math.ceil(epochs))) == count


def test_a_tiny_validation_set_chooses_nothing_and_says_how_uncertain_it_is():
    assert not small_data.selects_on_validation(29) and small_data.selects_on_validation(30)
    low, high = small_data.accuracy_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.490, 0.943)  # Wilson's interval, as tabulated
    assert small_data.accuracy_interval(5, 5)[1] == 1.0
    assert small_data.interval_sentence(0.8, 10) == "The 95 % interval for accuracy on these 10 texts is 49 to 94 %."


def test_the_pair_phase_tunes_the_encoder_not_the_output_layer_and_reports_its_steps(tiny_model_dir, monkeypatch):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.encoded import EncodedDataset

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    texts = [f"good film number {i}" for i in range(32)] + [f"bad film number {i}" for i in range(32)]
    encoded = tokenizer(texts)
    data = EncodedDataset.from_rows([{"input_ids": ids, "attention_mask": mask, "labels": i // 32}
                                     for i, (ids, mask) in enumerate(zip(encoded["input_ids"],
                                                                         encoded["attention_mask"]))])
    encoder_before = model.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    head_before = model.classifier.weight.detach().clone()
    clock = iter(range(0, 1000, 2))
    monkeypatch.setattr("time.monotonic", lambda: float(next(clock)))  # every step a second or more after the last
    messages: list[str] = []
    new = ["classifier.weight", "classifier.bias"]
    plan = phase_plan(model, new, data, ["pos", "neg"], True)
    pair_phase(model, new, data, ["pos", "neg"], plan, tokenizer.pad_token_id, "fp32", 0, 1e-4, messages.append,
               lambda: None)
    assert plan.num_pairs == 2016
    assert messages[0] == "Small data: training on 2,016 pairs of texts"
    assert messages[1:] == [f"Small data: training on 2,016 pairs of texts: step {s} of 126" for s in range(1, 126)]
    assert not torch.equal(encoder_before, model.bert.encoder.layer[0].attention.self.query.weight)
    assert torch.equal(head_before, model.classifier.weight)


def small_csv(tmp_path: Path, example_data: Path, per_label: int, labels: int = 2) -> Path:
    """`per_label` texts of each of the first `labels` labels of the shipped example."""
    table = pd.read_csv(example_data)
    labels = sorted(table["label"].unique())[:labels]
    rows = pd.concat([table[table["label"] == label].head(per_label) for label in labels])
    path = tmp_path / "small.csv"
    rows.to_csv(path, index=False)
    return path


def test_the_data_report_says_the_data_is_small_and_what_the_app_does(tmp_path, example_data):
    report = build_report(load_training_data(str(small_csv(tmp_path, example_data, 10))))
    sentences = report_sentences(report)
    assert ("Small data: 16 training texts for 2 labels. With the automatic batch size the app trains at batch 16 for "
            "10 epochs (when epochs are left at 3) and keeps the last epoch's model.") in sentences
    assert ("Only 4 validation texts: the app keeps the model of the last epoch instead of the best-scoring one, "
            "since choosing on so few texts would flatter its score, which stays rough.") in sentences
    # From 32 texts per label on average the pair phase comes first, and the report says so.
    sentences = report_sentences(build_report(load_training_data(str(small_csv(tmp_path, example_data, 40)))))
    assert ("Small data: 64 training texts for 2 labels. With the automatic batch size the app trains at batch 16 and a "
            "gentler learning rate for at least 120 steps (up to 40 epochs, when epochs are left at 3) and keeps the "
            "last epoch's model. A sentence-embedding base model (like the default) first trains on 2,016 pairs of "
            "texts, pulling those of the same label together, as SetFit does, and then trains for 10 epochs instead."
            ) in sentences


def test_the_report_of_larger_data_says_nothing_about_small_data(example_data):
    sentences = " ".join(report_sentences(build_report(load_training_data(str(example_data), val_share=0.1))))
    assert "Small data" not in sentences and "validation texts:" not in sentences


def test_a_default_small_run_trains_enough_steps_keeps_the_last_model_and_reloads(tmp_path, tiny_model_dir,
                                                                                   example_data):
    from transformers import pipeline

    config = TrainConfig(data_path=str(small_csv(tmp_path, example_data, 10, labels=3)), model=tiny_model_dir,
                         max_length=16)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    assert train(run_dir) == "finished"
    events = read_events(run_dir)
    view = fold(events)
    # 24 training texts: 2 steps per epoch at batch 16, and 8 per label, so 10 epochs instead of 3 epochs of 1 step,
    # evaluated every 2 epochs, the last step's included, at the automatic rate (1e-4 for a small model).
    assert (view.info["batch_size"], view.total_steps) == (16, 20)
    assert [point.step for point in view.evals] == [4, 8, 12, 16, 20]
    assert view.info["learning_rate"] == pytest.approx(1e-4)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["best_step"] is None  # the last model: nothing chosen on 6 validation texts
    low, high = small_data.accuracy_interval(round(6 * metrics["accuracy"]), 6)
    assert view.message.endswith(
        f"The 95 % interval for accuracy on these 6 texts is {100 * low:.0f} to {100 * high:.0f} %. Kept the last "
        "epoch's model: choosing the best on so few texts would flatter the score.")
    labels = json.loads((run_dir / "labels.json").read_text())
    predicted = pipeline("text-classification", model=str(run_dir / "model"))("where is my parcel")
    assert predicted[0]["label"] in labels


def test_a_small_run_beside_a_large_validation_table_evaluates_fewer_times(tmp_path, tiny_model_dir, example_data):
    table = pd.read_csv(example_data)
    two = table[table["label"].isin(sorted(table["label"].unique())[:2])]
    first = two.groupby("label").head(8)
    two.drop(index=first.index).groupby("label").head(20).to_csv(tmp_path / "validation.csv", index=False)
    config = TrainConfig(data_path=str(small_csv(tmp_path, example_data, 8)), model=tiny_model_dir, max_length=16,
                         val_data_path=str(tmp_path / "validation.csv"))
    run_dir = launcher.create_run(config, tmp_path / "runs")
    assert train(run_dir) == "finished"
    view = fold(read_events(run_dir))
    # 16 training texts: 10 one-step epochs. Five passes over the 40 validation texts would be over a quarter of the
    # training's work, so three: every 4 epochs and at the last step.
    assert (view.info["num_train"], view.info["num_validation"], view.total_steps) == (16, 40, 10)
    assert [point.step for point in view.evals] == [4, 8, 10]


@pytest.mark.parametrize("sentence_encoder, asked, runs", [
    (True, None, True),     # the defaults, on a sentence encoder
    (True, False, False),   # --no-pair-training
    (False, None, False),   # a plain model: its [CLS] features gained nothing from pairs
])
def test_pair_training_runs_before_the_head_is_fitted_on_a_sentence_encoder(sentence_encoder, asked, runs, tmp_path,
                                                                           tiny_model_dir, example_data):
    model = _mean_pooled_copy(tiny_model_dir, tmp_path) if sentence_encoder else tiny_model_dir
    chosen = {} if asked is None else {"pair_training": asked}
    config = TrainConfig(data_path=str(small_csv(tmp_path, example_data, 40, labels=3)), model=str(model),
                         max_length=16, **chosen)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    assert train(run_dir) == "finished"
    statuses = [e["message"] for e in read_events(run_dir) if e["type"] == "status"]
    stage = "Small data: training on 4,560 pairs of texts"  # 96 training texts of 3 labels (a new head): 96 x 95 / 2
    assert (stage in statuses) == runs
    started = next(e for e in read_events(run_dir) if e["type"] == "started")
    assert started["pairs"] == (4560 if runs else 0)  # the model card names them
    # 6 steps an epoch at batch 16: 10 epochs after the pairs, else as many as 120 steps take (20), both at 0.3 of
    # the automatic rate (32 texts per label: no longer the few texts' 10 epochs at the full rate).
    assert started["total_steps"] == (60 if runs else 120)
    assert started["learning_rate"] == pytest.approx(3e-5)
    if runs:
        assert statuses.index(stage) < statuses.index("Fitting the classification head")


def _mean_pooled_copy(tiny_model_dir: str, tmp_path: Path) -> Path:
    """The tiny model as a sentence-transformers folder that pools by the mean of its token states."""
    import shutil

    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny-sentence-model"))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    return folder


def test_a_model_named_by_the_user_is_a_sentence_encoder_only_from_what_may_be_looked_at(tiny_model_dir, tmp_path,
                                                                                        monkeypatch):
    from core.models import sentence_encoder

    folder = str(_mean_pooled_copy(tiny_model_dir, tmp_path))
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("TEXTCLF_PRIVATE_RUNS", raising=False)
    assert sentence_encoder("") and sentence_encoder(folder) and not sentence_encoder(tiny_model_dir)
    monkeypatch.setenv("SPACE_ID", "someone/classifier-studio")  # a shared server: a visitor's path is never read
    assert sentence_encoder("") and not sentence_encoder(folder) and not sentence_encoder("../" + folder)


def test_the_added_layer_hands_every_position_the_normalised_mean_of_the_real_tokens(tiny_model_dir, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.engine.mean_pooling import RESIDUAL_SWAMP, add_mean_pooling_layer
    from core.models import trained_with_mean_pooling

    assert trained_with_mean_pooling(_mean_pooled_copy(tiny_model_dir, tmp_path))
    assert not trained_with_mean_pooling(tiny_model_dir)  # no 1_Pooling: a plain model
    assert not trained_with_mean_pooling("someone/not-in-the-cache")  # a Hub id: the cache only, never a download
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2).eval()
    batch = tokenizer(["where is my parcel", "refund"], padding=True, return_tensors="pt")
    with torch.no_grad():
        before = model.base_model(**batch).last_hidden_state
    layers = model.config.num_hidden_layers
    assert add_mean_pooling_layer(model) and model.config.num_hidden_layers == layers + 1
    with torch.no_grad():
        after = model.base_model(**batch).last_hidden_state
        alone = model.base_model(**tokenizer(["refund"], return_tensors="pt")).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (before * mask).sum(1) / mask.sum(1)  # over the real tokens only: padding stays masked
    eps = model.config.layer_norm_eps
    norm = lambda x: torch.nn.functional.layer_norm(x, x.shape[-1:], eps=eps)  # noqa: E731
    expected = norm(norm(before[:, 0] + RESIDUAL_SWAMP * mean))  # [CLS] state + the swamping mean, both LayerNorms
    assert torch.allclose(after[:, 0], expected, atol=1e-4)
    assert torch.nn.functional.cosine_similarity(after[:, 0], norm(mean)).min() > 0.999
    assert torch.allclose(after[1, 0], alone[0, 0], atol=1e-4)  # a padded text reads as it does alone


def test_a_small_run_on_a_mean_pooled_model_saves_the_layer_and_reloads_with_pipeline(tmp_path, tiny_model_dir,
                                                                                      example_data, capsys):
    from transformers import AutoConfig, pipeline

    from core.serving import predict

    model = _mean_pooled_copy(tiny_model_dir, tmp_path)
    config = TrainConfig(data_path=str(small_csv(tmp_path, example_data, 10, labels=3)), model=str(model),
                         max_length=16, epochs=2)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    assert train(run_dir) == "finished"
    layers = AutoConfig.from_pretrained(tiny_model_dir).num_hidden_layers
    assert AutoConfig.from_pretrained(run_dir / "model").num_hidden_layers == layers + 1
    assert "the classifier reads the mean of the token states" in capsys.readouterr().out  # train.log in a child
    text = "where is my parcel"
    ours = predict.get_predictor(run_dir).trace(text).probs
    theirs = {r["label"]: r["score"] for r in pipeline("text-classification", model=str(run_dir / "model"),
                                                         top_k=None)([text])[0]}
    assert ours == pytest.approx(theirs, abs=1e-5)

    # Larger data is read as before: no layer added.
    big = TrainConfig(data_path=str(example_data), model=str(model), max_length=16, epochs=1)
    big_dir = launcher.create_run(big, tmp_path / "runs")
    assert train(big_dir) == "finished"
    assert AutoConfig.from_pretrained(big_dir / "model").num_hidden_layers == layers


@pytest.mark.parametrize("num_train, labels, set_rate, automatic, expected", [
    (64, 2, 0.0, 1e-4, 3e-5),   # small data from 32 per label: a share of the automatic rate
    (64, 2, 5e-4, 1e-4, 5e-4),  # a rate set by hand is the user's
    (16, 2, 0.0, 1e-4, 1e-4),   # under 32 per label: the automatic rate, for fewer steps
    (16, 2, 2e-5, 1e-4, 2e-5),
    (256, 2, 0.0, 1e-4, 1e-4),  # not small: the automatic rate
    (256, 2, 2e-5, 5e-5, 2e-5),
])
def test_small_data_trains_at_a_gentler_rate_unless_one_is_set(num_train, labels, set_rate, automatic, expected):
    schedule = schedule_for(num_train, labels, 0, 3.0, auto_batch=32)
    assert small_data.learning_rate(schedule, set_rate, automatic) == pytest.approx(expected)


def test_a_label_only_in_validation_counts_for_no_small_data_rule(tmp_path, tiny_model_dir, example_data):
    from ui.data_check import check_data

    # 150 training texts of 2 labels, 75 each: over small data's 64 per label. The validation file adds a third label
    # that has no training texts: counted, the texts would be 50 per label and small.
    table = pd.read_csv(example_data)
    names = sorted(table["label"].unique())
    rest = table[table["label"] != names[3]].copy()
    rest["label"] = [names[i % 2] for i in range(len(rest))]
    rest.iloc[:150].to_csv(tmp_path / "train.csv", index=False)
    pd.concat([rest.iloc[150:], table[table["label"] == names[3]].head(10)]).to_csv(tmp_path / "val.csv", index=False)
    assert small_data.is_small(150, 3) and not small_data.is_small(150, 2)

    data = load_training_data(str(tmp_path / "train.csv"), val_data_path=str(tmp_path / "val.csv"))
    assert len(data.labels) == 3 and data.kind.taught_labels(data.train["label"]) == 2
    assert f"Label '{names[3]}' appears only in the validation file, so the model can never predict it." in data.warnings
    assert not any(s.startswith("Small data") for s in report_sentences(build_report(data)))
    check = check_data(str(tmp_path / "train.csv"), None, None, tiny_model_dir,
                       extra={"val_data_path": str(tmp_path / "val.csv")})
    assert check.status()["labels"] == 2  # what the Train step's estimate counts per label

    config = TrainConfig(data_path=str(tmp_path / "train.csv"), val_data_path=str(tmp_path / "val.csv"),
                         model=tiny_model_dir, max_length=16)
    run_dir = launcher.create_run(config, tmp_path / "runs")
    assert train(run_dir) == "finished"
    view = fold(read_events(run_dir))
    # The defaults' 3 epochs at the automatic batch size and rate, not small data's batch 16 for 120 steps.
    batch = view.info["batch_size"]
    assert batch != 16 and view.total_steps == 3 * -(-150 // batch)
    assert view.info["learning_rate"] == pytest.approx(1e-4)


def test_each_kind_counts_the_labels_its_training_rows_teach():
    from core import tasks

    assert tasks.SINGLE_LABEL.taught_labels(pd.Series(["a", "b", "a"])) == 2
    assert tasks.MULTI_LABEL.taught_labels(pd.Series(['["a", "b"]', '["b"]', '["c", "a"]'])) == 3
    assert tasks.REGRESSION.fitted("score", pd.Series([1.5, 2.0, 3.0])).taught_labels(pd.Series(["1.5", "2", "3"])) == 1
