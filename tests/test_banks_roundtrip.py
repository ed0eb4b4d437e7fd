"""Property: every hash survives export and re-import through every format it can be written in."""

from __future__ import annotations

import io
import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.banks import (
    BankCategory,
    BankFileFormat,
    BankStore,
    EntryRecord,
    export_bank,
    import_entries,
    read_records,
)
from tutela.banks.formats.te_local_file import TE_NAME_BY_TUTELA_TYPE
from tutela.db import Database, create_engine, upgrade
from tutela.settings import Settings
from tutela.signals import SIGNAL_TYPES, Signal

BYTE_LENGTHS = {"pdq": 32, "md5": 16, "sha1": 20, "sha256": 32}


@pytest.fixture(scope="module")
def store() -> Iterator[BankStore]:
    """One database for all examples; every example uses banks of its own."""
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), import_batch_size=7)
        engine = create_engine(settings)
        upgrade(engine)
        yield BankStore(Database(engine), settings)
        engine.dispose()


_bank_numbers = itertools.count()


def fresh_bank(store: BankStore) -> str:
    name = f"bank-{next(_bank_numbers)}"
    store.create_bank(name, BankCategory.OTHER, exportable=True)
    return name


@st.composite
def signals(draw: st.DrawFn, types: tuple[str, ...]) -> Signal:
    signal_type = draw(st.sampled_from(types))
    value = draw(st.binary(min_size=BYTE_LENGTHS[signal_type], max_size=BYTE_LENGTHS[signal_type])).hex()
    value = value.upper() if draw(st.booleans()) else value
    quality = draw(st.none() | st.integers(0, 100)) if signal_type == "pdq" else None
    return Signal(signal_type, value, quality)


def held(store: BankStore, bank: str) -> set[tuple[str, str]]:
    return {(entry.signal_type, entry.value) for entry in store.iter_entries(bank)}


def round_trip(
    store: BankStore, batch: list[Signal], file_format: BankFileFormat, type_hint: str | None
) -> str:
    source = fresh_bank(store)
    assert import_entries(store, source, [EntryRecord(signal) for signal in batch]).errors == []
    assert held(store, source) == {(s.type, s.value.lower()) for s in batch}
    out = io.StringIO()
    export_bank(store, source, file_format, out)
    target = fresh_bank(store)
    report = import_entries(store, target, read_records(file_format, out.getvalue().splitlines(), type_hint))
    assert report.errors == []
    assert held(store, target) == held(store, source)
    return target


def test_byte_lengths_cover_every_signal_type() -> None:
    assert set(BYTE_LENGTHS) == set(SIGNAL_TYPES)


@settings(max_examples=20, deadline=None)
@given(batch=st.lists(signals(tuple(SIGNAL_TYPES)), max_size=12))
def test_jsonl_round_trip_keeps_every_field(store: BankStore, batch: list[Signal]) -> None:
    target = round_trip(store, batch, BankFileFormat.JSONL, None)
    first_of_each = {(s.type, s.value.lower()): s for s in reversed(batch)}
    assert {(e.signal_type, e.value, e.quality) for e in store.iter_entries(target)} == {
        (s.type, s.value.lower(), s.quality) for s in first_of_each.values()
    }


@settings(max_examples=20, deadline=None)
@given(data=st.data(), signal_type=st.sampled_from(sorted(SIGNAL_TYPES)))
def test_plain_round_trip(store: BankStore, data: st.DataObject, signal_type: str) -> None:
    batch = data.draw(st.lists(signals((signal_type,)), max_size=12))
    round_trip(store, batch, BankFileFormat.PLAIN, signal_type)


@settings(max_examples=20, deadline=None)
@given(batch=st.lists(signals(tuple(sorted(TE_NAME_BY_TUTELA_TYPE))), max_size=12))
def test_te_local_file_round_trip(store: BankStore, batch: list[Signal]) -> None:
    round_trip(store, batch, BankFileFormat.TE_LOCAL_FILE, None)
