"""The job queue: leases, visibility timeout, acknowledgement, retries, dead letter, lanes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.pipeline_support import PUBLIC, Harness, harness, image, pipeline_settings
from tutela.db.types import utc_now
from tutela.effects.models import OutboxEvent
from tutela.pipeline import EvaluationStatus, JobQueue, JobState, Lane, LeaseLost, QueueLimits, submit
from tutela.pipeline.models import Evaluation, Job


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    settings = pipeline_settings(
        tmp_path, job_max_attempts=3, job_lease_seconds=30, job_retry_backoff_seconds=0
    )
    with harness(settings) as built:
        yield built


@pytest.fixture
def queue(h: Harness) -> JobQueue:
    return JobQueue(h.app.database, QueueLimits.from_settings(h.app.settings))


def add(h: Harness, n: int, lane: Lane = Lane.LIVE, prefix: str = "c") -> list[int]:
    return [
        submit(
            h.app,
            service_id=h.service_id,
            content_id=f"{prefix}{i}",
            context=PUBLIC,
            content=image(i),
            lane=lane,
        ).evaluation.id
        for i in range(n)
    ]


def job_of(h: Harness, evaluation_id: int) -> Job:
    with h.app.database.read() as session:
        return session.scalars(select(Job).where(Job.evaluation_id == evaluation_id)).one()


def expire_leases(h: Harness) -> None:
    with h.app.database.write() as session:
        session.execute(update(Job).values(lease_expires_at=utc_now() - timedelta(seconds=1)))


def test_lease_takes_jobs_once_and_marks_them_running(h: Harness, queue: JobQueue) -> None:
    ids = add(h, 3)
    first = queue.lease("w1", 2)
    second = queue.lease("w2", 5)
    assert [j.evaluation_id for j in first] == ids[:2]
    assert [j.evaluation_id for j in second] == ids[2:]
    assert queue.lease("w3", 5) == []
    assert all(j.attempt == 1 for j in first + second)
    assert job_of(h, ids[0]).lease_owner == "w1"
    with h.app.database.read() as session:
        assert session.get(Evaluation, ids[0]).status == EvaluationStatus.RUNNING  # type: ignore[union-attr]


def test_live_lane_is_leased_before_backfill(h: Harness, queue: JobQueue) -> None:
    backfill = add(h, 3, Lane.BACKFILL, "b")
    live = add(h, 2, Lane.LIVE, "l")
    leased = [j.evaluation_id for j in queue.lease("w", 10)]
    assert leased == live + backfill
    assert queue.lease("w", 10, lanes=[Lane.BACKFILL]) == []


def test_a_worker_can_serve_only_some_lanes(h: Harness, queue: JobQueue) -> None:
    backfill = add(h, 1, Lane.BACKFILL, "b")
    add(h, 1, Lane.LIVE, "l")
    assert [j.evaluation_id for j in queue.lease("w", 10, lanes=[Lane.BACKFILL])] == backfill


def test_expired_lease_returns_the_job_and_fences_the_old_owner(h: Harness, queue: JobQueue) -> None:
    (evaluation_id,) = add(h, 1)
    (stale,) = queue.lease("w1", 1)
    assert queue.lease("w2", 1) == []  # still invisible
    expire_leases(h)
    assert queue.has_work()
    (fresh,) = queue.lease("w2", 1)
    assert fresh.id == stale.id
    assert fresh.attempt == 2
    with pytest.raises(LeaseLost), h.app.database.write() as session:
        JobQueue.ack(session, stale)
    assert queue.fail(stale, "late") is None
    with h.app.database.write() as session:
        JobQueue.ack(session, fresh)
    assert job_of(h, evaluation_id).state == JobState.DONE
    assert not queue.has_work()


def test_ack_of_an_expired_but_not_yet_retaken_lease_still_counts(h: Harness, queue: JobQueue) -> None:
    (evaluation_id,) = add(h, 1)
    (job,) = queue.lease("w1", 1)
    expire_leases(h)
    with h.app.database.write() as session:
        queue._reclaim_expired(session, utc_now())
    with h.app.database.write() as session:
        JobQueue.ack(session, job)
    assert job_of(h, evaluation_id).state == JobState.DONE


def test_failures_retry_with_backoff_then_dead_letter(tmp_path: Path) -> None:
    settings = pipeline_settings(tmp_path, job_max_attempts=2, job_retry_backoff_seconds=60)
    with harness(settings) as h:
        queue = JobQueue(h.app.database, QueueLimits.from_settings(settings))
        (evaluation_id,) = add(h, 1)
        (job,) = queue.lease("w", 1)
        assert queue.fail(job, "decoder crashed") is JobState.READY
        assert queue.lease("w", 1) == []  # backing off for 60 s
        assert job_of(h, evaluation_id).available_at > utc_now() + timedelta(seconds=55)
        with h.app.database.write() as session:
            session.execute(update(Job).values(available_at=utc_now()))
        (again,) = queue.lease("w", 1)
        assert again.attempt == 2
        assert queue.fail(again, "decoder crashed again") is JobState.DEAD
        dead = job_of(h, evaluation_id)
        assert dead.state == JobState.DEAD
        assert dead.last_error == "decoder crashed again"
        with h.app.database.read() as session:
            evaluation = session.get(Evaluation, evaluation_id)
            events = list(session.scalars(select(OutboxEvent)))
        assert evaluation is not None
        assert evaluation.status == EvaluationStatus.DEAD
        assert evaluation.spool_expires_at is not None  # kept for diagnosis until retention ends
        assert [e.event_type for e in events] == ["item.failed"]
        assert json.loads(events[0].payload)["error"] == "decoder crashed again"
        assert queue.retry_dead(evaluation_id)
        assert [j.evaluation_id for j in queue.lease("w", 1)] == [evaluation_id]


def test_a_job_whose_worker_keeps_dying_is_dead_lettered(h: Harness, queue: JobQueue) -> None:
    (evaluation_id,) = add(h, 1)
    for _ in range(3):
        assert len(queue.lease("w", 1)) == 1
        expire_leases(h)
    assert queue.lease("w", 1) == []
    assert job_of(h, evaluation_id).state == JobState.DEAD


def test_permanent_failure_is_dead_at_once(h: Harness, queue: JobQueue) -> None:
    (_evaluation_id,) = add(h, 1)
    (job,) = queue.lease("w", 1)
    assert queue.fail(job, "spool file missing", permanent=True) is JobState.DEAD


def test_backoff_doubles_up_to_the_cap() -> None:
    limits = QueueLimits(10, 5, 5, 60, 1.0, 5.0, 1)
    assert [limits.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
