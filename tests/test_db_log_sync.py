"""Commits are synced to disk before a write returns, outside the write lock, one sync shared by many."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.db_support import table_database
from tutela.db.log_sync import LogSync
from tutela.settings import Settings


def test_a_write_returns_after_the_log_holding_its_commit_was_synced(tmp_path: Path) -> None:
    database = table_database(tmp_path)
    log = database.log_sync
    assert log is not None
    assert log.log_path == tmp_path / "tutela.db-wal"
    synced: list[int] = []
    lock_free: list[bool] = []

    def sync(fd: int) -> None:
        # The commit is in the log file being synced, and no writer is locked out while the disk works.
        synced.append(os.fstat(fd).st_size)
        probe = os.open(tmp_path / "tutela.db.write-lock", os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            lock_free.append(True)
            fcntl.flock(probe, fcntl.LOCK_UN)
        except BlockingIOError:
            lock_free.append(False)
        finally:
            os.close(probe)

    log._sync = sync
    with database.write_connection() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    with database.write() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
    assert len(synced) == 2
    assert all(size > 0 for size in synced)
    assert lock_free == [True, True]


def test_a_failed_write_syncs_nothing_and_the_setting_turns_syncing_off(tmp_path: Path) -> None:
    database = table_database(tmp_path)
    assert database.log_sync is not None
    before = database.log_sync.syncs

    def failing_write() -> None:
        with database.write() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        failing_write()
    assert database.log_sync.syncs == before
    assert table_database(tmp_path / "off", sync_commits=False).log_sync is None
    assert Settings.model_fields["sqlite_sync_commits"].default is True


def test_every_committer_waits_for_a_sync_that_started_after_its_commit(tmp_path: Path) -> None:
    log_path = tmp_path / "db-wal"
    log_path.write_bytes(b"frames")
    starts: list[float] = []
    ends: list[float] = []

    def slow_sync(fd: int) -> None:
        starts.append(time.monotonic())
        time.sleep(0.02)
        ends.append(time.monotonic())

    log = LogSync(log_path, slow_sync)
    answered: list[tuple[float, float]] = []

    def commit() -> None:
        committed = time.monotonic()
        log.after_commit()
        answered.append((committed, time.monotonic()))

    threads = [threading.Thread(target=commit) for _ in range(16)]
    for thread in threads:
        thread.start()
        time.sleep(0.003)
    for thread in threads:
        thread.join()
    assert len(answered) == 16
    for committed, returned in answered:
        # some sync started after this commit and had finished by the time the committer returned
        assert any(committed <= start and end <= returned for start, end in zip(starts, ends, strict=True))
    assert log.syncs == len(starts) < 16  # shared: ~50 ms of commits needed far fewer 20 ms syncs


def test_a_failed_sync_raises_to_its_committers_and_the_next_one_retries(tmp_path: Path) -> None:
    log_path = tmp_path / "db-wal"
    log_path.write_bytes(b"frames")
    failures = [OSError(5, "Input/output error")]

    def sync(fd: int) -> None:
        if failures:
            raise failures.pop()

    log = LogSync(log_path, sync)
    with pytest.raises(OSError, match="Input/output"):
        log.after_commit()
    log.after_commit()
    assert log.syncs == 1


def test_a_log_already_checkpointed_away_needs_no_sync(tmp_path: Path) -> None:
    log = LogSync(tmp_path / "absent-wal")
    log.after_commit()
    assert log.syncs == 0


def test_writers_of_one_commit_share_the_sync_started_after_it(tmp_path: Path) -> None:
    database = table_database(tmp_path)
    log = database.log_sync
    assert log is not None
    before = log.syncs
    with database.write_connection(sync=False) as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
    assert log.syncs == before  # the caller syncs
    mark = database.sync_mark()
    for _ in range(3):  # three writers of that commit
        database.synced(mark)
    assert log.syncs == before + 1
    database.synced(database.sync_mark())  # a later commit needs a later sync
    assert log.syncs == before + 2
