"""Staged, atomic imports and licence-checked exports."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from tutela.banks import (
    BankCategory,
    BankFileFormat,
    BankStore,
    ChangeOp,
    EntryRecord,
    ParseResult,
    export_bank,
    import_entries,
    read_records,
)
from tutela.banks.models import StagedEntry
from tutela.db import Database, create_engine, upgrade, utc_now
from tutela.errors import BankError, ExportForbidden, NotFound
from tutela.settings import Settings
from tutela.signals import Signal

PDQ = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"


@pytest.fixture
def store(tmp_path: Path) -> BankStore:
    settings = Settings(data_dir=tmp_path, import_batch_size=4)
    engine = create_engine(settings)
    upgrade(engine)
    return BankStore(Database(engine), settings)


def md5s(count: int, start: int = 0) -> list[str]:
    return [f"{number:032x}" for number in range(start, start + count)]


def staged_rows(store: BankStore) -> int:
    with store.database.read() as session:
        return session.execute(select(func.count()).select_from(StagedEntry)).scalar_one()


def snapshot(store: BankStore, bank: str) -> list[tuple[int, str, bool, int]]:
    return [(e.id, e.value, e.enabled, e.change_seq) for e in store.iter_entries(bank)]


def test_import_stages_in_batches_and_publishes_once(store: BankStore) -> None:
    store.create_bank("ncmec", BankCategory.CSAM)
    lines = [*md5s(10), "bad line", md5s(1)[0]]
    report = import_entries(store, "ncmec", read_records(BankFileFormat.PLAIN, lines), added_by="cli")
    assert (report.added, report.duplicates, report.error_count) == (10, 1, 1)
    assert [error.line_number for error in report.errors] == [11]
    assert report.change is not None
    assert report.change.op is ChangeOp.IMPORT
    entries = list(store.iter_entries("ncmec"))
    assert [e.value for e in entries] == md5s(10)
    assert {e.change_seq for e in entries} == {report.change.seq}
    assert {e.added_by for e in entries} == {"cli"}
    assert store.changes_since(report.change.seq - 1) == [report.change]
    assert staged_rows(store) == 0


def test_reimport_is_idempotent_and_keeps_disabled_entries_disabled(store: BankStore) -> None:
    store.create_bank("ncmec", BankCategory.CSAM)
    import_entries(store, "ncmec", read_records(BankFileFormat.PLAIN, md5s(5)))
    false_positive = next(store.iter_entries("ncmec"))
    store.set_entry_enabled(false_positive.id, False)
    before, seq = snapshot(store, "ncmec"), store.current_seq()
    heard: list[object] = []
    store.subscribe(heard.extend)

    report = import_entries(store, "ncmec", read_records(BankFileFormat.PLAIN, md5s(5)))

    assert (report.added, report.duplicates, report.change) == (0, 5, None)
    assert snapshot(store, "ncmec") == before
    assert store.changes_since(seq) == []
    assert heard == []


def test_a_crash_while_staging_leaves_the_bank_as_it_was(store: BankStore) -> None:
    store.create_bank("ncmec", BankCategory.CSAM)
    import_entries(store, "ncmec", read_records(BankFileFormat.PLAIN, md5s(3)))
    before, seq = snapshot(store, "ncmec"), store.current_seq()

    def crashing() -> Iterator[ParseResult]:
        yield from read_records(BankFileFormat.PLAIN, md5s(9, start=100))  # two batches staged
        raise OSError("disk vanished mid-import")

    with pytest.raises(OSError, match="disk vanished"):
        import_entries(store, "ncmec", crashing())
    assert snapshot(store, "ncmec") == before
    assert store.current_seq() == seq
    assert staged_rows(store) == 0


def test_rows_left_by_a_killed_import_are_cleared_by_the_next_one(store: BankStore) -> None:
    """A killed process cannot clean up; its staged rows must never reach the bank."""
    bank = store.create_bank("ncmec", BankCategory.CSAM)
    leftover = {
        "import_id": "killed-import",
        "bank_id": bank.id,
        "signal_type": "md5",
        "value": md5s(1, start=999)[0],
        "added_at": utc_now(),
        "enabled": True,
    }
    with store.database.write() as session:
        session.execute(insert(StagedEntry), [leftover])

    report = import_entries(store, "ncmec", read_records(BankFileFormat.PLAIN, md5s(2)))

    assert report.added == 2
    assert [e.value for e in store.iter_entries("ncmec")] == md5s(2)
    assert staged_rows(store) == 0


def test_an_import_whose_staging_was_discarded_publishes_nothing(store: BankStore) -> None:
    store.create_bank("ncmec", BankCategory.CSAM)

    def interrupted() -> Iterator[ParseResult]:
        yield from read_records(BankFileFormat.PLAIN, md5s(5))
        import_entries(store, "ncmec", read_records(BankFileFormat.PLAIN, md5s(1, start=50)))
        yield from read_records(BankFileFormat.PLAIN, md5s(1, start=60))

    with pytest.raises(BankError, match="another import"):
        import_entries(store, "ncmec", interrupted())
    assert [e.value for e in store.iter_entries("ncmec")] == md5s(1, start=50)


def test_import_into_a_missing_bank(store: BankStore) -> None:
    with pytest.raises(NotFound):
        import_entries(store, "nope", [])


def test_records_are_validated_even_when_not_from_a_reader(store: BankStore) -> None:
    store.create_bank("own", BankCategory.OWN_CONFIRMED)
    records = [EntryRecord(Signal("pdq", "zz")), EntryRecord(Signal("pdq", PDQ.upper()), note="ok")]
    report = import_entries(store, "own", records)
    assert report.added == 1
    assert [(error.line_number, "64 hex" in error.message) for error in report.errors] == [(1, True)]
    assert [(e.value, e.note) for e in store.iter_entries("own")] == [(PDQ, "ok")]


def test_export_is_refused_for_banks_that_are_not_exportable(store: BankStore) -> None:
    store.create_bank("ncmec", BankCategory.CSAM, licence="NCMEC hash sharing agreement")
    out = io.StringIO()
    with pytest.raises(ExportForbidden) as refused:
        export_bank(store, "ncmec", BankFileFormat.JSONL, out)
    message = str(refused.value)
    assert "'ncmec' is not exportable (NCMEC hash sharing agreement)" in message
    assert "--exportable" in message
    assert out.getvalue() == ""


def test_lossy_formats_export_only_enabled_entries(store: BankStore) -> None:
    store.create_bank("own", BankCategory.OWN_CONFIRMED, exportable=True)
    import_entries(store, "own", read_records(BankFileFormat.PLAIN, md5s(3)))
    store.set_entry_enabled(next(store.iter_entries("own")).id, False)
    plain, jsonl = io.StringIO(), io.StringIO()
    assert export_bank(store, "own", BankFileFormat.PLAIN, plain).written == 2
    assert export_bank(store, "own", BankFileFormat.JSONL, jsonl).written == 3
    assert plain.getvalue().split() == md5s(3)[1:]


def test_plain_export_of_a_mixed_bank_needs_a_signal_type(store: BankStore) -> None:
    store.create_bank("own", BankCategory.OWN_CONFIRMED, exportable=True)
    store.add_entry("own", Signal("pdq", PDQ))
    store.add_entry("own", Signal("md5", md5s(1)[0]))
    with pytest.raises(BankError, match="holds md5, pdq"):
        export_bank(store, "own", BankFileFormat.PLAIN, io.StringIO())
    out = io.StringIO()
    export_bank(store, "own", BankFileFormat.PLAIN, out, signal_type="pdq")
    assert out.getvalue() == f"{PDQ}\n"


def test_rows_staged_for_a_since_deleted_bank_are_cleared(store: BankStore) -> None:
    gone = store.create_bank("gone", BankCategory.OTHER)
    with store.database.write() as session:
        row = {"import_id": "killed", "bank_id": gone.id, "signal_type": "md5", "value": md5s(1)[0]}
        session.execute(insert(StagedEntry), [{**row, "added_at": utc_now(), "enabled": True}])
    store.delete_bank("gone")
    store.create_bank("other", BankCategory.OTHER)
    import_entries(store, "other", [])
    assert staged_rows(store) == 0
