"""Signal types: validation, comparison, registry, and the digests of raw bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tutela.demo.images import jpeg_bytes, picture
from tutela.errors import InvalidSignal, UnknownSignalType
from tutela.media import MediaLimits
from tutela.signals import SIGNAL_TYPES, BytesExtractor, get_signal_type
from tutela.signals.extract import extract
from tutela.signals.pdq import PDQ, hamming

hash32 = st.binary(min_size=32, max_size=32)


def test_registry_has_the_four_types() -> None:
    assert set(SIGNAL_TYPES) == {"pdq", "md5", "sha1", "sha256"}
    for name, signal_type in SIGNAL_TYPES.items():
        assert signal_type.name == name
        for example in signal_type.examples():
            assert signal_type.validate(example) == example


def test_unknown_type_names_the_known_ones() -> None:
    with pytest.raises(UnknownSignalType, match="known types: md5, pdq"):
        get_signal_type("photodna")


@pytest.mark.parametrize("name", ["pdq", "md5", "sha1", "sha256"])
@pytest.mark.parametrize("bad", ["", "xyz", "0" * 63, "g" * 64, "0" * 65])
def test_invalid_values_rejected_with_the_value(name: str, bad: str) -> None:
    signal_type = get_signal_type(name)
    with pytest.raises(InvalidSignal):
        signal_type.validate(bad)


def test_validation_normalises_case_and_whitespace() -> None:
    assert PDQ.validate("  " + "AB" * 32 + "\n") == "ab" * 32
    assert get_signal_type("md5").validate("D41D8CD98F00B204E9800998ECF8427E") == (
        "d41d8cd98f00b204e9800998ecf8427e"
    )


@given(hash32, hash32)
def test_pdq_distance_symmetric_and_equal_to_naive_popcount(a: bytes, b: bytes) -> None:
    naive = int(np.unpackbits(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())
    forward = PDQ.compare(a.hex(), b.hex())
    backward = PDQ.compare(b.hex(), a.hex())
    assert forward.distance == backward.distance == naive == hamming(a, b)
    assert forward.match == (naive <= 31)


@given(hash32, st.integers(0, 256))
def test_pdq_threshold_inclusive(a: bytes, threshold: int) -> None:
    assert PDQ.compare(a.hex(), a.hex(), threshold).match
    flipped = bytes([a[0] ^ 0xFF]) + a[1:]
    assert PDQ.compare(a.hex(), flipped.hex(), threshold).match == (threshold >= 8)


@pytest.mark.parametrize(("name", "algorithm"), [("md5", "md5"), ("sha1", "sha1"), ("sha256", "sha256")])
@given(data=st.binary(max_size=512))
def test_digests_of_raw_bytes(name: str, algorithm: str, data: bytes) -> None:
    signal_type = get_signal_type(name)
    assert isinstance(signal_type, BytesExtractor)
    signal = signal_type.from_bytes(data)
    assert signal.value == hashlib.new(algorithm, data).hexdigest()
    assert signal_type.compare(signal.value, signal.value.upper()).match


def test_extract_computes_only_the_requested_types(limits: MediaLimits) -> None:
    data = jpeg_bytes(picture(3, (160, 120)))
    everything = extract(data, limits)
    some = extract(data, limits, types=["pdq", "sha256"])
    assert some.signals == tuple(s for s in everything.signals if s.type in ("pdq", "sha256"))
    assert some.pdq == everything.pdq
    digests_only = extract(data, limits, types=["md5"])
    assert digests_only.signals == (everything.signal("md5"),)
    assert digests_only.media is None  # nothing decoded
    assert digests_only.pdq is None
