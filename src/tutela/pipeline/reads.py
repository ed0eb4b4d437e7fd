"""Reading items and evaluations for the API and the CLI (detached snapshots)."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select

from tutela.db.rows import row_object
from tutela.db.session import Database
from tutela.pipeline.models import Evaluation, Item, Job, JobState

_EVALUATION_COLUMNS = tuple(column.key for column in Evaluation.__table__.columns)
_EVALUATION = select(*[getattr(Evaluation, column) for column in _EVALUATION_COLUMNS]).where(
    Evaluation.id == bindparam("evaluation_id")
)
"""Built once: `?wait=true` reads each evaluation it answers with."""


def get_evaluation(database: Database, evaluation_id: int) -> Evaluation | None:
    """A detached snapshot of one evaluation, or None."""
    with database.connect() as connection:
        row = connection.execute(_EVALUATION, {"evaluation_id": evaluation_id}).first()
    return None if row is None else row_object(Evaluation, row._asdict())


def get_item(database: Database, service_id: int, content_id: str) -> Item | None:
    with database.read() as session:
        return session.scalar(
            select(Item).where(Item.service_id == service_id, Item.content_id == content_id)
        )


def evaluations_of(database: Database, item_id: int) -> list[Evaluation]:
    """Every evaluation of an item, oldest first."""
    with database.read() as session:
        return list(
            session.scalars(select(Evaluation).where(Evaluation.item_id == item_id).order_by(Evaluation.id))
        )


def queue_depth(database: Database) -> dict[str, int]:
    """Jobs per state (ready, leased, done, dead), for metrics and health checks."""
    with database.read() as session:
        counts = {
            row[0]: row[1] for row in session.execute(select(Job.state, func.count()).group_by(Job.state))
        }
    return {state.value: int(counts.get(state.value, 0)) for state in JobState}
