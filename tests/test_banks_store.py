"""BankStore: bank CRUD, entries, per-entry disable, and the change sequence."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from tutela.banks import BankCategory, BankStore, Change, ChangeOp
from tutela.banks import store as store_module
from tutela.db import Database, create_engine, upgrade
from tutela.errors import AlreadyExists, BankError, InvalidSignal, NotFound, UnknownSignalType
from tutela.settings import Settings
from tutela.signals import Signal

PDQ = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture
def store(tmp_path: Path) -> BankStore:
    settings = Settings(data_dir=tmp_path)
    engine = create_engine(settings)
    upgrade(engine)
    return BankStore(Database(engine), settings)


def test_create_get_list_update_delete(store: BankStore) -> None:
    created = store.create_bank("ncmec", BankCategory.CSAM, licence="NCMEC agreement", source="NCMEC")
    store.create_bank("own", BankCategory.OWN_CONFIRMED, exportable=True)
    assert created.exportable is False
    assert created.enabled is True
    assert created.pdq_threshold == 31
    assert [bank.name for bank in store.list_banks()] == ["ncmec", "own"]

    updated = store.update_bank("ncmec", pdq_threshold=20, enabled=False, new_name="ncmec-2026")
    assert (updated.name, updated.pdq_threshold, updated.enabled) == ("ncmec-2026", 20, False)
    assert updated.licence == "NCMEC agreement"
    assert store.get_bank("ncmec-2026").category is BankCategory.CSAM

    store.delete_bank("ncmec-2026")
    with pytest.raises(NotFound, match="ncmec-2026"):
        store.get_bank("ncmec-2026")
    assert [bank.name for bank in store.list_banks()] == ["own"]


def test_name_conflicts_and_missing_banks(store: BankStore) -> None:
    store.create_bank("a", BankCategory.NCII)
    store.create_bank("b", BankCategory.NCII)
    with pytest.raises(AlreadyExists, match="'a'"):
        store.create_bank("a", BankCategory.TERRORISM)
    with pytest.raises(AlreadyExists, match="'b' exists"):
        store.update_bank("a", new_name="b")
    for call in (
        lambda: store.get_bank("nope"),
        lambda: store.update_bank("nope", enabled=False),
        lambda: store.delete_bank("nope"),
        lambda: store.add_entry("nope", Signal("md5", MD5)),
        lambda: store.get_entry(12345),
        lambda: store.count("nope"),
    ):
        with pytest.raises(NotFound):
            call()


@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "x" * 101, "slash/y"])
def test_bad_bank_names_are_refused(store: BankStore, name: str) -> None:
    with pytest.raises(BankError, match="not allowed"):
        store.create_bank(name, BankCategory.OTHER)


def test_threshold_default_comes_from_settings_and_is_checked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, pdq_threshold=12)
    engine = create_engine(settings)
    upgrade(engine)
    store = BankStore(Database(engine), settings)
    assert store.create_bank("a", BankCategory.OTHER).pdq_threshold == 12
    with pytest.raises(BankError, match="0-256"):
        store.create_bank("b", BankCategory.OTHER, pdq_threshold=300)


def test_entries_are_validated_canonical_and_unique(store: BankStore) -> None:
    store.create_bank("own", BankCategory.OWN_CONFIRMED)
    entry = store.add_entry("own", Signal("pdq", PDQ.upper(), quality=90), added_by="alice", note="case 7")
    assert (entry.value, entry.quality, entry.added_by, entry.note) == (PDQ, 90, "alice", "case 7")
    assert entry.added_at.utcoffset() is not None
    with pytest.raises(AlreadyExists, match=f"entry {entry.id}"):
        store.add_entry("own", Signal("pdq", PDQ))
    with pytest.raises(InvalidSignal, match="64 hex"):
        store.add_entry("own", Signal("pdq", "abc"))
    with pytest.raises(InvalidSignal, match="quality"):
        store.add_entry("own", Signal("pdq", "0" * 64, quality=101))
    with pytest.raises(UnknownSignalType):
        store.add_entry("own", Signal("tlsh", "abc"))
    assert store.find_entry("own", Signal("pdq", f" {PDQ.upper()} ")).id == entry.id
    assert store.count("own") == 1


def test_per_entry_disable(store: BankStore) -> None:
    store.create_bank("own", BankCategory.OWN_CONFIRMED)
    kept = store.add_entry("own", Signal("md5", MD5))
    false_positive = store.add_entry("own", Signal("pdq", PDQ))
    disabled = store.set_entry_enabled(false_positive.id, False)
    assert disabled.enabled is False
    assert [e.id for e in store.iter_entries("own", enabled_only=True)] == [kept.id]
    assert store.count("own", enabled_only=True) == 1
    assert store.count("own") == 2
    assert store.set_entry_enabled(false_positive.id, True).enabled is True
    assert store.count("own", enabled_only=True) == 2


def test_iter_entries_ascends_across_pages_and_filters(
    store: BankStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "ENTRY_PAGE_SIZE", 3)
    store.create_bank("a", BankCategory.OTHER)
    store.create_bank("b", BankCategory.OTHER)
    for number in range(8):
        store.add_entry("a" if number % 2 else "b", Signal("md5", f"{number:032x}"))
    store.add_entry("a", Signal("pdq", PDQ))
    ids = [entry.id for entry in store.iter_entries()]
    assert ids == sorted(ids)
    assert len(ids) == 9
    assert [e.value for e in store.iter_entries("a", signal_type="pdq")] == [PDQ]
    assert len(list(store.iter_entries("b"))) == 4
    assert store.signal_types("a") == ["md5", "pdq"]
    assert [e.id for e in store.iter_index_entries()] == ids
    lean = list(store.iter_index_entries("a", signal_type="pdq"))
    assert [(e.signal_type, e.value, e.enabled) for e in lean] == [("pdq", PDQ, True)]


def test_deleting_a_bank_deletes_its_entries(store: BankStore) -> None:
    store.create_bank("a", BankCategory.OTHER)
    entry = store.add_entry("a", Signal("md5", MD5))
    store.delete_bank("a")
    with pytest.raises(NotFound):
        store.get_entry(entry.id)
    assert store.count() == 0


def test_every_mutation_advances_the_change_sequence(store: BankStore) -> None:
    heard: list[Change] = []
    store.subscribe(heard.extend)
    assert store.current_seq() == 0
    bank = store.create_bank("a", BankCategory.OTHER)
    entry = store.add_entry("a", Signal("md5", MD5))
    store.set_entry_enabled(entry.id, False)
    store.set_entry_enabled(entry.id, False)  # no change, no record
    store.set_entry_enabled(entry.id, True)
    store.update_bank("a", pdq_threshold=10)
    store.delete_entry(entry.id)
    store.delete_bank("a")

    changes = store.changes_since(0)
    assert heard == changes
    assert [c.seq for c in changes] == list(range(1, 8))
    assert [c.op for c in changes] == [
        ChangeOp.BANK_CREATE,
        ChangeOp.ENTRY_ADD,
        ChangeOp.ENTRY_DISABLE,
        ChangeOp.ENTRY_ENABLE,
        ChangeOp.BANK_UPDATE,
        ChangeOp.ENTRY_DELETE,
        ChangeOp.BANK_DELETE,
    ]
    assert {c.bank_id for c in changes} == {bank.id}
    assert [c.entry_id for c in changes[1:4]] == [entry.id] * 3
    assert store.current_seq() == 7
    assert store.changes_since(5) == changes[5:]
    assert store.changes_since(0, limit=2) == changes[:2]


def test_entries_carry_the_seq_of_their_last_change(store: BankStore) -> None:
    store.create_bank("a", BankCategory.OTHER)
    first = store.add_entry("a", Signal("md5", MD5))
    second = store.add_entry("a", Signal("pdq", PDQ))
    mark = store.current_seq()
    store.set_entry_enabled(first.id, False)
    changed = list(store.iter_entries(changed_after=mark))
    assert [(e.id, e.enabled, e.change_seq) for e in changed] == [(first.id, False, mark + 1)]
    lean = list(store.iter_index_entries(changed_after=mark))
    assert [(e.id, e.enabled, e.change_seq) for e in lean] == [(first.id, False, mark + 1)]
    assert second.change_seq < mark + 1


def test_a_failing_listener_does_not_undo_or_block_the_change(
    store: BankStore, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(changes: Sequence[Change]) -> None:
        raise RuntimeError("index unavailable")

    heard: list[Change] = []
    store.subscribe(broken)
    store.subscribe(heard.extend)
    store.create_bank("a", BankCategory.OTHER)
    assert store.get_bank("a").name == "a"
    assert len(heard) == 1
    assert "catch up from the feed" in caplog.text
