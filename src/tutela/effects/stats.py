"""Looking at and repairing webhook deliveries: counts for metrics, the dead letters, requeueing.

Counts come from the delivery table, so they are the same whichever process asks and survive restarts;
`tutela.ops` turns them into gauges and the API lists dead deliveries for operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, case, exists, func, select, update
from sqlalchemy.orm import aliased

from tutela.db.session import Database
from tutela.db.types import utc_now
from tutela.effects.models import DeliveryState, WebhookDelivery, WebhookEndpoint


@dataclass(frozen=True, slots=True)
class DeliveryStats:
    """Webhook delivery counters; `oldest_pending_seconds` is the lag (None when nothing is pending)."""

    pending: int
    delivered: int
    dead: int
    blocked_by_dead: int
    """Pending deliveries waiting behind a dead earlier event of the same item (see the deliverer's docs)."""
    failed_attempts: int
    oldest_pending_seconds: float | None


def delivery_stats(database: Database, now: datetime | None = None) -> DeliveryStats:
    """Current counts over all services."""
    current = now or utc_now()
    state = WebhookDelivery.state
    delivered = DeliveryState.DELIVERED.value
    earlier = aliased(WebhookDelivery)
    behind_dead = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.item_id == WebhookDelivery.item_id,
        earlier.item_seq < WebhookDelivery.item_seq,
        earlier.state == DeliveryState.DEAD.value,
    )
    with database.read() as session:
        grouped = session.execute(select(state, func.count()).group_by(state)).all()
        counts = {str(name): int(count) for name, count in grouped}
        attempts = session.scalar(
            select(
                func.coalesce(func.sum(WebhookDelivery.attempts - case((state == delivered, 1), else_=0)), 0)
            )
        )
        blocked = session.scalar(
            select(func.count()).where(state == DeliveryState.PENDING.value, behind_dead)
        )
        oldest = session.scalar(
            select(func.min(WebhookDelivery.created_at)).where(state == DeliveryState.PENDING.value)
        )
    return DeliveryStats(
        pending=counts.get(DeliveryState.PENDING.value, 0),
        delivered=counts.get(delivered, 0),
        dead=counts.get(DeliveryState.DEAD.value, 0),
        blocked_by_dead=blocked or 0,
        failed_attempts=int(attempts or 0),
        oldest_pending_seconds=None if oldest is None else max(0.0, (current - oldest).total_seconds()),
    )


def dead_deliveries(
    database: Database, service_id: int | None = None, limit: int = 100
) -> list[WebhookDelivery]:
    """Dead deliveries, oldest first, optionally of one service's endpoints."""
    query = select(WebhookDelivery).where(WebhookDelivery.state == DeliveryState.DEAD.value)
    if service_id is not None:
        query = query.join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id).where(
            WebhookEndpoint.service_id == service_id
        )
    with database.read() as session:
        return list(session.scalars(query.order_by(WebhookDelivery.id).limit(limit)).all())


def retry_dead(database: Database, delivery_id: int) -> bool:
    """Requeue a dead delivery with a fresh attempt budget; False if it does not exist or is not dead."""
    with database.write() as session:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.state == DeliveryState.DEAD.value)
            .values(
                state=DeliveryState.PENDING.value,
                attempts=0,
                next_attempt_at=utc_now(),
                lease_owner=None,
                lease_expires_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        return cast(CursorResult[Any], result).rowcount == 1
