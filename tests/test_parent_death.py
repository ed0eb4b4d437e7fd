"""die_with_parent: a child ends when its parent is SIGKILLed, and at once if its parent died before it asked.

Each test starts a middle process that starts the child, so the child's parent can be killed while the test
process watches; the child reports to the test through a pipe.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest

from tutela.ops.parent_death import die_with_parent

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="parent-death signals are Linux only")
SPAWN = multiprocessing.get_context("spawn")
WAIT_SECONDS = 30.0


def _child_armed_then_sleeping(report: Connection) -> None:
    die_with_parent()
    report.send(("armed", os.getpid()))
    time.sleep(WAIT_SECONDS * 2)


def _child_asking_after_its_parent_died(report: Connection) -> None:
    parent = multiprocessing.parent_process()
    assert parent is not None
    parent.join()
    report.send(("orphaned", os.getpid()))
    die_with_parent()
    report.send(("survived", os.getpid()))


def _middle(report: Connection, child_target: str, linger: bool) -> None:
    SPAWN.Process(target=globals()[child_target], args=(report,)).start()
    if linger:
        time.sleep(WAIT_SECONDS * 2)
    os._exit(0)  # not multiprocessing's exit, which would wait for the child


def _gone(pid: int) -> bool:
    """No process, or only a zombie left for a reaper."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _gone(pid)


def _receive(connection: Connection) -> tuple[str, int]:
    assert connection.poll(WAIT_SECONDS), "no report from the child"
    kind, pid = connection.recv()
    return str(kind), int(pid)


def test_child_is_killed_with_its_sigkilled_parent() -> None:
    receiver, sender = SPAWN.Pipe(duplex=False)
    middle = SPAWN.Process(target=_middle, args=(sender, "_child_armed_then_sleeping", True))
    middle.start()
    child = 0
    try:
        kind, child = _receive(receiver)
        assert kind == "armed"
        middle.kill()
        middle.join(WAIT_SECONDS)
        assert _wait_gone(child), f"child {child} outlived its SIGKILLed parent"
    finally:
        middle.kill()
        if child and not _gone(child):
            os.kill(child, signal.SIGKILL)


def test_child_whose_parent_already_died_exits_when_it_asks() -> None:
    receiver, sender = SPAWN.Pipe(duplex=False)
    middle = SPAWN.Process(target=_middle, args=(sender, "_child_asking_after_its_parent_died", False))
    middle.start()
    middle.join(WAIT_SECONDS)
    kind, child = _receive(receiver)
    try:
        assert kind == "orphaned"
        assert _wait_gone(child)
        assert not receiver.poll(0.1), f"child {child} went on after die_with_parent(): {receiver.recv()}"
    finally:
        if not _gone(child):
            os.kill(child, signal.SIGKILL)


def test_refuses_a_process_that_multiprocessing_did_not_start() -> None:
    with pytest.raises(RuntimeError, match="started by multiprocessing"):
        die_with_parent()
