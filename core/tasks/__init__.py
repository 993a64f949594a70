"""The kinds of target a run can learn, one `TaskKind` object each, and how a run's kind is found.

Everything that depends on the kind of target goes through the run's kind: the model's problem_type and label maps,
what labels.json holds, the loss, the scores of each evaluation and which of them picks the best model, the
warm-started head, the baseline, turning logits into predictions, the metric names the charts and epoch table show,
and the model card's wording. Three kinds: single-label classification (core/tasks/single_label.py), multi-label
(core/tasks/multi_label.py) and regression, a number per text (core/tasks/regression.py); README "Adding a task kind"
lists what another one implements.
"""
from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from core.encoded import EncodedDataset


@dataclass(frozen=True)
class Metric:
    """A score recorded at each evaluation: its key in events and metrics.json, and the name a person reads."""

    key: str
    label: str
    hub_type: str = ""  # the Hub's metric id in a model card's results (accuracy, f1, ...)
    hub_name: str = ""
    hub_average: str | None = None  # "macro", ... for metrics averaged over labels
    percent: bool = True  # a share (0-1) written as '84.5 %'; else a number ('0.853', an RMSE on the user's scale)
    charted: bool = True  # drawn on the live chart's score axis (a kind's shares, or its unitless scores)


@dataclass(frozen=True)
class LabelColumn:
    """What the data layer knows about the column a user chose as the target, for a kind to accept or refuse."""

    name: str
    values: "pd.Series"  # as read, every row (a list stays a list)
    labels: "pd.Series | None" = None  # the cleaned label names of the rows kept; None: judge the values alone
    separator: str = ""  # what separates the labels of a cell in a multi-label column; "" finds it
    chosen: bool = False  # the user named the kind (--task): refuse only what it cannot learn at all


class TaskKind(ABC):
    """One kind of target. The label kinds are stateless: one instance each, in KINDS. Regression's instance in KINDS
    is unfitted; `fitted` and `restored` give one that carries the target's scale."""

    name: str  # stored with a run; never changes once runs exist
    problem_type: str  # transformers' config.problem_type: picks the loss a saved model is reloaded with
    metrics: tuple[Metric, ...]  # recorded at each evaluation, in the order charts and the epoch table show them
    main_metric: str  # the key of `metrics` that early stopping and "keep best" follow
    greater_is_better: bool
    pipeline_options: str = ""  # more arguments of the model card's pipeline("text-classification", ...) example
    exact_metric: str = "accuracy"  # the share of texts wholly right: what the Evaluate verdict counts in texts
    stratified: bool = True  # a split keeps each label's share of rows (label lists and numbers: a random split)
    classes: bool = True  # the targets are label names (checked and warned about as labels); False: a number

    def fitted(self, target: str, train_labels: "pd.Series") -> "TaskKind":
        """The kind as it learns the `target` column from these training rows (regression: their mean and spread);
        a label kind is the same for any data."""
        return self

    def restored(self, settings: Mapping[str, Any]) -> "TaskKind":
        """The fitted kind back from what a run's labels.json or a saved model's config holds."""
        return self

    # The headline score a run's list, /status and the banner show as "best F1" (a key of `metrics`; regression has
    # no F1: its main score, Spearman).
    f1_metric: str = "f1_macro"
    title: str = ""  # how the Data step's Task control names the kind (empty: the word --task uses)

    # ---- a decision threshold (kinds that have one: multi-label)
    def at(self, threshold: Any) -> "TaskKind":
        """This kind deciding at `threshold` (as a model config or labels.json stores it); itself when the kind has
        no threshold or the value is unusable."""
        return self

    def saved_threshold(self, model_config: dict[str, Any]) -> Any:
        """The threshold a saved model's config holds (None: the kind has none)."""
        return None

    def tuned(self, probabilities: "np.ndarray", targets: Sequence[Any],
              labels: list[str]) -> "tuple[TaskKind, dict[str, float]] | None":
        """After training: this kind at a threshold fitted on the validation predictions, with the scores before
        and after ({"before", "estimated"}), when that is clearly better; None to keep the threshold."""
        return None

    # ---- data
    @abstractmethod
    def refusal(self, column: LabelColumn) -> str | None:
        """Why this kind cannot learn the column (one sentence for the user), or None when it can."""

    def normalised(self, column: LabelColumn) -> "pd.Series | None":
        """The column's values rewritten into one label string per row for cleaning to keep; None: as they are."""
        return None

    def label_names(self, cleaned: Iterable[str]) -> list[str]:
        """The label vocabulary, in id order, of a cleaned label column."""

        return order_labels(cleaned)

    def written(self, cleaned: "pd.Series") -> "pd.Series":
        """A cleaned label column as a person reads it in a table, written like `predicted` writes predictions."""
        return cleaned

    def known(self, cleaned: "pd.Series", labels: list[str]) -> "pd.Series":
        """Which rows of a cleaned label column the model can be scored on: those of only labels it knows."""
        return cleaned.isin(labels)

    def each_label(self, cleaned: "pd.Series") -> "pd.Series":
        """One entry per (row, label) of a cleaned label column: what label counts are counted from."""
        return cleaned

    def taught_labels(self, train_labels: "pd.Series") -> int:
        """How many labels the training rows teach (a label only in validation teaches nothing): what small data's
        rules count texts per label against, alike in the data report, the time estimate and the training job."""
        return int(self.each_label(train_labels).nunique())

    def summary(self, cleaned: "pd.Series") -> dict[str, Any] | None:
        """What the data report says of the target beyond label counts (regression: range, mean, histogram)."""
        return None

    # ---- label encoding
    @abstractmethod
    def labels_json(self, labels: list[str]) -> Any:
        """What labels.json holds for a run of this kind."""

    @abstractmethod
    def targets(self, labels_column: Sequence[str], labels: list[str]) -> list[Any]:
        """The model's training target for each row of a cleaned label column."""

    def model_settings(self, labels: list[str]) -> dict[str, Any]:
        """Keyword arguments for from_pretrained: the output size, label maps and problem_type the model keeps."""
        return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                "label2id": {name: i for i, name in enumerate(labels)}, "problem_type": self.problem_type}

    def model_config(self) -> dict[str, Any]:
        """More settings the saved model's config keeps (set after loading: from_pretrained refuses unknown ones)."""
        return {}

    # ---- training
    @abstractmethod
    def loss(self, train_labels: Sequence[str], labels: list[str]) -> Callable[..., Any]:
        """Trainer's compute_loss_func, weighted by label frequency."""

    @abstractmethod
    def eval_scores(self, logits: "np.ndarray", targets: Sequence[Any]) -> dict[str, float]:
        """The `metrics` of one evaluation, and `selection`: the number the best model has the highest of."""

    @abstractmethod
    def scores(self, targets: Sequence[Any], decisions: Sequence[Any], labels: list[str]) -> dict[str, Any]:
        """metrics.json from the targets and the model's `decisions`: the final evaluation in full (also
        test_metrics.json, the baseline's scores, and the Evaluate tab's for runs whose metrics.json lacks them)."""

    @abstractmethod
    def warm_start_head(self, model: Any, new_parameter_names: Sequence[str], features: "EncodedDataset",
                        labels: list[str], pad_token_id: int, precision: str, balanced: bool, seed: int,
                        progress: Callable[[int, int], None] | None = None) -> bool | str:
        """Fit a linear probe on the frozen model's features and copy it into the new output layer; False when the
        head has no such layer, or a sentence saying why the probe was not used (it then trains from where it is)."""

    @abstractmethod
    def baseline(self, train_df: "pd.DataFrame", val_df: "pd.DataFrame", labels: list[str]) -> dict[str, Any]:
        """baseline.json: a classic model fitted in seconds on the same split, scored like `scores`."""

    # ---- prediction
    @abstractmethod
    def probabilities(self, logits: "np.ndarray") -> "np.ndarray":
        """What the model's logits mean to a user: one row of per-label scores per text."""

    @abstractmethod
    def decisions(self, probabilities: "np.ndarray") -> "np.ndarray":
        """What the model decides for each text, in the form `targets` has (what `scores` compares)."""

    @abstractmethod
    def predicted(self, probabilities: "np.ndarray", labels: list[str]) -> tuple[list[str], list[float]]:
        """The prediction shown for each text and how confident it is."""

    def prediction_columns(self, probabilities: "np.ndarray", labels: list[str]) -> dict[str, list[Any]] | None:
        """The columns a prediction table (a predicted file, validation_predictions.csv) gets for these rows
        instead of `predicted`, `confidence` and a score per label; None: those."""
        return None

    # ---- words
    @abstractmethod
    def card_summary(self, labels: list[str]) -> str:
        """The model card's first sentence: what the model does with a text."""

    @abstractmethod
    def scores_words(self, scores: dict[str, Any]) -> str:
        """The headline scores in a sentence ("accuracy 84.5 %, macro-F1 83.9 %"), for the run's last message."""

    # ---- evaluation (None: core/serving/evaluation.py's, which count texts right and list the wrong ones)
    def verdict(self, metrics: dict[str, Any], baseline: dict[str, Any] | None) -> tuple[str, str] | None:
        """(the Evaluate step's verdict, 'better' / 'same' / 'worse' than the baseline or '' without one)."""
        return None

    def mistakes(self, predictions: "pd.DataFrame") -> "pd.DataFrame | None":
        """The validation rows the Evaluate step lists first, from validation_predictions.csv as read."""
        return None

    def pipeline_example(self, model_ref: str, example: str) -> list[str]:
        """The model card's Python lines that load the model with pipeline() and print its answer for `example`
        (both given as Python string literals)."""
        # truncation=True: without it a text longer than the model reads raises an error instead of being cut.
        return ["from transformers import pipeline", "",
                f"classifier = pipeline(\"text-classification\", model={model_ref}{self.pipeline_options})",
                f"print(classifier({example}, truncation=True))"]

    def pipeline_note(self) -> str:
        """What to do with pipeline()'s output to get the app's prediction, when it is not the prediction itself."""
        return ""

    def usage_note(self, labels: list[str]) -> str:
        """The model card's words after its pipeline() example: how to read what it returns ("" for nothing)."""
        return ""

    def metric_label(self, key: str) -> str:
        return next(m.label for m in self.metrics if m.key == key)

    def metric_is_percent(self, key: str) -> bool:
        return next(m.percent for m in self.metrics if m.key == key)


from core.tasks.multi_label import MultiLabel  # noqa: E402  (these subclass TaskKind, defined above)
from core.tasks.regression import Regression  # noqa: E402
from core.tasks.single_label import SingleLabel  # noqa: E402

from core.tasks.label_values import order_labels
SINGLE_LABEL = SingleLabel()
MULTI_LABEL = MultiLabel()
REGRESSION = Regression()
KINDS: dict[str, TaskKind] = {kind.name: kind for kind in (SINGLE_LABEL, MULTI_LABEL, REGRESSION)}
DEFAULT = SINGLE_LABEL  # runs written before kinds existed, and models without a problem_type
# What `--task` names (TrainConfig.task): "auto" detects.
CHOSEN: dict[str, TaskKind] = {"single": SINGLE_LABEL, "multi": MULTI_LABEL, "regression": REGRESSION}
# Detection asks multi-label first: it takes only columns that are clearly lists of labels, which single-label would
# otherwise refuse (a JSON list) or learn as combinations, one class per combination ("sports;politics"). Regression
# next: it takes only numbers that read as a quantity (decimals, or many whole numbers), which single-label would
# learn as hundreds of classes of one example each.
DETECTION_ORDER = (MULTI_LABEL, REGRESSION, SINGLE_LABEL)


def named(name: str | None) -> TaskKind:
    """The kind stored under `name` (its name, or the word `--task` uses for it, as labels.json keeps it); a run or
    event without one is single-label (written before kinds existed)."""
    return KINDS.get(name or "") or CHOSEN.get(name or "", DEFAULT)


def detect(column: LabelColumn, task: str = "auto") -> TaskKind | str:
    """The kind `task` names ("single", "multi", "regression") if it can learn the column, else why not; for "auto" the first
    kind of DETECTION_ORDER that can, or the reason single-label gives why it cannot (the sentences users had before
    there were other kinds)."""
    if task in CHOSEN:
        kind = CHOSEN[task]
        return kind.refusal(dataclasses.replace(column, chosen=True)) or kind
    reasons = {}
    for kind in DETECTION_ORDER:
        reason = kind.refusal(column)
        if reason is None:
            return kind
        reasons[kind.name] = reason
    return reasons[DEFAULT.name]


def read_labels(stored: Any) -> tuple[TaskKind, list[str]]:
    """(kind, label names in id order) from labels.json as read. A plain list is single-label (every run so far);
    another kind stores {"task": name, "labels": [...], ...} (regression: with the target's scale)."""
    if isinstance(stored, dict):
        return named(stored.get("task")).restored(stored), [str(x) for x in stored.get("labels") or []]
    return DEFAULT, [str(x) for x in stored or []]


def for_problem_type(problem_type: str | None) -> TaskKind:
    """The kind of a saved model, from its config's problem_type (absent in models saved without one)."""
    for kind in KINDS.values():
        if kind.problem_type == problem_type:
            return kind
    return DEFAULT


def for_model_config(config: Any) -> TaskKind:
    """The fitted kind of a saved model, from its config (a regression model's keeps the target's scale)."""
    return for_problem_type(getattr(config, "problem_type", None)).restored(config.to_dict())
