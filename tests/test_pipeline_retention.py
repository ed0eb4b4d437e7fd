"""The spool sweep: kept content whose time is up is deleted; the look for it goes through an index."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, text

from tests.pipeline_support import harness, pipeline_settings
from tutela.db.types import utc_now
from tutela.pipeline.models import Evaluation, Item
from tutela.pipeline.retention import sweep_spool
from tutela.pipeline.spool import spool_for


def test_expired_content_is_deleted_and_the_rest_kept(tmp_path: Path) -> None:
    settings = pipeline_settings(tmp_path)
    with harness(settings) as h:
        spool = spool_for(settings)
        now = utc_now()
        kept_until = {
            "expired": now - timedelta(hours=1),
            "current": now + timedelta(hours=1),
        }
        names = {label: spool.write(label.encode()) for label in kept_until}
        with h.app.database.write() as session:
            item = Item(service_id=h.service_id, content_id="c1", surface="public_post")
            session.add(item)
            session.flush()
            for n, (label, until) in enumerate(kept_until.items()):
                session.add(
                    Evaluation(
                        item_id=item.id,
                        service_id=h.service_id,
                        digest=f"{n:064x}",
                        input_kind="content",
                        status="done",
                        attempts=1,
                        spool_name=names[label],
                        spool_expires_at=until,
                    )
                )
        result = sweep_spool(h.app.database, spool, orphan_grace_seconds=3600)
        assert result.expired == 1
        assert {name for name, _ in spool.names()} == {names["current"]}
        with h.app.database.read() as session:
            rows = session.execute(select(Evaluation.digest, Evaluation.spool_name)).all()
        left = {row.digest: row.spool_name for row in rows}
        assert left == {f"{0:064x}": None, f"{1:064x}": names["current"]}
        assert sweep_spool(h.app.database, spool, orphan_grace_seconds=3600).expired == 0


def test_the_expiry_look_uses_the_partial_index(tmp_path: Path) -> None:
    """Evaluations that keep nothing are most rows; the sweep must not read them all every minute."""
    with harness(pipeline_settings(tmp_path)) as h, h.app.database.engine.connect() as connection:
        plan = connection.execute(
            text(
                "EXPLAIN QUERY PLAN SELECT id FROM evaluations "
                "WHERE spool_name IS NOT NULL AND spool_expires_at < :now"
            ),
            {"now": utc_now().isoformat()},
        ).all()
    assert any("ix_evaluations_spool_expires_at" in str(row) for row in plan), plan
