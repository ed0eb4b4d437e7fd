"""File format readers: bad lines are reported with their numbers and skipped, never fatal."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from tutela.banks import EntryRecord, LineError, ParseResult
from tutela.banks.formats import read_jsonl, read_plain, read_te_local_file, write_te_local_file
from tutela.errors import ImportFormatError, UnknownSignalType
from tutela.signals import Signal

PDQ = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def split(results: list[ParseResult]) -> tuple[list[tuple[int | None, str, str]], list[int]]:
    records = [(r.line_number, r.signal.type, r.signal.value) for r in results if isinstance(r, EntryRecord)]
    errors = [r.line_number for r in results if isinstance(r, LineError)]
    return records, errors


def test_plain_infers_md5_and_sha1_and_reports_bad_lines() -> None:
    lines = ["\ufeff# NCMEC list\n", "\n", f"{MD5.upper()}\n", "not-a-hash\n", f"  {SHA1}  \n", "abc\n"]
    records, errors = split(list(read_plain(lines)))
    assert records == [(3, "md5", MD5), (5, "sha1", SHA1)]
    assert errors == [4, 6]


def test_plain_with_a_given_type_reports_invalid_values() -> None:
    results = list(read_plain([PDQ, MD5, PDQ.upper()], signal_type="pdq"))
    records, errors = split(results)
    assert records == [(1, "pdq", PDQ), (3, "pdq", PDQ)]
    assert errors == [2]
    assert "pdq value must be 64 hex digits" in str(results[1])
    assert str(results[1]).startswith("line 2: ")


def test_plain_refuses_to_guess_between_pdq_and_sha256() -> None:
    with pytest.raises(ImportFormatError, match=r"line 2: .*pdq or sha256.*say which"):
        list(read_plain([MD5, SHA256]))


def test_unknown_signal_type_is_the_callers_error() -> None:
    with pytest.raises(UnknownSignalType, match="known types"):
        list(read_plain([MD5], signal_type="tlsh"))


def test_jsonl_reads_metadata_and_reports_each_bad_line() -> None:
    good = {
        "signal_type": "pdq",
        "value": PDQ.upper(),
        "quality": 88,
        "variant": "pdq-fast/1",
        "source_id": "ncmec:123",
        "added_by": "importer",
        "added_at": "2025-03-04T05:06:07",
        "note": "first",
        "enabled": False,
    }
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"signal_type": "md5"}),
        json.dumps({"signal_type": "md5", "value": MD5, "valeu": 1}),
        json.dumps({"signal_type": "md5", "value": "xyz"}),
        json.dumps({"signal_type": "tlsh", "value": "xyz"}),
        json.dumps({"signal_type": "md5", "value": MD5, "added_at": "yesterday"}),
        json.dumps({"signal_type": "pdq", "value": PDQ, "quality": True}),
        "",
        json.dumps({"signal_type": "md5", "value": MD5}),
    ]
    results = list(read_jsonl(lines))
    first = results[0]
    assert isinstance(first, EntryRecord)
    assert first.signal == Signal("pdq", PDQ, 88, "pdq-fast/1")
    assert first.added_at == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert (first.source_id, first.added_by, first.note, first.enabled) == (
        "ncmec:123",
        "importer",
        "first",
        False,
    )
    records, errors = split(results)
    assert [r[0] for r in records] == [1, 11]
    assert errors == [2, 3, 4, 5, 6, 7, 8, 9]
    messages = [str(r) for r in results if isinstance(r, LineError)]
    assert "not valid JSON" in messages[0]
    assert "unknown keys ['valeu']" in messages[3]
    assert "unknown signal type 'tlsh'" in messages[5]


def test_jsonl_reports_json_that_python_refuses_to_decode() -> None:
    lines = [
        '{"signal_type": "md5", "value": "' + MD5 + '", "quality": ' + "9" * 5000 + "}",
        "[" * 100_000,
        json.dumps({"signal_type": "md5", "value": MD5}),
    ]
    results = list(read_jsonl(lines))
    assert split(results) == ([(3, "md5", MD5)], [1, 2])
    assert "not valid JSON: Exceeds the limit (4300 digits)" in str(results[0])


def test_te_local_file_maps_threatexchange_names() -> None:
    lines = [
        f"pdq {PDQ}\n",
        f"video_md5 {MD5}\n",
        f"video_sha256 {SHA256}\n",
        "url_md5 0cc175b9c0f1b6a831c399e269772661\n",
        "\n",
        f"md5 {MD5}\n",
        "pdq\n",
    ]
    results = list(read_te_local_file(lines))
    records, errors = split(results)
    assert records == [(1, "pdq", PDQ), (2, "md5", MD5), (3, "sha256", SHA256)]
    assert errors == [4, 6, 7]
    assert "'url_md5' is not one Tutela imports" in str(results[3])


def test_te_local_file_with_a_configured_type_reads_bare_signals() -> None:
    records, errors = split(list(read_te_local_file([PDQ, "zz"], signal_type="pdq")))
    assert records == [(1, "pdq", PDQ)]
    assert errors == [2]


def test_te_writer_counts_what_threatexchange_cannot_hold() -> None:
    out = io.StringIO()
    records = [EntryRecord(Signal("sha1", SHA1)), EntryRecord(Signal("md5", MD5))]
    report = write_te_local_file(records, out)
    assert out.getvalue() == f"video_md5 {MD5}\n"
    assert (report.written, dict(report.skipped)) == (1, {"sha1": 1})
    assert report.skip_reason is not None
