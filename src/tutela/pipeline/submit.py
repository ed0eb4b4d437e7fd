"""Accepting an item: one transaction writes the item, its evaluation and its job before anyone is told.

Content bytes are encrypted into the spool and fsynced before that transaction commits, and deleted again if
it does not; an accepted item therefore always has its content, and a refused one leaves nothing behind (a
crash between the two leaves an unreferenced spool file, which the sweep deletes).

Idempotency: one item per (service, content id), one evaluation per (item, digest). Resubmitting a digest
returns the existing evaluation, including when two submissions race: the unique constraints decide, and
the loser returns the winner's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.db.session import Database
from tutela.db.types import utc_now
from tutela.errors import MediaTooLarge
from tutela.pipeline.context import ItemContext, Lane
from tutela.pipeline.errors import InvalidSubmission, QueueFull
from tutela.pipeline.models import Evaluation, EvaluationStatus, InputKind, Item
from tutela.pipeline.notify import Notifier
from tutela.pipeline.queue import JobQueue
from tutela.pipeline.records import canonical_signals, content_digest, signal_to_json, signals_digest
from tutela.pipeline.spool import spool_for
from tutela.signals.base import Signal

if TYPE_CHECKING:
    from tutela.app import Tutela

MAX_CONTENT_ID_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Submission:
    """The item and evaluation a submission resolved to; `created` is False for a resubmission."""

    item: Item
    evaluation: Evaluation
    created: bool


def submit(
    app: Tutela,
    *,
    service_id: int,
    content_id: str,
    context: ItemContext,
    content: bytes | None = None,
    signals: Sequence[Signal] | None = None,
    lane: Lane = Lane.LIVE,
    notifier: Notifier | None = None,
) -> Submission:
    """Accept content bytes or precomputed signals for an item; QueueFull when the queue is over its limit."""
    if not content_id or len(content_id) > MAX_CONTENT_ID_LENGTH:
        raise InvalidSubmission(
            f"content id must be 1-{MAX_CONTENT_ID_LENGTH} characters, got {content_id!r}"
        )
    if (content is None) == (signals is None):
        raise InvalidSubmission("send either the content bytes or its signals, not both and not neither")
    canonical: tuple[Signal, ...] = ()
    if content is not None:
        limit = app.settings.max_media_bytes
        if len(content) > limit:
            raise MediaTooLarge("size in bytes", len(content), limit, "max_media_bytes")
        digest = content_digest(content)
    else:
        canonical = canonical_signals(signals or ())
        if not canonical:
            raise InvalidSubmission("the signal list is empty; send at least one signal, or the content")
        digest = signals_digest(canonical)
    database = app.database
    existing = _existing(database, service_id, content_id, digest)
    if existing is not None:
        return existing
    spool = spool_for(app.settings)
    spool_name = spool.write(content) if content is not None else None
    try:
        with database.write() as session:
            submission = _find(session, service_id, content_id, digest) or _create(
                app, session, service_id, content_id, context, digest, spool_name, canonical, lane
            )
    except IntegrityError:
        if spool_name is not None:
            spool.delete(spool_name)
        raced = _existing(database, service_id, content_id, digest)
        if raced is None:
            raise
        return raced
    except BaseException:
        if spool_name is not None:
            spool.delete(spool_name)
        raise
    if not submission.created and spool_name is not None:
        spool.delete(spool_name)
    if submission.created and notifier is not None:
        notifier.job_added()
    return submission


def _create(
    app: Tutela,
    session: Session,
    service_id: int,
    content_id: str,
    context: ItemContext,
    digest: str,
    spool_name: str | None,
    signals: tuple[Signal, ...],
    lane: Lane,
) -> Submission:
    pending = JobQueue.pending(session)
    if pending >= app.settings.queue_max_pending:
        raise QueueFull(pending, app.settings.queue_max_pending, app.settings.queue_retry_after_seconds)
    now = utc_now()
    fields = {
        "account_id": context.account_id,
        "surface": context.surface.value,
        "jurisdiction": context.jurisdiction,
        "age_band": context.age_band,
    }
    item = session.scalar(select(Item).where(Item.service_id == service_id, Item.content_id == content_id))
    if item is None:
        item = Item(service_id=service_id, content_id=content_id, created_at=now, updated_at=now, **fields)
        session.add(item)
        session.flush()
    else:
        session.execute(update(Item).where(Item.id == item.id).values(updated_at=now, **fields))
        session.refresh(item)
    evaluation = Evaluation(
        item_id=item.id,
        service_id=service_id,
        digest=digest,
        input_kind=(InputKind.CONTENT if spool_name is not None else InputKind.SIGNALS).value,
        status=EvaluationStatus.QUEUED.value,
        attempts=0,
        spool_name=spool_name,
        signals=[signal_to_json(s) for s in signals] if signals else None,
        created_at=now,
    )
    session.add(evaluation)
    session.flush()
    JobQueue.add(session, evaluation.id, lane)
    session.flush()
    return Submission(item, evaluation, created=True)


def _find(session: Session, service_id: int, content_id: str, digest: str) -> Submission | None:
    row = session.execute(
        select(Item, Evaluation)
        .join(Evaluation, Evaluation.item_id == Item.id)
        .where(Item.service_id == service_id, Item.content_id == content_id, Evaluation.digest == digest)
    ).first()
    return None if row is None else Submission(row[0], row[1], created=False)


def _existing(database: Database, service_id: int, content_id: str, digest: str) -> Submission | None:
    with database.read() as session:
        return _find(session, service_id, content_id, digest)
