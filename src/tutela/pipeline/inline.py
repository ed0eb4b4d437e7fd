"""Working a `?wait=true` submission on the request's own thread, before anything is written.

A platform that waits for the verdict is acknowledged only by the answer that carries it, so the content
need not be made durable first: the request extracts (in the decoder pool), matches and evaluates, then one
write transaction stores the item, its evaluation with the verdict, its job (done) and the outbox event
together. A crash before that commit leaves nothing and the platform, which got no answer, retries; after
it, the verdict is stored like any other. The spool is written only when the verdict holds the content for
review. A resubmitted digest is found in that transaction and answered with the stored evaluation (its
work is wasted, but resubmissions are rare and a look before the work would cost every new item a read).
Compared with queueing the item and waiting for a worker this saves the spool write, fsync and delete, a
transaction, the lease and the reads around it: about half of a waited item's server CPU.

Anything unusual goes the durable way instead (`work_inline` returns None and the caller queues the item and
waits): a decoder crash or timeout (the queue retries and dead-letters poison content), an item the policy
says must not be scanned (the worker records why), an unknown service.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from tutela.pipeline.context import ItemContext, Lane
from tutela.pipeline.errors import DecoderError
from tutela.pipeline.jobs import service_facts, signals_extraction
from tutela.pipeline.queue import JobLease
from tutela.pipeline.records import signal_to_json
from tutela.pipeline.results import ItemFacts, JobContext, policy_input, store_result
from tutela.pipeline.spool import spool_for
from tutela.pipeline.submit import (
    Submission,
    create_submission,
    existing_submission,
    find_submission,
    prepare,
)
from tutela.signals.base import Signal

if TYPE_CHECKING:
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
    service = service_facts(app.database, service_id)
    if service is None:
        return None
    service_name, disabled_banks = service
    policy = worker.policies.for_service(service_name)
    if not policy.should_scan(service_name, context.surface, context.jurisdiction)[0]:
        return None
    try:
        if content is not None:
            extraction = worker.pool.extract(content)
        else:
            extraction = signals_extraction([signal_to_json(s) for s in prepared.signals])
    except DecoderError:
        return None
    app.matcher.sync()
    bank_seq = app.matcher.seq
    matches = [m for m in app.matcher.match_many([extraction])[0] if m.bank not in disabled_banks]
    facts = ItemFacts(service_name, context.surface.value, context.jurisdiction, context.age_band)
    verdict = policy.evaluate(policy_input(facts, extraction, matches))
    spool = spool_for(app.settings)
    spool_name = spool.write(content) if content is not None and verdict.holds else None
    try:
        with app.database.write() as session:
            found = find_submission(session, service_id, content_id, prepared.digest)
            if found is not None:
                created = None
            else:
                created = create_submission(
                    app,
                    session,
                    service_id,
                    content_id,
                    context,
                    prepared.digest,
                    spool_name,
                    prepared.signals,
                    lane,
                    JobLease(worker.owner, app.settings.job_lease_seconds),
                )
                stored = store_result(
                    session,
                    _job_context(created, service_name, context, disabled_banks),
                    extraction,
                    matches,
                    verdict,
                    bank_seq=bank_seq,
                    retention_hours=app.settings.spool_retention_hours,
                )
    except IntegrityError:  # a concurrent submission of the same digest won
        found, created = existing_submission(app.database, service_id, content_id, prepared.digest), None
        if found is None:
            raise
    except BaseException:
        if spool_name is not None:
            spool.delete(spool_name)
        raise
    if created is None:
        if spool_name is not None:
            spool.delete(spool_name)
        return found
    runtime.notifier.evaluations_finished([created.evaluation.id])
    if stored.deliveries:
        runtime.notifier.deliveries_added()
    evaluation = created.evaluation
    for column, value in stored.columns.items():
        setattr(evaluation, column, value)
    return Submission(created.item, evaluation, created=True)


def _job_context(
    created: Submission, service_name: str, context: ItemContext, disabled_banks: frozenset[str]
) -> JobContext:
    if created.leased is None:  # create_submission leases when asked to
        raise RuntimeError("an inline submission's job must be leased at creation")
    evaluation = created.evaluation
    return JobContext(
        job=created.leased,
        evaluation_id=evaluation.id,
        item_id=created.item.id,
        service_id=evaluation.service_id,
        service_name=service_name,
        content_id=created.item.content_id,
        surface=context.surface.value,
        jurisdiction=context.jurisdiction,
        age_band=context.age_band,
        spool_name=evaluation.spool_name,
        digest=evaluation.digest,
        signals=tuple(evaluation.signals) if evaluation.signals is not None else None,
        disabled_banks=disabled_banks,
    )
