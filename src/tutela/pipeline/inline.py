"""Working a `?wait=true` submission on the request's own thread, before anything is written.

A platform that waits for the verdict is acknowledged only by the answer that carries it, so the content
need not be made durable first: the request extracts (in the decoder pool), matches and evaluates, then one
write transaction inserts the item, its evaluation already done with its verdict, its job already done and
the outbox event. A crash before that commit leaves nothing and the platform, which got no answer, retries;
after it, the verdict is stored like any other. The spool is written only when the verdict holds the
content for review. A resubmitted digest is found in that transaction and answered with the stored
evaluation (its work is wasted, but resubmissions are rare and a look before the work would cost every new
item a read). Compared with queueing the item and waiting for a worker this saves the spool write, fsync
and delete, the lease, the acknowledgement and the reads around them: most of a waited item's server CPU.

Such an item never waits in the queue, so the queue limit (429) does not apply to it; the request's own
concurrency bounds the work. It sees the bank index as of at most `index_sync_seconds` ago for other
processes' changes (this process's are applied as they commit), and the service's facts from
`Tutela.service_facts`, kept as fresh.

Anything unusual goes the durable way instead (`work_inline` returns None and the caller queues the item and
waits): a decoder crash or timeout (the queue retries and dead-letters poison content), an item the policy
says must not be scanned (the worker records why), an unknown service.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tutela.matcher import Match
from tutela.pipeline.context import ItemContext, Lane
from tutela.pipeline.errors import DecoderError
from tutela.pipeline.jobs import signals_extraction
from tutela.pipeline.records import signal_to_json
from tutela.pipeline.results import (
    EvaluationIds,
    ItemFacts,
    enqueue_verdict,
    policy_input,
    verdict_columns,
)
from tutela.pipeline.spool import spool_for
from tutela.pipeline.submit import Submission, existing_submission, find_or_create, prepare
from tutela.settings import Settings
from tutela.signals.base import Signal
from tutela.signals.extract import BUT_SHA256

if TYPE_CHECKING:
    from tutela.app import Tutela
    from tutela.pipeline.runtime import PipelineRuntime


def work_inline(
    runtime: PipelineRuntime,
    *,
    service_id: int,
    content_id: str,
    context: ItemContext,
    content: bytes | None,
    signals: Sequence[Signal] | None,
    lane: Lane,
) -> Submission | None:
    """The stored, finished submission; an existing one for a digest already submitted; or None when the
    item must take the durable path (see the module docstring). Raises what `submit` raises for bad input."""
    app, worker = runtime.app, runtime.worker
    if worker is None:
        return None
    prepared = prepare(app, content_id, content, signals)
    service = app.service_facts.get(service_id)
    if service is None:
        return None
    policy = worker.policies.for_service(service.name)
    if not policy.should_scan(service.name, context.surface, context.jurisdiction)[0]:
        return None
    try:
        if content is not None:
            extraction = worker.pool.extract(content, BUT_SHA256).with_sha256(prepared.digest)
        else:
            extraction = signals_extraction([signal_to_json(s) for s in prepared.signals])
    except DecoderError:
        return None
    matcher = app.matcher
    if time.monotonic() - matcher.synced_at >= app.settings.index_sync_seconds:
        matcher.sync()  # this process's own bank changes are applied as they commit
    bank_seq = matcher.seq
    matches = [m for m in runtime.scans.submit(extraction) if m.bank not in service.disabled_banks]
    facts = ItemFacts(service.name, context.surface.value, context.jurisdiction, context.age_band)
    verdict = policy.evaluate(policy_input(facts, extraction, matches))
    held = content is not None and verdict.holds
    spool_name = spool_for(app.settings).write(content) if held and content is not None else None
    columns = verdict_columns(
        extraction,
        matches,
        verdict,
        bank_seq=bank_seq,
        spool_name=spool_name,
        retention_hours=app.settings.spool_retention_hours,
    )
    write = FinishedWrite(
        service_id, content_id, context, prepared.digest, spool_name, prepared.signals, lane, columns, matches
    )
    try:
        written = runtime.commits.submit(write)
    except BaseException:
        _discard(app.settings, spool_name)
        raise
    if isinstance(written, IntegrityError):  # a concurrent submission of the same digest won
        raced = existing_submission(app.database, service_id, content_id, prepared.digest)
        if raced is None:
            raise written
        written = Stored(raced, 0, app.database.sync_mark())  # the winner's commit may not be synced yet
    app.database.synced(written.sync_mark)  # on disk before anyone is told (outside the write batch)
    submission, deliveries = written.submission, written.deliveries
    if not submission.created:
        _discard(app.settings, spool_name)
        return submission
    runtime.notifier.evaluations_finished([submission.evaluation.id])
    if deliveries:
        runtime.notifier.deliveries_added()
    return submission


@dataclass(frozen=True, slots=True)
class FinishedWrite:
    """What an inline item writes once worked: its submission, finished (`verdict_columns`), and its event."""

    service_id: int
    content_id: str
    context: ItemContext
    digest: str
    spool_name: str | None
    signals: tuple[Signal, ...]
    lane: Lane
    columns: dict[str, Any]
    matches: list[Match]


class Stored(NamedTuple):
    """A finished write: the submission, its webhook deliveries and the commit's `Database.sync_mark`."""

    submission: Submission
    deliveries: int
    sync_mark: int | None


Written = Stored | IntegrityError
"""A stored submission, or the error of a write that lost a race."""


def write_finished(app: Tutela, writes: list[FinishedWrite]) -> list[Written]:
    """Store finished inline items in one write transaction, in order (`PipelineRuntime.commits` batches
    concurrent ones). When one of a batch loses a race (IntegrityError), each is written again alone, so
    only the loser's write fails. The disk sync is the callers' (`Database.synced`), after the batch has
    handed on, so the next batch writes while this one's sync runs."""
    try:
        with app.database.write_connection(sync=False) as connection:
            stored = [_write(app, connection, write) for write in writes]
        mark = app.database.sync_mark()
        return [Stored(submission, deliveries, mark) for submission, deliveries in stored]
    except IntegrityError as exc:
        if len(writes) == 1:
            return [exc]
    return [write_finished(app, [write])[0] for write in writes]


def _write(app: Tutela, connection: Connection, write: FinishedWrite) -> tuple[Submission, int]:
    submission = find_or_create(
        app,
        connection,
        write.service_id,
        write.content_id,
        write.context,
        write.digest,
        write.spool_name,
        write.signals,
        write.lane,
        finished=write.columns,
    )
    if not submission.created:
        return submission, 0
    ids = EvaluationIds(
        write.service_id, submission.item.id, write.content_id, submission.evaluation.id, write.digest
    )
    event = enqueue_verdict(connection, ids, write.columns, write.matches, first_for_item=submission.new_item)
    return submission, event.deliveries


def _discard(settings: Settings, spool_name: str | None) -> None:
    if spool_name is not None:
        spool_for(settings).delete(spool_name)
