"""The worker: lease jobs, extract in the decoder pool, match, evaluate the policy, store the verdict.

One loop serves both deployments: `tutela serve` runs it on a background thread, `tutela worker` in its own
process. Each round it leases a batch (live lane first), brings the match index up to the bank change log
(after leasing, so an item accepted after a bank change commits is matched against it), extracts content
in parallel in the decoder pool, matches the batch at once, and stores the round's verdicts in one write
transaction in which each job acknowledges itself and gets its own outbox event (one transaction per job
if that fails). Spooled content is deleted after that commit unless the
verdict holds it for review. Idle, it keeps following the bank change feed every `index_sync_seconds`.

Failures: a decoder crash or timeout counts an attempt (retried with backoff, dead after job_max_attempts);
missing or unreadable spooled content is dead at once; a lost lease discards the result (the new owner
stores it). A worker killed at any point loses nothing: its leases expire and the jobs run again, and a job
whose result committed is never run twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from tutela.matcher import Match
from tutela.ops.thread_names import name_this_thread
from tutela.pipeline.context import Lane
from tutela.pipeline.decoder_pool import DecoderPool
from tutela.pipeline.errors import DecoderError, LeaseLost, SpoolError
from tutela.pipeline.jobs import load_contexts, signals_extraction
from tutela.pipeline.models import JobState
from tutela.pipeline.notify import Notifier
from tutela.pipeline.queue import JobQueue, LeasedJob, QueueLimits
from tutela.pipeline.results import JobContext, Stored, policy_input, store_result, store_skipped
from tutela.pipeline.retention import sweep_bank_changes, sweep_spool
from tutela.pipeline.spool import spool_for
from tutela.policy import ValidatedPolicy, Verdict
from tutela.policy.catalog import PolicyCatalog
from tutela.signals.extract import BUT_SHA256, Extraction

if TYPE_CHECKING:
    from tutela.app import Tutela

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 60.0
"""How often a worker runs the retention sweeps (spool files, bank change log)."""


@dataclass(frozen=True, slots=True)
class _Result:
    """One job's outcome, evaluated and waiting to be stored."""

    context: JobContext
    extraction: Extraction
    matches: list[Match]
    verdict: Verdict


def default_owner() -> str:
    """host:pid:random, unique per worker instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Processes jobs of one application; `run(stop_event)` loops until the event is set."""

    def __init__(
        self,
        app: Tutela,
        pool: DecoderPool,
        policy: ValidatedPolicy | PolicyCatalog,
        *,
        owner: str | None = None,
        lanes: Collection[Lane] = tuple(Lane),
        notifier: Notifier | None = None,
    ) -> None:
        self.app = app
        self.pool = pool
        self.policies = policy if isinstance(policy, PolicyCatalog) else PolicyCatalog(policy)
        self.owner = owner or default_owner()
        self.lanes = tuple(lanes)
        self.notifier = notifier
        self.queue = JobQueue(app.database, QueueLimits.from_settings(app.settings))
        self.spool = spool_for(app.settings)
        self._last_sweep = 0.0
        self._probe = app.database.change_probe()

    def run(self, stop: threading.Event) -> None:
        """Work until `stop` is set; an unexpected error is logged and the loop goes on."""
        name_this_thread()
        settings = self.app.settings
        idle_wait = min(settings.worker_poll_seconds, settings.index_sync_seconds)
        notified = False
        while not stop.is_set():
            try:
                if self.step(notified=notified):
                    notified = False
                    continue
            except Exception:
                logger.exception("worker %s: round failed; retrying", self.owner)
            if self.notifier is not None:
                notified = self.notifier.wait_for_jobs(idle_wait)
            else:
                stop.wait(idle_wait)

    def step(self, *, notified: bool = False) -> int:
        """One round: follow the bank feed, sweep if due, process one leased batch; returns jobs leased.

        `notified`: a submit in this process said a job was added, so the read-only `has_work` look that
        keeps idle workers off the write lock is skipped."""
        now = time.monotonic()
        if now - self.app.matcher.synced_at >= self.app.settings.index_sync_seconds:
            # skipped when another loop of this process (serve's index sync) just did
            self.app.matcher.sync(via=self._probe)
        if now - self._last_sweep >= SWEEP_INTERVAL_SECONDS:
            self._last_sweep = now
            sweep_spool(
                self.app.database,
                self.spool,
                orphan_grace_seconds=self.app.settings.spool_orphan_grace_seconds,
            )
            sweep_bank_changes(
                self.app.database, retention_hours=self.app.settings.bank_change_retention_hours
            )
        if not notified and not (self._probe.changed() and self._has_work()):
            return 0  # nothing committed since the last look (within a second), or nothing ready
        jobs = self.queue.lease(self.owner, self.app.settings.worker_batch_size, self.lanes)
        if jobs:
            self.app.matcher.sync()
            self._process(jobs)
        return len(jobs)

    def _has_work(self) -> bool:
        try:
            return self.queue.has_work(self.lanes, via=self._probe)
        except Exception:
            self._probe.invalidate()  # look again next round, whatever the probe says
            raise

    def _process(self, jobs: Sequence[LeasedJob]) -> None:
        try:
            self._process_batch(load_contexts(self.app.database, jobs))
        finally:
            if self.notifier is not None:
                self.notifier.evaluations_finished(job.evaluation_id for job in jobs)

    def _process_batch(self, contexts: Sequence[JobContext]) -> None:
        scanned: list[JobContext] = []
        for context in contexts:
            policy = self.policies.for_service(context.service_name)
            ok, reason = policy.should_scan(context.service_name, context.surface, context.jurisdiction)
            if ok:
                scanned.append(context)
            else:
                self._guarded(context, partial(self._finish_skipped, context, reason))
        extracted = self._extract_all(scanned)
        ready = [(c, e) for c, e in zip(scanned, extracted, strict=True) if e is not None]
        seq = self.app.matcher.seq
        all_matches = self.app.matcher.match_many([e for _, e in ready])
        results: list[_Result] = []
        for (context, extraction), matches in zip(ready, all_matches, strict=True):
            wanted = [m for m in matches if m.bank not in context.disabled_banks]
            try:
                verdict = self.policies.for_service(context.service_name).evaluate(
                    policy_input(context, extraction, wanted)
                )
            except Exception as exc:
                logger.exception("worker %s: job %d failed unexpectedly", self.owner, context.job.id)
                self._fail(context.job, f"{type(exc).__name__}: {exc}")
                continue
            results.append(_Result(context, extraction, wanted, verdict))
        self._store_all(results, seq)

    def _store_all(self, results: Sequence[_Result], bank_seq: int) -> None:
        """Store the round's results in one write transaction; on an unexpected error, one per job.

        Each job still acknowledges itself (a lost lease skips only that job: `ack` is its first statement,
        so nothing of it was written) and gets its own verdict and outbox event. If anything else fails,
        the whole transaction rolls back and every job is stored on its own, so one bad job costs no other.
        """
        if not results:
            return
        if len(results) > 1:
            stored: list[tuple[_Result, Stored]] = []
            try:
                with self.app.database.write() as session:
                    for result in results:
                        try:
                            outcome = self._store(session, result, bank_seq)
                        except LeaseLost as exc:
                            logger.warning("worker %s: %s", self.owner, exc)
                            continue
                        stored.append((result, outcome))
            except Exception:
                logger.exception(
                    "worker %s: storing %d results together failed; storing each on its own",
                    self.owner,
                    len(results),
                )
            else:
                for result, outcome in stored:
                    self._delete_content(result.context, outcome)
                return
        for result in results:
            self._guarded(result.context, partial(self._finish, result, bank_seq))

    def _store(self, session: Session, result: _Result, bank_seq: int) -> Stored:
        return store_result(
            session,
            result.context,
            result.extraction,
            result.matches,
            result.verdict,
            bank_seq=bank_seq,
            retention_hours=self.app.settings.spool_retention_hours,
        )

    def _delete_content(self, context: JobContext, outcome: Stored) -> None:
        if outcome.deliveries and self.notifier is not None:
            self.notifier.deliveries_added()
        if context.spool_name is not None and not outcome.held:
            self.spool.delete(context.spool_name)

    def _guarded(self, context: JobContext, finish: Callable[[], None]) -> None:
        """Run one job's last step; an unexpected error fails only that job (counted as an attempt)."""
        try:
            finish()
        except Exception as exc:
            logger.exception("worker %s: job %d failed unexpectedly", self.owner, context.job.id)
            self._fail(context.job, f"{type(exc).__name__}: {exc}")

    def _extract_all(self, contexts: Sequence[JobContext]) -> list[Extraction | None]:
        """Extractions in order; None where the job failed (already recorded)."""
        spooled = [c for c in contexts if c.spool_name is not None]
        if len(spooled) > 1 and self.pool.size > 1:
            with ThreadPoolExecutor(
                min(self.pool.size, len(spooled)),
                thread_name_prefix="tutela-extract",
                initializer=name_this_thread,
            ) as ex:
                return list(ex.map(self._extract, contexts))
        return [self._extract(c) for c in contexts]

    def _extract(self, context: JobContext) -> Extraction | None:
        if context.spool_name is None:
            return signals_extraction(context.signals or ())
        try:
            data = self.spool.read(context.spool_name)
        except SpoolError as exc:
            self._fail(context.job, str(exc), permanent=True)
            return None
        try:  # the digest is the content's SHA-256, computed at submit (as `tutela.pipeline.inline` does)
            return self.pool.extract(data, BUT_SHA256).with_sha256(context.digest)
        except DecoderError as exc:
            self._fail(context.job, str(exc))
            return None

    def _finish(self, result: _Result, bank_seq: int) -> None:
        try:
            with self.app.database.write() as session:
                outcome = self._store(session, result, bank_seq)
        except LeaseLost as exc:
            logger.warning("worker %s: %s", self.owner, exc)
            return
        self._delete_content(result.context, outcome)

    def _finish_skipped(self, context: JobContext, reason: str) -> None:
        try:
            with self.app.database.write() as session:
                version = self.policies.for_service(context.service_name).version
                store_skipped(session, context, reason, policy_version=version)
        except LeaseLost as exc:
            logger.warning("worker %s: %s", self.owner, exc)
            return
        if context.spool_name is not None:
            self.spool.delete(context.spool_name)
        if self.notifier is not None:  # a rare path: wake the deliverer whether or not it has work
            self.notifier.deliveries_added()

    def _fail(self, job: LeasedJob, error: str, *, permanent: bool = False) -> None:
        state = self.queue.fail(job, error, permanent=permanent)
        if state is JobState.DEAD and self.notifier is not None:  # its item.failed event may have deliveries
            self.notifier.deliveries_added()
        logger.warning(
            "worker %s: job %d attempt %d failed (%s): %s", self.owner, job.id, job.attempt, state, error
        )
