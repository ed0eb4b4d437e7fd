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
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tutela.db.driver import DriverInsert, DriverQuery
from tutela.db.rows import row_object
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
    new_item: bool = False
    """The item itself was created by this submission (its first evaluation)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A checked submission: its digest, and the canonical signal list when signals were sent."""

    digest: str
    signals: tuple[Signal, ...]


def prepare(
    app: Tutela, content_id: str, content: bytes | None, signals: Sequence[Signal] | None
) -> Prepared:
    """Check a submission's shape and limits (InvalidSubmission, MediaTooLarge) and compute its digest."""
    if not content_id or len(content_id) > MAX_CONTENT_ID_LENGTH:
        raise InvalidSubmission(
            f"content id must be 1-{MAX_CONTENT_ID_LENGTH} characters, got {content_id!r}"
        )
    if (content is None) == (signals is None):
        raise InvalidSubmission("send either the content bytes or its signals, not both and not neither")
    if content is not None:
        limit = app.settings.max_media_bytes
        if len(content) > limit:
            raise MediaTooLarge("size in bytes", len(content), limit, "max_media_bytes")
        return Prepared(content_digest(content), ())
    canonical = canonical_signals(signals or ())
    if not canonical:
        raise InvalidSubmission("the signal list is empty; send at least one signal, or the content")
    return Prepared(signals_digest(canonical), canonical)


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
    prepared = prepare(app, content_id, content, signals)
    digest, canonical = prepared.digest, prepared.signals
    database = app.database
    spool = spool_for(app.settings)
    spool_name = spool.write(content) if content is not None else None
    try:
        with database.write_connection() as connection:
            submission = find_or_create(
                app, connection, service_id, content_id, context, digest, spool_name, canonical, lane
            )
    except IntegrityError:
        if spool_name is not None:
            spool.delete(spool_name)
        raced = existing_submission(database, service_id, content_id, digest)
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


def find_or_create(
    app: Tutela,
    connection: Connection,
    service_id: int,
    content_id: str,
    context: ItemContext,
    digest: str,
    spool_name: str | None,
    signals: tuple[Signal, ...],
    lane: Lane,
    *,
    finished: dict[str, Any] | None = None,
) -> Submission:
    """The existing evaluation of (item, digest), or a new one with its job, written in the transaction of
    `connection`.

    `signals` is the canonical list of a signals submission, empty for content.
    A new evaluation of an existing item updates the item's context. `finished` are the columns of an
    evaluation its submitter has already worked (`verdict_columns`): it is written done, with a done job,
    and does not count against the queue limit, since it never waits in the queue.
    """
    key = {"service_id": service_id, "content_id": content_id}
    found = None
    if _ITEM_EXISTS.rows(connection, key):  # most submissions are of a new item: one cheap look first
        found = connection.execute(_ITEM_AND_EVALUATION, {**key, "digest": digest}).first()
    if found is not None and found.evaluation_id is not None:
        return _submission(found._asdict(), created=False)
    if finished is None:
        pending = int(connection.execute(_PENDING_JOBS).scalar() or 0)
        if pending >= app.settings.queue_max_pending:
            raise QueueFull(pending, app.settings.queue_max_pending, app.settings.queue_retry_after_seconds)
    now = utc_now()
    fields = {
        "account_id": context.account_id,
        "surface": context.surface.value,
        "jurisdiction": context.jurisdiction,
        "age_band": context.age_band,
    }
    if found is None:
        item_values = {**key, **fields, "created_at": now, "updated_at": now}
        item = row_object(Item, {"id": _INSERT_ITEM(connection, item_values), **item_values})
    else:
        connection.execute(_UPDATE_ITEM, {"item_id": found.item_id, **fields, "updated_at": now})
        stored = {column: getattr(found, f"item_{column}") for column in _ITEM_COLUMNS}
        item = row_object(Item, {**stored, **fields, "updated_at": now})
    evaluation_values: dict[str, Any] = {
        "item_id": item.id,
        "service_id": service_id,
        "digest": digest,
        "input_kind": (InputKind.SIGNALS if signals else InputKind.CONTENT).value,
        "status": EvaluationStatus.QUEUED.value,
        "attempts": 0,
        "spool_name": spool_name,
        "signals": [signal_to_json(s) for s in signals] if signals else None,
        "created_at": now,
    }
    if finished is not None:
        evaluation_values.update(finished, attempts=1)
    evaluation = row_object(
        Evaluation, {"id": _INSERT_EVALUATION(connection, evaluation_values), **evaluation_values}
    )
    JobQueue.add(connection, evaluation.id, lane, done=finished is not None)
    return Submission(item, evaluation, created=True, new_item=found is None)


def find_submission(session: Session, service_id: int, content_id: str, digest: str) -> Submission | None:
    row = (
        session.connection()
        .execute(_ITEM_AND_EVALUATION, {"service_id": service_id, "content_id": content_id, "digest": digest})
        .first()
    )
    if row is None or row.evaluation_id is None:
        return None
    return _submission(row._asdict(), created=False)


def _submission(values: dict[str, Any], *, created: bool) -> Submission:
    item = row_object(Item, {column: values[f"item_{column}"] for column in _ITEM_COLUMNS})
    evaluation = row_object(
        Evaluation, {column: values[f"evaluation_{column}"] for column in _EVALUATION_COLUMNS}
    )
    return Submission(item, evaluation, created=created)


def existing_submission(
    database: Database, service_id: int, content_id: str, digest: str
) -> Submission | None:
    with database.read() as session:
        return find_submission(session, service_id, content_id, digest)


_ITEM_COLUMNS = tuple(column.key for column in Item.__table__.columns)
_EVALUATION_COLUMNS = tuple(column.key for column in Evaluation.__table__.columns)
_ITEM_AND_EVALUATION = (
    select(
        *[getattr(Item, column).label(f"item_{column}") for column in _ITEM_COLUMNS],
        *[getattr(Evaluation, column).label(f"evaluation_{column}") for column in _EVALUATION_COLUMNS],
    )
    .outerjoin(Evaluation, (Evaluation.item_id == Item.id) & (Evaluation.digest == bindparam("digest")))
    .where(Item.service_id == bindparam("service_id"), Item.content_id == bindparam("content_id"))
)
"""The item of (service, content id), with its evaluation of the digest when there is one."""
_ITEM_EXISTS = DriverQuery(
    select(Item.id).where(
        Item.service_id == bindparam("service_id"), Item.content_id == bindparam("content_id")
    )
)
_UPDATE_ITEM = (
    update(Item)
    .where(Item.id == bindparam("item_id"))
    .values(
        account_id=bindparam("account_id"),
        surface=bindparam("surface"),
        jurisdiction=bindparam("jurisdiction"),
        age_band=bindparam("age_band"),
        updated_at=bindparam("updated_at"),
    )
)
_INSERT_ITEM = DriverInsert(Item)
_INSERT_EVALUATION = DriverInsert(Evaluation)
_PENDING_JOBS = JobQueue.pending_statement()
"""Statements built once and run on the session's connection: building, cache-keying and running ORM
statements per submit cost several milliseconds of CPU, several times the SQL itself."""
