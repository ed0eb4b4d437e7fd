"""The deliverer against a real receiver on loopback (or an injected MockTransport): signing, retries, dead
letters, per-item order and leases."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from tutela.db import Database, create_engine, upgrade
from tutela.effects import (
    DeliveryState,
    WebhookDeliverer,
    WebhookDelivery,
    WebhookEndpoint,
    delivery_stats,
    enqueue,
    retry_dead,
    verify,
)
from tutela.effects.testing import WebhookReceiver
from tutela.services.models import Service
from tutela.settings import Settings

SECRET = "whsec_test"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        allow_private_network_targets=True,
        webhook_timeout_seconds=2.0,
        webhook_backoff_base_seconds=0.01,
        webhook_backoff_cap_seconds=0.02,
        webhook_max_attempts=3,
        webhook_lease_seconds=5.0,
    )


@pytest.fixture
def database(settings: Settings) -> Database:
    engine = create_engine(settings)
    upgrade(engine)
    return Database(engine)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def add_service(database: Database, *urls: str, name: str = "platform") -> int:
    with database.write() as session:
        service = Service(name=name)
        session.add(service)
        session.flush()
        session.add_all(WebhookEndpoint(service_id=service.id, url=url, secret=SECRET) for url in urls)
        return service.id


def add_event(database: Database, service_id: int, item_id: int | None, action: str) -> str:
    with database.write() as session:
        event = enqueue(
            session,
            service_id=service_id,
            item_id=item_id,
            event_type="item.action",
            payload={"action": action},
        )
        return event.event_id


def deliveries(database: Database) -> list[WebhookDelivery]:
    with database.read() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all())


def drain(deliverer: WebhookDeliverer, database: Database, rounds: int = 200) -> None:
    """Run rounds until nothing is pending, waiting out the (tiny) backoff between them."""
    for _ in range(rounds):
        deliverer.deliver_due()
        if delivery_stats(database).pending == 0:
            return
        time.sleep(0.005)
    raise AssertionError("deliveries still pending")


def test_delivers_signed_json_with_event_headers(
    database: Database, settings: Settings, receiver: WebhookReceiver
) -> None:
    service_id = add_service(database, receiver.url)
    event_id = add_event(database, service_id, 41, "block")
    with WebhookDeliverer(database, settings) as deliverer:
        assert deliverer.deliver_due() == 1
        assert deliverer.deliver_due() == 0
    [request] = receiver.received
    assert request.path == "/hook"
    assert request.event_id == event_id
    assert request.item_seq == 1
    assert request.headers["content-type"] == "application/json"
    assert verify(SECRET, request.body, request.signature)
    body = json.loads(request.body)
    assert body["id"] == event_id
    assert (body["type"], body["item_id"], body["item_seq"], body["service_id"]) == (
        "item.action",
        41,
        1,
        service_id,
    )
    assert body["data"] == {"action": "block"}
    [row] = deliveries(database)
    assert (row.state, row.attempts, row.last_status, row.lease_owner) == ("delivered", 1, 200, None)
    stats = delivery_stats(database)
    assert (stats.delivered, stats.pending, stats.failed_attempts, stats.oldest_pending_seconds) == (
        1,
        0,
        0,
        None,
    )


def test_failures_back_off_then_dead_letter_then_requeue(database: Database, settings: Settings) -> None:
    settings = settings.model_copy(
        update={"webhook_backoff_base_seconds": 0.2, "webhook_backoff_cap_seconds": 0.3}
    )
    calls: list[float] = []
    healthy = False

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        return httpx.Response(200 if healthy else 503)

    service_id = add_service(database, "https://platform.example/hook")
    add_event(database, service_id, 1, "block")
    resolver = {"platform.example": ["93.184.216.34"]}
    with WebhookDeliverer(
        database, settings, httpx.MockTransport(handler), resolver=lambda host, _port: resolver[host]
    ) as deliverer:
        assert deliverer.deliver_due() == 1
        assert deliverer.deliver_due() == 0, "the retry waits for its backoff"
        drain(deliverer, database)
        [row] = deliveries(database)
        assert (row.state, row.attempts, row.last_status, row.last_error) == ("dead", 3, 503, "HTTP 503")
        assert len(calls) == 3
        assert calls[2] - calls[1] >= settings.webhook_backoff_cap_seconds * 0.5
        stats = delivery_stats(database)
        assert (stats.dead, stats.failed_attempts, stats.pending) == (1, 3, 0)
        healthy = True
        assert retry_dead(database, row.id)
        assert not retry_dead(database, row.id), "only dead deliveries are requeued"
        drain(deliverer, database)
    [row] = deliveries(database)
    assert (row.state, row.attempts, row.last_status) == ("delivered", 1, 200)
    assert len(calls) == 4


def test_backoff_doubles_up_to_the_cap_with_jitter(database: Database, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, webhook_backoff_base_seconds=10, webhook_backoff_cap_seconds=60)
    with WebhookDeliverer(database, settings) as deliverer:
        for attempts, full in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60)]:
            delays = [deliverer.backoff_seconds(attempts) for _ in range(50)]
            assert all(full / 2 <= delay <= full for delay in delays)


def test_later_event_of_an_item_waits_for_the_earlier_one(database: Database, settings: Settings) -> None:
    seen: list[tuple[str, str]] = []
    fail_first = True

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((body["data"]["action"], request.url.host))
        if body["data"]["action"] == "block" and fail_first:
            return httpx.Response(500)
        return httpx.Response(204)

    service_id = add_service(database, "http://platform.example/hook")
    add_event(database, service_id, 7, "block")
    add_event(database, service_id, 7, "unblock")
    add_event(database, service_id, 8, "label")
    with WebhookDeliverer(
        database, settings, httpx.MockTransport(handler), resolver=lambda _h, _p: ["93.184.216.34"]
    ) as deliverer:
        assert deliverer.deliver_due() == 2, "item 7 seq 2 is not due while seq 1 is pending"
        assert [action for action, _ in seen] == ["block", "label"]
        assert {host for _, host in seen} == {"93.184.216.34"}, "connects to the checked address"
        fail_first = False
        drain(deliverer, database)
    assert [action for action, _ in seen] == ["block", "label", "block", "unblock"]


def test_dead_event_keeps_blocking_the_items_later_events(database: Database, settings: Settings) -> None:
    healthy = False

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if healthy else 500)

    service_id = add_service(database, "http://platform.example/hook")
    add_event(database, service_id, 7, "block")
    add_event(database, service_id, 7, "unblock")
    with WebhookDeliverer(
        database, settings, httpx.MockTransport(handler), resolver=lambda _h, _p: ["93.184.216.34"]
    ) as deliverer:
        for _ in range(100):
            deliverer.deliver_due()
            if delivery_stats(database).dead:
                break
            time.sleep(0.005)
        healthy = True
        time.sleep(0.03)
        assert deliverer.deliver_due() == 0
        first, second = deliveries(database)
        assert (first.state, second.state, second.attempts) == ("dead", "pending", 0)
        assert delivery_stats(database).blocked_by_dead == 1
        assert retry_dead(database, first.id)
        drain(deliverer, database)
    assert [d.state for d in deliveries(database)] == ["delivered", "delivered"]


def test_a_crashed_deliverers_lease_expires_and_another_delivers_once(
    database: Database, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        allow_private_network_targets=True,
        webhook_lease_seconds=0.3,
        webhook_timeout_seconds=0.1,
    )
    service_id = add_service(database, receiver.url)
    add_event(database, service_id, 3, "block")
    with (
        WebhookDeliverer(database, settings, owner="crashed") as crashed,
        WebhookDeliverer(database, settings, owner="survivor") as survivor,
    ):
        assert len(crashed.claim(10)) == 1, "claims, then dies before sending"
        assert survivor.deliver_due() == 0, "the lease is still held"
        time.sleep(0.35)
        assert survivor.deliver_due() == 1
        assert survivor.deliver_due() == 0
    assert len(receiver.received) == 1
    [row] = deliveries(database)
    assert (row.state, row.attempts, row.lease_owner) == ("delivered", 1, None)


def test_a_lease_shorter_than_the_timeout_is_not_used_to_send(
    database: Database, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        allow_private_network_targets=True,
        webhook_lease_seconds=1,
        webhook_timeout_seconds=2,
    )
    service_id = add_service(database, receiver.url)
    add_event(database, service_id, 3, "block")
    with WebhookDeliverer(database, settings) as deliverer:
        assert deliverer.deliver_due() == 1
    assert receiver.received == []
    [row] = deliveries(database)
    assert (row.state, row.attempts) == ("pending", 0)


def test_two_deliverers_never_claim_the_same_rows(database: Database, settings: Settings) -> None:
    service_id = add_service(database, "http://a.example/hook", "http://b.example/hook")
    for item_id in range(10):
        add_event(database, service_id, item_id, "block")
    with (
        WebhookDeliverer(database, settings, owner="one") as one,
        WebhookDeliverer(database, settings, owner="two") as two,
    ):
        first = {claimed.delivery_id for claimed in one.claim(12)}
        second = {claimed.delivery_id for claimed in two.claim(12)}
    assert len(first) == 12
    assert len(second) == 8
    assert not first & second


def test_default_settings_refuse_a_loopback_endpoint(
    database: Database, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    settings = Settings(data_dir=tmp_path, webhook_max_attempts=1)
    service_id = add_service(database, receiver.url)
    add_event(database, service_id, 1, "block")
    with WebhookDeliverer(database, settings) as deliverer:
        assert deliverer.deliver_due() == 1
    assert receiver.received == []
    [row] = deliveries(database)
    assert row.state == DeliveryState.DEAD.value
    assert row.last_error is not None
    assert "TargetRefused" in row.last_error
    assert "TUTELA_ALLOW_PRIVATE_NETWORK_TARGETS" in row.last_error


def test_disabled_endpoint_gets_nothing_until_enabled(
    database: Database, settings: Settings, receiver: WebhookReceiver
) -> None:
    service_id = add_service(database, receiver.url)
    add_event(database, service_id, 1, "block")
    with database.write() as session:
        session.execute(update(WebhookEndpoint).values(enabled=False))
    with WebhookDeliverer(database, settings) as deliverer:
        assert deliverer.deliver_due() == 0
        stats = delivery_stats(database)
        assert stats.pending == 1
        assert stats.oldest_pending_seconds is not None
        with database.write() as session:
            session.execute(update(WebhookEndpoint).values(enabled=True))
        assert deliverer.deliver_due() == 1
    assert len(receiver.received) == 1


def test_an_idle_deliverer_is_woken_by_its_wakeup_event_and_has_due_reads_only(
    database: Database, settings: Settings, receiver: WebhookReceiver
) -> None:
    """With an interval far beyond the test, only the wake-up can bring the event out; stop needs it too."""
    service_id = add_service(database, receiver.url)
    stop, wakeup = threading.Event(), threading.Event()
    with WebhookDeliverer(database, settings) as deliverer:
        assert not deliverer.has_due()
        thread = threading.Thread(target=deliverer.run, args=(stop, 3600.0, wakeup))
        thread.start()
        try:
            add_event(database, service_id, 7, "block")
            assert deliverer.has_due()
            wakeup.set()
            deadline = time.monotonic() + 30
            while not receiver.received and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(receiver.received) == 1
            assert not deliverer.has_due()
        finally:
            stop.set()
            wakeup.set()
            thread.join(30)
        assert not thread.is_alive()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.01)


@contextmanager
def running(deliverer: WebhookDeliverer, wakeup: threading.Event, interval: float = 3600.0) -> Iterator[None]:
    """`deliverer.run` in a thread; with the default interval, far beyond the test, rounds start only when
    `wakeup` is set or a send finishes."""
    stop = threading.Event()
    thread = threading.Thread(target=deliverer.run, args=(stop, interval, wakeup))
    thread.start()
    try:
        yield
    finally:
        stop.set()
        wakeup.set()
        thread.join(30)
    assert not thread.is_alive()


def test_a_slow_endpoint_does_not_delay_another_endpoints_deliveries(
    database: Database, tmp_path: Path
) -> None:
    """The slow endpoint holds its request until the test lets it answer, after the fast one got all."""
    settings = Settings(
        data_dir=tmp_path / "var",
        allow_private_network_targets=True,
        webhook_timeout_seconds=60.0,
        webhook_lease_seconds=120.0,
    )
    answer = threading.Event()
    wakeup = threading.Event()
    with (
        WebhookReceiver(answer_after=answer) as slow,
        WebhookReceiver() as fast,
        WebhookDeliverer(database, settings) as deliverer,
    ):
        slow_service = add_service(database, slow.url, name="slow")
        fast_service = add_service(database, fast.url, name="fast")
        with running(deliverer, wakeup):
            try:
                add_event(database, slow_service, 1, "block")
                add_event(database, slow_service, 2, "block")
                wakeup.set()
                wait_until(lambda: len(slow.received) == 1, "the slow endpoint got its first request")
                block, restore = (
                    add_event(database, fast_service, 3, action) for action in ("block", "restore")
                )
                other = add_event(database, fast_service, 4, "block")
                wakeup.set()
                wait_until(
                    lambda: delivery_stats(database).delivered == 3, "the fast endpoint's are delivered"
                )
                fast_ids = [request.event_id for request in fast.received]
                assert sorted(fast_ids) == sorted([block, restore, other])
                assert fast_ids.index(block) < fast_ids.index(restore)
                assert len(slow.received) == 1, "one request in flight per endpoint"
                assert delivery_stats(database).pending == 2, "the slow endpoint cannot have answered yet"
            finally:
                answer.set()  # before the deliverer stops, which waits for the request in flight
            wait_until(lambda: delivery_stats(database).pending == 0, "the slow endpoint answered")
    assert len(slow.received) == 2
    assert {row.state for row in deliveries(database)} == {DeliveryState.DELIVERED.value}


def test_concurrent_deliverers_keep_each_items_order_per_endpoint(
    database: Database, settings: Settings
) -> None:
    """Two running deliverers, three endpoints, interleaved items, some requests failing."""
    wakeup_one, wakeup_two = threading.Event(), threading.Event()
    with (
        WebhookReceiver(status=lambda n: 500 if n < 2 else 200) as first,
        WebhookReceiver() as second,
        WebhookReceiver(status=lambda n: 503 if n == 1 else 200) as third,
        WebhookDeliverer(database, settings, owner="one") as one,
        WebhookDeliverer(database, settings, owner="two") as two,
        running(one, wakeup_one, interval=0.02),
        running(two, wakeup_two, interval=0.02),
    ):
        service_id = add_service(database, first.url, second.url, third.url)
        for round_number in range(4):
            for item_id in (7, 8, 9):
                add_event(database, service_id, item_id, f"action {round_number}")
            wakeup_one.set()
            wakeup_two.set()
        wait_until(lambda: delivery_stats(database).pending == 0, "every delivery is done")
        for receiver in (first, second, third):
            delivered = [request for request in receiver.received if request.status == 200]
            for item_id in (7, 8, 9):
                seqs = [
                    request.item_seq
                    for request in delivered
                    if json.loads(request.body)["item_id"] == item_id
                ]
                assert seqs == [1, 2, 3, 4], (receiver.url, item_id, seqs)
    assert {row.state for row in deliveries(database)} == {DeliveryState.DELIVERED.value}
