"""Classification metrics with scikit-learn (the `evaluate` package fetches metric scripts from the Hub)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def compute_metrics(y_true: Sequence[int], y_pred: Sequence[int], labels: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows true, cols predicted)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    ids = list(range(len(labels)))
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=ids, average=None, zero_division=0
    )
    # Macro-F1 over the classes present in this validation set, so an absent class does not count as F1 = 0.
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)) if len(y_true) else 0.0,
        "f1_macro": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)) if len(y_true) else 0.0,
        "labels": list(labels),
        "per_class": [
            {"label": name, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for name, p, r, f, s in zip(labels, precision, recall, f1, support)
        ],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
        "num_validation": int(len(y_true)),
    }


def accuracy_and_f1(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """The two numbers shown after every evaluation during training."""
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
    }
