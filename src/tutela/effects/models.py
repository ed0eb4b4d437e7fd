"""Outbox tables: webhook endpoints, outbox events and one delivery row per (event, endpoint).

An outbox event is written in the same transaction as the decision that causes it, so it exists exactly when
the decision does. Its deliveries are the deliverer's bookkeeping: state, attempts, the next attempt time and
a lease, so that two deliverers never send the same row at once and a crashed one's rows are picked up again.

Deliveries copy the event's `item_id` and `item_seq`, which never change, so the per-item ordering check is
one indexed lookup on the delivery table.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tutela.db.base import Base
from tutela.db.types import UtcDateTime, utc_now


class DeliveryState(enum.StrEnum):
    """Where a delivery is; stored by value, so the values never change."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class WebhookEndpoint(Base):
    """A URL of a service that receives signed event webhooks."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(256))
    """The HMAC key, shared with the platform; stored as given because signing needs it."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class OutboxEvent(Base):
    """One effect to announce; immutable once written."""

    __tablename__ = "outbox_events"
    __table_args__ = (UniqueConstraint("item_id", "item_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int | None] = mapped_column(Integer)
    item_seq: Mapped[int | None] = mapped_column(Integer)
    """1, 2, 3... per item; None for an event that concerns no item."""
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    """JSON text, serialised once so every attempt sends the same bytes."""
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class WebhookDelivery(Base):
    """One event to one endpoint: pending until a 2xx answer, dead after the last attempt failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("outbox_event_id", "endpoint_id"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint_item", "endpoint_id", "item_id", "item_seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    item_id: Mapped[int | None] = mapped_column(Integer)
    item_seq: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
