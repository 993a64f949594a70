"""Multi-label classification: each text has any number of a few labels (one sigmoid per label, binary
cross-entropy), e.g. a news item tagged `sports;politics`.

A cleaned label cell holds the row's labels as a JSON list (`["politics", "sports"]`, sorted, no repeats), whatever
the file wrote (`sports;politics`, `sports | politics`, a JSON list, a Parquet list): unambiguous even when a label
name holds a separator of another file, and what data/*.parquet keep.
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from core.tasks.label_values import is_missing, order_labels
from core.tasks import LabelColumn, Metric, TaskKind, probe
from core.tasks.probe import PROBE_C
from core.tasks.threshold import (
    MIN_TUNING_GAIN, MIN_TUNING_ROWS, THRESHOLD, best_thresholds, readable_threshold, threshold_words,
)

if TYPE_CHECKING:
    from core.encoded import EncodedDataset

SEPARATORS = (";", "|", ",")  # tried in this order; the one most cells hold wins
# When a column is clearly a column of label lists (`refusal`, with `--task auto`), from what we measured:
# the 150-row topics table of the tests (8 topics, 1.5 per text): 45 % of its cells hold two or more labels, 8 labels,
# each seen 25+ times. The example support tickets' labels: no cell holds a separator. Their texts taken as labels:
# 227 of 320 cells (71 %) hold a comma, giving 353 different "labels" of which only 48 % of occurrences repeat. A
# single-label column with a comma in a few names (`R&D, Europe` in under a tenth of the rows) stays single-label;
# in more rows it reads as lists, and `--task single` says otherwise.
MIN_LIST_SHARE = 0.1  # of cells holding two or more labels
MAX_LABELS = 200  # a vocabulary past this is free text (or tags too many for one output layer of a small model)
MIN_REPEATED_SHARE = 0.9  # of label occurrences whose label is seen at least twice
LOSS_TIE_BREAK = 1e-6  # as core/tasks/metrics.py: at equal micro-F1 the lower validation loss wins
JUDGED_ROWS = 20_000  # rows of a big column that detection judges (as core/data/loading.py guesses columns from a sample)
POS_WEIGHT_CAP = 100.0  # a label in 1 of 10,000 texts must not outweigh all others 10,000 to 1


def _items(value: Any, separator: str) -> list[str] | None:
    """A cell's labels (stripped, empties dropped), or None for a missing cell."""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = [str(v).strip() for v in value if not is_missing(v)]
    elif is_missing(value):
        return None
    else:
        text = str(value).strip()
        items = None
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                items = [str(v).strip() for v in parsed if v is not None]
        if items is None:
            items = [part.strip() for part in text.split(separator)] if separator else [text]
    return [item for item in items if item]


def canonical(items: Iterable[str] | None) -> str | None:
    """The cleaned form of a row's labels: a sorted JSON list; None (a missing label) for no label at all."""
    names = order_labels(set(items or ()))
    return json.dumps(names, ensure_ascii=False) if names else None


def _none_of_them(value: Any) -> str | None:
    """An explicitly empty list of labels (a list object, or the text `[]`: several 0/1 columns all 0) is a text
    with none of the labels, kept as `[]`; any other empty cell is a missing label (None)."""
    if isinstance(value, (list, tuple, np.ndarray)) or (isinstance(value, str) and value.strip() == "[]"):
        return "[]"
    return None


def label_lists(cleaned: Iterable[str]) -> list[list[str]]:
    return [json.loads(cell) for cell in cleaned]


def label_pairs(cleaned: Iterable[str], top: int) -> list[tuple[str, str, int]]:
    """The `top` pairs of labels given together most often, as (label, label, texts), most frequent first."""
    counts = Counter((a, b) for names in label_lists(cleaned) for i, a in enumerate(names) for b in names[i + 1:])
    return [(a, b, n) for (a, b), n in counts.most_common(top)]


def find_separator(values: pd.Series) -> str:
    """The separator most string cells hold (";" before "|" before "," on ties), "" when none holds any."""
    strings = [v for v in values.dropna().head(20_000) if isinstance(v, str) and not v.lstrip().startswith("[")]
    counts = {sep: sum(sep in s for s in strings) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: counts[sep])  # max keeps the first of equal counts
    return best if counts[best] else ""


def multi_hot(cleaned: Sequence[str], labels: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(labels)}
    out = np.zeros((len(cleaned), len(labels)), dtype=np.float32)
    for row, names in enumerate(label_lists(cleaned)):
        out[row, [index[n] for n in names if n in index]] = 1.0
    return out


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits)  # float32 stays float32: the app's numbers match pipeline()'s
    return 1.0 / (1.0 + np.exp(-logits))


class MultiLabel(TaskKind):
    name = "multi_label"
    problem_type = "multi_label_classification"
    metrics = (Metric("f1_micro", "micro-F1", "f1", "Micro F1", hub_average="micro"),
               Metric("f1_macro", "macro-F1", "f1", "Macro F1", hub_average="macro"),
               Metric("subset_accuracy", "subset accuracy", "accuracy", "Subset accuracy"))
    main_metric = "f1_micro"
    greater_is_better = True
    exact_metric = "subset_accuracy"
    stratified = False  # most combinations of labels are rare: a random split (core/data/loading.py's _random_split)
    f1_metric = "f1_micro"
    pipeline_options = ", top_k=None"  # every label's score: by default pipeline() returns only the highest
    title = "multi-label"

    def __init__(self, threshold: float | list[float] = THRESHOLD) -> None:
        # One number for every label, or one per label (tuned on validation, or chosen in the Evaluate step).
        self.threshold = threshold

    def at(self, threshold: Any) -> "MultiLabel":
        usable = readable_threshold(threshold, None)
        return self if usable is None or usable == self.threshold else MultiLabel(usable)

    def restored(self, settings: Mapping[str, Any]) -> "MultiLabel":
        return self.at(self.saved_threshold(settings))  # labels.json and a saved model's config both keep it

    def saved_threshold(self, model_config: dict[str, Any]) -> float | list[float]:
        """The config's threshold; 0.5 when it has none, or one that is no number in (0, 1) or not one per label."""
        labels = len(model_config.get("id2label") or {}) or None
        return readable_threshold(model_config.get("threshold"), labels) or THRESHOLD

    # ---- data
    def cells(self, column: LabelColumn) -> list[list[str]]:
        separator = column.separator or find_separator(column.values)
        return [items for items in (_items(v, separator) for v in column.values) if items]

    def refusal(self, column: LabelColumn) -> str | None:
        if column.chosen and column.labels is None:  # a validation or test table: any cells can be read as lists
            return None
        if not column.chosen and len(column.values) > JUDGED_ROWS:  # asked of every column: keep it cheap
            column = dataclasses.replace(column, values=column.values.sample(JUDGED_ROWS, random_state=0))
        cells = self.cells(column)
        counts = Counter(item for items in cells for item in items)
        if len(counts) < 2:
            return (f"Column '{column.name}' holds fewer than two different labels, so there is nothing to tell "
                    "apart. A multi-label column lists labels like 'sports;politics'.")
        if column.chosen:  # the user said the column is multi-label: anything with two labels can be learnt
            return None
        lists = sum(len(items) > 1 for items in cells)
        repeated = sum(n for n in counts.values() if n > 1)
        if (lists >= MIN_LIST_SHARE * len(cells) and len(counts) <= MAX_LABELS
                and repeated >= MIN_REPEATED_SHARE * sum(counts.values())):
            return None
        return (f"Column '{column.name}' does not look like lists of labels: {lists:,} of {len(cells):,} rows hold "
                f"more than one, in {len(counts):,} different labels.")

    def normalised(self, column: LabelColumn) -> pd.Series:
        separator = column.separator or find_separator(column.values)
        return pd.Series([canonical(_items(v, separator)) or _none_of_them(v) for v in column.values],
                         index=column.values.index, dtype=object)

    def label_names(self, cleaned: Iterable[str]) -> list[str]:
        return order_labels({name for names in label_lists(cleaned) for name in names})

    def written(self, cleaned: pd.Series) -> pd.Series:
        return pd.Series(["; ".join(names) for names in label_lists(cleaned)], index=cleaned.index, dtype=object)

    def known(self, cleaned: pd.Series, labels: list[str]) -> pd.Series:
        names = set(labels)
        return pd.Series([set(row) <= names for row in label_lists(cleaned)], index=cleaned.index, dtype=bool)

    def each_label(self, cleaned: pd.Series) -> pd.Series:
        return pd.Series([n for names in label_lists(cleaned) for n in names], dtype=object)

    # ---- label encoding
    def labels_json(self, labels: list[str]) -> dict[str, Any]:
        return {"task": "multi", "labels": list(labels), "threshold": self.threshold}

    def targets(self, labels_column: Sequence[str], labels: list[str]) -> list[list[float]]:
        return multi_hot(list(labels_column), labels).tolist()  # float: BCE's target, and what the collator batches

    def model_config(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    # ---- training
    def loss(self, train_labels: Sequence[str], labels: list[str]) -> Callable[..., Any]:
        """BCE with `pos_weight` = negatives / positives per label (capped), the binary form of class weights; a
        label absent from training keeps 1."""
        import torch

        hot = multi_hot(list(train_labels), labels)
        positives = hot.sum(axis=0)
        weights = np.where(positives > 0, (len(hot) - positives) / np.maximum(positives, 1), 1.0)
        pos_weight = torch.tensor(np.clip(weights, 1.0 / POS_WEIGHT_CAP, POS_WEIGHT_CAP), dtype=torch.float32)

        def loss(outputs: Any, target: Any, num_items_in_batch: Any = None) -> Any:
            nonlocal pos_weight
            logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
            if pos_weight.device != logits.device:
                pos_weight = pos_weight.to(logits.device)
            return torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), target.float(),
                                                                        pos_weight=pos_weight)

        return loss

    def eval_scores(self, logits: np.ndarray, targets: Sequence[Any]) -> dict[str, float]:
        """micro-F1 picks the best model, ties broken by the lower (unweighted) binary cross-entropy."""
        logits = np.asarray(logits, dtype=np.float64)
        y_true = np.asarray(targets, dtype=np.float64).reshape(logits.shape)
        scores = _headline(y_true, (_sigmoid(logits) >= THRESHOLD).astype(int))
        bce = np.maximum(logits, 0) - logits * y_true + np.log1p(np.exp(-np.abs(logits)))
        loss = float(bce.mean()) if bce.size else 0.0
        return {**scores, "selection": scores["f1_micro"] - LOSS_TIE_BREAK * min(loss, 10.0)}

    def scores(self, targets: Sequence[Any], decisions: Sequence[Any], labels: list[str]) -> dict[str, Any]:
        from sklearn.metrics import precision_recall_fscore_support

        y_true = np.asarray(targets, dtype=int).reshape(-1, len(labels))
        y_pred = np.asarray(decisions, dtype=int).reshape(-1, len(labels))
        precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, average=None,
                                                                         zero_division=0)
        return {
            **_headline(y_true, y_pred),
            "labels": list(labels),
            "per_class": [{"label": name, "precision": float(p), "recall": float(r), "f1": float(f),
                           "support": int(s)} for name, p, r, f, s in zip(labels, precision, recall, f1, support)],
            "threshold": self.threshold,
            "num_validation": int(len(y_true)),
        }

    def warm_start_head(self, model: Any, new_parameter_names: Sequence[str], features: EncodedDataset,
                        labels: list[str], pad_token_id: int, precision: str, balanced: bool, seed: int,
                        progress: Callable[[int, int], None] | None = None) -> bool:
        """One binary logistic regression per label on the frozen features (one-vs-rest): each is exactly a
        sigmoid output of the new layer."""
        layer = probe.output_layer(model, new_parameter_names, len(labels))
        if layer is None:
            return False
        targets = np.asarray(features.label_ids).reshape(len(features), len(labels))
        rows = probe.random_rows(len(targets), seed)
        x = probe.rows_features(model, layer, features, rows, pad_token_id, precision, progress)
        probe.set_head(layer, *fit_probes(x, targets[rows], balanced))
        return True

    def baseline(self, train_df: pd.DataFrame, val_df: pd.DataFrame, labels: list[str]) -> dict[str, Any]:
        """One-vs-rest TF-IDF + logistic regression: per-label probabilities, so the same 0.5 threshold applies."""
        import time

        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline

        start = time.perf_counter()
        y_train = multi_hot(train_df["label"].tolist(), labels)
        y_val = multi_hot(val_df["label"].tolist(), labels)
        always = y_train.all(axis=0) | ~y_train.any(axis=0)  # a label in every or no training row: nothing to fit
        fitted = [i for i in range(len(labels)) if not always[i]]
        predicted = np.repeat(y_train[:1] if len(y_train) else np.zeros((1, len(labels))), len(y_val), axis=0)
        if fitted:
            model = make_pipeline(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=200_000, dtype=np.float32),
                OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=1000, class_weight="balanced")))
            model.fit(train_df["text"].tolist(), y_train[:, fitted])
            predicted[:, fitted] = model.predict_proba(val_df["text"].tolist()) >= THRESHOLD
        result = self.scores(y_val, predicted, labels)
        result.update(method=BASELINE_METHOD, seconds=round(time.perf_counter() - start, 3),
                      train_rows=len(train_df), validation_rows=len(val_df))
        return result

    def tuned(self, probabilities: np.ndarray, targets: Sequence[Any],
              labels: list[str]) -> tuple["MultiLabel", dict[str, float]] | None:
        """Per-label thresholds that maximise validation F1, when they beat this threshold's micro-F1 by more than
        MIN_TUNING_GAIN. Tuning and scoring on the same rows flatters the thresholds, so the gain is judged
        cross-fitted: thresholds tuned on one random half of the validation rows decide the other half, and the
        other way round ("estimated"). The thresholds kept are then tuned on all of them."""
        probs = np.asarray(probabilities, dtype=np.float64)
        truth = np.asarray(targets, dtype=int).reshape(probs.shape)
        if len(probs) < MIN_TUNING_ROWS:
            return None
        half = np.random.default_rng(0).permutation(len(probs)) < len(probs) // 2
        crossed = np.zeros_like(truth)
        for part in (half, ~half):
            crossed[part] = probs[part] >= best_thresholds(probs[~part], truth[~part])
        before = _headline(truth, self.decisions(probs))["f1_micro"]
        estimated = _headline(truth, crossed)["f1_micro"]
        if estimated - before <= MIN_TUNING_GAIN:
            return None
        return MultiLabel([float(x) for x in best_thresholds(probs, truth)]), {"before": before, "estimated": estimated}

    # ---- prediction
    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return _sigmoid(logits)

    def decisions(self, probabilities: np.ndarray) -> np.ndarray:
        return (np.asarray(probabilities) >= np.asarray(self.threshold)).astype(int)

    def predicted(self, probabilities: np.ndarray, labels: list[str]) -> tuple[list[str], list[float]]:
        """The labels at or above the threshold ("; "-joined, most likely first; empty when none is), and how sure
        the least sure of the per-label decisions is."""
        probabilities = np.asarray(probabilities)
        cut = np.broadcast_to(np.asarray(self.threshold, dtype=np.float64), (len(labels),))
        names = ["; ".join(labels[i] for i in np.argsort(-row, kind="stable") if row[i] >= cut[i])
                 for row in probabilities]
        sure = np.maximum(probabilities, 1 - probabilities).min(axis=-1) if probabilities.size else np.zeros(0)
        return names, sure.tolist()

    # ---- words
    def scores_words(self, scores: dict[str, Any]) -> str:
        return (f"micro-F1 {100 * scores['f1_micro']:.1f} %, macro-F1 {100 * scores['f1_macro']:.1f} %, "
                f"subset accuracy {100 * scores['subset_accuracy']:.1f} %")

    def usage_note(self, labels: list[str]) -> str:
        return ("`top_k=None` returns every label's score; the labels predicted are those scoring "
                f"{threshold_words(self.threshold, labels)}, the `threshold` kept in config.json.")

    def card_summary(self, labels: list[str]) -> str:
        return (f"A multi-label text classifier that tags a text with any of {len(labels)} labels (each scored on "
                f"its own, kept {threshold_words(self.threshold, labels)}): "
                + ", ".join(f"`{lab}`" for lab in labels) + ". ")


BASELINE_METHOD = "TF-IDF + one-vs-rest logistic regression"


def _headline(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    if not len(y_true):
        return {"f1_micro": 0.0, "f1_macro": 0.0, "subset_accuracy": 0.0}
    # Macro-F1 over the labels present in these rows (true or predicted), as single-label's: an absent label is
    # no F1 of 0.
    present = np.flatnonzero(y_true.any(axis=0) | y_pred.any(axis=0))
    return {"f1_micro": float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
            "f1_macro": float(f1_score(y_true[:, present], y_pred[:, present], average="macro", zero_division=0))
            if len(present) else 0.0,
            "subset_accuracy": float((y_true == y_pred).all(axis=1).mean())}


def fit_probes(x: np.ndarray, targets: np.ndarray, balanced: bool) -> tuple[np.ndarray, np.ndarray]:
    """(weight [labels, dim], bias [labels]) from one logistic regression per label on centred, scaled features
    (core/tasks/probe.py's regularisation); a label in every or no sampled row gets zero weight and a bias that says
    so."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits


    weight = np.zeros((targets.shape[1], x.shape[1]), dtype=np.float32)
    bias = np.where(targets.mean(axis=0) >= 0.5, 10.0, -10.0).astype(np.float32)
    centre = x.mean(axis=0)
    spread = float(x.std(axis=0).mean()) or 1.0
    z = (x - centre) / spread
    with threadpool_limits(limits=1, user_api="blas"):  # as probe.fit_probe: many small products
        for j in range(targets.shape[1]):
            y = targets[:, j].astype(int)
            if y.min() == y.max():
                continue
            probe = LogisticRegression(C=PROBE_C, max_iter=1000, class_weight="balanced" if balanced else None)
            probe.fit(z, y)
            coef = probe.coef_[0] / spread
            weight[j], bias[j] = coef, probe.intercept_[0] - coef @ centre
    return weight, bias
