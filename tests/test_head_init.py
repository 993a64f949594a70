"""The warm-started classification head: a logistic regression on frozen features, copied into the output layer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from core.tasks.probe import (
    PROBE_C, fit_probe, head_features, init_head_from_probe, output_layer, probe_sample, shortened,
)
from core.encoded import EncodedDataset
from core.engine.token_store import encode_split


def test_probe_sample_keeps_every_class_and_respects_the_limit() -> None:
    labels = [0] * 900 + [1] * 95 + [2] * 5
    rows = probe_sample(labels, 100, seed=1)
    picked = np.asarray(labels)[rows]
    assert 100 <= len(rows) <= 100 + 3  # class shares rounded, and at least one row per class
    assert set(picked) == {0, 1, 2}
    assert list(rows) == sorted(set(rows))  # distinct rows, in data order
    assert len(probe_sample(labels, 5000, seed=1)) == 1000  # small data: every row


def test_fit_probe_reproduces_sklearn_predictions_for_two_classes_and_marks_absent_ones() -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    y = np.where(x[:, 0] + 0.3 * x[:, 1] > 0, 2, 0)  # labels 0 and 2 of 3: label 1 never appears
    weight, bias = fit_probe(x, y, num_labels=3, balanced=False)
    assert weight.shape == (3, 5) and bias.shape == (3,)
    ours = (x @ weight.T + bias).argmax(axis=1)
    z = (x - x.mean(axis=0)) / x.std(axis=0).mean()  # the probe fits on centred, unit-spread features
    reference = LogisticRegression(C=PROBE_C, max_iter=1000).fit(z, y).predict(z)
    assert (ours == reference).all()
    assert (weight[1] == 0).all() and bias[1] < bias[0] and bias[1] < bias[2]
    # The scale of the features does not change what the probe learns.
    small_weight, small_bias = fit_probe(x * 1e-3, y, num_labels=3, balanced=False)
    np.testing.assert_allclose(((x * 1e-3) @ small_weight.T + small_bias), x @ weight.T + bias, rtol=1e-3, atol=1e-3)


def test_warm_started_head_predicts_what_the_probe_learned(tiny_model_dir: str, example_data) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    df = pd.read_csv(example_data)
    labels = sorted(df["label"].astype(str).unique())
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model, info = AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir, num_labels=len(labels), ignore_mismatched_sizes=True, output_loading_info=True)
    new = sorted(set(info["missing_keys"]) | {k[0] for k in info["mismatched_keys"]})
    assert output_layer(model, new, len(labels)) is model.classifier
    data, _ = encode_split(tokenizer, df, labels, 32, 128)
    before = model.classifier.weight.detach().clone()

    assert init_head_from_probe(model, new, data, len(labels), tokenizer.pad_token_id, "fp32",
                                balanced=True, seed=0)

    assert not torch.equal(before, model.classifier.weight)
    x = head_features(model, model.classifier, data, tokenizer.pad_token_id, "fp32")
    y = np.array([f["labels"] for f in data])
    weight, bias = fit_probe(x, y, len(labels), balanced=True)
    logits = x @ weight.T + bias
    with torch.no_grad():
        model.eval()
        ids = [torch.tensor([f["input_ids"]]) for f in [data[i] for i in range(20)]]
        model_logits = np.vstack([model(input_ids=i).logits.numpy() for i in ids])
    np.testing.assert_allclose(model_logits, logits[:20], rtol=1e-3, atol=1e-3)


def test_long_texts_are_cut_for_the_probe_keeping_their_closing_token(tiny_model_dir: str, monkeypatch) -> None:
    from transformers import AutoModelForSequenceClassification

    long = {"input_ids": [101, 7, 8, 9, 10, 11, 102], "attention_mask": [1] * 7, "token_type_ids": [0] * 7, "labels": 1}
    assert shortened(long, 4) == {"input_ids": [101, 7, 8, 102], "attention_mask": [1] * 4, "token_type_ids": [0] * 4,
                                  "labels": 1}
    assert shortened(long, 7) is long

    seen: list[int] = []
    real = head_features
    monkeypatch.setattr("core.tasks.probe.PROBE_MAX_TOKENS", 4)
    monkeypatch.setattr("core.tasks.probe.head_features",
                        lambda model, layer, features, *a: seen.extend(len(f["input_ids"]) for f in features)
                        or real(model, layer, features, *a))
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=2)
    features = [dict(long, labels=i % 2) for i in range(6)] + [{"input_ids": [101, 5, 102], "attention_mask": [1] * 3,
                                                                  "token_type_ids": [0] * 3, "labels": 0}]
    assert init_head_from_probe(model, ["classifier.weight", "classifier.bias"], EncodedDataset.from_rows(features), 2,
                                0, "fp32", True, 0)
    assert seen == [4] * 6 + [3]


def test_head_with_no_new_layer_is_left_alone(tiny_model_dir: str) -> None:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)  # its own 2-label head: nothing new
    assert output_layer(model, [], 2) is None
    assert not init_head_from_probe(model, [], [{"input_ids": [101, 102], "attention_mask": [1, 1], "labels": 0}],
                                    2, 0, "fp32", True, 0)


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_head_features_follow_the_input_order(tiny_model_dir: str, precision: str) -> None:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).train()
    features = [{"input_ids": [101] + [2000 + i] * n + [102], "attention_mask": [1] * (n + 2), "labels": 0}
                for i, n in enumerate([1, 9, 4])]
    together = head_features(model, model.classifier, features, 0, precision)
    alone = np.vstack([head_features(model, model.classifier, [f], 0, precision) for f in features])
    np.testing.assert_allclose(together, alone, rtol=2e-2, atol=2e-2)
    assert model.training  # back in training mode afterwards


def test_head_features_report_their_progress(tiny_model_dir: str) -> None:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    features = [{"input_ids": [101, 2000 + i, 102], "attention_mask": [1] * 3, "labels": 0} for i in range(150)]
    calls: list[tuple[int, int]] = []
    head_features(model, model.classifier, features, 0, "fp32", progress=lambda done, total: calls.append((done, total)))
    assert calls == [(64, 150), (128, 150), (150, 150)]


@pytest.mark.parametrize("family", ["roberta", "distilbert"])
def test_two_layer_heads_get_their_logit_layer_warm_started(family: str, tmp_path) -> None:
    """RoBERTa (dense + out_proj) and DistilBERT (pre_classifier + classifier) heads are two new layers: the probe
    goes into the one that produces the logits, fitted on the features the first new layer gives it."""
    from transformers import (AutoModelForSequenceClassification, DistilBertConfig, DistilBertModel, RobertaConfig,
                              RobertaModel)

    if family == "roberta":
        config = RobertaConfig(vocab_size=200, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=64)
        RobertaModel(config, add_pooling_layer=False).save_pretrained(tmp_path)
    else:
        config = DistilBertConfig(vocab_size=200, dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                                  max_position_embeddings=64)
        DistilBertModel(config).save_pretrained(tmp_path)
    model, info = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=3, output_loading_info=True)
    new = sorted(info["missing_keys"])
    layer = output_layer(model, new, 3)
    assert layer is (model.classifier.out_proj if family == "roberta" else model.classifier)
    features = [{"input_ids": [0] + [5 + (i % 3) * 10 + j for j in range(4)] + [2], "attention_mask": [1] * 6,
                 "labels": i % 3} for i in range(30)]
    assert init_head_from_probe(model, new, EncodedDataset.from_rows(features), 3, 1, "fp32", balanced=True, seed=0)
    model.eval()
    with torch.no_grad():
        predicted = [int(model(input_ids=torch.tensor([f["input_ids"]])).logits.argmax()) for f in features]
    assert sum(p == f["labels"] for p, f in zip(predicted, features)) >= 27  # three token patterns, easily separated
