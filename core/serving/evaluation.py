"""Honest evaluation of a finished run: headline vs. a classic baseline, per-class table, confusion matrix, mistakes."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core import tasks
from core.artefacts import DataReport
from core.runs.rundir import RunDir
from core.tasks.baseline import METHOD
from core.errors import UserError
from core.serving.predict import neutralise
from core.serving.plotting import axis_labels, figure
from core.small_data import TINY_VALIDATION, interval_sentence

NO_RUN_MESSAGE = "Train a model or open a run from the Runs tab first."
NOT_FINISHED_MESSAGE = "This run has not finished training yet: its evaluation appears when it finishes."


def _scores(y_true: list[str], y_pred: list[str], labels: list[str]) -> dict[str, Any]:
    """metrics.json-shaped numbers from label names (for runs whose metrics.json lacks the per-class report)."""
    index = {lab: i for i, lab in enumerate(labels)}
    pairs = [(index[t], index[p]) for t, p in zip(y_true, y_pred) if t in index and p in index]
    return tasks.SINGLE_LABEL.scores([t for t, _ in pairs], [p for _, p in pairs], labels)


def ensure_baseline(run_dir: Path | str) -> dict[str, Any] | None:
    """The run's baseline.json; computed from data/*.parquet and written when missing (None without the data)."""
    run = RunDir(run_dir)
    existing = run.baseline()
    if existing and "accuracy" in existing:
        return existing
    train_path, val_path = run.train_data, run.validation_data
    stored = run.stored_labels()
    if not (train_path.exists() and val_path.exists() and stored is not None):
        return None
    kind, labels = tasks.read_labels(stored)
    baseline = kind.baseline(pd.read_parquet(train_path), pd.read_parquet(val_path), labels)
    run.write_json(RunDir.BASELINE, baseline)
    return baseline


@dataclass
class Evaluation:
    """Everything the Evaluate tab shows, read from a run directory."""

    run_dir: Path
    labels: list[str]
    metrics: dict[str, Any]
    baseline: dict[str, Any] | None
    predictions: pd.DataFrame  # text, label, predicted, confidence, prob_<label>...
    name: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    kind: tasks.TaskKind = tasks.DEFAULT

    @property
    def confusion(self) -> list[list[int]]:
        """Rows = true label, columns = predicted label, in `labels` order; none for several labels per text."""
        if self.kind is not tasks.SINGLE_LABEL:
            return []
        cm = self.metrics.get("confusion_matrix")
        if cm and len(cm) == len(self.labels):
            return cm
        return _confusion(self.predictions, self.labels)


def load_evaluation(run_dir: Path | str | None) -> Evaluation:
    """Read a finished run's metrics, predictions and baseline; a UserError says why there is nothing to show."""
    if not run_dir:
        raise UserError(NO_RUN_MESSAGE)
    run_dir = Path(run_dir)
    run = RunDir(run_dir)
    metrics, predictions = run.metrics(), run.predictions()
    if metrics is None or predictions is None:
        raise UserError(NOT_FINISHED_MESSAGE)
    stored = run.stored_labels()
    kind, _ = tasks.read_labels(stored)
    kind = kind.at(kind.saved_threshold(run.model_config() or (stored if isinstance(stored, dict) else {})))
    _restore_written_cells(run, predictions, kind)
    labels = metrics.get("labels") or run.labels() or sorted(set(predictions["label"]))
    labels = [str(x) for x in labels]
    written = {neutralise(name): name for name in labels}
    predictions["predicted"] = predictions["predicted"].map(lambda name: written.get(name, name))
    if kind is tasks.SINGLE_LABEL and ("per_class" not in metrics or "accuracy" not in metrics):
        metrics = {**_scores(list(predictions["label"]), list(predictions["predicted"]), labels), **metrics}
    return Evaluation(
        run_dir=run_dir, labels=labels, metrics=metrics, baseline=ensure_baseline(run_dir), predictions=predictions,
        name=run.display_name(),
        # A test table's or a Hub dataset's test split's scores, if any, and what the headline calls those rows.
        extra={"test": run.test_metrics(), "test_name": (run.report() or DataReport()).test_name},
        kind=kind,
    )


def _restore_written_cells(run: RunDir, predictions: pd.DataFrame, kind: tasks.TaskKind) -> None:
    """validation_predictions.csv is a download whose formula-like cells carry a leading apostrophe (neutralised for
    spreadsheets). Stripping it back would be ambiguous (a text may begin with one), so the texts and labels shown
    come from data/validation.parquet: the same rows in the same order."""
    path = run.validation_data
    if not path.exists():
        return
    validation = pd.read_parquet(path)
    if len(validation) == len(predictions) and {"text", "label"} <= set(validation.columns):
        predictions["text"] = validation["text"].astype(str).to_numpy()
        predictions["label"] = kind.written(validation["label"].astype(str)).to_numpy()


def _confusion(predictions: pd.DataFrame, labels: list[str]) -> list[list[int]]:
    index = {lab: i for i, lab in enumerate(labels)}
    grid = [[0] * len(labels) for _ in labels]
    for t, p in zip(predictions["label"], predictions["predicted"]):
        if t in index and p in index:
            grid[index[t]][index[p]] += 1
    return grid


def headline_table(ev: Evaluation) -> pd.DataFrame:
    """Fine-tuned model vs. baseline on the same validation split (and the model on the test rows, if any)."""
    def scores(found: dict[str, Any]) -> dict[str, Any]:  # the kind's metrics (single-label: accuracy, macro-F1)
        return {m.label: found.get(m.key) for m in ev.kind.metrics}

    rows = [{"model": "Fine-tuned transformer", **scores(ev.metrics)}]
    if ev.baseline:
        rows.append({"model": f"Baseline: {ev.baseline.get('method', METHOD)}", **scores(ev.baseline)})
    test = ev.extra.get("test")
    if isinstance(test, dict):  # scored once after training, apart from the validation rows that chose the model
        name = ev.extra.get("test_name") or DataReport().test_name
        rows.append({"model": f"Fine-tuned transformer on {name} ({test.get('rows', 0):,} texts)",
                     **scores(test)})
    return pd.DataFrame(rows).round(4)


# Validation texts under which the verdict says the scores are rough and gives accuracy's 95 % interval: the size
# under which training keeps the last model instead of choosing one on validation (core/small_data.py).
ROUGH_BELOW = TINY_VALIDATION
ROUGH_PER_LABEL = 5  # ... and validation texts per label under which the per-label scores are


@dataclass(frozen=True)
class Comparison:
    """The transformer against the baseline in validation texts: what a difference in scores amounts to."""

    n: int  # validation texts
    model_right: int
    baseline_right: int
    margin: int  # texts that chance alone moves the difference by on a set this size (two standard errors)
    variance: float = 0.0  # of the difference of the two accuracies, per validation text

    @property
    def difference(self) -> int:
        return self.model_right - self.baseline_right

    @property
    def outcome(self) -> str:
        if self.difference > self.margin:
            return "better"
        if self.difference < -self.margin:
            return "worse"
        return "same"

    def texts_to_settle(self) -> int | None:
        """Validation texts at which a gap of this size would stand out (two standard errors); None for no gap."""
        if self.difference == 0 or self.n == 0:
            return None
        d = abs(self.difference) / self.n
        return max(self.n + 1, math.ceil(4 * self.variance / d ** 2))


def compare(ev: Evaluation) -> Comparison | None:
    """Accuracy turned into texts: how many of the n validation texts each model gets right. The margin is two
    standard errors of the difference of two accuracies on n texts (at least one text): a gap inside it is a tie."""
    right = ev.kind.exact_metric
    if not ev.baseline or ev.baseline.get(right) is None:
        return None
    n = int(ev.metrics.get("num_validation") or len(ev.predictions))
    p1, p2 = float(ev.metrics.get(right) or 0.0), float(ev.baseline.get(right) or 0.0)
    variance = p1 * (1 - p1) + p2 * (1 - p2)
    return Comparison(n=n, model_right=round(p1 * n), baseline_right=round(p2 * n),
                      margin=max(1, round(2 * math.sqrt(max(n, 1) * variance))), variance=variance)


def outcome(ev: Evaluation) -> str | None:
    """'better', 'same' or 'worse' than the baseline, in validation texts; None without a baseline. With few
    validation texts a text or two moves the scores a lot: a gap within chance is called a tie, not a win."""
    own = ev.kind.verdict(ev.metrics, ev.baseline)
    if own is not None:
        return own[1] or None
    comparison = compare(ev)
    return comparison.outcome if comparison else None


def pct(score: float) -> str:
    """A score as the app writes every score: '84.5 %'."""
    return f"{100 * float(score):.1f} %"


def _texts(k: int) -> str:
    return "1 text" if k == 1 else f"{k:,} texts"


def verdict(ev: Evaluation) -> str:
    """Did the transformer earn its cost over the baseline? Said in validation texts, with a tie called a tie."""
    kind = ev.kind  # single-label: accuracy (texts right) and macro-F1; multi-label: subset accuracy and micro-F1
    own = kind.verdict(ev.metrics, ev.baseline)  # regression: Spearman against the baseline's
    if own is not None:
        return own[0]
    right, main = kind.metric_label(kind.exact_metric), kind.metric_label(kind.main_metric)
    f1 = float(ev.metrics.get(kind.main_metric) or 0.0)
    acc = float(ev.metrics.get(kind.exact_metric) or 0.0)
    n = int(ev.metrics.get("num_validation") or len(ev.predictions))
    texts = "1 validation text" if n == 1 else f"{n:,} validation texts"
    words = kind.scores_words(ev.metrics)
    head = f"{words[0].upper()}{words[1:]} on {texts}."
    tested = sum(1 for row in ev.metrics.get("per_class", []) if row.get("support"))
    if 0 < n < ROUGH_BELOW:
        head += (f" With so few, one text moves {right} by {100 / n:.0f} points: treat the scores as rough. "
                 + interval_sentence(acc, n, right))
    elif tested and n < ROUGH_PER_LABEL * tested:
        head += f" That is about {n / tested:.0f} per label: treat the per-label scores as rough."
    c = compare(ev)
    if c is None:
        return head + " (No baseline available for this run.)"
    method = ev.baseline.get("method", METHOD)
    base_acc = float(ev.baseline.get(kind.exact_metric) or 0.0)
    base_f1 = float(ev.baseline.get(kind.main_metric) or 0.0)
    scores = f"({pct(acc)} vs {pct(base_acc)} {right}, {main} {pct(f1)} vs {pct(base_f1)})"
    if c.model_right == c.baseline_right == c.n:
        return head + (f" A tie: the transformer and the {method} baseline both get all {_texts(c.n)} right. This "
                       "data is easy for a classic model, which is far cheaper to run; only harder or more "
                       "validation texts could tell them apart.")
    if c.outcome == "better":
        return head + (f" The transformer gets {_texts(c.difference)} more of the {c.n:,} right than the {method} "
                       f"baseline {scores}: more than chance explains on a set this size.")
    if c.outcome == "worse":
        return head + (f" The {method} baseline gets {_texts(-c.difference)} more of the {c.n:,} right {scores}: "
                       "more epochs, more data or a larger model may help; or use the baseline.")
    if c.difference == 0:
        gap = f"both get {c.model_right:,} of the {c.n:,} right"
    else:
        gap = (f"the transformer gets {_texts(abs(c.difference))} {'more' if c.difference > 0 else 'fewer'} of "
               f"the {c.n:,} right")
    settle = c.texts_to_settle()
    how = (f" About {settle:,} validation texts would show whether a gap this size is real." if settle
           else " More validation texts would show whether either is better.")
    return head + (f" A tie with the {method} baseline: {gap} {scores}, within the ±{_texts(c.margin)} that chance "
                   f"alone moves it on a set this size.{how}")


def per_class_table(ev: Evaluation) -> pd.DataFrame:
    """precision / recall / F1 / support per label, plus the baseline's F1 when known. A label with no validation
    texts has no recall or F1 (blank, not 0, and left out of macro-F1), and no precision unless it was predicted."""
    df = pd.DataFrame(ev.metrics.get("per_class", []), columns=["label", "precision", "recall", "f1", "support"])
    if df.empty:  # a number per text (regression): no labels to score
        return df
    predicted = [sum(row[j] for row in ev.confusion) for j in range(len(ev.labels))] if ev.confusion else None
    absent = df["support"] == 0
    df.loc[absent, ["recall", "f1"]] = float("nan")
    if predicted is not None and len(predicted) == len(df):
        df.loc[absent & (pd.Series(predicted) == 0), "precision"] = float("nan")
    if ev.baseline and ev.baseline.get("per_class"):
        base = {str(r["label"]): r.get("f1") for r in ev.baseline["per_class"]}
        df["baseline f1"] = [None if gone else base.get(str(lab)) for lab, gone in zip(df["label"], absent)]
    return df.round(4)


def misclassified(ev: Evaluation, true_label: str | None = None, predicted_label: str | None = None) -> pd.DataFrame:
    """Wrong validation predictions, most confident first; optionally only one true and/or predicted label."""
    df = ev.predictions
    own = ev.kind.mistakes(df)  # regression: the largest errors, not wrong labels
    if own is not None:
        return own
    if ev.kind is not tasks.SINGLE_LABEL:  # several labels per text, "; "-joined: wrong unless every one is right
        return _misread_lists(df, true_label, predicted_label)
    wrong = df[df["label"] != df["predicted"]]
    if true_label:
        wrong = wrong[wrong["label"] == true_label]
    if predicted_label:
        wrong = wrong[wrong["predicted"] == predicted_label]
    return _mistakes(wrong)


def _misread_lists(df: pd.DataFrame, true_label: str | None, predicted_label: str | None) -> pd.DataFrame:
    """Texts whose predicted labels are not exactly their labels; a filter keeps those holding that label."""
    truth = df["label"].map(lambda cell: set(filter(None, str(cell).split("; "))))
    guess = df["predicted"].map(lambda cell: set(filter(None, str(cell).split("; "))))
    keep = truth != guess
    if true_label:
        keep &= truth.map(lambda names: true_label in names)
    if predicted_label:
        keep &= guess.map(lambda names: predicted_label in names)
    return _mistakes(df[keep])


def _mistakes(wrong: pd.DataFrame) -> pd.DataFrame:
    """The wrong rows as the Evaluate step lists them, most confident first."""
    wrong = wrong.sort_values("confidence", ascending=False, kind="stable")
    out = wrong[["text", "label", "predicted", "confidence"]].rename(columns={"label": "true label", "predicted": "predicted label"})
    return out.round({"confidence": 4}).reset_index(drop=True)


def confusion_figure(ev: Evaluation) -> Any:
    """The confusion matrix as a matplotlib Figure with label names (rows true, columns predicted)."""
    from matplotlib.ticker import MaxNLocator


    cm = ev.confusion
    n = len(ev.labels)
    size = min(12.0, 2.5 + 0.6 * n)
    fig = figure(figsize=(size, size * 0.85), dpi=100)
    ax = fig.add_subplot(111)
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, ticks=MaxNLocator(integer=True))  # counts: no 1.25 texts
    short = axis_labels(ev.labels)
    font = 10 if n <= 20 else max(6, 10 - (n - 20) // 8)  # 50 names must fit beside a 12-inch matrix
    ax.set_xticks(range(n), labels=short, rotation=45, ha="right", fontsize=font)
    ax.set_yticks(range(n), labels=short, fontsize=font)
    ax.set_xlabel("Predicted label")
    ax.set_ylabel("True label")
    ax.set_title("Confusion matrix (validation)")
    top = max((max(row) for row in cm), default=0)
    if n <= 20:  # numbers in cells stay readable up to ~20 classes
        for i, row in enumerate(cm):
            for j, value in enumerate(row):
                ax.text(j, i, str(value), ha="center", va="center", color="white" if value > top / 2 else "black")
    fig.tight_layout()
    return fig


def prediction_figure(ev: Evaluation) -> Any:
    """A regression run's predicted against true values (validation) as a matplotlib Figure."""
    from core.serving.plotting import true_predicted_scatter

    errors = ev.kind.mistakes(ev.predictions)
    return true_predicted_scatter(errors["true value"].to_numpy(), errors["predicted"].to_numpy(), ev.labels[0])
