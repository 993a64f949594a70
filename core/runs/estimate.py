"""How long a run will take on this machine, said before Start: from the texts' token lengths and the speed this
machine measured on earlier runs (else a rough guess from the device and the model's size).

Cost model: a text of L tokens (after the max length cuts it) costs L * (1 + L / 384) "token units" to train on:
linear in its tokens, plus attention, which grows with the square of the length. An evaluation pass costs a third
of a training pass (forward only). A run's measured speed is its samples/s times the cost of its average text.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from core.hardware import device_name
from core.models import sentence_encoder
from core.small_data import EVALUATION_PASS_SHARE, PAIR_MAX_TOKENS, evaluation_count, pairs_for, schedule_for
from core.runs.rundir import RunDir

ATTENTION_TOKENS = 384  # the length at which attention costs as much as the rest of the layer
EVAL_SHARE = EVALUATION_PASS_SHARE  # forward only: a third of a training pass
FIXED_SECONDS = 15.0  # loading the model, warm-starting the head, saving
SHORTER = 256  # the "faster" suggestion: cut texts to this many tokens
# A guess when nothing was measured here: the default MiniLM (22.7M parameters) trains ~3,000 units/s on 2 CPU cores.
GUESS_UNITS_PER_SECOND_PER_CORE = 1_500.0
GUESS_GPU_FACTOR = 40.0
REFERENCE_PARAMETERS = 22.7e6


def text_cost(length: float) -> float:
    return float(length) * (1.0 + float(length) / ATTENTION_TOKENS)


def data_cost(lengths: Sequence[int], max_length: int | None) -> float:
    """Summed cost of these texts, each cut to max_length tokens (None or 0: not cut)."""
    cap = max_length or math.inf
    return sum(text_cost(min(int(n), cap)) for n in lengths)


def guess_parameters(model: str) -> float:
    """A rough size from the model's name, for the guess before any run of it finished here."""
    name = (model or "").lower()
    for word, size in (("tiny", 4.4e6), ("mini", 22.7e6), ("small", 30e6), ("distil", 66e6), ("large", 335e6),
                       ("base", 110e6)):
        if word in name:
            return size
    return 110e6


def guessed_rate(model: str, device: str) -> float:
    """Units per second without a measurement: scaled by cores (CPU) or a GPU factor, and by model size."""
    if device.startswith("cuda"):
        per_device = GUESS_UNITS_PER_SECOND_PER_CORE * 2 * GUESS_GPU_FACTOR
    else:
        cores = 2
        if "(" in device:
            try:
                cores = int(device.split("(")[1].split()[0])
            except (ValueError, IndexError):
                pass
        per_device = GUESS_UNITS_PER_SECOND_PER_CORE * max(1, cores)
    return per_device * REFERENCE_PARAMETERS / guess_parameters(model)


def measured_rate(run_dirs: Sequence[Path], model: str, device: str) -> float | None:
    """Units per second of the newest run of this model on this device that trained long enough to be timed."""
    from core.runs.events import fold  # pandas: the estimate's rules alone load none

    for run_dir in run_dirs:
        view = fold(RunDir(run_dir).events())
        info = view.info
        if info.get("model") != model or info.get("device") != device or not view.samples_per_second:
            continue
        report = RunDir(run_dir).report()
        lengths = report.lengths if report else {}
        mean, cap = lengths.get("mean"), (report and report.effective_max_length) or info.get("max_length")
        if not mean:
            continue
        return float(view.samples_per_second) * text_cost(min(float(mean), float(cap or mean)))
    return None


@dataclass(frozen=True)
class Estimate:
    seconds: float
    measured: bool
    train_texts: int
    mean_tokens: float
    epochs: float
    faster_seconds: float | None = None  # the same run with texts cut to SHORTER tokens
    cut_share: float = 0.0  # share of texts the shorter cut would shorten
    pairs: int = 0  # small data on a sentence encoder: the pairs of texts it first trains on

    def sentence(self) -> str:
        how = ("measured on this machine's earlier runs of this model" if self.measured
               else "a rough guess: no run of this model has been timed on this machine yet")
        pairs = f", after {self.pairs:,} pairs of texts" if self.pairs else ""
        text = (f"{duration(self.seconds).capitalize()} on this machine: {self.train_texts:,} training texts of "
                f"~{self.mean_tokens:,.0f} tokens × {self.epochs:g} epoch{'s' if self.epochs != 1 else ''}{pairs} "
                f"({how}).")
        if self.faster_seconds is not None:
            text += (f" Faster: Max length {SHORTER} under Advanced takes {duration(self.faster_seconds)}; it "
                     f"cuts {100 * self.cut_share:.0f} % of the texts to their first {SHORTER} tokens, which may cost some "
                     "accuracy.")
        return text


def duration(seconds: float) -> str:
    """'under a minute', 'about 1 minute', 'about 26 minutes', 'about 2.5 hours'."""
    if seconds < 45:
        return "under a minute"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    return f"about {seconds / 3600:.1f} hours"


def estimate(lengths: Sequence[int], val_share: float, epochs: float, max_length: int | None, rate: float,
             measured: bool, texts: int | None = None, evaluations: float | None = None,
             pairs: int = 0) -> Estimate:
    """The run's wall time from its texts' token lengths (training and validation together) at `rate` units/s.
    `texts`: how many texts there are when `lengths` is a sample of them (big data is measured on a sample).
    `evaluations`: how many times the validation texts are scored (None: once an epoch). `pairs`: the pair phase
    first, a training pass over both texts of each pair (texts of the average cost, cut at PAIR_MAX_TOKENS)."""
    n = texts or len(lengths)
    scale = n / len(lengths) if lengths else 0.0
    train_share = 1.0 - min(max(val_share, 0.0), 0.9)

    def seconds(cap: int | None) -> float:
        total = data_cost(lengths, cap) * scale
        evaluating = total * (1 - train_share) * EVAL_SHARE * (epochs if evaluations is None else evaluations)
        pairing = 2 * pairs * data_cost(lengths, min(cap or PAIR_MAX_TOKENS, PAIR_MAX_TOKENS)) / max(len(lengths), 1)
        return FIXED_SECONDS + (epochs * total * train_share + pairing + evaluating) / max(rate, 1e-9)

    cap = max_length or None
    mean = sum(min(x, cap or math.inf) for x in lengths) / len(lengths) if lengths else 0.0
    faster = None
    longer = sum(1 for x in lengths if x > SHORTER)
    if (cap is None or cap > SHORTER) and longer:
        faster = seconds(SHORTER)
        if faster > 0.8 * seconds(cap):  # saves too little to mention
            faster = None
    return Estimate(seconds=seconds(cap), measured=measured, train_texts=round(n * train_share), mean_tokens=mean,
                    epochs=epochs, faster_seconds=faster, cut_share=longer / len(lengths) if lengths else 0.0,
                    pairs=pairs)


def for_data(lengths: Sequence[int], val_share: float, epochs: float, max_length: int | None, model: str,
             run_dirs: Sequence[Path], device: str | None = None, texts: int | None = None, num_labels: int = 0,
             batch_size: int = 0, pair_training: bool = False) -> Estimate | None:
    """The estimate the Train step and `python -m core train` show, or None without data. With `num_labels` and the
    batch size setting (0: automatic) it counts the epochs small data trains for (core/small_data.py), not the
    setting's; with `pair_training` (one label per text, the head warm-started, the phase not turned off) also the
    pair phase that small data on a sentence encoder starts with."""
    if not lengths:
        return None
    train_texts = round((texts or len(lengths)) * (1.0 - min(max(val_share, 0.0), 0.9)))
    pairs = pairs_for(train_texts, num_labels) if pair_training and sentence_encoder(model) else 0
    schedule = schedule_for(train_texts, num_labels, batch_size, epochs, auto_batch=1, after_pairs=pairs > 0)
    epochs = schedule.epochs
    num_validation = round((texts or len(lengths)) - train_texts)
    evaluations = evaluation_count(epochs, train_texts, num_validation) if schedule.small else None
    if device is None:
        device = device_name()
    rate = measured_rate(run_dirs, model, device)
    return estimate(lengths, val_share, epochs, max_length, rate or guessed_rate(model, device), rate is not None,
                    texts=texts, evaluations=evaluations, pairs=pairs)
