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
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tutela.db.types import utc_now
from tutela.effects.models import DeliveryState, OutboxEvent, WebhookDelivery, WebhookEndpoint


def enqueue(
    session: Session,
    *,
    service_id: int,
    item_id: int | None,
    event_type: str,
    payload: dict[str, Any],
) -> OutboxEvent:
    """Add an event and its pending deliveries to `session`; the caller's commit makes them real.

    `payload` must be JSON-serialisable (TypeError otherwise, before anything is added). The event's
    `item_seq` is the next number for `item_id`, or None for an event about no item.
    """
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    item_seq = None if item_id is None else _next_item_seq(session, item_id)
    now = utc_now()
    event = OutboxEvent(
        event_id=str(uuid.uuid4()),
        service_id=service_id,
        item_id=item_id,
        item_seq=item_seq,
        event_type=event_type,
        payload=body,
        created_at=now,
    )
    session.add(event)
    session.flush()
    endpoint_ids = session.scalars(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.service_id == service_id, WebhookEndpoint.enabled.is_(True)
        )
    ).all()
    session.add_all(
        WebhookDelivery(
            outbox_event_id=event.id,
            endpoint_id=endpoint_id,
            item_id=item_id,
            item_seq=item_seq,
            state=DeliveryState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for endpoint_id in endpoint_ids
    )
    session.flush()
    return event


def _next_item_seq(session: Session, item_id: int) -> int:
    current = session.scalar(select(func.max(OutboxEvent.item_seq)).where(OutboxEvent.item_id == item_id))
    return 1 if current is None else current + 1
