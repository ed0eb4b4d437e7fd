"""Writing effects to the outbox, inside the caller's transaction.

`enqueue` is what the pipeline calls when it stores a verdict: the event and one pending delivery per enabled
endpoint of the service are added to the caller's session, so they commit or roll back with the decision.
Nothing is sent here; `tutela.effects.deliverer` sends after commit.

Per-item sequence numbers are assigned as max + 1 within the transaction. Two transactions enqueueing for
the same item at once would pick the same number: on SQLite write transactions are serialised (BEGIN
IMMEDIATE); on PostgreSQL the caller must hold the item's row lock (the pipeline updates the item in the same
transaction), or the second commit fails on the unique (item_id, item_seq) constraint rather than reorder.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.orm import Session

from tutela.db.driver import DriverInsert, DriverQuery
from tutela.db.types import utc_now
from tutela.effects.models import DeliveryState, OutboxEvent, WebhookDelivery, WebhookEndpoint


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """What `enqueue` wrote: the row id, the event id webhooks carry, the per-item number and the body."""

    id: int
    event_id: str
    item_seq: int | None
    event_type: str
    payload: str
    deliveries: int
    """Pending deliveries added, one per enabled endpoint of the service (0: nothing to send)."""


_INSERT_EVENT = DriverInsert(OutboxEvent)
_INSERT_DELIVERY = insert(WebhookDelivery)
_ENABLED_ENDPOINTS = DriverQuery(
    select(WebhookEndpoint.id).where(
        WebhookEndpoint.service_id == bindparam("service_id"), WebhookEndpoint.enabled.is_(True)
    )
)
_LAST_ITEM_SEQ = select(func.max(OutboxEvent.item_seq)).where(OutboxEvent.item_id == bindparam("item_id"))
"""Statements built once: building and cache-keying a statement per call cost more than running it."""


def enqueue(
    session: Session | Connection,
    *,
    service_id: int,
    item_id: int | None,
    event_type: str,
    payload: dict[str, Any],
    first_for_item: bool = False,
) -> QueuedEvent:
    """Add an event and its pending deliveries in `session`'s transaction; the caller's commit makes them
    real.

    `payload` must be JSON-serialisable (TypeError otherwise, before anything is added). The event's
    `item_seq` is the next number for `item_id`, or None for an event about no item; `first_for_item`
    says the item was created in this transaction, so its number is 1 without a look.
    """
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    connection = session.connection() if isinstance(session, Session) else session
    item_seq = None
    if item_id is not None and first_for_item:
        item_seq = 1
    elif item_id is not None:
        current = connection.execute(_LAST_ITEM_SEQ, {"item_id": item_id}).scalar()
        item_seq = 1 if current is None else current + 1
    now = utc_now()
    event = QueuedEvent(0, str(uuid.uuid4()), item_seq, event_type, body, 0)
    inserted = _INSERT_EVENT(
        connection,
        {
            "event_id": event.event_id,
            "service_id": service_id,
            "item_id": item_id,
            "item_seq": item_seq,
            "event_type": event_type,
            "payload": body,
            "created_at": now,
        },
    )
    event = replace(event, id=inserted)
    endpoint_ids = [row[0] for row in _ENABLED_ENDPOINTS.rows(connection, {"service_id": service_id})]
    event = replace(event, deliveries=len(endpoint_ids))
    if endpoint_ids:
        connection.execute(
            _INSERT_DELIVERY,
            [
                {
                    "outbox_event_id": event.id,
                    "endpoint_id": endpoint_id,
                    "item_id": item_id,
                    "item_seq": item_seq,
                    "state": DeliveryState.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for endpoint_id in endpoint_ids
            ],
        )
    return event
