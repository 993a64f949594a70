"""Coalesce concurrent single-text predictions into shared forward passes.

Fifty API clients asking for one text each would otherwise run fifty forward passes one after another (each holding
the model's lock, each paying the per-call overhead of tokenising and running the model). A `Batcher` lets every
caller submit its text and block; one worker thread per loaded model takes whatever is waiting (up to `max_batch`,
waiting at most `max_wait_s` for more once the first text arrives), runs one `predict_many` call for all of them and
hands each caller its own result, or the batch's exception.

The worker starts on the first submit and exits after `idle_s` without work, so a model dropped from the cache is
not kept alive by its thread; the next submit starts a new worker.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future
from typing import Callable, Generic, Sequence, TypeVar

R = TypeVar("R")

# How many /predict calls the server lets in at once. Each one waits in a thread for its batch, so this bounds the
# batch size the API can reach; the unbatched path ran 4 at a time (they queued on the model's lock anyway).
API_CONCURRENCY = 64
UNBATCHED_API_CONCURRENCY = 4


def enabled() -> bool:
    """Whether concurrent single-text predictions are batched; TEXTCLF_PREDICT_BATCH=0 restores the former path
    (one forward pass per call, 4 calls at a time) for before/after measurements (`python -m bench.api_load`)."""
    return os.environ.get("TEXTCLF_PREDICT_BATCH", "1").strip().lower() not in ("0", "false", "off", "no")


def api_concurrency() -> int:
    """The server's concurrency limit for single-text prediction calls."""
    return API_CONCURRENCY if enabled() else UNBATCHED_API_CONCURRENCY


def server_threads() -> int:
    """Worker threads for the server's synchronous handlers: every admitted prediction call blocks one while it
    waits for its batch, and the page's other handlers need theirs (the unbatched path kept Starlette's 40)."""
    return API_CONCURRENCY + 40 if enabled() else 40


class Batcher(Generic[R]):
    """Thread-safe: any number of threads may call `submit` at once; `predict_many` only ever runs on the worker."""

    def __init__(self, predict_many: Callable[[Sequence[str]], Sequence[R]], max_batch: int = 64,
                 max_wait_s: float = 0.002, idle_s: float = 30.0, name: str = "predict-batcher") -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._predict_many = predict_many
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.idle_s = idle_s
        self._name = name
        self._pending: list[tuple[str, Future]] = []
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self.batches = 0  # forward passes run (for tests and the benchmark's curiosity)
        self.largest_batch = 0

    def submit(self, text: str, timeout: float | None = None) -> R:
        """Block until this text's result is ready; re-raise the batch's exception if it failed."""
        return self.submit_future(text).result(timeout)

    def submit_future(self, text: str) -> "Future[R]":
        """Queue a text and return at once: the future holds its result (or the batch's exception). An async caller
        awaits it without holding a thread while it waits."""
        future: Future = Future()
        with self._cond:
            self._pending.append((text, future))
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._worker.start()
            self._cond.notify()
        return future

    def _take(self) -> list[tuple[str, Future]] | None:
        """The next batch, or None when the worker has been idle for idle_s (it then exits)."""
        with self._cond:
            if not self._pending and not self._cond.wait_for(lambda: self._pending, timeout=self.idle_s):
                self._worker = None  # under the lock: a submit after this starts a new worker
                return None
            # More callers are usually on their way (Gradio hands requests to threads one by one): wait a moment for
            # them, unless the batch is already full.
            deadline = time.monotonic() + self.max_wait_s
            while len(self._pending) < self.max_batch:
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    break
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            batch = [(text, f) for text, f in batch if f.set_running_or_notify_cancel()]
            if not batch:
                continue
            self.batches += 1
            self.largest_batch = max(self.largest_batch, len(batch))
            try:
                results = list(self._predict_many([text for text, _ in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(f"predict_many returned {len(results)} results for {len(batch)} texts")
            except BaseException as exc:  # every caller of the batch gets the error; the worker carries on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results):
                future.set_result(result)
