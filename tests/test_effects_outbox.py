"""enqueue writes the event and its deliveries in the caller's transaction, numbering events per item."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tutela.db import Database, create_engine, upgrade
from tutela.effects import DeliveryState, OutboxEvent, WebhookDelivery, WebhookEndpoint, enqueue
from tutela.services.models import Service
from tutela.settings import Settings


@pytest.fixture
def database(settings: Settings) -> Database:
    engine = create_engine(settings)
    upgrade(engine)
    return Database(engine)


@pytest.fixture
def service_id(database: Database) -> int:
    with database.write() as session:
        service = Service(name="platform")
        session.add(service)
        session.flush()
        session.add_all(
            [
                WebhookEndpoint(service_id=service.id, url="https://a.example/hook", secret="s1"),
                WebhookEndpoint(service_id=service.id, url="https://b.example/hook", secret="s2"),
                WebhookEndpoint(
                    service_id=service.id, url="https://c.example/hook", secret="s3", enabled=False
                ),
            ]
        )
        return service.id


def test_enqueue_numbers_events_per_item_and_fans_out_to_enabled_endpoints(
    database: Database, service_id: int
) -> None:
    with database.write() as session:
        first = enqueue(
            session, service_id=service_id, item_id=7, event_type="item.blocked", payload={"a": 1}
        )
        second = enqueue(session, service_id=service_id, item_id=7, event_type="item.unblocked", payload={})
        other = enqueue(session, service_id=service_id, item_id=8, event_type="item.blocked", payload={})
        loose = enqueue(session, service_id=service_id, item_id=None, event_type="bank.updated", payload={})
    assert (first.item_seq, second.item_seq, other.item_seq, loose.item_seq) == (1, 2, 1, None)
    assert json.loads(first.payload) == {"a": 1}
    assert len({first.event_id, second.event_id, other.event_id, loose.event_id}) == 4
    with database.read() as session:
        deliveries = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert len(deliveries) == 8
    assert {d.state for d in deliveries} == {DeliveryState.PENDING.value}
    assert [(d.item_id, d.item_seq) for d in deliveries[:4]] == [(7, 1), (7, 1), (7, 2), (7, 2)]


def test_enqueue_in_a_rolled_back_transaction_leaves_nothing(database: Database, service_id: int) -> None:
    def decide_then_fail() -> None:
        with database.write() as session:
            enqueue(session, service_id=service_id, item_id=7, event_type="item.blocked", payload={})
            raise RuntimeError("decision failed")

    with pytest.raises(RuntimeError, match="decision failed"):
        decide_then_fail()
    with database.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    with database.write() as session:
        event = enqueue(session, service_id=service_id, item_id=7, event_type="item.blocked", payload={})
    assert event.item_seq == 1


def test_enqueue_refuses_a_payload_that_is_not_json(database: Database, service_id: int) -> None:
    with database.write() as session:
        with pytest.raises(TypeError):
            enqueue(session, service_id=service_id, item_id=1, event_type="x", payload={"b": b"bytes"})
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
