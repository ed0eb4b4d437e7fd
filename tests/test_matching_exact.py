"""ExactIndex: digest lookup with the same bank and entry switches as the PDQ index."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tutela.matching import ExactIndex


def md5(s: bytes) -> bytes:
    return hashlib.md5(s).digest()


def test_lookup_banks_and_entries() -> None:
    index = ExactIndex()
    index.set_bank(1, enabled=True)
    index.set_bank(2, enabled=True)
    index.add([(10, 1, "md5", md5(b"a")), (11, 2, "md5", md5(b"a")), (12, 1, "md5", md5(b"b"))])
    hits = index.query("md5", md5(b"a"))
    assert hits.entry_ids.tolist() == [10, 11]
    assert hits.bank_ids.tolist() == [1, 2]
    assert len(index.query("md5", md5(b"c"))) == 0
    index.set_bank(2, enabled=False)
    assert index.query("md5", md5(b"a")).entry_ids.tolist() == [10]
    assert index.set_enabled(10, False)
    assert len(index.query("md5", md5(b"a"))) == 0
    assert index.set_enabled(10, True)
    assert index.remove(10)
    assert not index.remove(10)
    assert not index.set_enabled(10, True)
    assert len(index.query("md5", md5(b"a"))) == 0
    assert [len(h) for h in index.query_many("md5", [md5(b"a"), md5(b"b")])] == [0, 1]
    assert len(index) == 2


def test_digest_types_are_kept_apart_and_counted() -> None:
    index = ExactIndex()
    index.set_bank(1, enabled=True)
    digest = md5(b"a")
    assert not index.holds("md5")
    index.add([(1, 1, "md5", digest), (2, 1, "sha1", digest)])
    assert index.query("md5", digest).entry_ids.tolist() == [1]
    assert index.query("sha1", digest).entry_ids.tolist() == [2]
    assert len(index.query("sha256", digest)) == 0
    assert index.holds("md5")
    assert index.holds("sha1")
    assert not index.holds("sha256")
    index.set_enabled(1, False)
    assert index.holds("md5")  # disabled entries still count: they may be enabled again at any time
    index.remove(1)
    assert not index.holds("md5")
    assert index.holds("sha1")


def test_rejects_unknown_bank_and_duplicate_id() -> None:
    index = ExactIndex()
    index.set_bank(1, enabled=True)
    with pytest.raises(ValueError, match="set_bank"):
        index.add([(1, 9, "md5", md5(b"a"))])
    index.add([(1, 1, "md5", md5(b"a"))])
    with pytest.raises(ValueError, match="already"):
        index.add([(1, 1, "md5", md5(b"b"))])


@given(st.lists(st.tuples(st.binary(min_size=1, max_size=3), st.booleans()), max_size=30))
@settings(max_examples=50, deadline=None)
def test_matches_a_plain_scan(rows: list[tuple[bytes, bool]]) -> None:
    index = ExactIndex()
    index.set_bank(1, enabled=True)
    index.add((i, 1, "md5", md5(v)) for i, (v, _) in enumerate(rows))
    for i, (_, on) in enumerate(rows):
        index.set_enabled(i, on)
    for value in {v for v, _ in rows}:
        expected = [i for i, (v, on) in enumerate(rows) if v == value and on]
        assert index.query("md5", md5(value)).entry_ids.tolist() == expected
