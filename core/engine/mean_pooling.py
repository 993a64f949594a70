"""A sentence-embedding base model read the way it was trained: through the mean of its token states.

Models from sentence-transformers such as all-MiniLM-L6-v2 (the default) were trained so that the MEAN of the last
layer's token states is the sentence's meaning; the [CLS] state that a standard `...ForSequenceClassification` head
reads was left as pre-training made it. With few texts the fine-tuning cannot fix that: on Pang & Lee, a logistic
regression on the frozen [CLS] pooler scored 0.531 / 0.528 / 0.552 with 8 / 16 / 32 texts per label, on the mean of
the token states 0.563 / 0.607 / 0.631 (500 held-out sentences, 3 seeds; BENCHMARKS.md).

So for small data the body gets one more encoder layer built to compute that mean at every position, [CLS] included:
its queries are zero, so each position attends equally to every real token (padding stays masked); its values pass
the states through unchanged; the attention output, scaled up 100×, swamps the residual, and the first LayerNorm
turns it into the normalised mean (what sentence-transformers compares by cosine); its feed-forward part starts at
zero. It is an ordinary layer of the same architecture (`num_hidden_layers` + 1 in config.json), so the folder stays a
standard `AutoModelForSequenceClassification` that `pipeline()` loads, and fine-tuning may change it like any other.
"""
from __future__ import annotations

import copy
from typing import Any

RESIDUAL_SWAMP = 100.0  # the mean's weight against the [CLS] state it is added to; LayerNorm removes the scale


def _last_layer(model: Any) -> Any | None:
    """The last encoder layer of a BERT-family body (BERT, RoBERTa, XLM-R, ...), or None for another architecture."""
    layers = getattr(getattr(getattr(model, "base_model", None), "encoder", None), "layer", None)
    if not layers:
        return None
    last = layers[-1]
    parts = ("attention.self.query", "attention.self.value", "attention.output.dense", "attention.output.LayerNorm",
             "output.dense", "output.LayerNorm")
    for part in parts:
        node = last
        for name in part.split("."):
            node = getattr(node, name, None)
        if node is None:
            return None
    return last


def add_mean_pooling_layer(model: Any) -> bool:
    """Append the mean-computing layer (see the module docstring); False (model unchanged) for an architecture
    without BERT's layer structure or with attention heads whose sizes do not tile the hidden size."""
    import torch

    last = _last_layer(model)
    size = model.config.hidden_size
    if last is None or last.attention.self.value.weight.shape != (size, size):
        return False
    layer = copy.deepcopy(last)
    eye = torch.eye(size, dtype=last.attention.self.value.weight.dtype)
    with torch.no_grad():
        attention = layer.attention
        attention.self.query.weight.zero_()
        attention.self.query.bias.zero_()
        attention.self.value.weight.copy_(eye)
        attention.self.value.bias.zero_()
        attention.output.dense.weight.copy_(RESIDUAL_SWAMP * eye)
        attention.output.dense.bias.zero_()
        for norm in (attention.output.LayerNorm, layer.output.LayerNorm):
            norm.weight.fill_(1.0)
            norm.bias.zero_()
        layer.output.dense.weight.zero_()
        layer.output.dense.bias.zero_()
    if hasattr(layer.attention.self, "layer_idx"):
        layer.attention.self.layer_idx = len(model.base_model.encoder.layer)
    model.base_model.encoder.layer.append(layer)
    model.config.num_hidden_layers += 1
    return True
