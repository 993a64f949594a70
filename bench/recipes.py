"""The stock recipes the engine is measured against, written the way their sources teach them. Do NOT optimise these.

- seed: the Hugging Face tutorial: `tokenizer(text, truncation=True, padding="max_length")` (pads every text to the
  model's 512), `Dataset.map`, stock `Trainer` with its defaults (batch 8, fp32, lr 5e-5, no warm-up).
- autotrain: AutoTrain Advanced's text-classification trainer: a torch `Dataset` that tokenises each item on the fly in
  `__getitem__` with `padding="max_length", max_length=128`; batch 8, lr 5e-5, warm-up 0.1, evaluation and a checkpoint
  every epoch, best model loaded at the end.

Both record, through a callback, the wall-clock of every training epoch (evaluation excluded) and the evaluations.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)


def compute_metrics(eval_pred: Any) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_pred
    preds = np.argmax(logits, axis=-1)
    return {"accuracy": float(accuracy_score(labels, preds)), "f1_macro": float(f1_score(labels, preds, average="macro"))}


class EpochClock(TrainerCallback):
    """Wall-clock of each training epoch (from its first step to its last; evaluation runs after on_epoch_end)."""

    def __init__(self) -> None:
        self.train_begin: float | None = None
        self.first_step_end: float | None = None
        self.epoch_seconds: list[float] = []
        self.evals: list[dict[str, Any]] = []
        self._epoch_start = 0.0

    def on_train_begin(self, args, state, control, **kw):  # noqa: D401, ANN001
        self.train_begin = time.perf_counter()

    def on_epoch_begin(self, args, state, control, **kw):  # noqa: ANN001
        self._epoch_start = time.perf_counter()

    def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
        if self.first_step_end is None:
            self.first_step_end = time.perf_counter()

    def on_epoch_end(self, args, state, control, **kw):  # noqa: ANN001
        self.epoch_seconds.append(time.perf_counter() - self._epoch_start)

    def on_evaluate(self, args, state, control, metrics=None, **kw):  # noqa: ANN001
        m = metrics or {}
        self.evals.append({"epoch": state.epoch, "accuracy": m.get("eval_accuracy"), "f1_macro": m.get("eval_f1_macro")})


def _load_tables(train_csv: Path, val_csv: Path) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    train = pd.read_csv(train_csv, dtype={"text": str, "label": str}, keep_default_na=False)
    val = pd.read_csv(val_csv, dtype={"text": str, "label": str}, keep_default_na=False)
    labels = sorted(set(train["label"]) | set(val["label"]))
    return train, val, labels


def _model(model_path: str, labels: list[str]):  # noqa: ANN202
    return AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
    )


def _result(trainer: Trainer, clock: EpochClock, num_train: int, epochs: float, t0: float) -> dict[str, Any]:
    last = clock.evals[-1] if clock.evals else {}
    return {
        "epoch_seconds": clock.epoch_seconds,
        "train_seconds": sum(clock.epoch_seconds),
        "total_seconds": time.perf_counter() - t0,
        "num_train": num_train,
        "epochs": epochs,
        "accuracy": last.get("accuracy"),
        "f1_macro": last.get("f1_macro"),
        "evals": clock.evals,
        "precision": "fp32",
    }


def run_seed(train_csv: Path, val_csv: Path, model_path: str, epochs: float, seed: int, out_dir: Path) -> dict[str, Any]:
    """The tutorial recipe: pad everything to the model's maximum (512) once with Dataset.map, Trainer defaults."""
    from datasets import Dataset

    t0 = time.perf_counter()
    train_df, val_df, labels = _load_tables(train_csv, val_csv)
    label2id = {l: i for i, l in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(model_path)

    def tokenize_function(examples: dict[str, list]) -> dict[str, list]:
        return tokenizer(examples["text"], padding="max_length", truncation=True)

    def to_ds(df: pd.DataFrame) -> Dataset:
        return Dataset.from_dict({"text": df["text"].tolist(), "label": [label2id[l] for l in df["label"]]})

    train_ds = to_ds(train_df).map(tokenize_function, batched=True)
    val_ds = to_ds(val_df).map(tokenize_function, batched=True)
    model = _model(model_path, labels)
    args = TrainingArguments(
        output_dir=str(out_dir), eval_strategy="epoch", num_train_epochs=epochs, seed=seed,
        save_strategy="no", report_to="none",
    )
    clock = EpochClock()
    trainer = Trainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        compute_metrics=compute_metrics, callbacks=[clock],
    )
    trainer.train()
    return _result(trainer, clock, len(train_ds), epochs, t0) | {"max_length": tokenizer.model_max_length}


class AutoTrainTextDataset(torch.utils.data.Dataset):
    """AutoTrain Advanced's TextClassificationDataset: tokenises one item at a time, padded to max_length."""

    def __init__(self, texts: list[str], targets: list[int], tokenizer: Any, max_len: int) -> None:
        self.texts, self.targets, self.tokenizer, self.max_len = texts, targets, tokenizer, max_len

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, item: int) -> dict[str, torch.Tensor]:
        inputs = self.tokenizer(self.texts[item], max_length=self.max_len, padding="max_length", truncation=True)
        out = {k: torch.tensor(v, dtype=torch.long) for k, v in inputs.items()}
        out["labels"] = torch.tensor(self.targets[item], dtype=torch.long)
        return out


def run_autotrain(train_csv: Path, val_csv: Path, model_path: str, epochs: float, seed: int, out_dir: Path) -> dict[str, Any]:
    """AutoTrain Advanced's text-classification defaults (max_seq_length 128, batch 8, lr 5e-5, warm-up 0.1)."""
    t0 = time.perf_counter()
    max_len = 128
    train_df, val_df, labels = _load_tables(train_csv, val_csv)
    label2id = {l: i for i, l in enumerate(labels)}
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    train_ds = AutoTrainTextDataset(train_df["text"].tolist(), [label2id[l] for l in train_df["label"]], tokenizer, max_len)
    val_ds = AutoTrainTextDataset(val_df["text"].tolist(), [label2id[l] for l in val_df["label"]], tokenizer, max_len)
    model = _model(model_path, labels)
    logging_steps = max(1, int(0.2 * len(train_ds) / 8 * 1))  # AutoTrain's logging_steps=-1: a fifth of an epoch's steps
    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=8, per_device_eval_batch_size=8,
        learning_rate=5e-5, num_train_epochs=epochs, eval_strategy="epoch", logging_steps=logging_steps,
        save_total_limit=1, save_strategy="epoch", gradient_accumulation_steps=1, report_to="none",
        auto_find_batch_size=False, lr_scheduler_type="linear", optim="adamw_torch", warmup_steps=0.1,
        weight_decay=0.0, max_grad_norm=1.0, seed=seed, load_best_model_at_end=True, ddp_find_unused_parameters=False,
    )
    clock = EpochClock()
    trainer = Trainer(
        model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        compute_metrics=compute_metrics, callbacks=[clock],
    )
    trainer.train()
    return _result(trainer, clock, len(train_ds), epochs, t0) | {"max_length": max_len}


RECIPES = {"seed": run_seed, "autotrain": run_autotrain}
