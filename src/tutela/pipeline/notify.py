"""In-process wake-ups: a submit wakes the worker; a stored verdict wakes the `?wait=true` requests waiting
for that evaluation, and the webhook deliverer if it enqueued deliveries (a service with no endpoints costs
the deliverer nothing).

All are shortcuts. A worker in another process is found by polling (`worker_poll_seconds` for jobs,
`wait_poll_seconds` for verdicts), so a missed or absent notification costs latency, never correctness.
A waiter is woken only for its own evaluation: waking every waiter on every stored round made each of
them re-read the database, which cost more CPU than the evaluations themselves at a few hundred waits.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from tutela.db.session import Database
from tutela.pipeline.errors import UnknownEvaluation
from tutela.pipeline.models import Evaluation, EvaluationStatus
from tutela.pipeline.reads import get_evaluation

RECENT_FINISHED = 4096
"""Evaluations a notifier remembers as finished, so a wait that starts just after its worker stored the
result is not left waiting for a notification that already went out."""


class Notifier:
    """Signals between submitters, the in-process worker and waiters of one process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[int, list[threading.Event]] = {}
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._jobs = threading.Event()
        self.deliveries_due = threading.Event()
        """Set after the worker commits webhook deliveries; the in-process deliverer waits on it when idle."""

    def watch(self, evaluation_id: int) -> threading.Event:
        """An event set when this process's worker next stores a result for `evaluation_id`; `unwatch` it."""
        event = threading.Event()
        with self._lock:
            self._watchers.setdefault(evaluation_id, []).append(event)
            if evaluation_id in self._recent:
                event.set()
        return event

    def unwatch(self, evaluation_id: int, event: threading.Event) -> None:
        with self._lock:
            events = self._watchers.get(evaluation_id)
            if events is not None and event in events:
                events.remove(event)
                if not events:
                    del self._watchers[evaluation_id]

    def evaluations_finished(self, evaluation_ids: Iterable[int]) -> None:
        """Called by the worker after committing results (or failures) for these evaluations."""
        with self._lock:
            woken: list[threading.Event] = []
            for evaluation_id in evaluation_ids:
                woken.extend(self._watchers.get(evaluation_id, ()))
                self._recent[evaluation_id] = None
            while len(self._recent) > RECENT_FINISHED:
                self._recent.popitem(last=False)
        for event in woken:
            event.set()

    def deliveries_added(self) -> None:
        """Called by the worker after committing results that enqueued webhook deliveries."""
        self.deliveries_due.set()

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
    queued: bool = False,
) -> Evaluation | None:
    """The evaluation once finished (done, dead or skipped), or None if it is not within `timeout` seconds.

    Raises UnknownEvaluation for an id that does not exist. With a notifier, this process's worker wakes
    the wait as soon as it stores the evaluation; the database is re-read every `poll_seconds` in case a
    worker in another process took the job. `queued` says the caller has just seen the evaluation queued
    (a submit), so the first read is skipped when a notifier will say when to read.
    """
    deadline = time.monotonic() + timeout
    woken = None if notifier is None else notifier.watch(evaluation_id)
    try:
        if queued and woken is not None:
            woken.wait(min(poll_seconds, timeout))
            woken.clear()
        while True:
            evaluation = get_evaluation(database, evaluation_id)
            if evaluation is None:
                raise UnknownEvaluation(f"no evaluation with id {evaluation_id}")
            if EvaluationStatus(evaluation.status).finished:
                return evaluation
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if woken is None:
                time.sleep(min(poll_seconds, remaining))
            else:
                woken.wait(min(poll_seconds, remaining))
                woken.clear()
    finally:
        if notifier is not None and woken is not None:
            notifier.unwatch(evaluation_id, woken)
