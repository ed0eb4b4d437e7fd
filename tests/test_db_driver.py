"""DriverInsert writes exactly the row SQLAlchemy's `execute(insert(model), values)` writes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Connection, bindparam, insert, select, text

from tutela.app import Tutela
from tutela.db.base import Base
from tutela.db.driver import DriverInsert, DriverQuery
from tutela.effects.models import OutboxEvent
from tutela.pipeline.models import Evaluation, Item, Job
from tutela.settings import Settings

NOW = datetime(2026, 11, 29, 14, 30, 1, 123456, tzinfo=UTC)
ELSEWHERE = datetime(2026, 11, 29, 16, 30, 1, 5, tzinfo=timezone(timedelta(hours=2)))


def _rows(item_id: int, evaluation_id: int) -> list[tuple[type[Base], dict[str, Any]]]:
    item = {"service_id": 1, "content_id": "c", "account_id": None, "surface": "public_post"}
    item |= {"jurisdiction": "DE", "age_band": None, "created_at": NOW, "updated_at": ELSEWHERE}
    queued = {"item_id": item_id, "service_id": 1, "digest": "ab" * 32, "input_kind": "content"}
    queued |= {"status": "queued", "attempts": 0, "spool_name": None, "signals": None, "created_at": NOW}
    finished = {**queued, "digest": "cd" * 32, "status": "done", "attempts": 1, "signals": [{"type": "pdq"}]}
    finished |= {
        "matches": [{"bank": "b", "distance": 3, "note": "é ✓"}],
        "verdict": {"actions": ["block"], "nested": {"x": None, "y": 1.5}},
        "rules_fired": [],
        "automated": True,
        "bank_seq": 7,
        "spool_expires_at": ELSEWHERE,
        "finished_at": NOW,
    }
    job = {"evaluation_id": evaluation_id, "lane": "live", "priority": 0, "state": "done", "attempts": 1}
    job |= {"lease_owner": None, "lease_expires_at": None, "available_at": NOW, "created_at": NOW}
    job |= {"updated_at": NOW}
    event = {"event_id": "e", "service_id": 1, "item_id": item_id, "item_seq": 1, "event_type": "verdict"}
    event |= {"payload": '{"a":1}', "created_at": NOW}
    return [(Item, item), (Evaluation, queued), (Evaluation, finished), (Job, job), (OutboxEvent, event)]


@pytest.mark.parametrize("returning", [None, True], ids=["dialect-default", "returning"])
def test_rows_are_stored_as_sqlalchemy_stores_them(settings: Settings, returning: bool | None) -> None:
    """Each row twice, once per path, differing only in its unique columns; stored values compared raw.

    With `returning=True` the new id comes from RETURNING, as on PostgreSQL, instead of SQLite's lastrowid;
    the row read back by that id must be the one just written."""
    app = Tutela.open(settings)
    service = app.services.create("s")
    with app.database.write_connection() as connection:
        item_id = DriverInsert(Item, returning=returning)(
            connection, _rows(0, 0)[0][1] | {"service_id": service.id}
        )
        owned = _rows(item_id, 0)[1][1] | {"service_id": service.id}
        evaluations = [
            DriverInsert(Evaluation, returning=returning)(connection, owned | {"digest": f"job{n}"})
            for n in (1, 2)
        ]
        for model, values in _rows(item_id, 0):
            if "service_id" in values:
                values = values | {"service_id": service.id}
            unique = sorted({"content_id", "digest", "event_id"} & set(values))
            stored = []
            ours = DriverInsert(model, returning=returning).__call__
            for n, insert_row in enumerate((ours, _sqlalchemy_insert(model)), 1):
                row_values = values | {key: f"{values[key]}-{n}" for key in unique}
                if model is Job:  # one job per evaluation
                    row_values["evaluation_id"] = evaluations[n - 1]
                if model is OutboxEvent:  # one event per (item, number)
                    row_values["item_seq"] = n
                row_id = insert_row(connection, row_values)
                select_row = text(f"SELECT * FROM {model.__tablename__} WHERE id = :id")
                row = connection.execute(select_row, {"id": row_id}).one()._asdict()
                for key in ("id", "evaluation_id", "item_seq", *unique):
                    row.pop(key, None)
                stored.append(row)
            assert stored[0] == stored[1], model
    app.close()


def _sqlalchemy_insert(model: type[Base]) -> Callable[[Connection, dict[str, Any]], int]:
    def run(connection: Connection, values: dict[str, Any]) -> int:
        key = connection.execute(insert(model), values).inserted_primary_key
        assert key is not None
        return int(key[0])

    return run


def test_columns_with_python_defaults_must_be_given(settings: Settings) -> None:
    app = Tutela.open(settings)
    values = _rows(1, 1)[0][1]
    del values["created_at"]
    with (
        pytest.raises(ValueError, match="must give created_at"),
        app.database.write_connection() as connection,
    ):
        DriverInsert(Item)(connection, values)
    app.close()


def test_a_driver_query_returns_the_rows_sqlalchemy_returns(settings: Settings) -> None:
    app = Tutela.open(settings)
    service = app.services.create("s")
    by_service = DriverQuery(
        select(Item.id, Item.content_id)
        .where(Item.service_id == bindparam("service_id"), Item.created_at < bindparam("before"))
        .order_by(Item.id)
    )
    with app.database.write_connection() as connection:
        for n in range(3):
            item = _rows(0, 0)[0][1] | {"service_id": service.id, "content_id": f"c{n}"}
            DriverInsert(Item)(connection, item | {"created_at": NOW + timedelta(minutes=n)})
        for before in (NOW, NOW + timedelta(minutes=1, seconds=1), ELSEWHERE):  # a timestamp bind, converted
            values = {"service_id": service.id, "before": before}
            expected = [tuple(row) for row in connection.execute(by_service.statement, values)]
            assert by_service.rows(connection, values) == expected
        assert len(by_service.rows(connection, {"service_id": service.id, "before": NOW + timedelta(1)})) == 3
    app.close()


def test_a_driver_query_may_carry_constants_and_run_on_a_bare_connection(settings: Settings) -> None:
    app = Tutela.open(settings)
    service = app.services.create("s")
    chosen = DriverQuery(  # `Item.id > 0` and the two bound names carry their own values
        select(Item.content_id)
        .where(Item.content_id.in_([bindparam("a", "c0"), bindparam("b", "c2")]), Item.id > 0)
        .order_by(Item.content_id)
    )
    with app.database.write_connection() as connection:
        for n in range(3):
            item = _rows(0, 0)[0][1] | {"service_id": service.id, "content_id": f"c{n}"}
            DriverInsert(Item)(connection, item | {"created_at": NOW})
    with app.database.connect() as connection:
        assert chosen.rows(connection, {}) == [("c0",), ("c2",)]
        assert chosen.rows(connection, {"b": "c1"}) == [("c0",), ("c1",)]  # a given value wins
        bare = connection.connection.driver_connection
        assert chosen.rows_on(bare, connection.dialect, {}) == [("c0",), ("c2",)]
    app.close()
