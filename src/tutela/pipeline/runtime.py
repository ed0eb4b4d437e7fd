"""The pipeline of one process: a decoder pool, a worker thread and the notifier that connects them.

`tutela serve` starts one (embedded deployment) and hands `submit` and `wait_for` to the HTTP API; the tests
use it the same way. With `start_worker=False` the process only accepts items and waits for verdicts
produced by `tutela worker` processes (cluster deployment): waits then poll the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from tutela.matcher import Match
from tutela.pipeline.combining import Combiner
from tutela.pipeline.context import ItemContext, Lane
from tutela.pipeline.decoder_pool import DecoderHooks, DecoderPool
from tutela.pipeline.inline import FinishedWrite, Written, work_inline, write_finished
from tutela.pipeline.models import Evaluation, EvaluationStatus
from tutela.pipeline.notify import Notifier, wait_for
from tutela.pipeline.submit import Submission, submit
from tutela.pipeline.worker import Worker
from tutela.policy import ValidatedPolicy, default_policy
from tutela.policy.catalog import PolicyCatalog
from tutela.signals.base import Signal
from tutela.signals.extract import Extraction

if TYPE_CHECKING:
    from tutela.app import Tutela


class PipelineRuntime:
    """Submit, wait and (optionally) work, for one application object."""

    def __init__(
        self,
        app: Tutela,
        policy: ValidatedPolicy | PolicyCatalog | None = None,
        *,
        start_worker: bool = True,
        decoder_processes: int | None = None,
        lanes: Collection[Lane] = tuple(Lane),
        hooks: DecoderHooks | None = None,
    ) -> None:
        self.app = app
        chosen = policy or default_policy()
        self.policies = chosen if isinstance(chosen, PolicyCatalog) else PolicyCatalog(chosen)
        self.notifier = Notifier()
        self.scans: Combiner[Extraction, list[Match]] = Combiner(app.matcher.match_many)
        """Inline items matched at once share index scans."""
        self.commits: Combiner[FinishedWrite, Written] = Combiner(partial(write_finished, app))
        """Inline items finished at once share a write transaction (one hold of the write lock)."""
        self._start_worker = start_worker
        self._decoder_processes = decoder_processes
        self._lanes = tuple(lanes)
        self._hooks = hooks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool_lock = threading.Lock()
        self.pool: DecoderPool | None = None
        self.worker: Worker | None = None

    def start(self) -> None:
        """Start the decoder pool, and the worker thread when this process works items (once)."""
        pool = self.decoders()
        if not self._start_worker or self._thread is not None:
            return
        self.worker = Worker(self.app, pool, self.policies, lanes=self._lanes, notifier=self.notifier)
        self._stop.clear()
        self._thread = threading.Thread(target=self.worker.run, args=(self._stop,), name="tutela-worker")
        self._thread.start()

    def decoders(self) -> DecoderPool:
        """This process's decoder pool, started on first use. The worker extracts in it, and so does the API
        for content it hashes outside an item (HMA's hashing and lookup routes): hostile media is decoded in
        a child with limits, never in a server process, whether or not this process works items."""
        with self._pool_lock:
            if self.pool is None:
                self.pool = DecoderPool.from_settings(
                    self.app.settings, size=self._decoder_processes, hooks=self._hooks
                )
            return self.pool

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the worker after its current round, then the decoder processes."""
        self._stop.set()
        self.notifier.job_added()  # wake the worker if it is idle
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._pool_lock:
            pool, self.pool = self.pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> PipelineRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(
        self,
        *,
        service_id: int,
        content_id: str,
        context: ItemContext,
        content: bytes | None = None,
        signals: Sequence[Signal] | None = None,
        lane: Lane = Lane.LIVE,
    ) -> Submission:
        """`tutela.pipeline.submit`, waking this process's worker."""
        return submit(
            self.app,
            service_id=service_id,
            content_id=content_id,
            context=context,
            content=content,
            signals=signals,
            lane=lane,
            notifier=self.notifier,
        )

    def submit_and_wait(
        self,
        *,
        service_id: int,
        content_id: str,
        context: ItemContext,
        timeout: float,
        content: bytes | None = None,
        signals: Sequence[Signal] | None = None,
        lane: Lane = Lane.LIVE,
    ) -> tuple[Submission, Evaluation]:
        """Submit, then wait up to `timeout` seconds for the verdict; the evaluation as last seen.

        With this process's worker running and `wait_inline` set, a live-lane item is worked on this
        thread before anything is stored (`tutela.pipeline.inline`); otherwise, or when that declines,
        it is queued and this waits for whichever worker takes it. Inline work already started is finished
        even past `timeout`; the decoder time limit bounds it.
        """
        deadline = time.monotonic() + timeout
        item: dict[str, Any] = {
            "service_id": service_id,
            "content_id": content_id,
            "context": context,
            "content": content,
            "signals": signals,
            "lane": lane,
        }
        if self.worker is not None and self.app.settings.wait_inline and lane is Lane.LIVE:
            done = work_inline(self, **item)
            if done is not None and EvaluationStatus(done.evaluation.status).finished:
                return done, done.evaluation
        submission = self.submit(**item)
        if EvaluationStatus(submission.evaluation.status).finished:
            return submission, submission.evaluation
        remaining = max(deadline - time.monotonic(), 0.0)
        finished = self.wait_for(submission.evaluation.id, remaining, queued=submission.created)
        return submission, finished or submission.evaluation

    def wait_for(self, evaluation_id: int, timeout: float, *, queued: bool = False) -> Evaluation | None:
        """The finished evaluation, or None after `timeout` seconds (`queued`: see `notify.wait_for`)."""
        return wait_for(
            self.app.database,
            evaluation_id,
            timeout,
            notifier=self.notifier,
            poll_seconds=self.app.settings.wait_poll_seconds,
            queued=queued,
        )
