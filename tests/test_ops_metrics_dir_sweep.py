"""A run of `tutela serve --workers N` removes the metrics directories of earlier runs whose `serve` is gone
(SIGKILLed: it could not remove its own), and nothing else."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tutela.ops.multiprocess_metrics import (
    ORPHAN_AGE_SECONDS,
    Owner,
    remove_stale_directories,
    shared_directory,
)

SERVE_KILLED_WHILE_RUNNING = """
import sys, time
from pathlib import Path
from tutela.ops.multiprocess_metrics import shared_directory
with shared_directory(Path(sys.argv[1])) as path:
    print(path, flush=True)
    time.sleep(60)
"""


def _killed_serves_directory(base: Path) -> Path:
    """The directory a process made with `shared_directory` before it was SIGKILLed."""
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_KILLED_WHILE_RUNNING, str(base)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        path = Path(process.stdout.readline().strip())
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        assert process.stdout is not None
        process.stdout.close()
    assert path.is_dir()
    return path


def test_run_removes_dead_serves_directory_and_keeps_live_and_unrelated_ones(tmp_path: Path) -> None:
    dead = _killed_serves_directory(tmp_path)
    dead_owner = Owner.read(dead)
    assert dead_owner is not None
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    older_version = tmp_path / "tutela-metrics-abc123"  # no owner record and new: kept, whoever made it
    older_version.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dead_owner.write(elsewhere)
    link = tmp_path / "tutela-metrics-link"
    link.symlink_to(elsewhere, target_is_directory=True)
    with shared_directory(tmp_path) as live, shared_directory(tmp_path) as second:
        assert not dead.exists()
        assert live.is_dir()  # its owner, this process, is alive
        assert second.is_dir()
        assert unrelated.is_dir()
        assert older_version.is_dir()
        assert link.is_symlink()
        assert (elsewhere / "owner.json").is_file()
    assert not live.exists()
    assert not second.exists()


def test_owner_is_gone_only_when_sure(tmp_path: Path) -> None:
    me = Owner.current()
    assert not me.gone()
    if me.start is None:
        pytest.skip("no /proc: a live pid is always taken for its owner")
    assert dataclasses.replace(me, start=me.start + 1).gone()  # the pid now runs a later process
    dead = _killed_serves_directory(tmp_path)
    dead_owner = Owner.read(dead)
    assert dead_owner is not None
    assert dead_owner.gone()
    assert not dataclasses.replace(dead_owner, namespace="pid:[1]").gone()  # another container's pid


def test_sweep_never_raises_and_keeps_what_it_cannot_read(tmp_path: Path) -> None:
    assert remove_stale_directories(tmp_path / "missing") == []
    records = {"pid-text": '{"pid": "one"}', "pid-negative": '{"pid": -5}', "list": "[1]", "text": "pid 1"}
    for name, record in records.items():
        (tmp_path / f"tutela-metrics-{name}").mkdir()
        (tmp_path / f"tutela-metrics-{name}" / "owner.json").write_text(record)
    assert remove_stale_directories(tmp_path) == []
    assert set(os.listdir(tmp_path)) == {f"tutela-metrics-{name}" for name in records}


def _unowned(base: Path, name: str, age_seconds: float, pids: list[int]) -> Path:
    """A metrics directory without an owner record, last modified `age_seconds` ago, with metrics files of
    `pids` (as an older version's serve or one killed before writing its record leaves it)."""
    path = base / f"tutela-metrics-{name}"
    path.mkdir()
    for pid in pids:
        (path / f"counter_{pid}.db").write_bytes(b"")
    when = time.time() - age_seconds
    os.utime(path, (when, when))
    return path


def test_directories_without_owner_go_only_when_old_and_unused(tmp_path: Path) -> None:
    dead_pid = _dead_pid()
    old = ORPHAN_AGE_SECONDS + 60
    gone = _unowned(tmp_path, "gone", old, [dead_pid])
    empty = _unowned(tmp_path, "empty", old, [])  # killed before any process wrote a file
    in_use = _unowned(tmp_path, "in-use", old, [dead_pid, os.getpid()])  # an older version's live serve
    recent = _unowned(tmp_path, "recent", 60, [dead_pid])  # may be a serve about to write its record
    assert sorted(remove_stale_directories(tmp_path)) == sorted([gone, empty])
    assert in_use.is_dir()
    assert recent.is_dir()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(30)
    return process.pid
