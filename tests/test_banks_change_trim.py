"""Trimming the bank change log: old changes go, and no process's index silently misses one.

Two `Tutela` objects on one data directory stand for two processes, each with its own match index: one makes
the bank changes, the other follows the log with `sync()` as its index-sync loop would.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.bank_log_support import add_pdq, age_changes, random_pdq, writer_with_bank
from tutela.app import Tutela
from tutela.banks import BankFileFormat, import_entries, read_records
from tutela.banks.changes import trim_changes
from tutela.banks.models import BankChange
from tutela.db.types import utc_now
from tutela.pipeline.retention import sweep_bank_changes
from tutela.settings import Settings

BANK = "trim-test"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, run_workers=False)


@pytest.fixture
def writer(settings: Settings) -> Iterator[Tutela]:
    with writer_with_bank(settings, BANK) as app:
        yield app


@pytest.fixture
def follower(writer: Tutela, settings: Settings) -> Iterator[Tutela]:
    app = Tutela.open(settings)
    yield app
    app.close()


def add(app: Tutela, value: str) -> int:
    return add_pdq(app, BANK, value)


def logged_seqs(app: Tutela) -> list[int]:
    with app.database.read() as session:
        return list(session.scalars(select(BankChange.seq).order_by(BankChange.seq)))


def matched_entries(app: Tutela, values: list[str]) -> list[set[int]]:
    return [{m.entry_id for m in matches} for matches in app.matcher.lookup_many("pdq", values)]


def test_old_changes_are_deleted_and_recent_ones_kept(writer: Tutela) -> None:
    rng = random.Random(1)
    for _ in range(6):
        add(writer, random_pdq(rng))
    seqs = logged_seqs(writer)
    age_changes(writer, seqs[3])

    deleted = sweep_bank_changes(writer.database, retention_hours=24)

    assert deleted == 4
    assert logged_seqs(writer) == seqs[4:]
    assert sweep_bank_changes(writer.database, retention_hours=24) == 0


def test_the_newest_change_stays_and_a_recent_change_stops_the_trim(writer: Tutela) -> None:
    rng = random.Random(2)
    for _ in range(5):
        add(writer, random_pdq(rng))
    seqs = logged_seqs(writer)
    age_changes(writer, seqs[-1])
    with writer.database.write() as session:  # a later change stamped by a clock running behind
        session.execute(update(BankChange).where(BankChange.seq == seqs[2]).values(changed_at=utc_now()))

    assert trim_changes(writer.database, utc_now() - timedelta(hours=1)) == 2
    assert logged_seqs(writer) == seqs[2:]  # only a prefix of the sequence is ever deleted

    age_changes(writer, seqs[-1])
    assert trim_changes(writer.database, utc_now() - timedelta(hours=1)) == len(seqs) - 3
    assert logged_seqs(writer) == seqs[-1:]  # the newest change stays, old as it is


def test_a_trim_runs_in_bounded_batches(writer: Tutela) -> None:
    rng = random.Random(3)
    for _ in range(9):
        add(writer, random_pdq(rng))
    seqs = logged_seqs(writer)
    age_changes(writer, seqs[-1])
    before = utc_now() - timedelta(hours=1)

    assert trim_changes(writer.database, before, batch=2, max_batches=2) == 4
    assert logged_seqs(writer) == seqs[4:]
    assert trim_changes(writer.database, before, batch=2, max_batches=10) == len(seqs) - 5
    assert logged_seqs(writer) == seqs[-1:]


def test_a_process_behind_the_trimmed_log_reloads_in_full(writer: Tutela, follower: Tutela) -> None:
    rng = random.Random(4)
    kept, removed, added, later = (random_pdq(rng) for _ in range(4))
    kept_id = add(writer, kept)
    removed_id = add(writer, removed)
    follower.matcher.sync()
    behind_at = follower.matcher.seq
    assert matched_entries(follower, [kept, removed]) == [{kept_id}, {removed_id}]

    added_id = add(writer, added)
    writer.banks.delete_entry(removed_id)
    age_changes(writer, writer.banks.current_seq())  # both changes the follower has not seen
    later_id = add(writer, later)
    assert sweep_bank_changes(writer.database, retention_hours=24) > 0
    assert logged_seqs(writer)[0] > behind_at + 1

    follower.matcher.sync()

    assert follower.matcher.reloads == 1
    assert follower.matcher.seq == writer.banks.current_seq()
    probes = [kept, removed, added, later]
    expected = [{kept_id}, set(), {added_id}, {later_id}]
    assert matched_entries(follower, probes) == expected
    assert matched_entries(writer, probes) == expected
    assert len(follower.matcher.pdq) == len(list(writer.banks.iter_entries(BANK)))

    add(writer, random_pdq(rng))
    assert follower.matcher.sync() == 1  # and follows the log again from there
    assert follower.matcher.reloads == 1


def test_a_current_process_keeps_following_the_log(writer: Tutela, follower: Tutela) -> None:
    rng = random.Random(5)
    first = add(writer, random_pdq(rng))
    writer.banks.set_entry_enabled(first, False)
    follower.matcher.sync()
    age_changes(writer, writer.banks.current_seq())
    value = random_pdq(rng)
    entry_id = add(writer, value)
    index = follower.matcher.pdq

    assert sweep_bank_changes(writer.database, retention_hours=24) > 0
    assert logged_seqs(writer)[0] == follower.matcher.seq + 1  # trimmed up to what the follower applied

    assert follower.matcher.sync() == 1
    assert follower.matcher.reloads == 0
    assert follower.matcher.pdq is index
    assert matched_entries(follower, [value]) == [{entry_id}]


def test_a_sequence_number_without_a_logged_change_is_passed_over(writer: Tutela, follower: Tutela) -> None:
    """An import that adds nothing takes a number and logs no change; the index moves past it anyway, so
    later syncs do not read the log again for nothing."""
    md5 = "0123456789abcdef" * 2
    imports = [import_entries(writer.banks, BANK, read_records(BankFileFormat.PLAIN, [md5])) for _ in "ab"]
    assert [(report.added, report.duplicates) for report in imports] == [(1, 0), (0, 1)]
    assert writer.banks.current_seq() == logged_seqs(writer)[-1] + 1

    assert follower.matcher.sync() == 1
    assert follower.matcher.seq == writer.banks.current_seq()
    assert [m.entry_id for m in follower.matcher.lookup("md5", md5)] == [
        e.id for e in writer.banks.iter_entries(BANK)
    ]
