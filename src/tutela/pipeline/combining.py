"""Concurrent callers on different threads share one run of a batch operation (flat combining).

Why: some per-item work costs about as much for a batch as for one item, and inline items
(`tutela.pipeline.inline`) are worked on the request threads, several at once under load: a PDQ scan of 1M
entries costs ~1.8 ms of CPU for one hash and ~0.5 ms per hash in a batch of 16, and a SQLite write
transaction holds the database's one write lock for several milliseconds under load, whatever it writes
(measured: 6.9 ms mean, 24 ms p99 for one inline item at 16 concurrent; the lock, not the CPU, capped
throughput). A `Combiner` needs no thread of its own: the first caller runs at once (an idle server adds
no wait), callers arriving meanwhile queue, and when a run ends its caller hands the lead to the oldest
queued caller, whose run takes every queued item (up to `max_batch`). No caller runs longer than its own
batch, so none is held up serving others. The API's `LookupBatcher` does the same for the event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

MAX_BATCH = 64

T = TypeVar("T")
R = TypeVar("R")


class _Request(Generic[T, R]):
    __slots__ = ("error", "item", "ready", "result", "settled")

    def __init__(self, item: T) -> None:
        self.item = item
        self.ready = threading.Event()
        self.settled = False
        self.result: R | None = None
        self.error: BaseException | None = None


class Combiner(Generic[T, R]):
    """`submit(item)` is `run([item])[0]`, batched with concurrent callers; `run` answers in order and
    raises for the whole batch (each caller of that batch gets the error)."""

    def __init__(self, run: Callable[[list[T]], Sequence[R]], *, max_batch: int = MAX_BATCH) -> None:
        self._run = run
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queued: list[_Request[T, R]] = []
        self._running = False

    def submit(self, item: T) -> R:
        request: _Request[T, R] = _Request(item)
        with self._lock:
            self._queued.append(request)
            lead = not self._running
            self._running = True
        if not lead:
            request.ready.wait()
        if not request.settled:  # led from the start, or handed the lead: run for the queue
            self._run_batch()
        if request.error is not None:
            raise request.error
        return cast(R, request.result)  # settled without an error: the run set it

    def _run_batch(self) -> None:
        with self._lock:
            batch = self._queued[: self._max_batch]
            del self._queued[: self._max_batch]
        try:
            results = self._run([request.item for request in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} was answered with {len(results)} results")
        except BaseException as exc:
            for request in batch:
                request.error = exc
        else:
            for request, result in zip(batch, results, strict=True):
                request.result = result
        for request in batch:
            request.settled = True
        with self._lock:
            if self._queued:
                self._queued[0].ready.set()  # its caller leads the next run
            else:
                self._running = False
        for request in batch:
            request.ready.set()
