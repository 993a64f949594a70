"""Predict with a trained run: load its model once, classify one or many texts, trace one sentence, batch a table."""
from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from core import tasks
from core.runs.rundir import RESUMABLE_STATES, RunDir
from core.errors import DataError, UserError

if TYPE_CHECKING:
    from core.serving.batcher import Batcher

# Spreadsheet apps run a cell starting with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_BATCH_TOKENS = 8192  # tokens per forward pass in batch prediction: bounded memory, few padding tokens


@dataclass(frozen=True)
class Trace:
    """One sentence through the pipeline, every step: tokens, ids, attention mask, then one logit and one
    probability (the task kind's) per label (both in label order)."""

    tokens: list[str]
    input_ids: list[int]
    attention_mask: list[int]
    logits: dict[str, float]
    probs: dict[str, float]
    predicted: str
    confidence: float
    max_length: int
    truncated: bool  # the text had more tokens than max_length: only its beginning was read
    task: str = "single_label"  # the run's task kind (core/tasks/): how to read probs and predicted


class Predictor:
    """A run's fine-tuned model and tokenizer, loaded once and kept for fast repeated predictions."""

    def __init__(self, model_dir: Path, max_length: int = 0) -> None:
        import torch

        from core.models import auto_classes, model_max_length

        AutoTokenizer, AutoModelForSequenceClassification = auto_classes()

        self._torch = torch
        self.model_dir = Path(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        self.model = AutoModelForSequenceClassification.from_pretrained(self.model_dir)
        self.model.eval()
        id2label = self.model.config.id2label
        self.labels: list[str] = [str(id2label[i]) for i in range(len(id2label))]
        self.kind = tasks.for_problem_type(self.model.config.problem_type)
        limit = model_max_length(self.tokenizer, self.model.config)  # the rule training used (RoBERTa's offset too)
        # Predict with the length the model was trained with (longer inputs are truncated the same way).
        self.max_length = int(min(max_length or limit, limit))
        self._lock = threading.Lock()
        self._batcher_lock = threading.Lock()
        self._batcher: Batcher[dict[str, float]] | None = None

    def _forward(self, encoded: dict[str, Any]) -> Any:
        """Logits for one padded batch; inference_mode skips autograd bookkeeping entirely."""
        tokens = int(encoded["input_ids"].numel())
        batch = tokens > 512
        # bf16 for passes of over 512 tokens where the CPU has native bf16: ~3x the fp32 throughput (406 vs 128
        # sentences/s on one thread; 998 of 1,000 labels unchanged, the two flips near 0.5). A single sentence, whose
        # trace shows the logits, stays exact fp32: it is fast enough already. The API's coalesced batches follow the
        # same rule: 50 clients while a run trained, 93 predictions/s in fp32 -> 111 (bench.api_load); a call that
        # arrives alone is answered in fp32.
        autocast = self._torch.autocast("cpu", dtype=self._torch.bfloat16, enabled=batch and _cpu_bf16())
        with self._lock, self._torch.inference_mode(), autocast:
            # One sentence is fastest on one thread (measured: 2 threads on a busy 2-core box were 3-7x slower,
            # OpenMP threads wait on each other); big batches use every core, or half while a run trains.
            self._torch.set_num_threads(_batch_threads(self.model_dir.parent.parent) if batch else 1)
            return self.model(**encoded).logits.float()

    def predict_proba(self, texts: Sequence[str]) -> list[list[float]]:
        """The kind's per-label scores (single-label: class probabilities, in label order) for each text, batched by
        similar length to avoid padding."""
        texts = [str(t) for t in texts]
        if not texts:
            return []
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: len(ids[i]))
        out: list[list[float]] = [[] for _ in texts]
        start = 0
        while start < len(order):
            # Lengths grow along `order`: grow the batch while (members x longest length) fits the token budget.
            end = start + 1
            while end < len(order) and (end - start + 1) * len(ids[order[end]]) <= _BATCH_TOKENS:
                end += 1
            chunk = order[start:end]
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in chunk]}, return_tensors="pt")
            probs = self.kind.probabilities(self._forward(dict(batch)).numpy()).tolist()
            for i, p in zip(chunk, probs):
                out[i] = p
            start = end
        return out

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One {label: probability} dict per text (the shape gr.Label shows)."""
        return [dict(zip(self.labels, p)) for p in self.predict_proba(texts)]

    @property
    def batcher(self) -> "Batcher[dict[str, float]]":
        """This model's queue for concurrent single texts: one worker, batches predicted like a file's rows
        (core/serving/batcher.py)."""
        with self._batcher_lock:
            if self._batcher is None:
                from core.serving.batcher import Batcher

                self._batcher = Batcher(self.predict,
                                        name=f"predict-batcher-{self.model_dir.parent.name}")
            return self._batcher

    def trace(self, text: str) -> Trace:
        """Every step for one sentence: tokens, ids, attention mask, logits, the kind's probabilities."""
        encoded = self.tokenizer(str(text), truncation=True, max_length=self.max_length, return_tensors="pt")
        full_length = len(self.tokenizer(str(text))["input_ids"])
        logits = self._forward(dict(encoded))[0].numpy()
        probs = self.kind.probabilities(logits)
        ids = encoded["input_ids"][0].tolist()
        (predicted,), (confidence,) = self.kind.predicted(probs[None], self.labels)
        return Trace(
            tokens=self.tokenizer.convert_ids_to_tokens(ids),
            input_ids=ids,
            attention_mask=encoded["attention_mask"][0].tolist(),
            logits=dict(zip(self.labels, logits.tolist())),
            probs=dict(zip(self.labels, probs.tolist())),
            predicted=predicted,
            task=self.kind.name,
            confidence=float(confidence),
            max_length=self.max_length,
            truncated=full_length > len(ids),
        )


_CACHE: "OrderedDict[str, tuple[tuple[float, ...], Predictor]]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 3  # models kept in memory (~100 MB each for the default); the least recently used is dropped


def _model_stamp(model_dir: Path) -> tuple[float, ...]:
    """Changes when the weights or config are replaced (a README written into the folder does not count)."""
    files = sorted(p for p in model_dir.glob("*") if p.suffix in (".safetensors", ".bin") or p.name == "config.json")
    return tuple(p.stat().st_mtime for p in files) + (float(len(files)),)


def _cpu_bf16() -> bool:
    from core.hardware import choose_precision, cuda_available

    # The same switch as training (TEXTCLF_PRECISION=fp32 turns it off); the model itself always runs on the CPU here.
    return not cuda_available() and choose_precision() == "bf16"


def _batch_threads(runs_root: Path) -> int:
    """Threads for batch prediction (at most 8): every core, or half of them while a run trains on this CPU, so
    training keeps its pace (on 2 cores: 420-530 sentences/s with both, ~300 with one)."""
    from core.runs.device_lock import device_busy

    cores = os.cpu_count() or 1
    return max(1, min(8, cores // 2 if device_busy(runs_root, "cpu") else cores))


def no_model_message(run_dir: Path) -> str:
    """Why a run has no model to use: still training (wait), or ended early (resume it)."""
    from core.runs.launcher import status  # a dead training process reads as interrupted there

    state = status(Path(run_dir))["state"] if RunDir(run_dir).status_file.exists() else None
    if state in RESUMABLE_STATES:
        return "This run ended before it finished training, so it has no model: resume it (Train step) to get one."
    return "This run has no trained model yet: wait until training has finished."


def _current_stamp(run_dir: Path) -> tuple[float, ...]:
    """The model files' stamp; call under _CACHE_LOCK, so a model folder being swapped in is seen before or after,
    never half."""
    run = RunDir(run_dir)
    try:
        if not run.has_model():
            raise FileNotFoundError(run.model_dir)
        return _model_stamp(run.model_dir)
    except OSError:
        raise UserError(no_model_message(run_dir)) from None


def loaded_predictor(run_dir: Path | str) -> Predictor | None:
    """The run's Predictor if it is loaded and current, else None; never loads (cheap enough for an event loop)."""
    run_dir = Path(run_dir).resolve()
    with _CACHE_LOCK:
        hit = _CACHE.get(str(run_dir))
        return hit[1] if hit and hit[0] == _current_stamp(run_dir) else None


def get_predictor(run_dir: Path | str) -> Predictor:
    """The cached Predictor of a run; reloaded only when the run's model files change."""
    run_dir = Path(run_dir).resolve()
    model_dir = RunDir(run_dir).model_dir
    key = str(run_dir)
    with _CACHE_LOCK:
        stamp = _current_stamp(run_dir)
        hit = _CACHE.get(key)
        if hit and hit[0] == stamp:
            _CACHE.move_to_end(key)
            return hit[1]
        try:
            predictor = Predictor(model_dir, max_length=trained_max_length(run_dir))
        except (OSError, ValueError) as e:
            raise UserError(f"The trained model of this run could not be loaded ({e.__class__.__name__}).") from e
        _CACHE[key] = (stamp, predictor)
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return predictor


def predict_one(run_dir: Path | str, text: str) -> dict[str, float]:
    """{label: probability} for one text, computed in one forward pass with the other threads' texts for the same
    run that arrive at the same moment (the API's concurrent clients); the same figures as predicting it alone."""
    from core.serving.batcher import enabled

    predictor = get_predictor(run_dir)
    if not enabled():
        return predictor.predict([text])[0]
    return predictor.batcher.submit(str(text))


async def predict_one_async(run_dir: Path | str, text: str) -> dict[str, float]:
    """predict_one for an event loop: waiting for the shared pass holds no thread (the API's 50 concurrent callers
    each held one, and handing each call to a thread cost the 2-core server ~4 ms of its ~16 ms per prediction).
    Loading a model, and the unbatched path, still run in a thread so the loop never blocks on them."""
    import asyncio

    from core.serving.batcher import enabled

    predictor = loaded_predictor(run_dir) or await asyncio.to_thread(get_predictor, run_dir)
    if not enabled():
        return await asyncio.to_thread(lambda: predictor.predict([text])[0])
    return await asyncio.wrap_future(predictor.batcher.submit_future(str(text)))


def trained_max_length(run_dir: Path | str) -> int:
    """The max_length the run trained with: the "started" event, else the settings/data report (0 if unknown)."""
    run = RunDir(run_dir)
    for event in reversed(run.events()):
        if event.get("type") == "started" and isinstance(event.get("max_length"), int):
            return int(event["max_length"])
    report = run.report()
    for value in (run.config_dict().get("max_length"), report and report.max_length):
        if isinstance(value, int) and value > 0:
            return value
    return 0


def example_texts(run_dir: Path | str, n: int = 5) -> list[str]:
    """A few of the user's own validation texts, one per label where possible (for the examples under the box)."""
    path = RunDir(run_dir).validation_data
    if not path.exists():
        return []
    df = pd.read_parquet(path)
    if df.empty or "text" not in df:
        return []
    picked = df.groupby("label", sort=True).head(1) if "label" in df else df.head(0)
    rest = df.drop(picked.index)
    texts = list(picked["text"].astype(str)) + list(rest["text"].astype(str))
    return [t for t in texts if t.strip()][:n]


def neutralise(value: Any) -> Any:
    """Make a cell inert in spreadsheets: text starting with a formula character gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Neutralise every text cell and every column name of a table before it is exported."""
    out = df.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise)
    return out


def read_input_table(path: Path | str) -> pd.DataFrame:
    """Read an uploaded CSV/TSV/XLSX/... with the same reader as training data (DataError on failure)."""
    from core.data.columns import read_table

    df = read_table(Path(path), keep_blank_rows=True)
    if df.empty:
        raise DataError("The uploaded table has no rows.")
    return df


def guess_text_column(df: pd.DataFrame) -> str:
    """The likely text column, guessed as for training data (longest texts, never a column of numbers); the first
    column when none holds texts, so the user still gets a choice to correct."""
    from core.data import columns as data

    return str(data.guess_text_column(df) or df.columns[0])


def _per_row(rows: int, filled: list[int], values: list[Any]) -> list[Any]:
    """Values of the filled rows placed at their rows; None (a blank cell) for the rows without a text."""
    out: list[Any] = [None] * rows
    for row, value in zip(filled, values):
        out[row] = value
    return out


def predict_table(
    run_dir: Path | str,
    df: pd.DataFrame,
    text_column: str,
    out_path: Path | str,
    progress: Callable[[float], None] | None = None,
) -> pd.DataFrame:
    """Predict every row of `df`; write a CSV with the input, `predicted`, `confidence` and `prob_<label>` columns
    (a multi-label model: `pred_<label>`, 1 when the label is predicted, before each `prob_<label>`).

    Empty text cells get no prediction (empty label, blank probabilities) rather than a guess.
    """
    if text_column not in df.columns:
        raise UserError(f"Column '{text_column}' is not in the uploaded table: pick the column with the texts.")
    predictor = get_predictor(run_dir)
    texts = df[text_column].astype("string").fillna("").str.strip()
    filled = [i for i, t in enumerate(texts) if t]
    probs: list[list[float]] = []
    chunk = 1024  # progress steps; sorting by length happens inside each chunk
    for start in range(0, len(filled), chunk):
        probs.extend(predictor.predict_proba([texts.iloc[i] for i in filled[start:start + chunk]]))
        if progress:
            progress(min(1.0, (start + chunk) / max(1, len(filled))))
    out = df.copy()
    labels = predictor.labels
    predicted = [""] * len(df)
    confidence: list[float | None] = [None] * len(df)
    prob_cols: dict[str, list[float | None]] = {f"prob_{lab}": [None] * len(df) for lab in labels}
    names, confidences = predictor.kind.predicted(np.asarray(probs).reshape(len(probs), len(labels)), labels)
    for row, p, name, sure in zip(filled, probs, names, confidences):
        predicted[row], confidence[row] = name, round(sure, 6)
        for lab, value in zip(labels, p):
            prob_cols[f"prob_{lab}"][row] = round(value, 6)
    out["predicted"] = predicted
    out["confidence"] = confidence
    decided = predictor.kind.decisions(np.asarray(probs).reshape(len(probs), len(labels)))
    for i, lab in enumerate(labels):
        if decided.ndim == 2:  # a decision per label (multi-label): its 0/1 next to its score
            # Int64: 0/1 with a blank for no text (a float column would write 1.0)
            out[f"pred_{lab}"] = pd.array(_per_row(len(df), filled, decided[:, i].tolist()), dtype="Int64")
        out[f"prob_{lab}"] = prob_cols[f"prob_{lab}"]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_frame(out).to_csv(out_path, index=False)
    return out
