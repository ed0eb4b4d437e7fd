"""The service's index builds chunk tables after a large load, at start and when a large import arrives."""

from __future__ import annotations

import numpy as np

from tutela.app import Tutela
from tutela.banks import BankCategory, BankFileFormat, import_entries, read_records
from tutela.matching.pdq_index import TABLE_MIN_ROWS
from tutela.settings import Settings

BANK = "large"


def import_random(app: Tutela, n: int, seed: int) -> list[str]:
    hashes = np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)
    lines = [row.tobytes().hex() for row in hashes]
    report = import_entries(app.banks, BANK, read_records(BankFileFormat.PLAIN, iter(lines), "pdq"))
    assert report.added == n
    return lines


def tabled_rows(app: Tutela) -> int:
    return sum(size for seg, size in app.matcher.pdq._store.snapshot() if seg.tables is not None)


def test_large_loads_are_merged_under_chunk_tables(settings: Settings) -> None:
    n = TABLE_MIN_ROWS + 1000  # more than one load batch of 50,000
    writer = Tutela.open(settings, load_indexes=False)
    writer.banks.create_bank(BANK, BankCategory.OTHER)
    first = import_random(writer, n, seed=1)
    server = Tutela.open(settings)
    try:
        assert settings.index_chunk_tables
        assert tabled_rows(server) == n
        second = import_random(writer, n, seed=2)  # arrives through the change feed
        server.matcher.sync()
        assert tabled_rows(server) == 2 * n
        for value in (first[7], second[n - 1]):
            [match] = server.matcher.lookup("pdq", value)
            assert match.distance == 0
    finally:
        server.close()
        writer.close()


def test_the_setting_turns_tables_off(settings: Settings) -> None:
    app = Tutela.open(settings.model_copy(update={"index_chunk_tables": False}))
    try:
        assert not app.matcher.pdq.chunk_tables
        assert app.matcher.pdq._store.table_min_rows is None
    finally:
        app.close()
