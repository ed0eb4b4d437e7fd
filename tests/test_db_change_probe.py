"""Polling loops skip their query when nothing was committed, and still look after a quiet second."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import text

from tests.db_support import table_database
from tests.pipeline_support import PUBLIC, harness, image, pdq_of, pipeline_settings
from tutela.app import Tutela
from tutela.banks.changes import CURRENT_SEQ
from tutela.db import Database, create_engine
from tutela.db.change_probe import ChangeProbe
from tutela.db.driver import DriverQuery
from tutela.pipeline.context import Lane
from tutela.pipeline.decoder_pool import DecoderPool
from tutela.pipeline.queue import JobQueue, QueueLimits
from tutela.pipeline.submit import submit
from tutela.pipeline.worker import Worker
from tutela.settings import Settings


def test_a_commit_by_any_other_connection_is_seen_once(tmp_path: Path) -> None:
    database = table_database(tmp_path, sync_commits=False)
    probe = database.change_probe(max_quiet_seconds=3600)
    assert probe.changed()  # the first look always runs
    assert not probe.changed()
    with database.write() as session:  # another connection of this process
        session.execute(text("INSERT INTO t VALUES (1)"))
    assert probe.changed()
    assert not probe.changed()
    other = sqlite3.connect(tmp_path / "tutela.db", isolation_level=None)  # as another process would
    other.execute("INSERT INTO t VALUES (2)")
    other.close()
    assert probe.changed()
    with database.read() as session:  # reads change nothing
        session.execute(text("SELECT count(*) FROM t")).scalar_one()
    assert not probe.changed()


def test_after_a_quiet_period_or_a_failed_look_the_poller_looks_anyway(tmp_path: Path) -> None:
    probe = table_database(tmp_path, sync_commits=False).change_probe(max_quiet_seconds=0.05)
    assert probe.changed()
    assert not probe.changed()
    time.sleep(0.06)  # a retry's backoff may have ended with no commit
    assert probe.changed()
    assert not probe.changed()
    probe.invalidate()  # the real look after the last True failed
    assert probe.changed()


def test_without_a_database_file_every_look_runs(tmp_path: Path) -> None:
    probe = ChangeProbe(None, max_quiet_seconds=3600)
    assert all(probe.changed() for _ in range(3))
    memory = Database(create_engine(Settings(data_dir=tmp_path, database_url="sqlite://")))
    assert memory.change_probe().database_file is None
    unreadable = ChangeProbe(tmp_path / "missing-dir" / "x.db", max_quiet_seconds=3600)
    assert unreadable.changed()
    assert unreadable.changed()  # cannot tell, so it never skips


def test_the_index_sync_loop_runs_no_query_while_nothing_is_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Tutela.open(Settings(data_dir=tmp_path))
    try:
        syncs: list[float] = []
        real_sync = app.matcher.sync

        def counted(**kwargs: ChangeProbe | None) -> int:
            syncs.append(time.monotonic())
            return real_sync(**kwargs)

        monkeypatch.setattr(app.matcher, "sync", counted)
        app.sync_index()
        assert len(syncs) == 1
        before = app.matcher.synced_at
        app.sync_index()
        app.sync_index()
        assert len(syncs) == 1  # nothing committed: no query, but the index is known current
        assert app.matcher.synced_at > before
        other = sqlite3.connect(tmp_path / "tutela.db", isolation_level=None)  # another process commits
        other.execute("CREATE TABLE elsewhere (id INTEGER)")
        other.close()
        app.sync_index()
        assert len(syncs) == 2
    finally:
        app.close()


def test_an_idle_worker_looks_for_jobs_only_after_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with harness(pipeline_settings(tmp_path)) as h:
        looks: list[bool] = []
        real = JobQueue.has_work

        def counted(queue: JobQueue, *args: object, **kwargs: object) -> bool:
            looks.append(True)
            return real(queue, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(JobQueue, "has_work", counted)
        worker = Worker(h.app, cast(DecoderPool, None), h.app.policies)  # no job: no decoder needed
        assert worker.step() == 0
        assert worker.step() == 0
        assert len(looks) == 1
        other = sqlite3.connect(tmp_path / "tutela.db", isolation_level=None)
        other.execute("CREATE TABLE elsewhere (id INTEGER)")
        other.close()
        assert worker.step() == 0
        assert len(looks) == 2


def test_pollers_read_on_the_probe_s_own_connection(tmp_path: Path) -> None:
    """The job look and the index's sequence look answer through a probe as they do without one."""
    settings = pipeline_settings(tmp_path)
    with harness(settings) as h:
        app = h.app
        probe = app.database.change_probe()
        queue = JobQueue(app.database, QueueLimits.from_settings(app.settings))
        assert queue.has_work(via=probe) is queue.has_work() is False
        submit(app, service_id=h.service_id, content_id="c", context=PUBLIC, signals=[pdq_of(image(1))])
        assert queue.has_work(via=probe) is queue.has_work() is True
        backfill = (Lane.BACKFILL,)
        assert queue.has_work(backfill, via=probe) is queue.has_work(backfill) is False
        other = Tutela.open(settings)  # another process's bank change
        try:
            other.banks.add_entry("csam-hashes", pdq_of(image(2)))
        finally:
            other.close()
        before = app.matcher.seq
        assert app.matcher.sync(via=probe) == 1
        assert app.matcher.seq > before
        assert len(app.matcher.pdq) == 1
        assert app.matcher.sync(via=probe) == 0
    no_file = ChangeProbe(None, max_quiet_seconds=1)
    assert no_file.rows(DriverQuery(CURRENT_SEQ), {}) is None  # no connection of its own
