"""In-process wake-ups: a submit wakes the worker; a stored verdict wakes `?wait=true` requests and the
webhook deliverer (its outbox event is due).

All are shortcuts. A worker in another process is found by polling (`worker_poll_seconds` for jobs,
`wait_poll_seconds` for verdicts), so a missed or absent notification costs latency, never correctness.
"""

from __future__ import annotations

import threading
import time

from tutela.db.session import Database
from tutela.pipeline.errors import UnknownEvaluation
from tutela.pipeline.models import Evaluation, EvaluationStatus


class Notifier:
    """Signals between submitters, the in-process worker and waiters of one process."""

    def __init__(self) -> None:
        self._finished = threading.Condition()
        self._generation = 0
        self._jobs = threading.Event()
        self.results_stored = threading.Event()
        """Set after the worker commits results; the in-process webhook deliverer waits on it when idle."""

    @property
    def generation(self) -> int:
        """Grows with every finished evaluation; read it before checking the database, then wait on it."""
        with self._finished:
            return self._generation

    def evaluations_finished(self) -> None:
        """Called by the worker after committing results."""
        with self._finished:
            self._generation += 1
            self._finished.notify_all()
        self.results_stored.set()

    def wait_finished(self, generation: int, timeout: float) -> None:
        """Return when an evaluation finished after `generation` was read, or after `timeout` seconds."""
        with self._finished:
            self._finished.wait_for(lambda: self._generation != generation, timeout)

    def job_added(self) -> None:
        """Called by `submit` after committing a new job."""
        self._jobs.set()

    def wait_for_jobs(self, timeout: float) -> bool:
        """Wait until a job is added (True) or `timeout` passes (False); clears the signal."""
        added = self._jobs.wait(timeout)
        self._jobs.clear()
        return added


def wait_for(
    database: Database,
    evaluation_id: int,
    timeout: float,
    *,
    notifier: Notifier | None = None,
    poll_seconds: float = 0.02,
) -> Evaluation | None:
    """The evaluation once finished (done, dead or skipped), or None if it is not within `timeout` seconds.

    Raises UnknownEvaluation for an id that does not exist.
    """
    deadline = time.monotonic() + timeout
    while True:
        generation = 0 if notifier is None else notifier.generation
        with database.read() as session:
            evaluation = session.get(Evaluation, evaluation_id)
        if evaluation is None:
            raise UnknownEvaluation(f"no evaluation with id {evaluation_id}")
        if EvaluationStatus(evaluation.status).finished:
            return evaluation
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        if notifier is None:
            time.sleep(min(poll_seconds, remaining))
        else:
            notifier.wait_finished(generation, min(poll_seconds, remaining))
