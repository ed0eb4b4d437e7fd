"""Delivering outbox events to platform webhooks: leased, signed, retried, in per-item order.

One round (`deliver_due`):
1. Claim, in one short write transaction, up to `limit` due deliveries: pending, `next_attempt_at` passed, no
   live lease, endpoint enabled, and no earlier `item_seq` of the same item to the same endpoint that is not
   yet delivered. Each row is taken with a compare-and-set UPDATE (state still pending, lease still free), so
   two deliverers, in this process or another, never hold the same row; the lease lasts
   `webhook_lease_seconds`.
2. Send each claimed delivery outside any transaction, through `GuardedTransport` (public targets only unless
   `allow_private_network_targets`; no redirects followed). A pool of `webhook_concurrency` threads sends to
   that many endpoints at once, one endpoint's deliveries one after another; `run` claims only for endpoints
   with nothing in flight here, so a slow endpoint delays only its own deliveries. Claimed deliveries not sent
   (no free sender, stopping, or a lease too short for another request) are released.
3. Record each result in its own transaction, only while still holding the lease: 2xx -> delivered; otherwise
   attempts + 1 and the next attempt after min(cap, base * 2**(attempts - 1)), less up to 50% jitter; after
   `webhook_max_attempts` -> dead.

Delivery is at least once: a deliverer killed after the platform answered but before step 3 leaves its lease
to expire, and another deliverer sends the event again. Receivers dedupe by `Tutela-Event-Id`. In the normal
path (no crash, lease longer than the request timeout) every (event, endpoint) is sent until it succeeds once.

Ordering: a dead delivery still blocks later events of the same item to the same endpoint. A block and its
later reversal must never be applied out of order, and silently skipping the block would let the reversal
arrive first. An operator requeues the dead delivery (`retry_dead`) once the endpoint works again, and the
blocked ones follow in order; `delivery_stats` counts the blocked rows so an alert can fire.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import httpx
from sqlalchemy import ColumnElement, CursorResult, Result, bindparam, exists, or_, select, update
from sqlalchemy.orm import aliased

from tutela.db.session import Database
from tutela.db.types import utc_now
from tutela.effects.models import DeliveryState, OutboxEvent, WebhookDelivery, WebhookEndpoint
from tutela.effects.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    ITEM_SEQ_HEADER,
    SIGNATURE_HEADER,
    sign,
)
from tutela.net.errors import NetError
from tutela.net.guard import Resolver
from tutela.net.transport import GuardedTransport
from tutela.ops.thread_names import name_this_thread
from tutela.settings import Settings

log = logging.getLogger(__name__)

PENDING = DeliveryState.PENDING.value
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery this deliverer holds the lease on, with everything needed to send it."""

    delivery_id: int
    endpoint_id: int
    attempts: int
    url: str
    secret: str
    event_id: str
    event_type: str
    item_seq: int | None
    body: bytes
    lease_expires_at: datetime


def event_body(event: OutboxEvent) -> bytes:
    """The JSON body of an event; the same bytes on every attempt (see docs/webhooks.md)."""
    envelope = {
        "id": event.event_id,
        "type": event.event_type,
        "created_at": event.created_at.isoformat(),
        "service_id": event.service_id,
        "item_id": event.item_id,
        "item_seq": event.item_seq,
        "data": json.loads(event.payload),
    }
    return json.dumps(envelope, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookDeliverer:
    """Sends due webhook deliveries; safe to run in several threads or processes at once. Close after use."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        transport: httpx.BaseTransport | None = None,
        *,
        owner: str | None = None,
        resolver: Resolver | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._database = database
        self._settings = settings
        self.owner = owner or f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._rng = rng or random.Random()
        if settings.webhook_lease_seconds <= settings.webhook_timeout_seconds:
            log.warning(
                "webhook_lease_seconds (%s) should exceed webhook_timeout_seconds (%s): a lease that expires "
                "during a request lets another deliverer send the same event again",
                settings.webhook_lease_seconds,
                settings.webhook_timeout_seconds,
            )
        guarded = GuardedTransport(
            transport, allow_private=settings.allow_private_network_targets, resolver=resolver
        )
        self._client = httpx.Client(
            transport=guarded,
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
        )
        self._concurrency = settings.webhook_concurrency
        self._pool = ThreadPoolExecutor(
            settings.webhook_concurrency, thread_name_prefix="webhook-send", initializer=name_this_thread
        )

    def close(self) -> None:
        """Wait for sends in flight (each ends within webhook_timeout_seconds), then release the client."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> WebhookDeliverer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def deliver_due(self, limit: int | None = None) -> int:
        """Claim up to `limit` (default: webhook_batch_size) due deliveries, send them (different endpoints
        concurrently, each endpoint's in claim order) and wait for all; return how many were claimed."""
        claimed = self.claim(limit or self._settings.webhook_batch_size)
        never = threading.Event()
        sends = [self._pool.submit(self.send_in_order, group, never) for group in by_endpoint(claimed)]
        for finished in sends:
            finished.result()
        return len(claimed)

    def run(
        self, stop: threading.Event, interval: float = 1.0, wakeup: threading.Event | None = None
    ) -> None:
        """Deliver until `stop` is set, waiting `interval` seconds whenever a round starts nothing new.

        Up to `webhook_concurrency` endpoints are sent to at once, one request in flight per endpoint: each
        round claims due deliveries only for endpoints with no send in flight here, so a slow endpoint holds
        one sender and delays nobody else. A finished send ends the wait. `wakeup`, when given, ends it too:
        the in-process pipeline sets it after storing verdicts (whose outbox events are then due), and
        whoever sets `stop` must set it too (without `wakeup`, `stop` is seen within `interval`). An idle
        round is one read-only query (`has_due`), and none when nothing was committed since the last
        (`ChangeProbe`); the write transaction of `claim` runs only when something may be due. On `stop`,
        sends in flight finish their current request and release the rest of their deliveries.
        """
        signal = wakeup if wakeup is not None else threading.Event()
        in_flight: dict[int, Future[None]] = {}
        probe = self._database.change_probe()
        try:
            while not stop.is_set():
                signal.clear()  # before looking: a verdict stored or a send finished after this ends the wait
                for endpoint_id, sending in list(in_flight.items()):
                    if sending.done():
                        del in_flight[endpoint_id]
                        if sending.exception() is not None:
                            probe.invalidate()
                            log.error("webhook send failed", exc_info=sending.exception())
                free = self._concurrency - len(in_flight)
                try:
                    started = free > 0 and probe.changed() and self.has_due()
                    started = started and self._start(free, in_flight, stop, signal)
                except Exception:
                    probe.invalidate()
                    log.exception("webhook delivery round failed; retrying in %s s", interval)
                    started = False
                if not started:
                    signal.wait(interval)
        finally:
            for sending in in_flight.values():
                sending.exception()  # waits: no send outlives run(); it was logged if it failed
            probe.close()

    def _start(
        self, free: int, in_flight: dict[int, Future[None]], stop: threading.Event, signal: threading.Event
    ) -> bool:
        """Claim for endpoints not in flight, start up to `free` of them, release the rest; whether any."""
        groups = by_endpoint(self.claim(self._settings.webhook_batch_size, skip_endpoints=in_flight.keys()))
        for group in groups[free:]:
            self.release(group)
        for group in groups[:free]:
            sending = self._pool.submit(self.send_in_order, group, stop)
            sending.add_done_callback(lambda _done: signal.set())
            in_flight[group[0].endpoint_id] = sending
        return bool(groups)

    def send_in_order(self, deliveries: list[ClaimedDelivery], stop: threading.Event) -> None:
        """Send claimed deliveries one after another (one endpoint's, in claim order) until `stop` is set or
        a lease would run out during the request; release the leases of the ones not sent."""
        for sent, delivery in enumerate(deliveries):
            if stop.is_set() or not self._lease_outlasts_request(delivery):
                self.release(deliveries[sent:])
                return
            self.send(delivery)

    def release(self, deliveries: list[ClaimedDelivery]) -> None:
        """Give up the leases of claimed deliveries not sent, so that another round may claim them now."""
        if not deliveries:
            return
        with self._database.write() as session:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_([delivery.delivery_id for delivery in deliveries]),
                    WebhookDelivery.state == PENDING,
                    WebhookDelivery.lease_owner == self.owner,
                )
                .values(lease_owner=None, lease_expires_at=None)
                .execution_options(synchronize_session=False)
            )

    def _lease_outlasts_request(self, delivery: ClaimedDelivery) -> bool:
        timeout = timedelta(seconds=self._settings.webhook_timeout_seconds)
        return utc_now() + timeout < delivery.lease_expires_at

    def has_due(self) -> bool:
        """Whether some pending delivery is due and not leased: a cheap read, so that an idle deliverer does
        not take the write lock to find nothing (`claim` applies the full conditions)."""
        with self._database.connect() as connection:
            return bool(connection.execute(_HAS_DUE, {"now": utc_now()}).scalar())

    def claim(self, limit: int, skip_endpoints: Collection[int] = ()) -> list[ClaimedDelivery]:
        """Lease up to `limit` due deliveries for `webhook_lease_seconds`, oldest due first, none of them to
        an endpoint in `skip_endpoints` (those this deliverer is sending to already)."""
        now = utc_now()
        lease_until = now + timedelta(seconds=self._settings.webhook_lease_seconds)
        delivery = WebhookDelivery
        earlier = aliased(WebhookDelivery)
        blocked = exists().where(
            earlier.endpoint_id == delivery.endpoint_id,
            earlier.item_id == delivery.item_id,
            earlier.item_seq < delivery.item_seq,
            earlier.state != DeliveryState.DELIVERED.value,
        )
        with self._database.write() as session:
            candidates = session.scalars(
                select(delivery.id)
                .join(WebhookEndpoint, WebhookEndpoint.id == delivery.endpoint_id)
                .where(
                    delivery.state == PENDING,
                    delivery.next_attempt_at <= now,
                    _lease_free(now),
                    WebhookEndpoint.enabled.is_(True),
                    delivery.endpoint_id.not_in(list(skip_endpoints)),
                    ~blocked,
                )
                .order_by(delivery.next_attempt_at, delivery.id)
                .limit(limit)
            ).all()
            claim = (
                update(delivery)
                .values(lease_owner=self.owner, lease_expires_at=lease_until)
                .execution_options(synchronize_session=False)
            )
            taken = [
                delivery_id
                for delivery_id in candidates
                if _rowcount(
                    session.execute(
                        claim.where(delivery.id == delivery_id, delivery.state == PENDING, _lease_free(now))
                    )
                )
                == 1
            ]
            rows = session.execute(
                select(delivery, OutboxEvent, WebhookEndpoint)
                .join(OutboxEvent, OutboxEvent.id == delivery.outbox_event_id)
                .join(WebhookEndpoint, WebhookEndpoint.id == delivery.endpoint_id)
                .where(delivery.id.in_(taken))
                .order_by(delivery.next_attempt_at, delivery.id)
            ).all()
        return [
            ClaimedDelivery(
                delivery_id=row.id,
                endpoint_id=row.endpoint_id,
                attempts=row.attempts,
                url=endpoint.url,
                secret=endpoint.secret,
                event_id=event.event_id,
                event_type=event.event_type,
                item_seq=event.item_seq,
                body=event_body(event),
                lease_expires_at=lease_until,
            )
            for row, event, endpoint in rows
        ]

    def send(self, delivery: ClaimedDelivery) -> bool:
        """POST one claimed delivery and record the outcome; True if the endpoint answered 2xx.

        A delivery whose lease would run out before the request's timeout is not sent (its lease lapses and a
        later round claims it again, with no attempt counted), so a slow batch cannot outlive its leases
        and let another deliverer send the same rows at the same time.
        """
        if not self._lease_outlasts_request(delivery):
            log.info(
                "lease on webhook delivery %s too short to send it now; left for later", delivery.delivery_id
            )
            return False
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tutela-Webhooks",
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.event_type,
            SIGNATURE_HEADER: sign(delivery.secret, delivery.body, int(time.time())),
        }
        if delivery.item_seq is not None:
            headers[ITEM_SEQ_HEADER] = str(delivery.item_seq)
        status: int | None = None
        error: str | None = None
        try:
            request = self._client.build_request("POST", delivery.url, content=delivery.body, headers=headers)
            response = self._client.send(request, stream=True)
            response.close()
            status = response.status_code
            if not response.is_success:
                error = f"HTTP {status}"
        except (httpx.HTTPError, httpx.InvalidURL, NetError) as failure:
            error = f"{type(failure).__name__}: {failure}"[:MAX_ERROR_CHARS]
        self._record(delivery, status, error)
        return error is None

    def _record(self, delivery: ClaimedDelivery, status: int | None, error: str | None) -> None:
        now = utc_now()
        values: dict[str, object] = {"lease_owner": None, "lease_expires_at": None, "last_status": status}
        attempts = delivery.attempts + 1
        values["attempts"] = attempts
        values["last_error"] = error
        if error is None:
            values.update(state=DeliveryState.DELIVERED.value, delivered_at=now)
        elif attempts >= self._settings.webhook_max_attempts:
            values["state"] = DeliveryState.DEAD.value
            log.warning(
                "webhook delivery %s is dead after %s attempts: %s", delivery.delivery_id, attempts, error
            )
        else:
            values["next_attempt_at"] = now + timedelta(seconds=self.backoff_seconds(attempts))
        with self._database.write() as session:
            updated = _rowcount(
                session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery.delivery_id,
                        WebhookDelivery.state == PENDING,
                        WebhookDelivery.lease_owner == self.owner,
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
            )
        if updated != 1:
            log.warning("lost the lease on webhook delivery %s before recording it", delivery.delivery_id)

    def backoff_seconds(self, attempts: int) -> float:
        """Wait before the next attempt after `attempts` failures: capped doubling, less up to 50% jitter."""
        base = self._settings.webhook_backoff_base_seconds
        delay = min(self._settings.webhook_backoff_cap_seconds, base * 2 ** (attempts - 1))
        return float(delay * (1 - 0.5 * self._rng.random()))


_HAS_DUE = select(
    exists().where(
        WebhookDelivery.state == PENDING,
        WebhookDelivery.next_attempt_at <= bindparam("now"),
        or_(WebhookDelivery.lease_expires_at.is_(None), WebhookDelivery.lease_expires_at <= bindparam("now")),
    )
)
"""Built once: every idle round of every deliverer runs it (building it cost ~1 ms of CPU per round)."""


def by_endpoint(deliveries: list[ClaimedDelivery]) -> list[list[ClaimedDelivery]]:
    """Claimed deliveries by endpoint: groups in order of their first delivery, each in claim order."""
    groups: dict[int, list[ClaimedDelivery]] = {}
    for delivery in deliveries:
        groups.setdefault(delivery.endpoint_id, []).append(delivery)
    return list(groups.values())


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(WebhookDelivery.lease_expires_at.is_(None), WebhookDelivery.lease_expires_at <= now)


def _rowcount(result: Result[Any]) -> int:
    return cast(CursorResult[Any], result).rowcount
