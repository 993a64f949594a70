"""CPU training batches: the eager kernel with attention dropout when short, the fused kernel without it when long."""
from __future__ import annotations

import torch
from transformers import BertConfig, BertForSequenceClassification, DistilBertConfig, DistilBertForSequenceClassification

from core.engine.attention import EAGER_UP_TO, attention_dropouts, choose_kernel_per_batch

SHORT, LONG = EAGER_UP_TO, EAGER_UP_TO + 8


def _tiny_bert() -> BertForSequenceClassification:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=512, num_labels=3, attention_probs_dropout_prob=0.1)
    return BertForSequenceClassification(config)


def _batch(width: int) -> dict[str, torch.Tensor]:
    ids = torch.randint(5, 100, (4, width))
    mask = torch.ones_like(ids)
    mask[1, width // 2:] = 0  # a padded row, as in every real batch
    return {"input_ids": ids, "attention_mask": mask}


def _state(model: torch.nn.Module) -> tuple[str, list[float]]:
    return model.config._attn_implementation, [layer.p for layer in attention_dropouts(model)]


def test_attention_dropout_layers_are_found_in_bert_and_distilbert_and_nowhere_else():
    assert [layer.p for layer in attention_dropouts(_tiny_bert())] == [0.1, 0.1]  # one per layer, not hidden dropout
    distil = DistilBertForSequenceClassification(DistilBertConfig(vocab_size=100, dim=32, n_layers=3, n_heads=2,
                                                                  hidden_dim=64, attention_dropout=0.2))
    assert [layer.p for layer in attention_dropouts(distil)] == [0.2, 0.2, 0.2]


def test_short_batches_keep_dropout_long_ones_run_fused_without_it_and_inference_is_always_fused():
    model = _tiny_bert()
    assert choose_kernel_per_batch(model)
    model.train()
    model(**_batch(SHORT))
    assert _state(model) == ("eager", [0.1, 0.1])
    model(**_batch(LONG))
    assert _state(model) == ("sdpa", [0.0, 0.0])
    model(**_batch(16))
    assert _state(model) == ("eager", [0.1, 0.1])  # the model's own rate comes back
    with torch.no_grad():  # evaluation and the warm-start probe
        model.eval()
        model(**_batch(16))
    assert model.config._attn_implementation == "sdpa"


def test_turned_off_long_batches_keep_dropout_on_the_eager_kernel():
    model = _tiny_bert()
    assert choose_kernel_per_batch(model, fused_for_long_batches=False)
    model.train()
    model(**_batch(LONG))
    assert _state(model) == ("eager", [0.1, 0.1])


def test_switching_kernels_does_not_change_what_the_model_computes():
    model = _tiny_bert().eval()
    batch = _batch(40)
    with torch.no_grad():
        model.set_attn_implementation("sdpa")
        fused = model(**batch).logits
        model.set_attn_implementation("eager")
        eager = model(**batch).logits
    torch.testing.assert_close(fused, eager, rtol=1e-4, atol=1e-5)
