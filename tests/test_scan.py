"""`tutela scan` internals: a crashing or hanging decoder costs one file an error row, never the scan."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tutela.media.decoder_child import DecoderHooks
from tutela.pipeline.decoder_pool import PoolTimeouts
from tutela.scan.hashing import HashJob, hash_files
from tutela.scan.walk import WalkProblem, walk
from tutela.settings import Settings
from tutela.signals.pdq.signal import PdqMode
from tutela.testing.imagegen import encode, photo_like


def test_decoder_crash_and_hang_are_rows_and_the_scan_goes_on(tmp_path: Path, settings: Settings) -> None:
    job = dataclasses.replace(
        HashJob.from_settings(settings, PdqMode.FAST, dihedral=False),
        hooks=DecoderHooks(crash_marker=b"CRASH!", hang_marker=b"HANG!"),
        timeouts=PoolTimeouts(call_seconds=3.0, start_seconds=120.0),
    )
    files = []
    for name, data in [
        ("a.png", encode(photo_like(1, (96, 96)), "PNG")),
        ("b-crash.bin", b"CRASH! then anything"),
        ("c.png", encode(photo_like(2, (96, 96)), "PNG")),
        ("d-hang.bin", b"HANG! forever"),
        ("e.png", encode(photo_like(3, (96, 96)), "PNG")),
    ]:
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    rows = dict(hash_files(files, job, workers=1))
    assert list(rows) == files
    assert rows[files[1]].error_type == "DecoderCrashed"
    assert rows[files[3]].error_type == "DecoderTimedOut"
    for good in (files[0], files[2], files[4]):
        assert rows[good].error is None
        assert rows[good].pdq is not None


def test_walk_skips_symlink_loops_and_reports_broken_links(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.jpg").write_bytes(b"x")
    (tmp_path / "sub" / "back").symlink_to(tmp_path)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    found = list(walk([tmp_path, tmp_path / "missing"]))
    files = [f for f in found if isinstance(f, str)]
    problems = {Path(p.path).name: p for p in found if isinstance(p, WalkProblem)}
    assert files == [str(tmp_path / "sub" / "x.jpg")]
    assert problems["back"].skipped
    assert not problems["dangling"].skipped
    assert not problems["missing"].skipped
