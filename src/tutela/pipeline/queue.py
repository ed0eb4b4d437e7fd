"""The job queue: a table with leases, on SQLite or PostgreSQL.

A worker leases up to n ready jobs, live lane first (`ORDER BY priority, id`), in one write transaction:
`BEGIN IMMEDIATE` on SQLite serialises leasers, `FOR UPDATE SKIP LOCKED` lets PostgreSQL leasers pass each
other. Leasing counts an attempt. A lease that expires (the worker died or hung) returns the job to ready, or
to dead once it has used `job_max_attempts`, so a poison item that kills its worker cannot loop for ever.

The attempt number doubles as a fencing token: `ack` succeeds only if nobody leased the job since, and runs
inside the transaction that stores the result, so a result is stored at most once per job and a worker whose
lease was taken over rolls its result back (`LeaseLost`).

    ready ──lease──► leased ──ack──► done
      ▲                │ fail / lease expired
      └── backoff ◄────┤
                       └── attempts used up, or permanent ──► dead
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Select, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import Session

from tutela.db.driver import DriverInsert, DriverQuery
from tutela.db.session import Database
from tutela.db.types import utc_now
from tutela.effects.outbox import enqueue
from tutela.pipeline.context import Lane
from tutela.pipeline.errors import LeaseLost
from tutela.pipeline.models import Evaluation, EvaluationStatus, Item, Job, JobState
from tutela.settings import Settings

if TYPE_CHECKING:
    from tutela.db.change_probe import ChangeProbe

_OPEN = (JobState.READY.value, JobState.LEASED.value)
FAILED_EVENT = "item.failed"
_ACK = (
    update(Job)
    .where(
        Job.id == bindparam("job_id"),
        Job.attempts == bindparam("attempt"),
        Job.state != JobState.DONE.value,
    )
    .values(
        state=JobState.DONE.value,
        lease_owner=None,
        lease_expires_at=None,
        updated_at=bindparam("b_updated_at"),
    )
)
_INSERT_JOB = DriverInsert(Job)


@cache
def _has_work_query(lanes: tuple[str, ...]) -> DriverQuery:
    """`has_work`'s statement for one set of lanes, built once: the lanes are constants of the statement
    (not an expanding list), so it runs on a driver cursor (`tutela.db.driver`)."""
    return DriverQuery(
        select(
            exists().where(
                or_(
                    (Job.state == JobState.READY.value)
                    & (Job.available_at <= bindparam("now"))
                    & Job.lane.in_([bindparam(f"lane_{i}", lane) for i, lane in enumerate(lanes)]),
                    (Job.state == JobState.LEASED.value) & (Job.lease_expires_at < bindparam("now")),
                )
            )
        )
    )


@dataclass(frozen=True, slots=True)
class QueueLimits:
    """The queue's settings (see tutela.settings for each)."""

    max_pending: int
    retry_after_seconds: int
    max_attempts: int
    lease_seconds: float
    backoff_seconds: float
    backoff_max_seconds: float
    spool_retention_hours: float

    @classmethod
    def from_settings(cls, settings: Settings) -> QueueLimits:
        return cls(
            max_pending=settings.queue_max_pending,
            retry_after_seconds=settings.queue_retry_after_seconds,
            max_attempts=settings.job_max_attempts,
            lease_seconds=settings.job_lease_seconds,
            backoff_seconds=settings.job_retry_backoff_seconds,
            backoff_max_seconds=settings.job_retry_backoff_max_seconds,
            spool_retention_hours=settings.spool_retention_hours,
        )

    def backoff(self, attempts: int) -> timedelta:
        """Wait before the next attempt after `attempts` failed ones: doubling, capped."""
        seconds = min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.backoff_max_seconds)
        return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class LeasedJob:
    """A job this worker holds; `attempt` is the fencing token `ack` and `fail` check."""

    id: int
    evaluation_id: int
    lane: Lane
    attempt: int


class JobQueue:
    """Lease, acknowledge and fail jobs of one database."""

    def __init__(self, database: Database, limits: QueueLimits) -> None:
        self.database = database
        self.limits = limits

    @staticmethod
    def add(connection: Connection, evaluation_id: int, lane: Lane, *, done: bool = False) -> int:
        """Queue a job for an evaluation in the caller's transaction; `done`: its submitter already worked
        it (attempt 1, as `lease` then `ack` would have left it). Returns the job's id."""
        now = utc_now()
        return _INSERT_JOB(
            connection,
            {
                "evaluation_id": evaluation_id,
                "lane": lane.value,
                "priority": lane.priority,
                "state": JobState.DONE.value if done else JobState.READY.value,
                "attempts": 1 if done else 0,
                "lease_owner": None,
                "lease_expires_at": None,
                "available_at": now,
                "created_at": now,
                "updated_at": now,
            },
        )

    @staticmethod
    def pending_statement() -> Select[int]:
        """Counts jobs ready or leased (what `queue_max_pending` limits)."""
        return select(func.count()).select_from(Job).where(Job.state.in_(_OPEN))

    def has_work(self, lanes: Collection[Lane] = tuple(Lane), *, via: ChangeProbe | None = None) -> bool:
        """A cheap read-only look, so an idle worker does not take the write lock to find nothing; on the
        poller's own connection when `via` has one (`ChangeProbe.rows`)."""
        query = _has_work_query(tuple(sorted(lane.value for lane in lanes)))
        values = {"now": utc_now()}
        rows = None if via is None else via.rows(query, values)
        if rows is None:
            with self.database.connect() as connection:
                rows = query.rows(connection, values)
        return bool(rows[0][0])

    def lease(self, owner: str, n: int, lanes: Collection[Lane] = tuple(Lane)) -> list[LeasedJob]:
        """Lease up to `n` ready jobs of `lanes`, highest priority first, after reclaiming expired leases."""
        with self.database.write() as session:
            now = utc_now()
            self._reclaim_expired(session, now)
            query = (
                select(Job.id, Job.evaluation_id, Job.lane, Job.attempts)
                .where(
                    Job.state == JobState.READY.value,
                    Job.available_at <= now,
                    Job.lane.in_([lane.value for lane in lanes]),
                )
                .order_by(Job.priority, Job.id)
                .limit(n)
            )
            bind = session.get_bind()
            if bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.execute(query).all()
            if not rows:
                return []
            session.execute(
                update(Job)
                .where(Job.id.in_([row.id for row in rows]))
                .values(
                    state=JobState.LEASED.value,
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=self.limits.lease_seconds),
                    attempts=Job.attempts + 1,
                    updated_at=now,
                )
            )
            session.execute(
                update(Evaluation)
                .where(Evaluation.id.in_([row.evaluation_id for row in rows]))
                .values(status=EvaluationStatus.RUNNING.value, attempts=Evaluation.attempts + 1)
            )
            return [LeasedJob(row.id, row.evaluation_id, Lane(row.lane), row.attempts + 1) for row in rows]

    @staticmethod
    def ack(session: Session, job: LeasedJob) -> None:
        """Mark the job done in the caller's result transaction; LeaseLost if it was leased again since."""
        done = session.connection().execute(
            _ACK, {"job_id": job.id, "attempt": job.attempt, "b_updated_at": utc_now()}
        )
        if done.rowcount != 1:
            raise LeaseLost(f"job {job.id} was leased again after attempt {job.attempt}; result discarded")

    def fail(self, job: LeasedJob, error: str, *, permanent: bool = False) -> JobState | None:
        """Record a failed attempt: back to ready after a backoff, or dead when attempts are used up.

        Returns the job's new state, or None when the lease was lost (another worker owns the job now).
        """
        with self.database.write() as session:
            row = session.scalar(
                select(Job).where(Job.id == job.id, Job.attempts == job.attempt, Job.state.in_(_OPEN))
            )
            if row is None:
                return None
            now = utc_now()
            if permanent or row.attempts >= self.limits.max_attempts:
                self._dead(session, [row], error, now)
                return JobState.DEAD
            row.state = JobState.READY.value
            row.lease_owner = None
            row.lease_expires_at = None
            row.available_at = now + self.limits.backoff(row.attempts)
            row.last_error = error
            row.updated_at = now
            session.execute(
                update(Evaluation)
                .where(Evaluation.id == row.evaluation_id)
                .values(status=EvaluationStatus.QUEUED.value, error=error)
            )
            return JobState.READY

    def retry_dead(self, evaluation_id: int) -> bool:
        """Give a dead-lettered job a fresh set of attempts (after fixing its cause); False if not dead."""
        with self.database.write() as session:
            row = session.scalar(
                select(Job).where(Job.evaluation_id == evaluation_id, Job.state == JobState.DEAD.value)
            )
            if row is None:
                return False
            now = utc_now()
            row.state, row.attempts, row.available_at, row.updated_at = JobState.READY.value, 0, now, now
            session.execute(
                update(Evaluation)
                .where(Evaluation.id == evaluation_id)
                .values(status=EvaluationStatus.QUEUED.value, finished_at=None, spool_expires_at=None)
            )
            return True

    def _reclaim_expired(self, session: Session, now: datetime) -> None:
        expired = list(
            session.scalars(select(Job).where(Job.state == JobState.LEASED.value, Job.lease_expires_at < now))
        )
        used_up = [job for job in expired if job.attempts >= self.limits.max_attempts]
        self._dead(
            session, used_up, "the worker's lease expired on every attempt (worker crashed or hung)", now
        )
        for job in expired:
            if job.attempts < self.limits.max_attempts:
                job.state = JobState.READY.value
                job.lease_owner = None
                job.lease_expires_at = None
                job.available_at = now
                job.last_error = f"lease of attempt {job.attempts} expired (worker crashed or hung)"
                job.updated_at = now

    def _dead(self, session: Session, jobs: list[Job], error: str, now: datetime) -> None:
        if not jobs:
            return
        for job in jobs:
            job.state = JobState.DEAD.value
            job.lease_owner = None
            job.lease_expires_at = None
            job.last_error = error
            job.updated_at = now
        session.execute(
            update(Evaluation)
            .where(Evaluation.id.in_([job.evaluation_id for job in jobs]))
            .values(
                status=EvaluationStatus.DEAD.value,
                error=error,
                finished_at=now,
                spool_expires_at=now + timedelta(hours=self.limits.spool_retention_hours),
            )
        )
        rows = session.execute(
            select(
                Evaluation.id, Evaluation.item_id, Evaluation.service_id, Evaluation.digest, Item.content_id
            )
            .join(Item, Item.id == Evaluation.item_id)
            .where(Evaluation.id.in_([job.evaluation_id for job in jobs]))
        ).all()
        for row in rows:  # the platform learns that no verdict will come, in the same transaction
            payload = {
                "item_id": row.item_id,
                "content_id": row.content_id,
                "evaluation_id": row.id,
                "digest": row.digest,
                "status": EvaluationStatus.DEAD.value,
                "error": error,
            }
            enqueue(
                session,
                service_id=row.service_id,
                item_id=row.item_id,
                event_type=FAILED_EVENT,
                payload=payload,
            )
