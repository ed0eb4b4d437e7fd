"""row_object builds the instance the declarative constructor would, without attribute events."""

from __future__ import annotations

from sqlalchemy import inspect

from tutela.db.rows import row_object
from tutela.db.types import utc_now
from tutela.pipeline.models import Evaluation


def test_a_row_object_reads_like_a_constructed_instance() -> None:
    values = {"id": 7, "item_id": 3, "digest": "ab" * 32, "status": "done", "created_at": utc_now()}
    values |= {"signals": [{"type": "md5", "value": "00" * 16}], "verdict": None}
    built, constructed = row_object(Evaluation, values), Evaluation(**values)
    for column in Evaluation.__table__.columns:
        assert getattr(built, column.key) == getattr(constructed, column.key), column.key
    state = inspect(built)
    assert state.transient
    assert not any(state.attrs[key].history.has_changes() for key in values)
