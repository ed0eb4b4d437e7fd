"""Effects: the outbox written in the decision's transaction, and its deliverers (signed webhooks)."""

from tutela.effects.models import DeliveryState, OutboxEvent, WebhookDelivery, WebhookEndpoint
from tutela.effects.outbox import enqueue

__all__ = [
    "DeliveryState",
    "OutboxEvent",
    "WebhookDelivery",
    "WebhookEndpoint",
    "enqueue",
]
