"""Effects: the outbox written in the decision's transaction, and its deliverers (signed webhooks)."""

from tutela.effects.deliverer import ClaimedDelivery, WebhookDeliverer, event_body
from tutela.effects.models import DeliveryState, OutboxEvent, WebhookDelivery, WebhookEndpoint
from tutela.effects.outbox import enqueue
from tutela.effects.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    ITEM_SEQ_HEADER,
    SIGNATURE_HEADER,
    sign,
    verify,
)
from tutela.effects.stats import DeliveryStats, dead_deliveries, delivery_stats, retry_dead

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "ITEM_SEQ_HEADER",
    "SIGNATURE_HEADER",
    "ClaimedDelivery",
    "DeliveryState",
    "DeliveryStats",
    "OutboxEvent",
    "WebhookDeliverer",
    "WebhookDelivery",
    "WebhookEndpoint",
    "dead_deliveries",
    "delivery_stats",
    "enqueue",
    "event_body",
    "retry_dead",
    "sign",
    "verify",
]
