"""Single-label classification: each text has exactly one of a few labels (softmax over the labels, cross-entropy)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from core.tasks import baseline, probe, metrics
from core.data.columns import _INT_RE, _NUMBER_RE, _nested, order_labels
from core.tasks import LabelColumn, Metric, TaskKind

if TYPE_CHECKING:
    from core.encoded import EncodedDataset


def class_weight_values(counts: list[int]) -> list[float]:
    """Inverse-frequency weights normalised to average 1 over the classes present, so the learning rate keeps its
    meaning and balanced data gets exactly 1 everywhere. A class absent from training gets 0."""
    present = [c for c in counts if c > 0]
    raw = [sum(present) / (len(present) * c) if c > 0 else 0.0 for c in counts]
    mean = sum(w for w in raw if w > 0) / len(present)
    return [w / mean for w in raw]


class SingleLabel(TaskKind):
    name = "single_label"
    problem_type = "single_label_classification"
    metrics = (Metric("accuracy", "accuracy", "accuracy", "Accuracy"),
               Metric("f1_macro", "macro-F1", "f1", "Macro F1", hub_average="macro"))
    main_metric = "f1_macro"
    greater_is_better = True

    def refusal(self, column: LabelColumn) -> str | None:
        """Lists of labels (several per text), or what is no label at all: an id (a new value in every row), or
        decimal numbers that hardly repeat (a score to predict, i.e. regression, not classes)."""
        if _nested(column.values):
            return (f"Column '{column.name}' holds lists of labels (several per text). This app learns one label per "
                    "text: give each row a single label.")
        if column.labels is None:
            return None
        labels, rows = order_labels(column.labels.unique()), len(column.labels)
        if (len(labels) > max(10, rows // 2) and all(_NUMBER_RE.match(n) for n in labels)
                and not all(_INT_RE.match(n) for n in labels)):
            return (f"Column '{column.name}' holds {len(labels):,} different numbers in {rows:,} rows, so it looks "
                    "like a score, not a label. A classifier needs a column of a few repeated labels.")
        if len(labels) == rows >= 4:
            return (f"Column '{column.name}' has a different value in every row, so it is not a column of labels "
                    "(an id?). Choose the column whose values repeat, like 'spam' / 'not spam'.")
        return None

    def labels_json(self, labels: list[str]) -> list[str]:
        return list(labels)  # the names in id order: the format of every run written before kinds existed

    def targets(self, labels_column: Sequence[str], labels: list[str]) -> list[int]:
        label_id = {name: i for i, name in enumerate(labels)}
        return [label_id[str(name)] for name in labels_column]

    def loss(self, train_labels: Sequence[str], labels: list[str]) -> Callable[..., Any]:
        import torch

        counts = pd.Series(list(train_labels), dtype=object).value_counts().reindex(labels, fill_value=0)
        weight_tensor = torch.tensor(class_weight_values(counts.astype(int).tolist()), dtype=torch.float32)

        def loss(outputs: Any, target: Any, num_items_in_batch: Any = None) -> Any:
            nonlocal weight_tensor
            logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
            if weight_tensor.device != logits.device:  # moved once: a copy per step makes the GPU wait every step
                weight_tensor = weight_tensor.to(logits.device)
            return torch.nn.functional.cross_entropy(logits.float(), target, weight=weight_tensor)

        return loss

    def eval_scores(self, logits: np.ndarray, targets: Sequence[Any]) -> dict[str, float]:
        return metrics.eval_scores(logits, targets)  # looked up at call time, so a test can replace it

    def scores(self, targets: Sequence[Any], decisions: Sequence[Any], labels: list[str]) -> dict[str, Any]:
        return metrics.compute_metrics(list(targets), list(decisions), labels)

    def warm_start_head(self, model: Any, new_parameter_names: Sequence[str], features: EncodedDataset,
                        labels: list[str], pad_token_id: int, precision: str, balanced: bool, seed: int,
                        progress: Callable[[int, int], None] | None = None) -> bool:
        return probe.init_head_from_probe(model, new_parameter_names, features, len(labels), pad_token_id,
                                              precision, balanced, seed, progress)

    def baseline(self, train_df: pd.DataFrame, val_df: pd.DataFrame, labels: list[str]) -> dict[str, Any]:
        return baseline.train_baseline(train_df, val_df, labels)

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        logits = np.asarray(logits)  # float32 logits stay float32: the API's numbers do not change with the path
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return probs / probs.sum(axis=-1, keepdims=True)

    def decisions(self, probabilities: np.ndarray) -> np.ndarray:
        return np.asarray(probabilities).argmax(axis=-1)

    def predicted(self, probabilities: np.ndarray, labels: list[str]) -> tuple[list[str], list[float]]:
        probabilities = np.asarray(probabilities)
        return [labels[i] for i in self.decisions(probabilities)], probabilities.max(axis=-1).tolist()

    def scores_words(self, scores: dict[str, Any]) -> str:
        # As percentages, as the epoch table, the banner and Evaluate write them.
        return f"accuracy {100 * scores['accuracy']:.1f} %, macro-F1 {100 * scores['f1_macro']:.1f} %"

    def card_summary(self, labels: list[str]) -> str:
        return (f"A text classifier that sorts a text into one of {len(labels)} labels: "
                + ", ".join(f"`{lab}`" for lab in labels) + ". ")
