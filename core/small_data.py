"""Small data: when the app trains differently because there are few texts, and what it says about it. Pure rules
and sentences (no torch): the data report reads them too. The pair phase itself is core/engine/pair_training.py.

With 16 texts and batch 32, the three default epochs are three optimizer steps: the encoder hardly moves from where
its pre-training left it, and the head only learns what a linear probe on those features can. So small data gets a
schedule of enough steps (schedule_for), and a validation set of a few texts is not used to choose a model
(selects_on_validation), only reported with its uncertainty (BENCHMARKS.md, Small data).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

# Small data is at most this many training texts per label on average and fewer than SMALL_DATA_BELOW_TEXTS in all;
# above either a run is exactly as before. At 64 per label on two labels (Pang & Lee, 128 texts, 500 held-out
# sentences, 3 seeds) these rules scored 0.690 against 0.612 for the 3 epochs at batch 32 that were the defaults. The
# shipped example (256 texts, 4 labels) keeps its quick 3-epoch first run, and so do the larger corpora of the
# default-settings check (BENCHMARKS.md): many labels of a few texts each get enough steps from their number.
SMALL_DATA_MAX_PER_LABEL = 64
SMALL_DATA_BELOW_TEXTS = 200
# The pair phase (core/engine/pair_training.py) before the head's warm start, for sentence encoders: SetFit 1.x draws
# about as many pairs as there are distinct pairs of texts (8 texts per label, 2 labels: 128; 64 per label: 8,192).
# So does the phase, half of them of the same label, at most MAX_PAIRS (512 steps of 16 pairs; small data's 199 texts
# have 19,701 distinct pairs, some 13 minutes of pairs on 2 cores). It needs PAIR_MIN_PER_LABEL texts per label on
# average: on the tweets it gained 1.1 points at 32 per label (0.868 against 0.857) but lost 1.6 at 16 and 0.6 at 8
# (0.814 against 0.830, 0.761 against 0.767). Fewer pairs cost accuracy where the texts are hard: at 64 per label on
# Pang & Lee (500 held-out texts, seeds 0-5), 40 pairs per text (5,120) scored 0.715, these 8,128 pairs 0.724 and
# SetFit 0.725, in a run still shorter than SetFit's (BENCHMARKS.md, Small data).
MAX_PAIRS = 8192
PAIR_MIN_PER_LABEL = 32
PAIR_LEARNING_RATE = 2e-5  # SetFit's body rate, for the same mean-pooled features
# Texts are cut at 128 tokens for the phase, the length all-MiniLM-L6-v2 was trained on as a sentence encoder: the
# phase only needs their gist, and thousands of pairs would otherwise cost long texts several times the fine-tuning
# (books, 112 texts of ~900 words: 389 steps of 32 texts).
PAIR_MAX_TOKENS = 128


@dataclass(frozen=True)
class SmallDataPlan:
    """What the app does differently for this training set: nothing when `active` is False."""

    active: bool
    num_pairs: int = 0
    reason: str = ""


# With small data and the automatic batch size and epochs, a run trains at batch 16, and from PAIR_MIN_PER_LABEL texts
# per label without the pair phase (a plain model, several labels per text) at least MIN_STEPS optimizer steps: as many
# epochs as that takes, at most MAX_EPOCHS. Three epochs of 16 texts at batch 32 are three steps, too few to move the
# model; on Pang & Lee, 32 texts per label, 15 epochs at batch 16 scored 0.686 against 0.621 (issue #19).
SMALL_BATCH = 16
MIN_STEPS = 120
MAX_EPOCHS = 40
# After the pair phase the encoder has already moved where the labels tell apart, and the fine-tuning mostly refits
# what the probe found (at 32 per label, Pang & Lee, every evaluation of a seed within 0.6 points of its last): it
# trains EPOCHS_AFTER_PAIRS epochs, 40 steps at 32 per label on two labels instead of 120, which were a third of such
# a run on a quiet machine and made it slower than SetFit's (now about as fast). Against 120 steps (500 held-out
# texts, seeds 0-2): K = 64, 40 steps (5 epochs) lost 0.7 on Pang & Lee, so the rule counts passes over the texts.
# With it: Pang & Lee K = 32 0.693 against 0.688 (6 seeds), K = 64 0.715 against 0.724 (6 seeds); tweets K = 32
# 0.859 against 0.868 (3), K = 64 0.886 against 0.886 (6); SetFit 0.692, 0.725 (6 seeds), 0.856, 0.891 (5 seeds)
# (BENCHMARKS.md, Small data). Pang & Lee at K = 64 was the cell it cost, about a point; more pairs (MAX_PAIRS) made
# it up.
EPOCHS_AFTER_PAIRS = 10
# ... at a share of the automatic learning rate (core/config.py; 1e-4 for MiniLM -> 3e-5): fine-tuning on a few dozen
# texts varies a lot from one training seed to the next (Pang & Lee, 32 texts per label, one data draw: 0.634 to 0.698
# with the rate and 60 steps of before), and a gentler rate over twice the steps ends nearer the probe it started from.
SMALL_DATA_RATE_SHARE = 0.3
# Under PAIR_MIN_PER_LABEL texts per label on average (no pair phase) a run trains FEW_TEXTS_EPOCHS epochs at the
# automatic rate instead: at 8 texts per label the 120 steps at the gentler rate were 40 passes over the texts and
# made a run twice SetFit's time (Pang & Lee, 31 against 16 s on a quiet machine). Ten passes at the full rate scored
# within a point of them, and at least SetFit's (500 held-out texts, seeds 0-5): Pang & Lee K = 8 0.616 (120 steps
# 0.623, SetFit 0.616), K = 16 0.646 (0.646, 0.640); tweets K = 8 0.738 (0.743, 0.725), K = 16 0.804 (0.811, 0.771).
# Ten at the gentler rate lost on the tweets (K = 8 0.726, K = 16 0.781), twenty at it scored as ten at the full rate
# in twice the steps (BENCHMARKS.md, Small data).
FEW_TEXTS_EPOCHS = 10
DEFAULT_EPOCHS = 3.0  # TrainConfig's: the schedule only replaces epochs left at the default


@dataclass(frozen=True)
class Schedule:
    """The batch size and epochs a run trains with, whether the small-data rule chose them, and the share of the
    automatic learning rate it trains at when none is set."""

    batch_size: int
    epochs: float
    small: bool = False
    rate_share: float = 1.0


# Small data evaluates about this many times, every few epochs and at the end: it keeps its last model, so the
# evaluations only draw the live chart, and 20 of them on 500 held-out sentences were most of a 60-second run.
SMALL_DATA_EVALUATIONS = 5
# ... and fewer when the validation set is large beside the training set: the evaluations may take at most this share
# of the fine-tuning's work (an evaluation reads each validation text forward, a third of a training pass over it).
# Pang & Lee at 8 per label with 500 held-out texts: five evaluations were 8 of the job's 22 s on a quiet machine (40
# steps then); it now evaluates once, at the end. A user's own split (a fifth of the texts held out) keeps five.
EVALUATION_WORK_SHARE = 0.25
EVALUATION_PASS_SHARE = 1 / 3  # forward only


def evaluation_count(epochs: float, num_train: int = 0, num_validation: int = 0) -> int:
    """Pure: how many times small data evaluates in `epochs` epochs (the last step's included): about
    SMALL_DATA_EVALUATIONS, fewer when evaluating `num_validation` texts that often would be more than
    EVALUATION_WORK_SHARE of training on `num_train` texts (0: not known), and at least once."""
    every = max(1, math.ceil(epochs / SMALL_DATA_EVALUATIONS))
    count = math.ceil(epochs / every)
    if num_train and num_validation:
        work = epochs * num_train / (num_validation * EVALUATION_PASS_SHARE)
        count = min(count, math.floor(EVALUATION_WORK_SHARE * work))
    return max(1, count)


def evaluation_epochs(epochs: float, num_train: int = 0, num_validation: int = 0) -> int:
    """Pure: every how many epochs small data evaluates (1 = every epoch)."""
    return max(1, math.ceil(epochs / evaluation_count(epochs, num_train, num_validation)))


def evaluation_steps(small: bool, eval_steps: int, steps_per_epoch: int, epochs: float, num_train: int = 0,
                     num_validation: int = 0) -> int:
    """Pure: every how many steps a run evaluates; 0 = every epoch. Steps set by hand are kept; small data evaluates
    every evaluation_epochs(...) epochs."""
    every = evaluation_epochs(epochs, num_train, num_validation)
    if eval_steps or not small or every == 1:
        return eval_steps
    return steps_per_epoch * every


def learning_rate(schedule: Schedule, set_rate: float, automatic: float) -> float:
    """Pure: the run's learning rate: the one set by hand, else the schedule's share of the automatic one."""
    return set_rate or automatic * schedule.rate_share


def is_small(num_train: int, num_labels: int) -> bool:
    return num_labels >= 2 and num_train <= SMALL_DATA_MAX_PER_LABEL * num_labels and num_train < SMALL_DATA_BELOW_TEXTS


def is_few(num_train: int, num_labels: int) -> bool:
    """Small data under PAIR_MIN_PER_LABEL texts per label on average: too few for the pair phase."""
    return is_small(num_train, num_labels) and num_train < PAIR_MIN_PER_LABEL * num_labels


def schedule_for(num_train: int, num_labels: int, batch_size: int, epochs: float, auto_batch: int,
                 after_pairs: bool = False) -> Schedule:
    """Pure: the batch size (`batch_size` 0 = automatic, which is `auto_batch`) and epochs of a run. Small data with
    the automatic batch size gets batch 16 and, with the default epochs, FEW_TEXTS_EPOCHS at the automatic rate under
    PAIR_MIN_PER_LABEL texts per label, else at a gentler rate enough epochs for MIN_STEPS steps, or
    EPOCHS_AFTER_PAIRS when the pair phase runs first (`after_pairs`)."""
    if not is_small(num_train, num_labels) or batch_size:
        return Schedule(batch_size or auto_batch, epochs)
    few = is_few(num_train, num_labels)  # too few texts for the pair phase: never after it
    share = 1.0 if few else SMALL_DATA_RATE_SHARE
    if epochs != DEFAULT_EPOCHS:
        return Schedule(SMALL_BATCH, epochs, True, share)
    if few:
        return Schedule(SMALL_BATCH, float(FEW_TEXTS_EPOCHS), True, share)
    if after_pairs:
        return Schedule(SMALL_BATCH, float(EPOCHS_AFTER_PAIRS), True, share)
    steps_per_epoch = -(-num_train // SMALL_BATCH)
    wanted = min(MAX_EPOCHS, max(DEFAULT_EPOCHS, -(-MIN_STEPS // steps_per_epoch)))
    return Schedule(SMALL_BATCH, float(wanted), True, share)


def plan_for(label_counts: Sequence[int], single_label: bool, warm_start_head: bool) -> SmallDataPlan:
    """Pure: whether the contrastive phase runs, and on how many pairs. It needs one label per text (pairs of the
    same or of different labels), at least two labels, and the head warm start that reads what it tunes."""
    counts = [int(c) for c in label_counts if c > 0]
    total = sum(counts)
    if not single_label or len(counts) < 2 or not warm_start_head:
        return SmallDataPlan(False)
    pairs = pairs_for(total, len(counts))
    if not pairs:
        return SmallDataPlan(False)
    return SmallDataPlan(True, pairs, f"{total / len(counts):.0f} training texts per label on average")


def pairs_for(num_train: int, num_labels: int) -> int:
    """Pure: how many pairs of texts the pair phase trains on for this much data (0: it does not run): as many as
    there are distinct pairs, at most MAX_PAIRS."""
    if not is_small(num_train, num_labels) or num_train < PAIR_MIN_PER_LABEL * num_labels:
        return 0
    return min(MAX_PAIRS, num_train * (num_train - 1) // 2)


# Validation sets below this many texts are too small to choose a model on: one text moves accuracy by over 3 points,
# so the best of several evaluations is mostly the luckiest, and reporting its score flatters the model. Such runs keep
# the last evaluation's model (no keep-best, no early stopping) and say how uncertain the score is.
TINY_VALIDATION = 30


def selects_on_validation(num_validation: int) -> bool:
    """Whether keep-best and early stopping may pick a model by its validation score."""
    return num_validation >= TINY_VALIDATION


def accuracy_interval(right: int, n: int) -> tuple[float, float]:
    """Wilson's 95 % interval for a share of `right` out of `n` (sensible at 0 or n right, unlike the normal one)."""
    if n <= 0:
        return 0.0, 1.0
    z = 1.959964
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def interval_sentence(accuracy: float, n: int, metric: str = "accuracy") -> str:
    """'The 95 % interval for accuracy on these 6 texts is 30 to 90 %.'"""
    low, high = accuracy_interval(round(accuracy * n), n)
    texts = "1 text" if n == 1 else f"{n:,} texts"
    return f"The 95 % interval for {metric} on these {texts} is {100 * low:.0f} to {100 * high:.0f} %."


def tiny_validation_sentence(num_validation: int) -> str | None:
    """The data report's sentence when the validation set is too small to choose a model on, else None."""
    if selects_on_validation(num_validation) or num_validation == 0:
        return None
    return (f"Only {num_validation:,} validation texts: the app keeps the model of the last epoch instead of the "
            "best-scoring one, since choosing on so few texts would flatter its score, which stays rough.")


def small_data_sentence(num_train: int, num_labels: int, pairs_possible: bool = True) -> str | None:
    """The data report's sentence when the small-data schedule applies, else None. `pairs_possible` False (several
    labels per text): no pair phase to mention."""
    if not is_small(num_train, num_labels):
        return None
    if is_few(num_train, num_labels):
        return (f"Small data: {num_train:,} training texts for {num_labels} labels. With the automatic batch size the "
                f"app trains at batch {SMALL_BATCH} for {FEW_TEXTS_EPOCHS} epochs (when epochs are left at "
                f"{DEFAULT_EPOCHS:g}) and keeps the last epoch's model.")
    pairs = pairs_for(num_train, num_labels) if pairs_possible else 0
    return (f"Small data: {num_train:,} training texts for {num_labels} labels. With the automatic batch size the app "
            f"trains at batch {SMALL_BATCH} and a gentler learning rate for at least {MIN_STEPS} steps (up to "
            f"{MAX_EPOCHS} epochs, when epochs are left at {DEFAULT_EPOCHS:g}) and keeps the last epoch's model."
            + (f" A sentence-embedding base model (like the default) first trains on {pairs:,} pairs of texts, "
               f"pulling those of the same label together, as SetFit does, and then trains for {EPOCHS_AFTER_PAIRS} "
               "epochs instead." if pairs else ""))


def tiny_validation_note(kind: Any, exact: float, n: int, asked_to_select: bool) -> str:
    """The finished message's words on a validation set too small to choose a model on: how uncertain the score is,
    and that the last model was kept when keep-best or early stopping was asked for."""
    note = interval_sentence(exact, n, kind.metric_label(kind.exact_metric))
    if asked_to_select:
        note += " Kept the last epoch's model: choosing the best on so few texts would flatter the score."
    return note
